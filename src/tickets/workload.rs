//! An agent's work: claiming the next ticket, releasing one, their own
//! tickets, a queue's view, availability, and what deactivation gives back.

use super::change::{self, Change};
use super::query::{self, TicketRef, Visibility};
use super::view::{attach_sla, Disclosure, SlaSummary, TicketRow, TicketView};
use crate::auth::{ActingAgent, Principal, QueueWithMasking};
use crate::db::models::{Agent, Customer, Queue, Ticket};
use crate::db::schema::{agents, customers, queues, tickets};
use crate::db::ticket_claim::{self, StoredSla};
use crate::db::{lock_ticket, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::event::{AssignedBy, EventData, QueueChangeReason, ReleaseReason};
use crate::domain::{AuthorKind, Channel, Priority, Role};
use crate::error::{AppError, AppResult};
use crate::routing::assignment::{self, Unfit, WAITING_STATUSES};
use crate::routing::compiled;
use crate::routing::placement::{agent_ref, find_queue, moved};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Candidates read when the claimer must have the skills: enough to pass
/// over tickets they cannot take (as many as the four priority levels'
/// twenty each that were read before claims went by due time).
const CLAIM_CANDIDATES: i64 = 80;

/// What `POST /queues/{id}/claim` got.
pub enum Claim {
    Ticket(Box<TicketView>),
    /// Nothing to give; the reason when it is the caller (off shift, at
    /// capacity) rather than an empty queue.
    Nothing(Option<&'static str>),
}

/// The agent a token speaks for; only people with an agent record work tickets.
fn caller_agent(conn: &mut DbConnection, caller: &Principal) -> AppResult<Agent> {
    caller.require(Role::works_tickets)?;
    let id = acting_agent_id(caller)?;
    let agent = agents::table
        .find(id)
        .select(Agent::as_select())
        .first(conn)
        .optional()?;
    agent.ok_or_else(agent_gone)
}

fn acting_agent_id(caller: &Principal) -> AppResult<&str> {
    caller.agent_id.as_deref().ok_or_else(|| {
        AppError::Forbidden(
            "this token acts for no agent: only an agent's token can claim or hold tickets".into(),
        )
    })
}

fn agent_gone() -> AppError {
    AppError::Forbidden("the token's agent no longer exists".into())
}

/// A queue the caller may work: their vendor's (a foreign one is not found).
fn workable_queue(
    conn: &mut DbConnection,
    caller: &Principal,
    reference: &str,
) -> AppResult<Queue> {
    let queue = find_queue(conn, reference)?.ok_or_else(|| AppError::not_found("queue"))?;
    ensure_workable(caller, &queue)?;
    Ok(queue)
}

fn ensure_workable(caller: &Principal, queue: &Queue) -> AppResult<()> {
    match caller.vendor_scope() {
        Some(own) if own != queue.vendor_id => Err(AppError::not_found("queue")),
        _ => Ok(()),
    }
}

/// A queue read with its vendor's masking, if the caller may work it, and
/// what the caller is shown of its tickets: a vendor-scoped caller works
/// only its own vendor's queues, so the queue's vendor decides masking.
fn workable_queue_disclosed(
    caller: &Principal,
    found: Option<QueueWithMasking>,
) -> AppResult<(Queue, Disclosure)> {
    let (queue, mask_customer_pii) = found.ok_or_else(|| AppError::not_found("queue"))?;
    ensure_workable(caller, &queue)?;
    let disclosure = Disclosure::with_vendor_setting(caller, mask_customer_pii);
    Ok((queue, disclosure))
}

/// A claimed ticket with its customer and, when the lock read it, its SLA
/// summary.
type Claimed = (Ticket, Customer, Option<StoredSla>);

/// Gives the caller the most urgent waiting ticket of the queue it may
/// take (the earliest running SLA due time, then priority, then the
/// longest wait: `db::ticket_claim`), with its SLA summary, atomically: two claimers never
/// get the same ticket. `acting` is the agent the caller's token acts
/// for and `queue` the queue asked for, as authentication read them. The hot path of agents working a
/// queue, so it reads nothing twice: the answer is built from the rows it
/// holds.
pub fn claim(
    conn: &mut Conn,
    caller: &Principal,
    acting: Option<ActingAgent>,
    queue: Option<QueueWithMasking>,
) -> AppResult<Claim> {
    acting_agent_id(caller)?;
    let ActingAgent {
        agent,
        open_tickets: load,
    } = acting.ok_or_else(agent_gone)?;
    let (queue, disclosure) = workable_queue_disclosed(caller, queue)?;
    let caches = conn.caches().clone();
    let claimed = write_tx(
        conn,
        |w| -> AppResult<Result<Claimed, Option<&'static str>>> {
            let now = w.now();
            let rules = compiled::current(w, &caches, now)?;
            // The load as the token's read found it, just before this
            // transaction: an agent's own claims come one after another,
            // so only a push committing in between can take them past
            // capacity, by one. Availability is about pushed work; a
            // claim is the agent asking.
            let blocker = assignment::unfit(
                &Agent {
                    available: true,
                    ..agent.clone()
                },
                &queue,
                None,
                i64::from(load),
                rules.directory(),
                now.and_utc(),
            );
            if let Some(unfit @ (Unfit::OffShift | Unfit::AtCapacity | Unfit::Inactive)) = blocker {
                return Ok(Err(Some(unfit.reason())));
            }
            let fit = if queue.skill_matching {
                match first_with_skills(w, &queue, &agent)? {
                    Some(ticket) => {
                        let customer = customers::table
                            .find(&ticket.customer_id)
                            .select(Customer::as_select())
                            .first(&mut **w)?;
                        Some((ticket, customer, None))
                    }
                    None => None,
                }
            } else {
                ticket_claim::lock_most_urgent(w, &queue.id)?
                    .map(|(ticket, customer, sla)| (ticket, customer, Some(sla)))
            };
            let Some((mut ticket, customer, sla)) = fit else {
                return Ok(Err(None));
            };
            ticket.assignee_id = Some(agent.id.clone());
            change::update(
                w,
                &mut ticket,
                &caller.actor(),
                vec![EventData::Assigned {
                    from: None,
                    to: agent_ref(&agent),
                    by: Some(AssignedBy::Claim),
                }],
            )?;
            Ok(Ok((ticket, customer, sla)))
        },
    )?;
    match claimed {
        Ok((ticket, customer, sla)) => {
            let mut view = TicketView::from_row((ticket, customer, Some(queue), Some(agent)))?;
            let now = conn.now();
            // The lock read the summary (a claim moves no clock); a
            // ticket chosen by skills is read again.
            match sla {
                Some(stored) => {
                    view.sla = SlaSummary::from_stored(stored.due_at, stored.state, now)
                }
                None => attach_sla(conn, now, std::slice::from_mut(&mut view))?,
            }
            Ok(Claim::Ticket(Box::new(disclosure.ticket(view))))
        }
        Err(reason) => Ok(Claim::Nothing(reason)),
    }
}

/// The first waiting ticket in claim order that the agent has the skills
/// for, locked; candidates are read first and locked one at a time, so
/// tickets the agent passes over stay claimable by others.
fn first_with_skills(
    w: &mut WriteConn<'_>,
    queue: &Queue,
    agent: &Agent,
) -> AppResult<Option<Ticket>> {
    let candidates = ticket_claim::peek_waiting(w, &queue.id, CLAIM_CANDIDATES)?;
    for candidate in candidates
        .iter()
        .filter(|t| assignment::has_skills(agent, t))
    {
        if let Some(locked) = ticket_claim::lock_if_waiting(w, &candidate.id, &queue.id)? {
            return Ok(Some(locked));
        }
    }
    Ok(None)
}

/// `POST /tickets/{id}/release` body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Why: kept as an internal note on the ticket.
    pub note: Option<String>,
}

