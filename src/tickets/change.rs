//! The one seam through which a ticket changes.
//!
//! Every path that opens or changes a ticket (the API, the web pages, the
//! email pipeline, the outbox, the demo) writes the ticket row, its new
//! messages and its typed events through here, inside the caller's write
//! transaction, so the history can never miss a change. Routing and SLA
//! recomputation hook in here and nowhere else.

use super::events;
use crate::db::models::{Message, Ticket, TicketEvent, TicketSlaRow};
use crate::db::schema::{messages, ticket_events};
use crate::db::{insert_ticket, update_ticket_row, WriteConn};
use crate::domain::event::{EventData, StatusReason};
use crate::domain::Status;
use crate::error::{AppError, AppResult};
use crate::routing::placement::{self, Arrival, Placed};
use crate::sla;
use chrono::NaiveDateTime;

/// The actor of what Relay does by itself (mail delivery, acknowledgements).
pub const SYSTEM_ACTOR: &str = "system";

/// What one change adds besides the ticket's new fields.
pub struct Change<'a> {
    /// Who made it: `agent:{id}`, `token:{id}`, `customer:{id}` or `system`.
    pub actor: &'a str,
    /// New messages, in order.
    pub messages: Vec<Message>,
    pub events: Vec<EventData>,
}

/// Writes a new ticket with its first message and events, routed first
/// (queue, priority, tags, SLA policy, assignee: `routing::placement`).
/// Its history starts `created` (as routed), `routed`, then the change's
/// events. `then` runs once the ticket has its number (a channel's
/// acknowledgement mail); the events it returns, bookkeeping that cannot
/// move a clock, are recorded with the change's, in the same statement. Returns the ticket's SLA summary
/// (`None`: no policy applies).
pub fn open(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    mut change: Change<'_>,
    arrival: &Arrival<'_>,
    then: impl FnOnce(&mut WriteConn<'_>, &Ticket, &Placed) -> AppResult<Vec<EventData>>,
) -> AppResult<Option<TicketSlaRow>> {
    let placed = placement::route_new(conn, ticket, arrival)?;
    let created = EventData::Created {
        channel: ticket.channel.parse().map_err(AppError::Internal)?,
        priority: ticket.priority.parse().map_err(AppError::Internal)?,
        queue: placed.queue.as_ref().map(placement::queue_ref),
        follow_up_of: ticket.follow_up_of.clone(),
    };
    change.events.splice(
        0..0,
        std::iter::once(created).chain(placed.events.iter().cloned()),
    );
    let mut history = events::rows(conn, &ticket.id, change.actor, &change.events);
    let clocks = sla::tracking::opening(conn, ticket, arrival, &history)?;
    insert_ticket(conn, ticket, clocks.due_at())?;
    let bookkeeping = then(conn, ticket, &placed)?;
    debug_assert!(
        !bookkeeping.iter().any(sla::tracking::moves_clocks),
        "an opening step's events are bookkeeping: the clocks were computed without them"
    );
    history.extend(events::rows(conn, &ticket.id, change.actor, &bookkeeping));
    if !change.messages.is_empty() {
        crate::insert_rows!(conn, messages::table, change.messages)?;
    }
    events::insert(conn, &history)?;
    clocks.write(conn)
}

/// Writes `ticket` as changed (read at `expected_version`; its version moves
/// on by one and it is stamped with the change's instant), with the change's
/// messages and events. A ticket left waiting in a queue by the change (it
/// moved queue, or lost its agent) goes through the queue's assignment. Fails as stale, changing nothing, if someone else
/// changed the ticket in between. A change with nothing in it writes nothing.
pub fn record(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    expected_version: i32,
    mut change: Change<'_>,
) -> AppResult<()> {
    if change.messages.is_empty() && change.events.is_empty() {
        return Ok(());
    }
    placement::settle(conn, ticket, &mut change.events)?;
    ticket.version = expected_version + 1;
    ticket.updated_at = conn.now();
    let written = update_ticket_row(conn, ticket, expected_version)?;
    if written == 0 {
        return Err(stale(expected_version + 1));
    }
    let events = change.events.clone();
    write_messages_and_events(conn, &ticket.id.clone(), change)?;
    let said = sla::tracking::changed(conn, ticket, &events)?;
    events::append_all(conn, &ticket.id, SYSTEM_ACTOR, &said)?;
    Ok(())
}

/// Writes history that was built rather than happening now (the demo's
/// simulated months; an import of another help desk's history): the ticket
/// as it ends up, and its messages and events with their own times and ids.
/// Event rows come from typed payloads (`events::row`).
pub fn import(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    messages: &[Message],
    events: &[TicketEvent],
) -> AppResult<()> {
    insert_ticket(conn, ticket, None)?;
    if !messages.is_empty() {
        crate::insert_rows!(conn, messages::table, messages)?;
    }
    if !events.is_empty() {
        crate::insert_rows!(conn, ticket_events::table, events)?;
    }
    sla::tracking::imported(conn, ticket)
}

/// Adds `message` to the ticket as it was read (locked) in this
/// transaction, with the change's events.
pub fn add_message(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    actor: &str,
    message: Message,
    events: Vec<EventData>,
) -> AppResult<()> {
    record_as_read(conn, ticket, actor, vec![message], events)
}

/// Records `events` on the ticket as it was read (locked) in this
/// transaction, with the fields the caller already changed on it.
pub fn update(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    actor: &str,
    events: Vec<EventData>,
) -> AppResult<()> {
    record_as_read(conn, ticket, actor, Vec::new(), events)
}

/// [`record`] at the version the ticket was read at.
fn record_as_read(
    conn: &mut WriteConn<'_>,
    ticket: &mut Ticket,
    actor: &str,
    messages: Vec<Message>,
    events: Vec<EventData>,
) -> AppResult<()> {
    let version = ticket.version;
    record(
        conn,
        ticket,
        version,
        Change {
            actor,
            messages,
            events,
        },
    )
}

/// Takes the ticket from `from` to `open` for `reason` (a first reply, a
/// customer writing again); the event that says so.
pub fn reopen(
    ticket: &mut Ticket,
    from: Status,
    reason: StatusReason,
    now: NaiveDateTime,
) -> EventData {
    set_status(ticket, Status::Open, now);
    EventData::StatusChanged {
        from,
        to: Status::Open,
        reason: Some(reason),
    }
}

/// Records events that change none of the ticket's fields (a delivery that
/// failed, an acknowledgement sent): its version stays, so a client's
/// `If-Match` still holds.
pub fn note(
    conn: &mut WriteConn<'_>,
    ticket_id: &str,
    actor: &str,
    events: &[EventData],
) -> AppResult<()> {
    events::append_all(conn, ticket_id, actor, events)?;
    Ok(())
}

/// [`note`] for several tickets at once.
pub fn note_each(
    conn: &mut WriteConn<'_>,
    actor: &str,
    events: &[(&str, &[EventData])],
) -> AppResult<()> {
    events::append_to_each(conn, actor, events)?;
    Ok(())
}

/// Writes the change's messages and events; returns the event rows.
fn write_messages_and_events(
    conn: &mut WriteConn<'_>,
    ticket_id: &str,
    change: Change<'_>,
) -> AppResult<Vec<TicketEvent>> {
    if !change.messages.is_empty() {
        crate::insert_rows!(conn, messages::table, change.messages)?;
    }
    Ok(events::append_all(
        conn,
        ticket_id,
        change.actor,
        &change.events,
    )?)
}

pub fn stale(current: i32) -> AppError {
    AppError::PreconditionFailed(format!(
        "the ticket changed since you read it (it is now at version {current}); fetch it again and reapply your change"
    ))
}

/// Moves a ticket to `to`, keeping the solved/closed timestamps in step.
pub fn set_status(ticket: &mut Ticket, to: Status, now: NaiveDateTime) {
    ticket.status = to.as_str().into();
    match to {
        Status::Solved => ticket.solved_at = Some(now),
        Status::Closed => ticket.closed_at = Some(now),
        _ => ticket.solved_at = None,
    }
}
