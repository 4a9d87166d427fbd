//! Replaying routing over stored tickets: what a ticket came in with, and
//! `POST /api/v1/routing/rules/simulate`, which compares how a period's
//! tickets would be placed under the stored rules and under a proposal.

use super::compiled;
use super::engine::{Facts, RuleSet};
use super::rule::RuleInput;
use super::rules;
use crate::auth::Principal;
use crate::db::models::{Customer, Queue, Ticket, TicketEvent};
use crate::db::schema::{customers, messages, queues, ticket_events, tickets};
use crate::db::DbConnection;
use crate::domain::event::{EventData, IntakeFacts, QueueSource};
use crate::domain::{AuthorKind, Role};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// Tickets one simulation replays at most (the oldest of the period first).
pub const MAX_SIMULATED: i64 = 20_000;
/// Example tickets a simulation shows of those that would move.
pub const MAX_EXAMPLES: usize = 50;

/// What the ticket came in with: its first customer message and the
/// intake facts of its first `routed` event (for a ticket older than
/// routing: its current priority and tags, no hint).
pub fn arrival_of(
    conn: &mut DbConnection,
    ticket_id: &str,
    priority: &str,
    tags: &str,
) -> AppResult<Arrived> {
    let body: Option<String> = messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(messages::author_kind.eq(AuthorKind::Customer.as_str()))
        .order((messages::created_at.asc(), messages::id.asc()))
        .select(messages::body_text)
        .first(conn)
        .optional()?;
    let first_routed: Option<TicketEvent> = ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .filter(ticket_events::kind.eq("routed"))
        .order(ticket_events::id.asc())
        .select(TicketEvent::as_select())
        .first(conn)
        .optional()?;
    let routed = first_routed
        .and_then(|e| EventData::parse(&e.kind, &serde_json::from_str(&e.data).ok()?))
        .and_then(|e| match e {
            EventData::Routed {
                intake,
                queue_source,
                ..
            } => Some((intake, queue_source)),
            _ => None,
        });
    let (intake, source) = routed.unwrap_or_else(|| {
        let intake = IntakeFacts {
            priority: priority.parse().unwrap_or(crate::domain::Priority::Normal),
            tags: serde_json::from_str(tags).unwrap_or_default(),
            intake_hint: None,
            recipients: Vec::new(),
        };
        (intake, QueueSource::None)
    });
    Ok(Arrived {
        body: body.unwrap_or_default(),
        intake,
        queue_chosen_by_caller: source == QueueSource::Caller,
    })
}

