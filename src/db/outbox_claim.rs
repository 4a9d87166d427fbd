//! Claiming due outbox mail for one sender. Several Relay processes may run
//! the sender at once; a message is handed to exactly one of them.
//!
//! - PostgreSQL: the due rows are selected `FOR UPDATE SKIP LOCKED`, so a
//!   concurrent claimer passes over rows another one is claiming instead of
//!   waiting for them (and, once that claim commits, sees them as `sending`).
//! - SQLite: `write_tx` starts with `BEGIN IMMEDIATE`, so claims are
//!   serialised by the database's single write lock.
//!
//! Either way the claim is a short transaction that marks the rows `sending`
//! until `claim_until`; delivery happens afterwards, outside any transaction.
//! A sender that dies mid-claim leaves rows whose claim simply expires.

use super::models::OutboxMessage;
use super::schema::outbox;
use super::{write_tx, DbConnection};
use crate::db::Conn;
use crate::domain::outbox::OutboxStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Ids of due messages, oldest due first: `pending` ones whose time has come,
/// and `sending` ones whose sender's claim has expired.
macro_rules! due_ids {
    ($due_at:expr, $limit:expr) => {
        outbox::table
            .filter(
                outbox::status
                    .eq(OutboxStatus::Pending.as_str())
                    .and(outbox::next_attempt_at.le($due_at))
                    .or(outbox::status
                        .eq(OutboxStatus::Sending.as_str())
                        .and(outbox::claimed_until.lt($due_at))),
            )
            .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
            .select(outbox::id)
            .limit($limit)
    };
}

/// Marks up to `limit` messages that are due at `due_at` as `sending`, claimed
/// until `claim_until`, and returns them (with `claimed_until` set, which is
/// what later updates use to check the claim is still theirs).
pub fn claim_due(
    conn: &mut Conn,
    due_at: NaiveDateTime,
    claim_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxMessage>> {
    write_tx(conn, |conn| {
        let ids: Vec<String> = match conn.connection() {
            DbConnection::Postgresql(c) => {
                due_ids!(due_at, limit).for_update().skip_locked().load(c)?
            }
            DbConnection::Sqlite(c) => due_ids!(due_at, limit).load(c)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set((
                outbox::status.eq(OutboxStatus::Sending.as_str()),
                outbox::claimed_until.eq(claim_until),
            ))
            .execute(&mut **conn)?;
        outbox::table
            .filter(outbox::id.eq_any(&ids))
            .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
            .select(OutboxMessage::as_select())
            .load(&mut **conn)
    })
}
