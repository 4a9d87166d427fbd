//! What the scanner announced: one notice per clock, cycle and threshold.
//!
//! The notice's primary key is what makes a warning or a breach (and the
//! escalations it runs) happen once across Relay processes and restarts:
//! whoever inserts it first announces; everyone else finds it there. A
//! notice a policy change no longer supports is withdrawn (and may be given
//! again if a later change makes it true again).

use super::tracking::parse_metric;
use crate::db::models::{SlaClockRow, SlaNotice};
use crate::db::schema::sla_notices;
use crate::db::{DbConnection, WriteConn};
use crate::domain::event::{EventData, SlaThreshold};
use crate::error::AppResult;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use std::collections::HashSet;

/// A notice's key within a ticket: `(metric, cycle, threshold)`.
type NoticeKey = (String, i32, SlaThreshold);

/// One ticket's notices: those in force, and those withdrawn (whose rows
/// are kept, so giving one again revives its row).
#[derive(Debug, Default)]
pub struct Notices {
    in_force: HashSet<NoticeKey>,
    withdrawn: HashSet<NoticeKey>,
}

fn key(clock: &SlaClockRow, threshold: SlaThreshold) -> NoticeKey {
    (clock.metric.clone(), clock.cycle, threshold)
}

impl Notices {
    pub fn has(&self, clock: &SlaClockRow, threshold: SlaThreshold) -> bool {
        self.in_force.contains(&key(clock, threshold))
    }

    /// Counts a notice as given (just announced, or found announced).
    pub fn insert(&mut self, clock: &SlaClockRow, threshold: SlaThreshold) {
        let key = key(clock, threshold);
        self.withdrawn.remove(&key);
        self.in_force.insert(key);
    }

    /// Gives the notice a clock reached at `due_at`: counted as given here,
    /// and its row queued on `writes` (inserted, or revived if withdrawn).
    /// The caller holds the ticket's lock and read its notices after
    /// taking it, so what is in force here is what is stored.
    pub fn give(
        &mut self,
        writes: &mut NoticeWrites,
        clock: &SlaClockRow,
        threshold: SlaThreshold,
        due_at: NaiveDateTime,
        now: NaiveDateTime,
    ) {
        let notice = notice_row(clock, threshold, due_at, now);
        match self.withdrawn.contains(&key(clock, threshold)) {
            true => writes.revived.push(notice),
            false => writes.new.push(notice),
        }
        self.insert(clock, threshold);
    }
}

/// The stored row of the notice `clock` reached at `due_at`, given `now`.
fn notice_row(
    clock: &SlaClockRow,
    threshold: SlaThreshold,
    due_at: NaiveDateTime,
    now: NaiveDateTime,
) -> SlaNotice {
    SlaNotice {
        ticket_id: clock.ticket_id.clone(),
        metric: clock.metric.clone(),
        cycle: clock.cycle,
        threshold: threshold.as_str().to_string(),
        due_at,
        noticed_at: now,
        withdrawn_at: None,
    }
}

/// The notices a batch gave, written together.
#[derive(Default)]
pub struct NoticeWrites {
    new: Vec<SlaNotice>,
    revived: Vec<SlaNotice>,
}

impl NoticeWrites {
    /// Writes them. A plain insert: a notice someone else gave meanwhile
    /// (impossible under the ticket's lock) fails the batch's transaction
    /// rather than being announced twice.
    pub fn flush(self, conn: &mut WriteConn<'_>) -> AppResult<()> {
        for chunk in self.new.chunks(1000) {
            crate::insert_rows!(conn, sla_notices::table, chunk)?;
        }
        for notice in &self.revived {
            diesel::update(sla_notices::table.find((
                &notice.ticket_id,
                &notice.metric,
                notice.cycle,
                &notice.threshold,
            )))
            .set((
                sla_notices::withdrawn_at.eq(None::<NaiveDateTime>),
                sla_notices::noticed_at.eq(notice.noticed_at),
                sla_notices::due_at.eq(notice.due_at),
            ))
            .execute(&mut **conn)?;
        }
        Ok(())
    }
}

fn threshold_of(text: &str) -> SlaThreshold {
    match text {
        "warning" => SlaThreshold::Warning,
        _ => SlaThreshold::Breach,
    }
}

impl Notices {
    /// A ticket's notices from its rows.
    pub fn from_rows(rows: Vec<SlaNotice>) -> Notices {
        let mut notices = Notices::default();
        for row in rows {
            let withdrawn = row.withdrawn_at.is_some();
            let key = (row.metric, row.cycle, threshold_of(&row.threshold));
            match withdrawn {
                true => notices.withdrawn.insert(key),
                false => notices.in_force.insert(key),
            };
        }
        notices
    }
}

