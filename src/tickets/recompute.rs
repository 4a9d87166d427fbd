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
use crate::db::workers::side_by_side;
use crate::db::{lock_and_load_tickets, write_tx, Conn, Database};
use crate::domain::event::EventData;
use crate::domain::{Role, Status};
use crate::error::AppResult;
use crate::sla::{compiled, tracking};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
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

/// The next batch of tickets to recompute.
struct Cursor {
    include_closed: bool,
    /// The last ticket number handed out; `None` before the first batch.
    after: Option<i64>,
    done: bool,
}

impl Cursor {
    /// The ids of the next [`BATCH`] tickets by number; `None` once every
    /// ticket was handed out.
    fn next(&mut self, conn: &mut Conn) -> AppResult<Option<Vec<String>>> {
        if self.done {
            return Ok(None);
        }
        let mut query = tickets::table
            .order(tickets::number.asc())
            .limit(BATCH)
            .select((tickets::id, tickets::number))
            .into_boxed();
        if !self.include_closed {
            query = query.filter(tickets::status.ne(Status::Closed.as_str()));
        }
        if let Some(number) = self.after {
            query = query.filter(tickets::number.gt(number));
        }
        let batch: Vec<(String, i64)> = query.load(&mut **conn)?;
        let Some((_, last)) = batch.last() else {
            self.done = true;
            return Ok(None);
        };
        self.after = Some(*last);
        Ok(Some(batch.into_iter().map(|(id, _)| id).collect()))
    }
}

/// The recompute itself (the CLI runs it without a caller): batches in
/// ticket-number order, side by side on PostgreSQL
/// (`db::workers::side_by_side`). Batches lock disjoint tickets, so they
/// never wait on each other.
pub fn run(db: &Database, include_closed: bool) -> AppResult<RecomputeReport> {
    let mut first = db.get()?;
    let mut cursor = Cursor {
        include_closed,
        after: None,
        done: false,
    };
    let batches = side_by_side(
        db,
        &mut first,
        |conn| cursor.next(conn),
        |conn, ids| recompute_batch(conn, &ids),
    )?;
    Ok(batches
        .into_iter()
        .fold(RecomputeReport::default(), |total, (tickets, changed)| {
            RecomputeReport {
                tickets: total.tickets + tickets,
                changed: total.changed + changed,
            }
        }))
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
