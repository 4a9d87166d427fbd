//! The SLA breach scanner: announces warnings and breaches that came due
//! (`sla.warning`, `sla.breached`) and runs the policies' escalations for
//! them, once per clock, cycle and threshold, across Relay processes and
//! restarts (`sla::scanner`). Tickets are scanned in batches, a
//! transaction each, their rows locked first (the ticket seam's lock
//! order), so two scanners take turns on a ticket and the second finds it
//! announced.

use crate::config::Settings;
use crate::db::models::{Agent, Queue, Ticket};
use crate::db::schema::{agents, queues};
use crate::db::workers::{parallel_workers, side_by_side};
use crate::db::{lock_and_load_tickets, write_tx, Database, WriteConn};
use crate::domain::event::{EventData, ReleaseReason, SlaThreshold};
use crate::domain::{Priority, Role};
use crate::email::ingest::reply_addresses;
use crate::email::outbox::{self, OutgoingKind, OutgoingMail};
use crate::error::{AppError, AppResult};
use crate::routing::placement::{agent_ref, moved};
use crate::sla::compiled::{self, CompiledPolicy};
use crate::sla::policy::EscalationAction;
use crate::sla::scanner::{self, Announcement};
use crate::sla::tracking::metric_name;
use crate::tickets::change::{self, SYSTEM_ACTOR};
use diesel::prelude::*;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub tickets: usize,
    pub warnings: usize,
    pub breaches: usize,
    pub escalations: usize,
}

impl ScanReport {
    fn add(self, other: ScanReport) -> ScanReport {
        ScanReport {
            tickets: self.tickets + other.tickets,
            warnings: self.warnings + other.warnings,
            breaches: self.breaches + other.breaches,
            escalations: self.escalations + other.escalations,
        }
    }
}

/// Most tickets scanned per transaction: their reads and writes go together.
const TICKETS_PER_TRANSACTION: usize = 200;

/// One pass over the tickets whose clocks came due, in batches side by
/// side on PostgreSQL (`db::workers`): a batch's tickets are locked by its
/// transaction, and batches hold disjoint tickets.
pub fn run_once(db: &Database, settings: &Settings) -> AppResult<ScanReport> {
    let mut conn = db.get()?;
    let now = conn.now();
    let due = scanner::due_tickets(&mut conn, now, settings.sla.scan_batch)?;
    let mut batches = due.chunks(batch_size(due.len(), parallel_workers(db, &conn)));
    let scanned = side_by_side(
        db,
        &mut conn,
        |_| Ok(batches.next()),
        |conn, batch| {
            let mut report = ScanReport::default();
            write_tx(conn, |w| scan_batch(w, settings, batch, &mut report))?;
            Ok::<_, AppError>(report)
        },
    )?;
    Ok(scanned
        .into_iter()
        .fold(ScanReport::default(), ScanReport::add))
}

/// Tickets per batch: at most [`TICKETS_PER_TRANSACTION`], in batches of
/// one size that share out evenly among the workers (1,000 due on two
/// workers: six batches of 167, not five of 200, three for one worker).
fn batch_size(due: usize, workers: usize) -> usize {
    let share = due.div_ceil(workers.max(1));
    let batches = share.div_ceil(TICKETS_PER_TRANSACTION).max(1);
    share.div_ceil(batches).max(1)
}

/// Scans a batch of tickets: their announcements come first in the
/// history, then each one's escalations run (which may change the ticket
/// through the seam, recomputing it from what the scan stored). Events
/// that change no ticket are written together, in one statement at the
/// batch's end or before the first escalation that changes a ticket.
fn scan_batch(
    w: &mut WriteConn<'_>,
    settings: &Settings,
    ticket_ids: &[String],
    report: &mut ScanReport,
) -> AppResult<()> {
    let tickets = lock_and_load_tickets(w, ticket_ids)?;
    let (caches, now) = (w.caches().clone(), w.now());
    let policies = compiled::current(w, &caches, now)?;
    let mut scanned = scanner::scan(w, &policies, &tickets)?;
    report.tickets += tickets.len();
    let mut escalations = Escalations::new(settings);
    for (ticket, scan) in tickets.iter().zip(&mut scanned) {
        let said = std::mem::take(&mut scan.events);
        escalations
            .notes
            .extend(said.into_iter().map(|event| (ticket.id.clone(), event)));
    }
    for (mut ticket, scan) in tickets.into_iter().zip(scanned) {
        for announcement in &scan.announcements {
            match announcement.threshold {
                SlaThreshold::Warning => report.warnings += 1,
                SlaThreshold::Breach => report.breaches += 1,
            }
            if let Some(policy) = &scan.policy {
                report.escalations += escalations.run(w, &mut ticket, policy, announcement)?;
            }
        }
    }
    escalations.flush(w)
}