pub fn load(conn: &mut DbConnection, ticket_id: &str) -> AppResult<Notices> {
    let rows: Vec<SlaNotice> = sla_notices::table
        .filter(sla_notices::ticket_id.eq(ticket_id))
        .select(SlaNotice::as_select())
        .load(conn)?;
    Ok(Notices::from_rows(rows))
}

/// The threshold a clock reaches next that has not been announced, and
/// when: a breach not yet announced (however long ago it was), else the
/// warning and then the breach of a running clock. A running clock is
/// breached once its due time is behind (an answer on the due second is
/// on time), so its breach comes the second after `due_at`.
pub fn next_threshold(
    clock: &SlaClockRow,
    given: &Notices,
) -> Option<(SlaThreshold, NaiveDateTime)> {
    if let Some(breached_at) = clock.breached_at {
        return (!given.has(clock, SlaThreshold::Breach))
            .then_some((SlaThreshold::Breach, breached_at));
    }
    if clock.stopped_at.is_some() || clock.state != "running" {
        return None;
    }
    let warning = clock
        .warning_at
        .filter(|_| !given.has(clock, SlaThreshold::Warning))
        .map(|at| (SlaThreshold::Warning, at));
    let breach = clock
        .due_at
        .filter(|_| !given.has(clock, SlaThreshold::Breach))
        .map(|at| (SlaThreshold::Breach, at + TimeDelta::seconds(1)));
    warning.or(breach)
}

/// When the scanner next needs to look at the ticket.
pub fn attention_at(rows: &[SlaClockRow], given: &Notices) -> Option<NaiveDateTime> {
    rows.iter()
        .filter_map(|row| next_threshold(row, given).map(|(_, at)| at))
        .min()
}

/// Records the notice; false when it was already in force (someone else
/// announced it). A withdrawn notice is given again.
pub fn give(
    conn: &mut WriteConn<'_>,
    clock: &SlaClockRow,
    threshold: SlaThreshold,
    due_at: NaiveDateTime,
) -> AppResult<bool> {
    let now = conn.now();
    let notice = notice_row(clock, threshold, due_at, now);
    let inserted = crate::insert_ignoring_conflicts!(conn, sla_notices::table, &notice)?;
    if inserted > 0 {
        return Ok(true);
    }
    let revived = diesel::update(
        sla_notices::table
            .find((
                &clock.ticket_id,
                &clock.metric,
                clock.cycle,
                threshold.as_str(),
            ))
            .filter(sla_notices::withdrawn_at.is_not_null()),
    )
    .set((
        sla_notices::withdrawn_at.eq(None::<NaiveDateTime>),
        sla_notices::noticed_at.eq(now),
        sla_notices::due_at.eq(due_at),
    ))
    .execute(&mut **conn)?;
    Ok(revived > 0)
}

/// Withdraws the notices in force that the clocks no longer support (the
/// clock is gone, is no longer breached, or its warning moved past now);
/// the `sla.withdrawn` events that say so.
pub fn withdraw_unfounded(
    conn: &mut WriteConn<'_>,
    ticket_id: &str,
    given: &mut Notices,
    rows: &[SlaClockRow],
    now: NaiveDateTime,
) -> AppResult<Vec<EventData>> {
    let mut said = Vec::new();
    let mut withdrawn = Vec::new();
    for (metric, cycle, threshold) in &given.in_force {
        let clock = rows
            .iter()
            .find(|r| &r.metric == metric && r.cycle == *cycle);
        let threshold = *threshold;
        let founded = clock.is_some_and(|clock| match threshold {
            SlaThreshold::Breach => clock.breached_at.is_some(),
            SlaThreshold::Warning => {
                clock.breached_at.is_some() || clock.warning_at.is_some_and(|at| at <= now)
            }
        });
        if founded {
            continue;
        }
        diesel::update(sla_notices::table.find((ticket_id, metric, cycle, threshold.as_str())))
            .set(sla_notices::withdrawn_at.eq(now))
            .execute(&mut **conn)?;
        if let Ok(metric) = parse_metric(metric) {
            said.push(EventData::SlaWithdrawn {
                metric,
                cycle: u32::try_from(*cycle).unwrap_or(0),
                on: threshold,
            });
        }
        withdrawn.push((metric.clone(), *cycle, threshold));
    }
    for notice in withdrawn {
        given.in_force.remove(&notice);
        given.withdrawn.insert(notice);
    }
    Ok(said)
}
