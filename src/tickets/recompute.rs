//! `POST /api/v1/sla/recompute` and `relay sla recompute`: every ticket's
//! clocks computed again from its history under the current policies, so
//! running clocks move to new policy versions (settled clocks keep what
//! they were measured against). Tickets are recomputed in batches of
//! [`BATCH`], a transaction each, their rows locked first like any change,
//! several batches side by side on PostgreSQL ([`workers`]);
//! a batch is read and written in a few statements (`sla::reading`,
//! `tracking::Writes`), and a ticket whose clocks come out as stored is
//! not written at all.

use super::change::{self, SYSTEM_ACTOR};
use crate::auth::Principal;
use crate::db::schema::tickets;
use crate::db::{lock_and_load_tickets, write_tx, Conn, Database, DbConnection};
use crate::domain::event::EventData;
use crate::domain::{Role, Status};
use crate::error::{AppError, AppResult};
use crate::sla::{compiled, tracking};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use utoipa::ToSchema;

/// Tickets read per batch of ids.
const BATCH: i64 = 500;

/// `POST /api/v1/sla/recompute` body (optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecomputeRequest {
    /// Closed tickets too (their clocks are all settled, so this only
    /// rebuilds rows, e.g. after an import); default false.
    #[serde(default)]
    pub include_closed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecomputeReport {
    /// Tickets whose clocks were computed again.
    pub tickets: u64,
    /// Of those, tickets whose policy, targets or notices moved (with events).
    pub changed: u64,
}

/// Recomputes every ticket (admins and managers).
pub fn recompute_all(
    db: &Database,
    caller: &Principal,
    request: &RecomputeRequest,
) -> AppResult<RecomputeReport> {
    caller.require(Role::is_manager_or_above)?;
    run(db, request.include_closed)
}

/// The next batch of tickets to recompute, shared by the workers.
struct Cursor {
    include_closed: bool,
    /// The last ticket number handed out; `None` before the first batch.
    after: Option<i64>,
    done: bool,
}

impl Cursor {
    /// The ids of the next [`BATCH`] tickets by number; `None` once every
    /// ticket was handed out (or a worker failed).
    fn next(cursor: &Mutex<Cursor>, conn: &mut Conn) -> AppResult<Option<Vec<String>>> {
        let mut cursor = cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cursor.done {
            return Ok(None);
        }
        let mut query = tickets::table
            .order(tickets::number.asc())
            .limit(BATCH)
            .select((tickets::id, tickets::number))
            .into_boxed();
        if !cursor.include_closed {
            query = query.filter(tickets::status.ne(Status::Closed.as_str()));
        }
        if let Some(number) = cursor.after {
            query = query.filter(tickets::number.gt(number));
        }
        let batch: Vec<(String, i64)> = query.load(&mut **conn)?;
        let Some((_, last)) = batch.last() else {
            cursor.done = true;
            return Ok(None);
        };
        cursor.after = Some(*last);
        Ok(Some(batch.into_iter().map(|(id, _)| id).collect()))
    }
}

/// How many batches run side by side: on PostgreSQL one per core (up to
/// four), so the server reads one batch while Relay computes another (one
/// worker leaves each idle half the time); SQLite has one writer, so one.
fn workers(conn: &DbConnection) -> usize {
    match conn {
        DbConnection::Postgresql(_) => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4),
        DbConnection::Sqlite(_) => 1,
    }
}

/// The recompute itself (the CLI runs it without a caller): workers, each
/// on a connection of its own, take batches in ticket-number order until
/// none is left. Batches lock disjoint tickets, so they never wait on each
/// other; a worker that fails stops the others at their next batch.
pub fn run(db: &Database, include_closed: bool) -> AppResult<RecomputeReport> {
    let mut first = db.get()?;
    let cursor = Mutex::new(Cursor {
        include_closed,
        after: None,
        done: false,
    });
    let work = |conn: &mut Conn| {
        let worked = work_through(&cursor, conn);
        if worked.is_err() {
            cursor
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .done = true;
        }
        worked
    };
    let helpers = workers(&first) - 1;
    std::thread::scope(|scope| {
        let running: Vec<_> = (0..helpers)
            .map(|_| scope.spawn(|| work(&mut db.get()?)))
            .collect();
        let mut total = work(&mut first);
        for helper in running {
            let done = helper
                .join()
                .unwrap_or_else(|_| Err(AppError::Internal("a recompute worker panicked".into())));
            total = match (total, done) {
                (Ok(a), Ok(b)) => Ok(RecomputeReport {
                    tickets: a.tickets + b.tickets,
                    changed: a.changed + b.changed,
                }),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        total
    })
}

/// One worker's share: batches from `cursor` until none is left.
fn work_through(cursor: &Mutex<Cursor>, conn: &mut Conn) -> AppResult<RecomputeReport> {
    let mut report = RecomputeReport::default();
    while let Some(ids) = Cursor::next(cursor, conn)? {
        let (tickets, changed) = recompute_batch(conn, &ids)?;
        report.tickets += tickets;
        report.changed += changed;
    }
    Ok(report)
}

/// Recomputes one batch of tickets in a transaction of its own, their rows
/// locked first like any change: (tickets, of those changed).
fn recompute_batch(conn: &mut Conn, ids: &[String]) -> AppResult<(u64, u64)> {
    write_tx(conn, |w| -> AppResult<(u64, u64)> {
        let tickets = lock_and_load_tickets(w, ids)?;
        let (caches, now) = (w.caches().clone(), w.now());
        let policies = compiled::current(w, &caches, now)?;
        let said = tracking::recompute_batch(w, &policies, &tickets, now)?;
        let noted: Vec<(&str, &[EventData])> = tickets
            .iter()
            .zip(&said)
            .filter(|(_, events)| !events.is_empty())
            .map(|(ticket, events)| (ticket.id.as_str(), events.as_slice()))
            .collect();
        change::note_each(w, SYSTEM_ACTOR, &noted)?;
        Ok((tickets.len() as u64, noted.len() as u64))
    })
}
