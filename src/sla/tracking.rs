//! Keeping a ticket's clocks current: the SLA side of the ticket seam.
//!
//! After a ticket is opened or changed, the seam hands its history here:
//! the policy is chosen, every clock is computed from the history
//! (`domain::sla::clock`) as of now, and the results replace the stored
//! ones (`ticket_sla`, `sla_clocks`). A clock that had finished and is
//! still finished keeps the row it was measured with (its policy version
//! and target), so a policy edit never rewrites a settled clock.

use super::compiled::{self, CompiledPolicy, Policies};
use super::notices::{self, Notices};
use super::reading::{self, Reading};
use crate::db::models::{SlaClockRow, Ticket, TicketEvent, TicketSlaRow};
use crate::db::schema::{sla_clocks, ticket_events, ticket_sla};
use crate::db::{ticket_claim, DbConnection, WriteConn};
use crate::domain::event::{EventData, QueueRef, SlaPolicyRef};
use crate::domain::sla::clock::{
    self, Clock, ClockState, Entry, Holder, Metric, PauseSpan, VendorSeconds,
};
use crate::error::{AppError, AppResult};
use crate::routing::placement::{self, Arrival};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What a clock row keeps besides its columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockDetail {
    pub pauses: Vec<PauseSpan>,
    pub by_vendor: Vec<VendorSeconds>,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breached_by: Option<Holder>,
}

/// The stored clocks of a ticket, read back.
#[derive(Default)]
pub struct Stored {
    pub summary: Option<TicketSlaRow>,
    pub clocks: Vec<SlaClockRow>,
}

/// The history as the clock computation reads it; events written before
/// issue 10 (which do not parse) are left out.
pub fn entries(rows: &[TicketEvent]) -> Vec<Entry> {
    rows.iter()
        .filter_map(|row| {
            let payload: Value = serde_json::from_str(&row.data).ok()?;
            Some(Entry {
                id: row.id.clone(),
                at: row.created_at.and_utc(),
                data: EventData::parse(&row.kind, &payload)?,
            })
        })
        .collect()
}

/// The queue holding the ticket at the end of `history`.
fn holding_queue(history: &[Entry]) -> Option<&QueueRef> {
    history.iter().fold(None, |held, entry| match &entry.data {
        EventData::Created { queue, .. } => queue.as_ref(),
        EventData::QueueChanged { to, .. } => to.as_ref(),
        _ => held,
    })
}

/// Whether an event can move a clock or the choice of policy. Assignment,
/// views, notes and mail bookkeeping cannot, so they skip the recompute
/// (a claim stays as cheap as it was).
pub fn moves_clocks(event: &EventData) -> bool {
    !matches!(
        event,
        EventData::Assigned { .. }
            | EventData::Unassigned { .. }
            | EventData::Viewed {}
            | EventData::NoteAdded { .. }
            | EventData::AcknowledgementSent { .. }
            | EventData::AcknowledgementSuppressed { .. }
            | EventData::DeliveryFailed { .. }
            | EventData::EmailReceived { .. }
            | EventData::SlaPolicyApplied { .. }
            | EventData::SlaTargetChanged { .. }
            | EventData::SlaWarning { .. }
            | EventData::SlaBreached { .. }
            | EventData::SlaEscalated { .. }
            | EventData::SlaWithdrawn { .. }
            | EventData::SatisfactionRequested { .. }
            | EventData::SatisfactionRated { .. }
    )
}

/// A new ticket's clocks, computed before its row is written so that the
/// row carries its earliest due time (the claim order's copy,
/// `tickets.sla_due_at`) from its insert rather than by a second write.
/// The default is a ticket no policy applies to.
#[derive(Default)]
pub struct Opening {
    writes: Writes,
    summary: Option<TicketSlaRow>,
}