/// Gives a ticket back to its queue (the holder, or a lead or manager); a
/// push queue assigns it again to someone else.
pub fn release(
    conn: &mut Conn,
    caller: &Principal,
    reference: &TicketRef,
    request: &ReleaseRequest,
) -> AppResult<TicketView> {
    let note = request
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            if n.chars().count() > 2000 {
                Err(AppError::invalid("note", "at most 2000 characters"))
            } else {
                Ok(n.to_string())
            }
        })
        .transpose()?;
    let id = write_tx(conn, |w| {
        let (visible, ..) = query::find_row(w, &Visibility::of(caller), reference)?;
        // Lock before reading what we change: a claim or reply may be landing.
        lock_ticket(w, &visible.id)?;
        let (mut ticket, _, _, holder) =
            query::find_row(w, &Visibility::All, &TicketRef::Id(visible.id))?;
        let Some(holder) = holder else {
            return Err(AppError::Conflict(
                "the ticket is not assigned to anyone".into(),
            ));
        };
        let own = caller.agent_id.as_deref() == Some(holder.id.as_str());
        if !own && !matches!(caller.role, Role::Lead | Role::Manager | Role::Admin) {
            return Err(AppError::Forbidden(
                "only the agent holding the ticket, a lead or a manager may release it".into(),
            ));
        }
        let version = ticket.version;
        ticket.assignee_id = None;
        let mut messages = Vec::new();
        let mut events = vec![EventData::Unassigned {
            from: agent_ref(&holder),
            reason: ReleaseReason::Released,
        }];
        if let Some(note) = &note {
            let mut message = super::conversation::new_message(
                w,
                &ticket.id,
                AuthorKind::Agent,
                false,
                Channel::Api,
                note,
            );
            message.author_agent_id = caller.agent_id.clone();
            events.push(EventData::NoteAdded {
                message_id: message.id.clone(),
            });
            messages.push(message);
        }
        change::record(
            w,
            &mut ticket,
            version,
            Change {
                actor: &caller.actor(),
                messages,
                events,
            },
        )?;
        Ok(ticket.id)
    })?;
    let view = query::load_by_id(conn, &id)?;
    let now = conn.now();
    view.as_seen_by(conn, now, caller)
}

