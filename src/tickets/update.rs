//! Changing a ticket's fields (`PATCH`), with optimistic concurrency.

use super::change::{self, set_status, Change};
use super::query::{find_row, TicketRef, Visibility};
use super::view::TicketView;
use crate::auth::Principal;
use crate::db::models::{Agent, Queue, Ticket};
use crate::db::schema::{agents, queues};
use crate::db::{write_tx, Conn, DbConnection};
use crate::domain::event::{AssignedBy, EventData, ReleaseReason};
use crate::domain::validate::{normalize_tags, Errors, MAX_SUBJECT};
use crate::domain::{Priority, Role, Status};
use crate::error::{AppError, AppResult};
use crate::routing::placement::{agent_ref, moved};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// `PATCH /api/v1/tickets/{id}` body: every field optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    /// Queue id or slug; `null` takes the ticket out of every queue (managers only).
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub queue: Option<Option<String>>,
    /// Agent id; `null` unassigns.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    /// Replaces the tag list.
    pub tags: Option<Vec<String>>,
    /// Merged into the custom fields; a `null` value removes that field.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub language: Option<Option<String>>,
    /// With `queue`: a word for the receiving team, kept in the
    /// `queue_changed` event (a hand-off note when the vendor changes).
    pub handoff_note: Option<String>,
}

/// The answer to a change after which the caller can no longer see the
/// ticket (a hand-off to another vendor's queue): nothing of its new state,
/// which belongs to the receiving vendor now.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandedOff {
    pub id: String,
    pub number: i64,
    pub version: i32,
    /// Always `true`.
    pub handed_off: bool,
}

/// What `PATCH` answers: the changed ticket, or only that it was handed off.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PatchAnswer {
    Ticket(Box<TicketView>),
    HandedOff(HandedOff),
}

impl PatchAnswer {
    /// The entity tag of the version the ticket is at now.
    pub fn etag(&self) -> String {
        match self {
            PatchAnswer::Ticket(ticket) => ticket.etag(),
            PatchAnswer::HandedOff(handed) => format!("\"{}\"", handed.version),
        }
    }
}

/// Applies `patch` if the ticket is still at `expected_version`, and answers
/// what the caller may see of the result.
pub fn patch_ticket(
    conn: &mut Conn,
    caller: &Principal,
    reference: &TicketRef,
    expected_version: i32,
    patch: &TicketPatch,
) -> AppResult<PatchAnswer> {
    // The view, and the vendor whose queue holds the ticket now.
    let (view, holder) = write_tx(conn, |conn| {
        let visibility = Visibility::of(caller);
        let (ticket, customer, queue, assignee) = find_row(conn, &visibility, reference)?;
        if ticket.version != expected_version {
            return Err(change::stale(ticket.version));
        }
        let now = conn.now();
        let planned = plan(
            conn,
            caller,
            &ticket,
            queue.as_ref(),
            assignee.as_ref(),
            patch,
            now,
        )?;
        if planned.changes.is_empty() {
            let holder = queue.as_ref().map(|q| q.vendor_id.clone());
            return Ok((
                TicketView::from_row((ticket, customer, queue, assignee))?,
                holder,
            ));
        }
        let mut updated = planned.ticket;
        change::record(
            conn,
            &mut updated,
            ticket.version,
            Change {
                actor: &caller.actor(),
                messages: Vec::new(),
                events: planned.changes,
            },
        )?;
        let holder = planned.queue.as_ref().map(|q| q.vendor_id.clone());
        // The queue's assignment may have given the ticket to someone.
        let assignee = match (&updated.assignee_id, planned.assignee) {
            (Some(id), Some(planned)) if *id == planned.id => Some(planned),
            (Some(id), _) => agents::table
                .find(id)
                .select(Agent::as_select())
                .first(&mut **conn)
                .optional()?,
            (None, _) => None,
        };
        Ok((
            TicketView::from_row((updated, customer, planned.queue, assignee))?,
            holder,
        ))
    })?;
    // A vendor-scoped caller sees a ticket only while one of its vendor's
    // queues holds it: after a hand-off the new state is the receiver's.
    let handed_away = caller
        .vendor_scope()
        .is_some_and(|own| holder.as_deref() != Some(own));
    if handed_away {
        return Ok(PatchAnswer::HandedOff(HandedOff {
            id: view.id,
            number: view.number,
            version: view.version,
            handed_off: true,
        }));
    }
    let now = conn.now();
    Ok(PatchAnswer::Ticket(Box::new(
        view.as_seen_by(conn, now, caller)?,
    )))
}

struct Planned {
    ticket: Ticket,
    queue: Option<Queue>,
    assignee: Option<Agent>,
    changes: Vec<EventData>,
}