/// Computes a new ticket's clocks from the history it is opened with;
/// `arrival` is what the door knew (the rules' facts). Nothing is written
/// until [`Opening::write`].
pub fn opening(
    conn: &mut WriteConn<'_>,
    ticket: &Ticket,
    arrival: &Arrival<'_>,
    history: &[TicketEvent],
) -> AppResult<Opening> {
    let (caches, now) = (conn.caches().clone(), conn.now());
    let policies = compiled::current(conn, &caches, now)?;
    if policies.is_empty() {
        return Ok(Opening::default());
    }
    let history = entries(history);
    let Some(policy) = choose(&policies, ticket, arrival, &history) else {
        return Ok(Opening::default());
    };
    let clocks = compute(&policies, &policy, &history, now.and_utc());
    let settled = Settled {
        outcome: Outcome {
            rows: clock_rows(&ticket.id, &policy, &clocks)?,
            policy: Some(policy),
            holder: None,
            stored: Stored::default(),
            finished: false,
        },
        given: Notices::default(),
        said: Vec::new(),
    };
    let mut writes = Writes::default();
    let summary = writes.add(&ticket.id, &settled, now);
    // The ticket's row is inserted with the due time (`due_at`).
    writes.due_moved.clear();
    Ok(Opening { writes, summary })
}

impl Opening {
    /// The earliest running due time, for the ticket's row.
    pub fn due_at(&self) -> Option<NaiveDateTime> {
        self.summary.as_ref().and_then(|summary| summary.due_at)
    }

    /// Writes the clocks (once the ticket's row is in); the summary
    /// written (`None`: no policy applies).
    pub fn write(self, conn: &mut WriteConn<'_>) -> AppResult<Option<TicketSlaRow>> {
        self.writes.flush(conn)?;
        Ok(self.summary)
    }
}

/// Recomputes a changed ticket's clocks; returns the events that say what
/// moved (another policy, a changed target, withdrawn notices), for the
/// seam to record with the change.
pub fn changed(
    conn: &mut WriteConn<'_>,
    ticket: &Ticket,
    events: &[EventData],
) -> AppResult<Vec<EventData>> {
    if !events.iter().any(moves_clocks) {
        return Ok(Vec::new());
    }
    let (caches, now) = (conn.caches().clone(), conn.now());
    let policies = compiled::current(conn, &caches, now)?;
    recompute(conn, &policies, ticket, now)
}

/// An imported ticket's clocks, from the history it came with (no events:
/// the import wrote the history as it was).
pub fn imported(conn: &mut WriteConn<'_>, ticket: &Ticket) -> AppResult<()> {
    let (caches, now) = (conn.caches().clone(), conn.now());
    let policies = compiled::current(conn, &caches, now)?;
    if policies.is_empty() {
        return Ok(());
    }
    recompute(conn, &policies, ticket, now).map(drop)
}

/// Recomputes one ticket's clocks as of `now` under the current policies
/// (the seam after a change). The ticket row is the caller's, read in this
/// transaction.
pub fn recompute(
    conn: &mut WriteConn<'_>,
    policies: &Policies,
    ticket: &Ticket,
    now: NaiveDateTime,
) -> AppResult<Vec<EventData>> {
    let mut said = recompute_batch(conn, policies, std::slice::from_ref(ticket), now)?;
    Ok(said.pop().unwrap_or_default())
}

/// Recomputes a batch of tickets (locked by the caller) as [`recompute`]
/// does one, reading and writing for all of them at once; each ticket's
/// events, in the batch's order.
pub fn recompute_batch(
    conn: &mut WriteConn<'_>,
    policies: &Policies,
    tickets: &[Ticket],
    now: NaiveDateTime,
) -> AppResult<Vec<Vec<EventData>>> {
    let readings = reading::read(conn, policies, tickets)?;
    let mut writes = Writes::default();
    let mut said = Vec::with_capacity(tickets.len());
    for (ticket, reading) in tickets.iter().zip(readings) {
        match settle(conn, policies, ticket, reading, now)? {
            Some(settled) => {
                writes.add(&ticket.id, &settled, now);
                said.push(settled.said);
            }
            None => said.push(Vec::new()),
        }
    }
    writes.flush(conn)?;
    Ok(said)
}