/// The caller's open tickets, most urgent first.
pub fn my_tickets(conn: &mut DbConnection, caller: &Principal) -> AppResult<Vec<TicketView>> {
    let agent = caller_agent(conn, caller)?;
    let mut query = tickets::table
        .inner_join(customers::table)
        .left_join(queues::table)
        .left_join(agents::table)
        .filter(tickets::assignee_id.eq(&agent.id))
        .filter(tickets::status.eq_any(assignment::open_status_names()))
        .select((
            Ticket::as_select(),
            Customer::as_select(),
            Option::<Queue>::as_select(),
            Option::<Agent>::as_select(),
        ))
        .into_boxed();
    // A vendor agent may still be the assignee of a ticket they can no
    // longer see (a manager took it out of every queue): it is not theirs
    // to list.
    if let Some(own) = caller.vendor_scope() {
        query = query.filter(queues::vendor_id.eq(own.to_string()));
    }
    let rows: Vec<TicketRow> = query.load(conn)?;
    let views = by_urgency(rows)?;
    let disclosure = super::view::Disclosure::load(conn, caller)?;
    Ok(views.into_iter().map(|v| disclosure.ticket(v)).collect())
}

fn by_urgency(mut rows: Vec<TicketRow>) -> AppResult<Vec<TicketView>> {
    rows.sort_by_key(|(t, ..)| {
        let priority = t
            .priority
            .parse()
            .map(crate::routing::engine::rank)
            .unwrap_or(0);
        (
            std::cmp::Reverse(priority),
            t.queued_at.unwrap_or(t.created_at),
            t.number,
        )
    });
    rows.into_iter().map(TicketView::from_row).collect()
}

/// `GET /queues/{id}/tickets` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueTickets {
    /// Open tickets of every status, counted.
    pub counts: BTreeMap<String, i64>,
    pub waiting: i64,
    /// The queue's open tickets, most urgent first (unassigned ones by how
    /// long they have waited), at most `limit`.
    pub items: Vec<TicketView>,
}