/// What a stored ticket came in with.
pub struct Arrived {
    /// The first customer message's text.
    pub body: String,
    pub intake: IntakeFacts,
    /// An authenticated caller named its queue (the rules never moved it).
    pub queue_chosen_by_caller: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// The proposed rule set, in full.
    pub rules: Vec<RuleInput>,
    /// The period of ticket creation, `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueCount {
    pub queue_id: Option<String>,
    pub vendor_id: Option<String>,
    pub stored: i64,
    pub proposed: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorCount {
    pub vendor_id: Option<String>,
    pub stored: i64,
    pub proposed: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovedTicket {
    pub ticket_id: String,
    pub number: i64,
    pub subject: String,
    pub stored_queue_id: Option<String>,
    pub proposed_queue_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Simulation {
    pub tickets: i64,
    /// More tickets were created in the period than one simulation replays.
    pub truncated: bool,
    /// Tickets whose queue differs between the two rule sets.
    pub moved: i64,
    pub queues: Vec<QueueCount>,
    pub vendors: Vec<VendorCount>,
    pub examples: Vec<MovedTicket>,
}

/// Replays the period's tickets (their first message and intake facts)
/// under the stored rules and under `request.rules`; nothing is stored. A
/// queue its caller chose stays under both.
pub fn simulate(
    conn: &mut DbConnection,
    caller: &Principal,
    request: &SimulateRequest,
    default_queue: Option<&str>,
) -> AppResult<Simulation> {
    caller.require(Role::is_manager_or_above)?;
    if request.to <= request.from {
        return Err(AppError::invalid("to", "must be after from"));
    }
    let proposed = RuleSet::compile(
        0,
        rules::check_proposal(conn, &request.rules)?,
        compiled::directory(conn)?,
    );
    let version = crate::directory::routing_version::current(conn)?;
    let stored = compiled::compile(conn, version)?;
    let all_queues: Vec<Queue> = queues::table.select(Queue::as_select()).load(conn)?;
    let vendor_of: HashMap<String, String> = all_queues
        .iter()
        .map(|q| (q.id.clone(), q.vendor_id.clone()))
        .collect();
    // A hint or default names a queue by id or slug.
    let by_reference: HashMap<&str, &str> = all_queues
        .iter()
        .flat_map(|q| {
            [
                (q.id.as_str(), q.id.as_str()),
                (q.slug.as_str(), q.id.as_str()),
            ]
        })
        .collect();
    let resolve = |reference: Option<&str>| {
        reference
            .and_then(|r| by_reference.get(r))
            .map(|id| id.to_string())
    };
    let mut rows: Vec<(Ticket, Customer)> = tickets::table
        .inner_join(customers::table)
        .filter(tickets::created_at.ge(request.from.naive_utc()))
        .filter(tickets::created_at.lt(request.to.naive_utc()))
        .order((tickets::created_at.asc(), tickets::number.asc()))
        .limit(MAX_SIMULATED + 1)
        .select((Ticket::as_select(), Customer::as_select()))
        .load(conn)?;
    let truncated = rows.len() as i64 > MAX_SIMULATED;
    rows.truncate(MAX_SIMULATED as usize);
    let mut per_queue: BTreeMap<Option<String>, (i64, i64)> = BTreeMap::new();
    let mut examples = Vec::new();
    let mut moved = 0;
    for (ticket, customer) in &rows {
        let Arrived {
            body,
            intake,
            queue_chosen_by_caller,
        } = arrival_of(conn, &ticket.id, &ticket.priority, &ticket.tags)?;
        let custom: Map<String, Value> =
            serde_json::from_str(&ticket.custom_fields).unwrap_or_default();
        let facts = Facts {
            subject: &ticket.subject,
            body: &body,
            from: &customer.email,
            recipients: &intake.recipients,
            intake_hint: intake.intake_hint.as_deref(),
            channel: ticket
                .channel
                .parse()
                .unwrap_or(crate::domain::Channel::Api),
            priority: intake.priority,
            language: ticket.language.as_deref(),
            tags: &intake.tags,
            organization: customer.organization.as_deref(),
            custom_fields: &custom,
            received_at: ticket.created_at.and_utc(),
            queue_id: None,
            vendor_id: None,
        };
        // The intake precedence (see `placement`): caller, rules, hint, default.
        let place = |set: &RuleSet| -> Option<String> {
            if queue_chosen_by_caller {
                return ticket.queue_id.clone();
            }
            resolve(set.evaluate(&facts, false).0.queue_id.as_deref())
                .or_else(|| resolve(intake.intake_hint.as_deref()))
                .or_else(|| resolve(default_queue))
        };
        let (before, after) = (place(&stored), place(&proposed));
        per_queue.entry(before.clone()).or_default().0 += 1;
        per_queue.entry(after.clone()).or_default().1 += 1;
        if before != after {
            moved += 1;
            if examples.len() < MAX_EXAMPLES {
                examples.push(MovedTicket {
                    ticket_id: ticket.id.clone(),
                    number: ticket.number,
                    subject: ticket.subject.clone(),
                    stored_queue_id: before,
                    proposed_queue_id: after,
                });
            }
        }
    }
    let mut per_vendor: BTreeMap<Option<String>, (i64, i64)> = BTreeMap::new();
    let queues = per_queue
        .into_iter()
        .map(|(queue_id, (stored, proposed))| {
            let vendor_id = queue_id.as_ref().and_then(|q| vendor_of.get(q).cloned());
            let counts = per_vendor.entry(vendor_id.clone()).or_default();
            counts.0 += stored;
            counts.1 += proposed;
            QueueCount {
                queue_id,
                vendor_id,
                stored,
                proposed,
            }
        })
        .collect();
    Ok(Simulation {
        tickets: rows.len() as i64,
        truncated,
        moved,
        queues,
        vendors: per_vendor
            .into_iter()
            .map(|(vendor_id, (stored, proposed))| VendorCount {
                vendor_id,
                stored,
                proposed,
            })
            .collect(),
        examples,
    })
}