/// A ticket's clocks as they stand at `now`, next to what is stored.
pub struct Outcome {
    pub policy: Option<Arc<CompiledPolicy>>,
    /// The queue holding the ticket now.
    pub holder: Option<QueueRef>,
    pub rows: Vec<SlaClockRow>,
    pub stored: Stored,
    /// Every clock had stopped and came out as stored: the ticket keeps
    /// the policy version they were measured against (nothing of it runs
    /// under a newer one; the change that re-opens it moves it on).
    pub finished: bool,
}

/// Computes the clocks of `ticket` as of `now` without storing them;
/// `None` when no policy applies and none ever did.
pub fn evaluate(
    conn: &mut DbConnection,
    policies: &Policies,
    ticket: &Ticket,
    now: NaiveDateTime,
) -> AppResult<Option<Outcome>> {
    let Some(reading) = reading::read(conn, policies, std::slice::from_ref(ticket))?.pop() else {
        return Ok(None);
    };
    Ok(outcome(policies, ticket, reading, now)?.map(|(outcome, _)| outcome))
}

/// [`evaluate`] on what was read; the notices in force come back beside it.
fn outcome(
    policies: &Policies,
    ticket: &Ticket,
    reading: Reading,
    now: NaiveDateTime,
) -> AppResult<Option<(Outcome, Notices)>> {
    let Reading {
        history,
        stored,
        given,
        arrival,
    } = reading;
    if policies.is_empty() && stored.summary.is_none() {
        return Ok(None);
    }
    let policy = choose(policies, ticket, &arrival.arrival(), &history);
    let fresh = match &policy {
        Some(policy) => clock_rows(
            &ticket.id,
            policy,
            &compute(policies, policy, &history, now.and_utc()),
        )?,
        None => Vec::new(),
    };
    let rows = keep_settled(&stored.clocks, fresh);
    let finished = !stored.clocks.is_empty()
        && stored.clocks.iter().all(|c| c.stopped_at.is_some())
        && rows == stored.clocks;
    let outcome = Outcome {
        holder: holding_queue(&history).cloned(),
        rows,
        policy,
        stored,
        finished,
    };
    Ok(Some((outcome, given)))
}

/// A ticket's clocks recomputed as of now, not stored yet: the notices
/// they no longer support are withdrawn, and `said` holds the events that
/// say what moved.
pub struct Settled {
    pub outcome: Outcome,
    /// The notices in force after the withdrawals.
    pub given: Notices,
    pub said: Vec<EventData>,
}

/// Computes one ticket's clocks from its reading and withdraws what they
/// no longer support; `None` when no policy applies and none ever did.
pub fn settle(
    conn: &mut WriteConn<'_>,
    policies: &Policies,
    ticket: &Ticket,
    reading: Reading,
    now: NaiveDateTime,
) -> AppResult<Option<Settled>> {
    let Some((outcome, mut given)) = outcome(policies, ticket, reading, now)? else {
        return Ok(None);
    };
    let mut said = match outcome.finished {
        true => Vec::new(),
        false => what_moved(&outcome.stored, outcome.policy.as_deref(), &outcome.rows),
    };
    said.extend(notices::withdraw_unfounded(
        conn,
        &ticket.id,
        &mut given,
        &outcome.rows,
        now,
    )?);
    Ok(Some(Settled {
        outcome,
        given,
        said,
    }))
}

fn choose(
    policies: &Policies,
    ticket: &Ticket,
    arrival: &Arrival<'_>,
    history: &[Entry],
) -> Option<Arc<CompiledPolicy>> {
    let tags: Vec<String> = serde_json::from_str(&ticket.tags).unwrap_or_default();
    let custom: Map<String, Value> =
        serde_json::from_str(&ticket.custom_fields).unwrap_or_default();
    let mut facts = placement::facts(ticket, arrival, &tags, &custom);
    let queue = holding_queue(history);
    facts.queue_id = queue.map(|q| q.queue_id.as_str());
    facts.vendor_id = queue.map(|q| q.vendor_id.as_str());
    policies.choose(ticket.sla_policy_id.as_deref(), &facts)
}