pub fn queue_tickets(
    conn: &mut Conn,
    caller: &Principal,
    reference: &str,
    limit: i64,
) -> AppResult<QueueTickets> {
    caller.require(Role::works_tickets)?;
    let now = conn.now();
    let conn: &mut DbConnection = conn;
    let queue = workable_queue(conn, caller, reference)?;
    let counted: Vec<(String, i64)> = tickets::table
        .filter(tickets::queue_id.eq(&queue.id))
        .group_by(tickets::status)
        .select((tickets::status, diesel::dsl::count_star()))
        .load(conn)?;
    let counts: BTreeMap<String, i64> = counted.into_iter().collect();
    let waiting: i64 = tickets::table
        .filter(tickets::queue_id.eq(&queue.id))
        .filter(tickets::assignee_id.is_null())
        .filter(tickets::status.eq_any(WAITING_STATUSES.iter().map(|s| s.as_str())))
        .count()
        .get_result(conn)?;
    let mut rows: Vec<TicketRow> = Vec::new();
    // Urgency order per priority, so only `limit` rows are read.
    for priority in [
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ] {
        let room = limit - rows.len() as i64;
        if room <= 0 {
            break;
        }
        let page: Vec<TicketRow> = tickets::table
            .inner_join(customers::table)
            .left_join(queues::table)
            .left_join(agents::table)
            .filter(tickets::queue_id.eq(&queue.id))
            .filter(tickets::priority.eq(priority.as_str()))
            .filter(tickets::status.eq_any(assignment::open_status_names()))
            .order((
                tickets::assignee_id.is_not_null(),
                tickets::queued_at.asc(),
                tickets::number.asc(),
            ))
            .limit(room)
            .select((
                Ticket::as_select(),
                Customer::as_select(),
                Option::<Queue>::as_select(),
                Option::<Agent>::as_select(),
            ))
            .load(conn)?;
        rows.extend(page);
    }
    let disclosure = super::view::Disclosure::load(conn, caller)?;
    let mut items = rows
        .into_iter()
        .map(|row| TicketView::from_row(row).map(|v| disclosure.ticket(v)))
        .collect::<AppResult<Vec<_>>>()?;
    attach_sla(conn, now, &mut items)?;
    Ok(QueueTickets {
        counts,
        waiting,
        items,
    })
}

/// `PUT /agents/me/availability` body and answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    pub available: bool,
}

/// Sets whether the caller takes pushed work; becoming available takes the
/// tickets waiting in their vendor's push queues, up to their capacity.
pub fn set_availability(
    conn: &mut Conn,
    caller: &Principal,
    wanted: &Availability,
) -> AppResult<Availability> {
    let agent = caller_agent(conn, caller)?;
    write_tx(conn, |w| {
        let at = w.now();
        diesel::update(agents::table.find(&agent.id))
            .set((
                agents::available.eq(wanted.available),
                agents::updated_at.eq(at),
            ))
            .execute(&mut **w)
    })?;
    if wanted.available {
        if let Some(vendor) = &agent.vendor_id {
            assign_waiting(conn, Some(vendor))?;
        }
    }
    Ok(wanted.clone())
}

/// Offers every waiting ticket of the push queues (of `vendor`, or all)
/// to their agents in claim order (the earliest SLA due time first, as a
/// claim would take them); what no one can take keeps waiting.
/// Returns how many were assigned. Each ticket is assigned in a
/// transaction of its own, so no transaction holds several agents' rows
/// (see "Lock order" in docs/DESIGN.md).
pub fn assign_waiting(conn: &mut Conn, vendor: Option<&str>) -> AppResult<usize> {
    let mut push_queues = queues::table
        .filter(queues::assignment_strategy.ne("pull"))
        .order(queues::id.asc())
        .select(Queue::as_select())
        .into_boxed();
    if let Some(vendor) = vendor {
        push_queues = push_queues.filter(queues::vendor_id.eq(vendor.to_string()));
    }
    let push_queues: Vec<Queue> = push_queues.load(&mut **conn)?;
    let mut assigned = 0;
    for queue in push_queues {
        let waiting = ticket_claim::peek_waiting(conn, &queue.id, 500)?;
        for ticket in waiting {
            match write_tx(conn, |w| assign_one(w, &queue, &ticket.id))? {
                Offer::Taken => assigned += 1,
                Offer::Skipped => {}
                // Without skill matching every ticket fits the same agents:
                // if none can take this one, none can take the rest.
                Offer::NoOne if queue.skill_matching => {}
                Offer::NoOne => break,
            }
        }
    }
    Ok(assigned)
}

/// What offering one waiting ticket came to.
enum Offer {
    Taken,
    /// Another process holds it, or it no longer waits.
    Skipped,
    NoOne,
}

