//! Placing a new ticket: the rules' decision applied with the one
//! precedence for its queue, then push assignment in that queue.
//!
//! Queue precedence: an authenticated caller's explicit queue, then the
//! rules, then the door's hint (mailbox, `mailgate --queue`,
//! `email.address_queues`), then `routing.default_queue`. The rules' other
//! actions (priority, tags, SLA policy, assignee) apply whatever set the
//! queue.

use super::assignment;
use super::compiled;
use super::engine::{Decision, Facts, RuleSet};
use crate::db::models::{Agent, Queue, Ticket};
use crate::db::schema::{agents, queues};
use crate::db::{DbConnection, WriteConn};
use crate::domain::event::{
    AgentRef, AssignedBy, EventData, IntakeFacts, QueueChangeReason, QueueRef, QueueSource,
};
use crate::error::AppResult;
use diesel::prelude::*;
use serde_json::{Map, Value};

/// What the door knows about a new ticket beyond its row.
#[derive(Debug, Clone, Default)]
pub struct Arrival<'a> {
    /// The first message's text.
    pub body: &'a str,
    /// The customer's address and organization (the caller has the
    /// customer at hand: routing does not read it again).
    pub from: &'a str,
    pub organization: Option<&'a str>,
    /// The door's queue hint (a slug or id), also the `intake_hint` field.
    pub hint: Option<&'a str>,
    pub recipients: &'a [String],
    /// The ticket's queue was named by an authenticated caller.
    pub explicit_queue: bool,
    /// `routing.default_queue`.
    pub default_queue: Option<&'a str>,
}

pub fn queue_ref(queue: &Queue) -> QueueRef {
    QueueRef {
        queue_id: queue.id.clone(),
        vendor_id: queue.vendor_id.clone(),
    }
}

pub fn agent_ref(agent: &Agent) -> AgentRef {
    AgentRef {
        agent_id: agent.id.clone(),
        vendor_id: agent.vendor_id.clone(),
    }
}

/// The event of a move from one queue to another (a hand-off when the
/// vendor changes).
pub fn moved(
    from: Option<&Queue>,
    to: Option<&Queue>,
    reason: Option<QueueChangeReason>,
    note: Option<String>,
) -> EventData {
    let (from, to) = (from.map(queue_ref), to.map(queue_ref));
    EventData::QueueChanged {
        handed_off: from.as_ref().map(|q| &q.vendor_id) != to.as_ref().map(|q| &q.vendor_id),
        from,
        to,
        reason,
        note,
    }
}

/// A queue by id or slug.
pub fn find_queue(conn: &mut DbConnection, reference: &str) -> AppResult<Option<Queue>> {
    Ok(queues::table
        .filter(queues::id.eq(reference).or(queues::slug.eq(reference)))
        .select(Queue::as_select())
        .first(conn)
        .optional()?)
}

/// The facts the rules read, from the ticket row and its arrival.
pub fn facts<'a>(
    ticket: &'a Ticket,
    arrival: &'a Arrival<'a>,
    tags: &'a [String],
    custom_fields: &'a Map<String, Value>,
) -> Facts<'a> {
    Facts {
        subject: &ticket.subject,
        body: arrival.body,
        from: arrival.from,
        recipients: arrival.recipients,
        intake_hint: arrival.hint,
        channel: ticket
            .channel
            .parse()
            .unwrap_or(crate::domain::Channel::Api),
        priority: ticket
            .priority
            .parse()
            .unwrap_or(crate::domain::Priority::Normal),
        language: ticket.language.as_deref(),
        tags,
        organization: arrival.organization,
        custom_fields,
        received_at: ticket.created_at.and_utc(),
        queue_id: None,
        vendor_id: None,
    }
}

/// Evaluates the current rules for a ticket.
fn decide(
    conn: &mut WriteConn<'_>,
    ticket: &Ticket,
    arrival: &Arrival<'_>,
) -> AppResult<(std::sync::Arc<RuleSet>, Decision)> {
    let (caches, now) = (conn.caches().clone(), conn.now());
    let rules = compiled::current(conn, &caches, now)?;
    let tags: Vec<String> = serde_json::from_str(&ticket.tags).unwrap_or_default();
    let custom: Map<String, Value> =
        serde_json::from_str(&ticket.custom_fields).unwrap_or_default();
    let facts = facts(ticket, arrival, &tags, &custom);
    let (decision, _) = rules.evaluate(&facts, false);
    Ok((rules, decision))
}

/// Where a new ticket was placed, and the events that say so.
pub struct Placed {
    pub queue: Option<Queue>,
    pub assignee: Option<Agent>,
    /// `routed`, and `assigned` when someone got the ticket.
    pub events: Vec<EventData>,
}