fn compute(
    policies: &Policies,
    policy: &CompiledPolicy,
    history: &[Entry],
    as_of: DateTime<Utc>,
) -> Vec<Clock> {
    clock::compute(
        &policy.terms,
        |queue| policies.calendar_for(&policy.definition, queue),
        history,
        as_of,
    )
}

pub fn load_history(conn: &mut DbConnection, ticket_id: &str) -> AppResult<Vec<TicketEvent>> {
    Ok(ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .order((ticket_events::created_at.asc(), ticket_events::id.asc()))
        .select(TicketEvent::as_select())
        .load(conn)?)
}

/// The stored clocks. Callers hold the ticket's row lock (the seam's
/// update, the scanner's lock), so two recomputes of one ticket take turns.
pub fn load_stored(conn: &mut DbConnection, ticket_id: &str) -> AppResult<Stored> {
    let summary = ticket_sla::table
        .find(ticket_id)
        .select(TicketSlaRow::as_select())
        .first(conn)
        .optional()?;
    let clocks = sla_clocks::table
        .filter(sla_clocks::ticket_id.eq(ticket_id))
        .order((sla_clocks::metric.asc(), sla_clocks::cycle.asc()))
        .select(SlaClockRow::as_select())
        .load(conn)?;
    Ok(Stored { summary, clocks })
}

fn to_naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

pub fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::FirstResponse => "first_response",
        Metric::NextResponse => "next_response",
        Metric::Resolution => "resolution",
    }
}

pub fn state_name(state: ClockState) -> &'static str {
    match state {
        ClockState::Running => "running",
        ClockState::Paused => "paused",
        ClockState::Met => "met",
        ClockState::Breached => "breached",
    }
}

/// The instant a clock's outcome was decided: a met clock's stop, a
/// breached clock's due time; a clock still running or paused has none.
fn settled_at(clock: &Clock) -> Option<DateTime<Utc>> {
    match clock.state {
        ClockState::Met => clock.stopped_at,
        ClockState::Breached => clock.breached_at,
        ClockState::Running | ClockState::Paused => None,
    }
}

fn clock_rows(
    ticket_id: &str,
    policy: &CompiledPolicy,
    clocks: &[Clock],
) -> AppResult<Vec<SlaClockRow>> {
    clocks
        .iter()
        .map(|clock| {
            let detail = ClockDetail {
                pauses: clock.pauses.clone(),
                by_vendor: clock.by_vendor.clone(),
                events: clock.events.clone(),
                breached_by: clock.breached_by.clone(),
            };
            let charged = clock.breached_by.as_ref().unwrap_or(&clock.held_by);
            Ok(SlaClockRow {
                ticket_id: ticket_id.to_string(),
                metric: metric_name(clock.metric).to_string(),
                cycle: i32::try_from(clock.cycle).unwrap_or(i32::MAX),
                policy_id: policy.id.clone(),
                policy_version: policy.version,
                target_seconds: clock.target_seconds,
                started_at: to_naive(clock.started_at),
                stopped_at: clock.stopped_at.map(to_naive),
                due_at: clock.due_at.map(to_naive),
                warning_at: clock.warning_at.map(to_naive),
                state: state_name(clock.state).to_string(),
                breached_at: clock.breached_at.map(to_naive),
                business_seconds_used: clock.business_seconds_used,
                detail: serde_json::to_string(&detail)
                    .map_err(|e| AppError::failed("an SLA clock did not serialise", e))?,
                settled_at: settled_at(clock).map(to_naive),
                queue_id: charged.queue_id.clone(),
                vendor_id: charged.vendor_id.clone(),
            })
        })
        .collect()
}