/// Agents take tickets for themselves and let go of their own; giving a
/// ticket to someone else, or taking it from them, is for leads and above.
fn ensure_may_assign(
    caller: &Principal,
    target: Option<&str>,
    holder: Option<&Agent>,
) -> AppResult<()> {
    if caller.role != Role::Agent {
        return Ok(());
    }
    let me = caller.agent_id.as_deref();
    let to_self_or_nobody = target.is_none() || target == me;
    let held_by_other = holder.is_some_and(|h| Some(h.id.as_str()) != me);
    if to_self_or_nobody && !held_by_other {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "agents may assign tickets to themselves and unassign their own; reassigning is for leads, managers and admins".into(),
        ))
    }
}

fn plan(
    conn: &mut DbConnection,
    caller: &Principal,
    current: &Ticket,
    current_queue: Option<&Queue>,
    current_assignee: Option<&Agent>,
    patch: &TicketPatch,
    now: NaiveDateTime,
) -> AppResult<Planned> {
    let mut errors = Errors::default();
    let mut t = current.clone();
    let mut queue = current_queue.cloned();
    let mut assignee = current_assignee.cloned();
    let mut changes = Vec::new();
    let from_status: Status = current.status.parse().map_err(AppError::Internal)?;

    if from_status.is_final() {
        return Err(AppError::Conflict(
            "the ticket is closed and can no longer change; a customer reply starts a follow-up ticket".into(),
        ));
    }
    if let Some(subject) = &patch.subject {
        let subject = errors.required_text("subject", subject, MAX_SUBJECT);
        if subject != t.subject {
            changes.push(EventData::SubjectChanged {
                from: t.subject.clone(),
                to: subject.clone(),
            });
            t.subject = subject;
        }
    }
    if let Some(to) = patch
        .status
        .as_deref()
        .and_then(|s| errors.parse::<Status>("status", s))
    {
        if !from_status.can_become(to) {
            errors.add(
                "status",
                format!("a {from_status} ticket cannot become {to}"),
            );
        } else if to != from_status {
            set_status(&mut t, to, now);
            changes.push(EventData::StatusChanged {
                from: from_status,
                to,
                reason: None,
            });
        }
    }
    if let Some(to) = patch
        .priority
        .as_deref()
        .and_then(|s| errors.parse::<Priority>("priority", s))
    {
        if to.as_str() != t.priority {
            changes.push(EventData::PriorityChanged {
                from: t.priority.parse().map_err(AppError::Internal)?,
                to,
            });
            t.priority = to.as_str().into();
        }
    }
    let handoff_note = match patch.handoff_note.as_deref().map(str::trim) {
        Some(note) if patch.queue.is_none() => {
            errors.add("handoff_note", "goes with a queue change");
            Some(note.to_string())
        }
        Some(note) if note.chars().count() > 2000 => {
            errors.add("handoff_note", "at most 2000 characters");
            None
        }
        Some("") | None => None,
        Some(note) => Some(note.to_string()),
    };
    if let Some(target) = &patch.queue {
        // The receiving vendor assigns a handed-off ticket itself; a foreign
        // queue named together with an assignee is refused as unknown, since
        // any other refusal would confirm that the queue exists.
        let may_hand_off = !matches!(patch.assignee, Some(Some(_)));
        let resolved: Option<Option<Queue>> = match target {
            Some(reference) => match find_queue(conn, caller, reference, may_hand_off)? {
                Some(q) => Some(Some(q)),
                None => {
                    errors.add("queue", format!("no queue '{reference}'"));
                    None
                }
            },
            None if !caller.role.is_manager_or_above() => {
                errors.add(
                    "queue",
                    "only managers and admins may take a ticket out of every queue",
                );
                None
            }
            None => Some(None),
        };
        if let Some(new_queue) = resolved {
            if new_queue.as_ref().map(|q| &q.id) != queue.as_ref().map(|q| &q.id) {
                changes.push(moved(
                    queue.as_ref(),
                    new_queue.as_ref(),
                    None,
                    handoff_note.clone(),
                ));
                t.queue_id = new_queue.as_ref().map(|q| q.id.clone());
                queue = new_queue;
            }
        }
    }
    if let Some(target) = &patch.assignee {
        ensure_may_assign(caller, target.as_deref(), assignee.as_ref())?;
        match target {
            Some(agent_id) => match find_assignable(conn, caller, agent_id)? {
                Some(agent) => {
                    if t.assignee_id.as_deref() != Some(agent.id.as_str()) {
                        changes.push(EventData::Assigned {
                            from: assignee.as_ref().map(agent_ref),
                            to: agent_ref(&agent),
                            by: Some(AssignedBy::Person),
                        });
                        t.assignee_id = Some(agent.id.clone());
                        assignee = Some(agent);
                    }
                }
                None => errors.add("assignee", format!("no active agent '{agent_id}'")),
            },
            None => {
                if let Some(holder) = &assignee {
                    changes.push(EventData::Unassigned {
                        from: agent_ref(holder),
                        reason: ReleaseReason::Unassigned,
                    });
                    t.assignee_id = None;
                    assignee = None;
                }
            }
        }
    }
    // An assignee must work for the vendor that owns the queue (a vendor's
    // agent holds no ticket outside every queue). If the ticket was handed
    // to another vendor's queue, or taken out of every queue, the old
    // assignee lets go of it; an explicitly requested mismatch is refused.
    if let Some(a) = &assignee {
        let owner = queue.as_ref().map(|q| q.vendor_id.as_str());
        if a.vendor_id.as_deref().is_some_and(|v| Some(v) != owner) {
            if matches!(patch.assignee, Some(Some(_))) {
                errors.add(
                    "assignee",
                    "the agent works for another vendor than the one owning the ticket's queue",
                );
            } else {
                changes.push(EventData::Unassigned {
                    from: agent_ref(a),
                    reason: ReleaseReason::HandedOff,
                });
                t.assignee_id = None;
                assignee = None;
            }
        }
    }
    if let Some(tags) = &patch.tags {
        let tags = normalize_tags(&mut errors, "tags", tags);
        let encoded = serde_json::to_string(&tags).expect("tags serialise");
        if encoded != t.tags {
            changes.push(EventData::TagsChanged {
                from: serde_json::from_str(&t.tags).unwrap_or_default(),
                to: tags,
            });
            t.tags = encoded;
        }
    }
    if let Some(fields) = &patch.custom_fields {
        let mut merged: Map<String, Value> =
            serde_json::from_str(&t.custom_fields).unwrap_or_default();
        for (key, value) in fields {
            if value.is_null() {
                merged.remove(key);
            } else {
                merged.insert(key.clone(), value.clone());
            }
        }
        // Bounded like on create, on the result: many small patches must
        // not add up to what one create may not send.
        let encoded = errors.custom_fields("custom_fields", &merged);
        if encoded != t.custom_fields {
            changes.push(EventData::CustomFieldsChanged {
                changed: fields.clone(),
            });
            t.custom_fields = encoded;
        }
    }
    if let Some(language) = &patch.language {
        let language = errors.language("language", language.as_deref());
        if language != t.language {
            changes.push(EventData::LanguageChanged {
                from: t.language.clone(),
                to: language.clone(),
            });
            t.language = language;
        }
    }
    errors.finish()?;
    Ok(Planned {
        ticket: t,
        queue,
        assignee,
        changes,
    })
}