/// Routes `ticket` before its first write: sets its queue, priority, tags,
/// SLA policy, assignee and waiting time.
pub fn route_new(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    arrival: &Arrival<'_>,
) -> AppResult<Placed> {
    let intake = IntakeFacts {
        priority: ticket
            .priority
            .parse()
            .unwrap_or(crate::domain::Priority::Normal),
        tags: serde_json::from_str(&ticket.tags).unwrap_or_default(),
        intake_hint: arrival.hint.map(str::to_string),
        recipients: arrival.recipients.to_vec(),
    };
    let (rules, decision) = decide(conn, ticket, arrival)?;
    let mut notes = Vec::new();
    let (queue, source) = place(conn, ticket, arrival, &decision, &mut notes)?;
    ticket.queue_id = queue.as_ref().map(|q| q.id.clone());
    ticket.priority = decision.priority.as_str().into();
    ticket.tags = serde_json::to_string(&decision.tags).expect("tags serialise");
    ticket.sla_policy_id = decision.sla_policy_id.clone();
    let mut events = vec![EventData::Routed {
        rule_set_version: rules.version,
        rules: decision.matched_rules.clone(),
        queue: queue.as_ref().map(queue_ref),
        queue_source: source,
        sla_policy_id: decision.sla_policy_id.clone(),
        intake,
        notes: Vec::new(),
    }];
    let assigned = match (&decision.assignee_id, &queue) {
        (Some(agent_id), queue) => {
            by_rule(conn, agent_id, queue.as_ref(), &mut notes)?.map(|a| (a, AssignedBy::Rule))
        }
        (None, _) => None,
    };
    let assigned = match (assigned, &queue) {
        (Some(found), _) => Some(found),
        (None, Some(queue)) => assignment::choose(conn, queue, ticket, rules.directory(), None)?,
        (None, None) => None,
    };
    if let EventData::Routed { notes: kept, .. } = &mut events[0] {
        *kept = notes;
    }
    let assignee = match assigned {
        Some((agent, by)) => {
            give(ticket, &agent, by, &mut events);
            Some(agent)
        }
        None => {
            ticket.assignee_id = None;
            ticket.queued_at = queue.as_ref().map(|_| ticket.created_at);
            None
        }
    };
    Ok(Placed {
        queue,
        assignee,
        events,
    })
}

/// Gives an unassigned ticket to `agent`, with the event that says so.
fn give(ticket: &mut Ticket, agent: &Agent, by: AssignedBy, events: &mut Vec<EventData>) {
    ticket.assignee_id = Some(agent.id.clone());
    ticket.queued_at = None;
    events.push(EventData::Assigned {
        from: None,
        to: agent_ref(agent),
        by: Some(by),
    });
}

/// The ticket's queue by the one precedence, and where it came from. A
/// queue that no longer exists (a rule's, a hint's) is skipped with a note.
fn place(
    conn: &mut WriteConn<'_>,
    ticket: &Ticket,
    arrival: &Arrival<'_>,
    decision: &Decision,
    notes: &mut Vec<String>,
) -> AppResult<(Option<Queue>, QueueSource)> {
    if arrival.explicit_queue {
        if let Some(id) = &ticket.queue_id {
            return Ok((find_queue(conn, id)?, QueueSource::Caller));
        }
    }
    let candidates = [
        (decision.queue_id.as_deref(), QueueSource::Rules),
        (arrival.hint, QueueSource::Hint),
        (arrival.default_queue, QueueSource::Default),
    ];
    for (reference, source) in candidates {
        let Some(reference) = reference else { continue };
        match find_queue(conn, reference)? {
            Some(queue) => return Ok((Some(queue), source)),
            None => notes
                .push(format!("no queue '{reference}' (from {source:?}); skipped").to_lowercase()),
        }
    }
    Ok((None, QueueSource::None))
}

/// The agent a rule's `assign` names, if they may hold the ticket in its
/// queue: active, and of the queue's vendor (never another vendor's).
fn by_rule(
    conn: &mut WriteConn<'_>,
    agent_id: &str,
    queue: Option<&Queue>,
    notes: &mut Vec<String>,
) -> AppResult<Option<Agent>> {
    let agent: Option<Agent> = agents::table
        .find(agent_id)
        .select(Agent::as_select())
        .first(&mut **conn)
        .optional()?;
    let Some(agent) = agent.filter(|a| a.active) else {
        notes.push(format!(
            "assign: agent {agent_id} is not active; not assigned"
        ));
        return Ok(None);
    };
    match (queue, &agent.vendor_id) {
        (Some(queue), Some(vendor)) if *vendor == queue.vendor_id => Ok(Some(agent)),
        (None, None) => Ok(Some(agent)),
        _ => {
            notes.push(format!("assign: agent {agent_id} does not work for the vendor of the ticket's queue; not assigned"));
            Ok(None)
        }
    }
}