/// Finished clocks keep what they were measured against: a stored clock
/// that stopped, and stops at the same instant in the new computation,
/// stays as stored. Stored finished clocks the new policy has no clock
/// for stay too; running ones go.
fn keep_settled(stored: &[SlaClockRow], fresh: Vec<SlaClockRow>) -> Vec<SlaClockRow> {
    let settled = |row: &SlaClockRow| row.stopped_at.is_some();
    let mut rows: Vec<SlaClockRow> = fresh
        .into_iter()
        .map(|new| {
            match stored
                .iter()
                .find(|old| old.metric == new.metric && old.cycle == new.cycle)
            {
                Some(old) if settled(old) && old.stopped_at == new.stopped_at => old.clone(),
                _ => new,
            }
        })
        .collect();
    for old in stored.iter().filter(|old| settled(old)) {
        if !rows
            .iter()
            .any(|row| row.metric == old.metric && row.cycle == old.cycle)
        {
            rows.push(old.clone());
        }
    }
    rows.sort_by_key(|row| (metric_rank(&row.metric), row.cycle));
    rows
}

fn metric_rank(name: &str) -> u8 {
    match name {
        "first_response" => 0,
        "next_response" => 1,
        _ => 2,
    }
}

/// The events that say what a recompute changed: another policy (or
/// version), and running clocks whose target moved.
fn what_moved(
    stored: &Stored,
    policy: Option<&CompiledPolicy>,
    rows: &[SlaClockRow],
) -> Vec<EventData> {
    let mut said = Vec::new();
    let before = stored.summary.as_ref().and_then(|s| {
        Some(SlaPolicyRef {
            policy_id: s.policy_id.clone()?,
            version: s.policy_version?,
        })
    });
    let after = policy.map(|p| SlaPolicyRef {
        policy_id: p.id.clone(),
        version: p.version,
    });
    if stored.summary.is_some() && before != after {
        said.push(EventData::SlaPolicyApplied {
            from: before,
            to: after,
        });
    }
    for row in rows.iter().filter(|row| row.stopped_at.is_none()) {
        let old = stored.clocks.iter().find(|old| {
            old.metric == row.metric && old.cycle == row.cycle && old.stopped_at.is_none()
        });
        if let (Some(old), Ok(metric)) = (old, parse_metric(&row.metric)) {
            if old.target_seconds != row.target_seconds {
                said.push(EventData::SlaTargetChanged {
                    metric,
                    cycle: u32::try_from(row.cycle).unwrap_or(0),
                    from_seconds: old.target_seconds,
                    to_seconds: row.target_seconds,
                });
            }
        }
    }
    said
}

pub fn parse_metric(name: &str) -> Result<Metric, String> {
    serde_json::from_value(Value::from(name)).map_err(|_| format!("unknown SLA metric '{name}'"))
}

/// The ticket's summary: the earliest due time of a clock that still
/// counts, and the state of its clocks that have not stopped (breached
/// before running before paused); when every clock stopped, `breached` if
/// any was, else `met`.
pub fn summary_of(rows: &[SlaClockRow]) -> (Option<NaiveDateTime>, Option<&'static str>) {
    let open: Vec<&SlaClockRow> = rows.iter().filter(|r| r.stopped_at.is_none()).collect();
    let due = open
        .iter()
        .filter(|r| r.state != "paused")
        .filter_map(|r| r.due_at)
        .min();
    let pick = |candidates: &[&SlaClockRow]| {
        ["breached", "running", "paused", "met"]
            .into_iter()
            .find(|state| candidates.iter().any(|r| r.state == *state))
    };
    let state = if open.is_empty() {
        pick(&rows.iter().collect::<Vec<_>>())
    } else {
        pick(&open)
    };
    (due, state)
}