/// The queue `reference` (an id or a slug) names for this caller. Managers
/// and admins reach every queue. A vendor-scoped caller reaches its own
/// vendor's queues, and another vendor's queue only by its id (which that
/// vendor gave out) and only for a hand-off: another vendor's slug answers
/// as an unknown one does. An id wins over a slug that happens to equal it.
fn find_queue(
    conn: &mut DbConnection,
    caller: &Principal,
    reference: &str,
    may_hand_off: bool,
) -> AppResult<Option<Queue>> {
    let candidates: Vec<Queue> = queues::table
        .filter(queues::id.eq(reference).or(queues::slug.eq(reference)))
        .select(Queue::as_select())
        .limit(2)
        .load(conn)?;
    let may_reach = |q: &Queue| match caller.vendor_scope() {
        None => true,
        Some(own) => q.vendor_id == own || (may_hand_off && q.id == reference),
    };
    let mut reachable: Vec<Queue> = candidates.into_iter().filter(may_reach).collect();
    reachable.sort_by_key(|q| q.id != reference);
    Ok(reachable.into_iter().next())
}

/// An active person who can hold tickets. To a vendor-scoped caller only its
/// own vendor's agents exist, so another vendor's agent id answers as an
/// unknown id does.
fn find_assignable(
    conn: &mut DbConnection,
    caller: &Principal,
    agent_id: &str,
) -> AppResult<Option<Agent>> {
    let mut query = agents::table
        .find(agent_id)
        .filter(agents::active.eq(true))
        .select(Agent::as_select())
        .into_boxed();
    if let Some(own) = caller.vendor_scope() {
        query = query.filter(agents::vendor_id.eq(own.to_string()));
    }
    let agent: Option<Agent> = query.first(conn).optional()?;
    Ok(agent.filter(|a| a.role.parse::<Role>().is_ok_and(Role::is_person_role)))
}