/// A batch's escalations: what they read (queues, the people to notify)
/// is read once per batch, and what they write without changing a ticket
/// (`sla.escalated` notes, notifications) is written together at the end,
/// so a pass costs a few statements per batch rather than per breach.
struct Escalations<'s> {
    settings: &'s Settings,
    queues: HashMap<String, Option<Queue>>,
    staff: HashMap<(Role, Option<String>), Vec<String>>,
    /// Event notes not written yet (the scan's announcements, then
    /// `sla.escalated`), in the order they were made.
    notes: Vec<(String, EventData)>,
    mails: Vec<OutgoingMail>,
}

impl<'s> Escalations<'s> {
    fn new(settings: &'s Settings) -> Self {
        Escalations {
            settings,
            queues: HashMap::new(),
            staff: HashMap::new(),
            notes: Vec::new(),
            mails: Vec::new(),
        }
    }

    /// Runs the policy's escalations for one announcement; how many ran.
    fn run(
        &mut self,
        w: &mut WriteConn<'_>,
        ticket: &mut Ticket,
        policy: &CompiledPolicy,
        announcement: &Announcement,
    ) -> AppResult<usize> {
        let applying = policy.definition.escalations.iter().filter(|e| {
            e.on == announcement.threshold && e.metric.is_none_or(|m| m == announcement.metric)
        });
        let mut ran = 0;
        for escalation in applying {
            let mut done = Vec::new();
            let mut changes = Vec::new();
            for action in &escalation.actions {
                if let Some(what) = self.act(w, ticket, announcement, action, &mut changes)? {
                    done.push(what);
                }
            }
            let escalated = EventData::SlaEscalated {
                metric: announcement.metric,
                cycle: announcement.cycle,
                on: announcement.threshold,
                actions: done,
            };
            if changes.is_empty() {
                self.notes.push((ticket.id.clone(), escalated));
            } else {
                // The notes made so far go first, so events keep the
                // order they happened in.
                self.write_notes(w)?;
                changes.push(escalated);
                change::update(w, ticket, SYSTEM_ACTOR, changes)?;
            }
            ran += 1;
        }
        Ok(ran)
    }

    /// Does one action; what it did, for the `sla.escalated` event (`None`
    /// when there was nothing to do). Ticket changes are made on `ticket`
    /// and their events pushed onto `changes`, recorded together by the
    /// caller.
    fn act(
        &mut self,
        w: &mut WriteConn<'_>,
        ticket: &mut Ticket,
        announcement: &Announcement,
        action: &EscalationAction,
        changes: &mut Vec<EventData>,
    ) -> AppResult<Option<String>> {
        match action {
            EscalationAction::Notify { emails } => {
                self.notify(ticket, announcement, emails);
                Ok(Some(format!("notified {}", emails.join(", "))))
            }
            EscalationAction::NotifyVendorLeads => {
                let vendor = self.holding_queue(w, ticket)?.map(|q| q.vendor_id);
                let leads = match vendor {
                    Some(vendor) => self.staff(w, Role::Lead, Some(vendor))?,
                    None => Vec::new(),
                };
                self.notify(ticket, announcement, &leads);
                Ok(Some(format!("notified {} vendor lead(s)", leads.len())))
            }
            EscalationAction::NotifyManagers => {
                let managers = self.staff(w, Role::Manager, None)?;
                self.notify(ticket, announcement, &managers);
                Ok(Some(format!("notified {} manager(s)", managers.len())))
            }
            EscalationAction::RaisePriority { to } => {
                let from: Priority = ticket.priority.parse().unwrap_or(Priority::Normal);
                let raised = match to {
                    Some(target) => *target,
                    None => one_step_up(from),
                };
                if rank(raised) <= rank(from) {
                    return Ok(None);
                }
                ticket.priority = raised.as_str().to_string();
                changes.push(EventData::PriorityChanged { from, to: raised });
                Ok(Some(format!("raised priority to {raised}")))
            }
            EscalationAction::MoveToQueue { queue_id } => {
                let from = self.holding_queue(w, ticket)?;
                let Some(to) = self.queue(w, queue_id)? else {
                    return Ok(None);
                };
                if from.as_ref().map(|q| &q.id) == Some(&to.id) {
                    return Ok(None);
                }
                if let Some(holder) = assignee(w, ticket)? {
                    if holder.vendor_id.as_deref() != Some(to.vendor_id.as_str()) {
                        ticket.assignee_id = None;
                        changes.push(EventData::Unassigned {
                            from: agent_ref(&holder),
                            reason: ReleaseReason::HandedOff,
                        });
                    }
                }
                changes.push(moved(
                    from.as_ref(),
                    Some(&to),
                    None,
                    Some("SLA escalation".into()),
                ));
                ticket.queue_id = Some(to.id.clone());
                Ok(Some(format!("moved to queue {}", to.slug)))
            }
        }
    }

    fn queue(&mut self, w: &mut WriteConn<'_>, id: &str) -> AppResult<Option<Queue>> {
        if let Some(known) = self.queues.get(id) {
            return Ok(known.clone());
        }
        let found = queues::table
            .find(id)
            .select(Queue::as_select())
            .first(&mut **w)
            .optional()?;
        self.queues.insert(id.to_string(), found.clone());
        Ok(found)
    }