/// The rows a batch of recomputes replaces, written together: each
/// changed ticket's summary, and those of its clocks that moved, are
/// written over the stored rows (an upsert: an update in place, with no
/// foreign key to check again; a ticket that loses a clock has all its
/// clocks deleted and written again). A ticket whose clocks, policy and
/// attention time came out as stored is left alone (recomputing from
/// history gives the same rows), so a recompute that moves nothing writes
/// nothing; a scan that only announces (the attention time moves on)
/// rewrites only the summary.
#[derive(Default)]
pub struct Writes {
    /// Tickets whose stored summary goes (no policy applies, no clock is kept).
    summaries_removed: Vec<String>,
    /// Tickets whose stored clocks all go before `clocks` are written: a
    /// stored clock has no counterpart among the new ones.
    clocks_replaced: Vec<String>,
    /// New rows: summaries and clocks with no stored row of their key.
    new_summaries: Vec<TicketSlaRow>,
    new_clocks: Vec<SlaClockRow>,
    /// Rows written over stored ones of the same key (rows that came out
    /// as stored are not written again).
    summaries: Vec<TicketSlaRow>,
    clocks: Vec<SlaClockRow>,
    /// Tickets whose earliest running due time moved: the claim order's
    /// copy on `tickets` follows (`db::ticket_claim::copy_due_times`).
    due_moved: Vec<String>,
}

/// Rows per insert statement (PostgreSQL takes at most 65,535 parameters).
const ROWS_PER_INSERT: usize = 1000;

impl Writes {
    /// Queues the ticket's rows unless they are as stored; the summary in
    /// force afterwards (`None`: no policy applies and no clock is kept).
    pub fn add(
        &mut self,
        ticket_id: &str,
        settled: &Settled,
        now: NaiveDateTime,
    ) -> Option<TicketSlaRow> {
        let Outcome {
            policy,
            rows,
            stored,
            ..
        } = &settled.outcome;
        let summary = (policy.is_some() || !rows.is_empty()).then(|| {
            let (due_at, state) = summary_of(rows);
            TicketSlaRow {
                ticket_id: ticket_id.to_string(),
                policy_id: policy.as_ref().map(|p| p.id.clone()),
                policy_version: policy.as_ref().map(|p| p.version),
                due_at,
                state: state.map(str::to_string),
                attention_at: notices::attention_at(rows, &settled.given),
                computed_at: now,
            }
        });
        // Both lists run by metric name (the metrics' order is
        // alphabetical), then cycle.
        let clocks_unchanged = stored.clocks == *rows;
        let unchanged = settled.outcome.finished
            || clocks_unchanged
                && match (&stored.summary, &summary) {
                    (Some(old), Some(new)) => same_summary(old, new),
                    (None, None) => true,
                    _ => false,
                };
        if unchanged {
            return stored.summary.clone();
        }
        if stored.summary.is_some() && summary.is_none() {
            self.summaries_removed.push(ticket_id.to_string());
        }
        if !clocks_unchanged {
            let same_clock =
                |a: &SlaClockRow, b: &SlaClockRow| (&a.metric, a.cycle) == (&b.metric, b.cycle);
            let one_goes = stored
                .clocks
                .iter()
                .any(|old| !rows.iter().any(|new| same_clock(old, new)));
            if one_goes {
                self.clocks_replaced.push(ticket_id.to_string());
                self.new_clocks.extend(rows.iter().cloned());
            } else {
                for row in rows.iter().filter(|new| !stored.clocks.contains(new)) {
                    if stored.clocks.iter().any(|old| same_clock(old, row)) {
                        self.clocks.push(row.clone());
                    } else {
                        self.new_clocks.push(row.clone());
                    }
                }
            }
        }
        let due_at = |s: &Option<TicketSlaRow>| s.as_ref().and_then(|s| s.due_at);
        if due_at(&stored.summary) != due_at(&summary) {
            self.due_moved.push(ticket_id.to_string());
        }
        match &stored.summary {
            Some(_) => self.summaries.extend(summary.clone()),
            None => self.new_summaries.extend(summary.clone()),
        }
        summary
    }