fn assign_one(w: &mut WriteConn<'_>, queue: &Queue, id: &str) -> AppResult<Offer> {
    let Some(mut ticket) = ticket_claim::lock_if_waiting(w, id, &queue.id)? else {
        return Ok(Offer::Skipped);
    };
    let (caches, now) = (w.caches().clone(), w.now());
    let rules = compiled::current(w, &caches, now)?;
    let Some((agent, by)) = assignment::choose(w, queue, &ticket, rules.directory(), None)? else {
        return Ok(Offer::NoOne);
    };
    ticket.assignee_id = Some(agent.id.clone());
    change::update(
        w,
        &mut ticket,
        change::SYSTEM_ACTOR,
        vec![EventData::Assigned {
            from: None,
            to: agent_ref(&agent),
            by: Some(by),
        }],
    )?;
    Ok(Offer::Taken)
}

/// Locks what releasing `agent_id`'s open tickets will change, in the
/// order every change takes its locks (tickets, then queue rotations, then
/// agents: see "Lock order" in docs/DESIGN.md), before the agent's own row
/// is written; returns the tickets.
pub fn lock_for_release(conn: &mut WriteConn<'_>, agent_id: &str) -> AppResult<Vec<Ticket>> {
    let held = ticket_claim::lock_held(conn, agent_id, &assignment::open_status_names())?;
    let queues: std::collections::BTreeSet<&str> =
        held.iter().filter_map(|t| t.queue_id.as_deref()).collect();
    for queue_id in queues {
        assignment::lock_rotation(conn, queue_id)?;
    }
    Ok(held)
}

/// Gives a deactivated agent's open tickets (`held`, from
/// [`lock_for_release`]) back to their queues, each with an `unassigned`
/// event (reason `deactivated`); push queues assign them again.
pub fn release_all_of(
    conn: &mut WriteConn<'_>,
    agent_id: &str,
    held: Vec<Ticket>,
) -> AppResult<usize> {
    let holder: Agent = agents::table
        .find(agent_id)
        .select(Agent::as_select())
        .first(&mut **conn)?;
    let count = held.len();
    for mut ticket in held {
        ticket.assignee_id = None;
        change::update(
            conn,
            &mut ticket,
            change::SYSTEM_ACTOR,
            vec![EventData::Unassigned {
                from: agent_ref(&holder),
                reason: ReleaseReason::Deactivated,
            }],
        )?;
    }
    Ok(count)
}

/// Moves every ticket that waited unassigned longer than its queue's
/// overflow time to the overflow queue (a hand-off when that queue is
/// another vendor's), where the queue's assignment takes over. Each ticket
/// is locked first, so processes running this at once move it once, and
/// moved in a transaction of its own.
pub fn overflow_due(conn: &mut Conn) -> AppResult<usize> {
    let overflowing: Vec<Queue> = queues::table
        .filter(queues::overflow_queue_id.is_not_null())
        .filter(queues::overflow_minutes.is_not_null())
        .order(queues::id.asc())
        .select(Queue::as_select())
        .load(&mut **conn)?;
    let mut moved_count = 0;
    for queue in overflowing {
        let (Some(target_id), Some(minutes)) = (&queue.overflow_queue_id, queue.overflow_minutes)
        else {
            continue;
        };
        let Some(target) = find_queue(conn, target_id)? else {
            continue;
        };
        let cutoff = conn.now() - chrono::TimeDelta::minutes(i64::from(minutes));
        let due: Vec<String> = tickets::table
            .filter(tickets::queue_id.eq(&queue.id))
            .filter(tickets::assignee_id.is_null())
            .filter(tickets::status.eq_any(WAITING_STATUSES.iter().map(|s| s.as_str())))
            .filter(tickets::queued_at.le(cutoff))
            .order((tickets::queued_at.asc(), tickets::number.asc()))
            .limit(500)
            .select(tickets::id)
            .load(&mut **conn)?;
        for id in due {
            let moved_one = write_tx(conn, |w| -> AppResult<bool> {
                let Some(mut ticket) = ticket_claim::lock_if_waiting(w, &id, &queue.id)? else {
                    return Ok(false);
                };
                ticket.queue_id = Some(target.id.clone());
                change::update(
                    w,
                    &mut ticket,
                    change::SYSTEM_ACTOR,
                    vec![moved(
                        Some(&queue),
                        Some(&target),
                        Some(QueueChangeReason::Overflow),
                        None,
                    )],
                )?;
                Ok(true)
            })?;
            moved_count += usize::from(moved_one);
        }
    }
    Ok(moved_count)
}
