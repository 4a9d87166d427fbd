//! What the breach scanner does to one ticket: bring its clocks up to now
//! and announce each warning and breach they reached, once.
//!
//! Due work is found through `ticket_sla.attention_at` (indexed), the next
//! instant one of a ticket's clocks reaches a threshold not yet announced,
//! so a pass costs in proportion to the clocks that came due, not to the
//! open tickets. Announcing inserts the notice first; only the inserter
//! announces (see `notices`), so two scanners, or a scanner and a restart,
//! never announce one threshold twice. A breach is announced with its
//! exact due time, however late the pass runs.

use super::compiled::{CompiledPolicy, Policies};
use super::notices::{self, NoticeWrites};
use super::reading;
use super::tracking::{self, parse_metric, ClockDetail};
use crate::db::models::{SlaClockRow, Ticket};
use crate::db::schema::ticket_sla;
use crate::db::{DbConnection, WriteConn};
use crate::domain::event::{EventData, QueueRef, SlaThreshold};
use crate::domain::sla::clock::Metric;
use crate::error::AppResult;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::sync::Arc;

/// Tickets with a clock that needs the scanner by `now`, longest due first.
pub fn due_tickets(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<String>> {
    Ok(ticket_sla::table
        .filter(ticket_sla::attention_at.le(now))
        .order(ticket_sla::attention_at.asc())
        .limit(limit)
        .select(ticket_sla::ticket_id)
        .load(conn)?)
}

/// A threshold a clock reached that this pass announced.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub metric: Metric,
    pub cycle: u32,
    pub threshold: SlaThreshold,
}

/// What one ticket's scan found.
pub struct Scanned {
    /// The policy the ticket runs under now (its escalations apply).
    pub policy: Option<Arc<CompiledPolicy>>,
    /// The events to record: what the recompute changed, then each announcement.
    pub events: Vec<EventData>,
    pub announcements: Vec<Announcement>,
}

/// Recomputes the tickets (locked by the caller, in one transaction) as
/// of now and announces every threshold their clocks reached by now; what
/// each ticket's scan found, in their order. Reads and writes go for the
/// whole batch at once (`reading`, `tracking::Writes`).
pub fn scan(
    conn: &mut WriteConn<'_>,
    policies: &Policies,
    tickets: &[Ticket],
) -> AppResult<Vec<Scanned>> {
    let now = conn.now();
    let readings = reading::read(conn, policies, tickets)?;
    let mut writes = tracking::Writes::default();
    let mut notice_writes = NoticeWrites::default();
    let mut scanned = Vec::with_capacity(tickets.len());
    for (ticket, reading) in tickets.iter().zip(readings) {
        let Some(mut settled) = tracking::settle(conn, policies, ticket, reading, now)? else {
            scanned.push(Scanned {
                policy: None,
                events: Vec::new(),
                announcements: Vec::new(),
            });
            continue;
        };
        let mut events = std::mem::take(&mut settled.said);
        let mut announcements = Vec::new();
        for clock in &settled.outcome.rows {
            while let Some((threshold, at)) = notices::next_threshold(clock, &settled.given) {
                if at > now {
                    break;
                }
                settled
                    .given
                    .give(&mut notice_writes, clock, threshold, at, now);
                events.extend(announcement_event(clock, threshold));
                if let Ok(metric) = parse_metric(&clock.metric) {
                    announcements.push(Announcement {
                        metric,
                        cycle: u32::try_from(clock.cycle).unwrap_or(0),
                        threshold,
                    });
                }
            }
        }
        writes.add(&ticket.id, &settled, now);
        scanned.push(Scanned {
            policy: settled.outcome.policy.clone(),
            events,
            announcements,
        });
    }
    writes.flush(conn)?;
    notice_writes.flush(conn)?;
    Ok(scanned)
}

fn announcement_event(clock: &SlaClockRow, threshold: SlaThreshold) -> Option<EventData> {
    let metric = parse_metric(&clock.metric).ok()?;
    let cycle = u32::try_from(clock.cycle).ok()?;
    Some(match threshold {
        SlaThreshold::Warning => EventData::SlaWarning {
            metric,
            cycle,
            warning_at: clock.warning_at?.and_utc(),
            due_at: clock.due_at?.and_utc(),
        },
        SlaThreshold::Breach => {
            let detail: ClockDetail = serde_json::from_str(&clock.detail).unwrap_or_default();
            let charged_to = detail.breached_by.and_then(|holder| {
                Some(QueueRef {
                    queue_id: holder.queue_id?,
                    vendor_id: holder.vendor_id?,
                })
            });
            EventData::SlaBreached {
                metric,
                cycle,
                breached_at: clock.breached_at?.and_utc(),
                charged_to,
            }
        }
    })
}