    pub fn flush(self, conn: &mut WriteConn<'_>) -> AppResult<()> {
        if !self.clocks_replaced.is_empty() {
            diesel::delete(
                sla_clocks::table.filter(sla_clocks::ticket_id.eq_any(&self.clocks_replaced)),
            )
            .execute(&mut **conn)?;
        }
        if !self.summaries_removed.is_empty() {
            diesel::delete(
                ticket_sla::table.filter(ticket_sla::ticket_id.eq_any(&self.summaries_removed)),
            )
            .execute(&mut **conn)?;
        }
        if self.new_summaries.len() == 1 && self.new_clocks.len() <= 3 {
            // One ticket's new summary and its few new clocks (a new
            // ticket's): one statement on PostgreSQL.
            crate::insert_rows_together!(
                conn,
                ticket_sla::table,
                self.new_summaries,
                sla_clocks::table,
                self.new_clocks
            )?;
        } else {
            for chunk in self.new_summaries.chunks(ROWS_PER_INSERT) {
                crate::insert_rows!(conn, ticket_sla::table, chunk)?;
            }
            for chunk in self.new_clocks.chunks(ROWS_PER_INSERT) {
                crate::insert_rows!(conn, sla_clocks::table, chunk)?;
            }
        }
        for chunk in self.summaries.chunks(ROWS_PER_INSERT) {
            crate::upsert_rows!(
                conn,
                ticket_sla::table,
                chunk,
                ticket_sla::ticket_id,
                (
                    ticket_sla::policy_id.eq(excluded(ticket_sla::policy_id)),
                    ticket_sla::policy_version.eq(excluded(ticket_sla::policy_version)),
                    ticket_sla::due_at.eq(excluded(ticket_sla::due_at)),
                    ticket_sla::state.eq(excluded(ticket_sla::state)),
                    ticket_sla::attention_at.eq(excluded(ticket_sla::attention_at)),
                    ticket_sla::computed_at.eq(excluded(ticket_sla::computed_at)),
                )
            )?;
        }
        for chunk in self.clocks.chunks(ROWS_PER_INSERT) {
            crate::upsert_rows!(
                conn,
                sla_clocks::table,
                chunk,
                (sla_clocks::ticket_id, sla_clocks::metric, sla_clocks::cycle),
                (
                    sla_clocks::policy_id.eq(excluded(sla_clocks::policy_id)),
                    sla_clocks::policy_version.eq(excluded(sla_clocks::policy_version)),
                    sla_clocks::target_seconds.eq(excluded(sla_clocks::target_seconds)),
                    sla_clocks::started_at.eq(excluded(sla_clocks::started_at)),
                    sla_clocks::stopped_at.eq(excluded(sla_clocks::stopped_at)),
                    sla_clocks::due_at.eq(excluded(sla_clocks::due_at)),
                    sla_clocks::warning_at.eq(excluded(sla_clocks::warning_at)),
                    sla_clocks::state.eq(excluded(sla_clocks::state)),
                    sla_clocks::breached_at.eq(excluded(sla_clocks::breached_at)),
                    sla_clocks::business_seconds_used
                        .eq(excluded(sla_clocks::business_seconds_used)),
                    sla_clocks::detail.eq(excluded(sla_clocks::detail)),
                    sla_clocks::settled_at.eq(excluded(sla_clocks::settled_at)),
                    sla_clocks::queue_id.eq(excluded(sla_clocks::queue_id)),
                    sla_clocks::vendor_id.eq(excluded(sla_clocks::vendor_id)),
                )
            )?;
        }
        if !self.due_moved.is_empty() {
            ticket_claim::copy_due_times(conn, &self.due_moved)?;
        }
        Ok(())
    }
}

/// Whether two summaries say the same, whenever each was computed.
fn same_summary(old: &TicketSlaRow, new: &TicketSlaRow) -> bool {
    (
        &old.policy_id,
        old.policy_version,
        old.due_at,
        &old.state,
        old.attention_at,
    ) == (
        &new.policy_id,
        new.policy_version,
        new.due_at,
        &new.state,
        new.attention_at,
    )
}