/// Keeps a changed ticket's waiting state in step with its events: an
/// assignment ends the wait; a move to another queue or the loss of its
/// agent starts one, and a push queue then assigns it at once if it can
/// (adding the `assigned` event).
pub fn settle(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    events: &mut Vec<EventData>,
) -> AppResult<()> {
    let moved_or_let_go = events.iter().any(|e| {
        matches!(
            e,
            EventData::QueueChanged { .. } | EventData::Unassigned { .. }
        )
    });
    if ticket.assignee_id.is_some() {
        ticket.queued_at = None;
        return Ok(());
    }
    let Some(queue_id) = ticket.queue_id.clone() else {
        ticket.queued_at = None;
        return Ok(());
    };
    if !moved_or_let_go {
        return Ok(());
    }
    let let_go_by = events.iter().find_map(|e| match e {
        EventData::Unassigned { from, .. } => Some(from.agent_id.clone()),
        _ => None,
    });
    ticket.queued_at = Some(conn.now());
    let waiting = ticket
        .status
        .parse()
        .is_ok_and(|s| assignment::WAITING_STATUSES.contains(&s));
    let Some(queue) = find_queue(conn, &queue_id)?.filter(|_| waiting) else {
        return Ok(());
    };
    let (caches, now) = (conn.caches().clone(), conn.now());
    let rules = compiled::current(conn, &caches, now)?;
    if let Some((agent, by)) = assignment::choose(
        conn,
        &queue,
        ticket,
        rules.directory(),
        let_go_by.as_deref(),
    )? {
        give(ticket, &agent, by, events);
    }
    Ok(())
}

/// Runs the current rules again on a ticket (`POST /tickets/{id}/route`):
/// a queue they name replaces the ticket's (a hand-off when its vendor
/// changes: the agent of the old vendor lets go), and their priority, tags
/// and SLA policy apply. The events to record, `routed` last.
pub fn reroute(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    arrival: &Arrival<'_>,
    intake: IntakeFacts,
    note: Option<String>,
) -> AppResult<Vec<EventData>> {
    let (rules, decision) = decide(conn, ticket, arrival)?;
    let mut events = Vec::new();
    let mut notes = Vec::new();
    let current = match &ticket.queue_id {
        Some(id) => find_queue(conn, id)?,
        None => None,
    };
    let mut placed = current.clone();
    let mut source = QueueSource::Kept;
    if let Some(wanted) = &decision.queue_id {
        match find_queue(conn, wanted)? {
            Some(queue) if Some(&queue.id) != ticket.queue_id.as_ref() => {
                events.push(moved(
                    current.as_ref(),
                    Some(&queue),
                    Some(QueueChangeReason::Rerouted),
                    note,
                ));
                ticket.queue_id = Some(queue.id.clone());
                source = QueueSource::Rules;
                placed = Some(queue);
            }
            Some(_) => source = QueueSource::Rules,
            None => notes.push(format!("no queue '{wanted}' (from rules); skipped")),
        }
    }
    if let Some(holder_id) = ticket.assignee_id.clone() {
        let holder: Agent = agents::table
            .find(&holder_id)
            .select(Agent::as_select())
            .first(&mut **conn)?;
        let fits = match (&placed, &holder.vendor_id) {
            (Some(queue), Some(vendor)) => *vendor == queue.vendor_id,
            (Some(_), None) => true,
            (None, _) => true,
        };
        if !fits {
            events.push(EventData::Unassigned {
                from: agent_ref(&holder),
                reason: crate::domain::event::ReleaseReason::HandedOff,
            });
            ticket.assignee_id = None;
        }
    }
    let priority = decision.priority;
    let before: crate::domain::Priority = ticket
        .priority
        .parse()
        .map_err(crate::error::AppError::Internal)?;
    if priority != before {
        events.push(EventData::PriorityChanged {
            from: before,
            to: priority,
        });
        ticket.priority = priority.as_str().into();
    }
    let tags_before: Vec<String> = serde_json::from_str(&ticket.tags).unwrap_or_default();
    if decision.tags != tags_before {
        events.push(EventData::TagsChanged {
            from: tags_before,
            to: decision.tags.clone(),
        });
        ticket.tags = serde_json::to_string(&decision.tags).expect("tags serialise");
    }
    if decision.sla_policy_id.is_some() {
        ticket.sla_policy_id = decision.sla_policy_id.clone();
    }
    if let (Some(agent_id), None) = (&decision.assignee_id, &ticket.assignee_id) {
        if let Some(agent) = by_rule(conn, agent_id, placed.as_ref(), &mut notes)? {
            ticket.assignee_id = Some(agent.id.clone());
            events.push(EventData::Assigned {
                from: None,
                to: agent_ref(&agent),
                by: Some(AssignedBy::Rule),
            });
        }
    }
    events.push(EventData::Routed {
        rule_set_version: rules.version,
        rules: decision.matched_rules,
        queue: placed.as_ref().map(queue_ref),
        queue_source: source,
        sla_policy_id: decision.sla_policy_id,
        intake,
        notes,
    });
    Ok(events)
}