    fn holding_queue(
        &mut self,
        w: &mut WriteConn<'_>,
        ticket: &Ticket,
    ) -> AppResult<Option<Queue>> {
        match &ticket.queue_id {
            Some(id) => self.queue(w, id),
            None => Ok(None),
        }
    }

    /// The addresses of the active people with `role` (of `vendor` when
    /// given).
    fn staff(
        &mut self,
        w: &mut WriteConn<'_>,
        role: Role,
        vendor: Option<String>,
    ) -> AppResult<Vec<String>> {
        let key = (role, vendor);
        if let Some(known) = self.staff.get(&key) {
            return Ok(known.clone());
        }
        let mut query = agents::table
            .filter(agents::role.eq(role.as_str()))
            .filter(agents::active.eq(true))
            .order(agents::email.asc())
            .select(agents::email)
            .into_boxed();
        if let Some(vendor) = &key.1 {
            query = query.filter(agents::vendor_id.eq(vendor.clone()));
        }
        let found: Vec<String> = query.load(&mut **w)?;
        self.staff.insert(key, found.clone());
        Ok(found)
    }

    /// One notification per address, through the outbox, so no recipient
    /// sees who else was told.
    fn notify(&mut self, ticket: &Ticket, announcement: &Announcement, addresses: &[String]) {
        let metric = metric_name(announcement.metric).replace('_', " ");
        let what = match announcement.threshold {
            SlaThreshold::Warning => "is close to its due time",
            SlaThreshold::Breach => "missed its due time",
        };
        let base = self.settings.server.public_base_url.trim_end_matches('/');
        for address in addresses {
            self.mails.push(OutgoingMail {
                ticket_id: ticket.id.clone(),
                ticket_number: ticket.number,
                kind: OutgoingKind::Notification,
                to: address.clone(),
                cc: Vec::new(),
                subject: format!("SLA: {metric} {what}"),
                body_text: format!(
                    "The {metric} clock (cycle {}) of ticket #{} \"{}\" {what}.\n\nDetails: {base}/api/v1/tickets/{}/sla\n",
                    announcement.cycle, ticket.number, ticket.subject, ticket.id
                ),
                body_html: None,
                thread: Vec::new(),
                automatic: true,
            });
        }
    }

    fn write_notes(&mut self, w: &mut WriteConn<'_>) -> AppResult<()> {
        let notes = std::mem::take(&mut self.notes);
        let each: Vec<(&str, &[EventData])> = notes
            .iter()
            .map(|(ticket_id, event)| (ticket_id.as_str(), std::slice::from_ref(event)))
            .collect();
        change::note_each(w, SYSTEM_ACTOR, &each)
    }

    /// Writes the notes and notifications held back.
    fn flush(mut self, w: &mut WriteConn<'_>) -> AppResult<()> {
        self.write_notes(w)?;
        if !self.mails.is_empty() {
            let replies = reply_addresses(w, self.settings)?;
            outbox::enqueue_all(w, self.settings, &replies, std::mem::take(&mut self.mails))?;
        }
        Ok(())
    }
}

fn rank(priority: Priority) -> u8 {
    crate::routing::engine::rank(priority)
}

fn one_step_up(priority: Priority) -> Priority {
    match priority {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

fn assignee(w: &mut WriteConn<'_>, ticket: &Ticket) -> AppResult<Option<Agent>> {
    let Some(id) = &ticket.assignee_id else {
        return Ok(None);
    };
    Ok(agents::table
        .find(id)
        .select(Agent::as_select())
        .first(&mut **w)
        .optional()?)
}

pub fn start(db: Database, settings: Settings) {
    let pause = Duration::from_secs(settings.sla.scan_seconds.max(1));
    let spawned = std::thread::Builder::new()
        .name("sla-scanner".into())
        .spawn(move || loop {
            match run_once(&db, &settings) {
                Ok(report) if report != ScanReport::default() => tracing::info!(
                    tickets = report.tickets,
                    warnings = report.warnings,
                    breaches = report.breaches,
                    escalations = report.escalations,
                    "SLA scanner announced due clocks"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %crate::error::cause_chain(&err), "SLA scanner run failed; will retry"),
            }
            std::thread::sleep(pause);
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "could not start the SLA scanner");
    }
}

#[cfg(test)]
mod tests {
    use super::batch_size;

    #[test]
    fn batches_share_out_evenly_and_stay_within_a_transaction() {
        assert_eq!(batch_size(1000, 2), 167);
        assert_eq!(batch_size(1000, 1), 200);
        assert_eq!(batch_size(150, 2), 75);
        assert_eq!(batch_size(1, 4), 1);
        assert_eq!(batch_size(0, 2), 1);
        for due in 1..2000 {
            for workers in 1..=4 {
                let size = batch_size(due, workers);
                assert!((1..=super::TICKETS_PER_TRANSACTION).contains(&size));
                // The busiest worker gets its fair share, rounded up by
                // less than a ticket per batch.
                let fair = due.div_ceil(workers);
                let busiest = due.div_ceil(size).div_ceil(workers);
                assert!(
                    busiest * size < fair + busiest,
                    "{due} due on {workers} workers: batches of {size}"
                );
            }
        }
    }
}
