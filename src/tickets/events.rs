//! The append-only audit trail of a ticket.

use crate::auth::Principal;
use crate::clock::first_id_at;
use crate::db::models::TicketEvent;
use crate::db::schema::ticket_events;
use crate::db::{write_tx, Conn, DbConnection, WriteConn};
use crate::domain::event::EventData;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Reads by one agent of one ticket within this long make one `viewed` event.
pub const VIEW_COALESCING: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Records one event of the change being written.
pub fn append(
    conn: &mut WriteConn<'_>,
    ticket_id: &str,
    actor: &str,
    event: &EventData,
) -> QueryResult<()> {
    append_all(conn, ticket_id, actor, std::slice::from_ref(event)).map(drop)
}

/// Records the events of one change, in order, in one statement (on
/// PostgreSQL). They share the change's instant; their ids keep their
/// order. Returns the rows written.
pub fn append_all(
    conn: &mut WriteConn<'_>,
    ticket_id: &str,
    actor: &str,
    events: &[EventData],
) -> QueryResult<Vec<TicketEvent>> {
    let rows = rows(conn, ticket_id, actor, events);
    insert(conn, &rows)?;
    Ok(rows)
}

/// The rows of one change's events, with their ids and the change's
/// instant, not written yet.
pub fn rows(
    conn: &WriteConn<'_>,
    ticket_id: &str,
    actor: &str,
    events: &[EventData],
) -> Vec<TicketEvent> {
    events
        .iter()
        .map(|event| row(conn.new_id(), ticket_id, actor, event, conn.now()))
        .collect()
}

/// Writes event rows made by [`rows`], in one statement (on PostgreSQL).
pub fn insert(conn: &mut WriteConn<'_>, rows: &[TicketEvent]) -> QueryResult<()> {
    if !rows.is_empty() {
        crate::insert_rows!(conn, ticket_events::table, rows)?;
    }
    Ok(())
}

/// Appends events to several tickets at once (a scanner pass), in one
/// statement per thousand rows.
pub fn append_to_each(
    conn: &mut WriteConn<'_>,
    actor: &str,
    events: &[(&str, &[EventData])],
) -> QueryResult<()> {
    let mut rows = Vec::new();
    for (ticket_id, said) in events {
        for event in *said {
            rows.push(row(conn.new_id(), ticket_id, actor, event, conn.now()));
        }
    }
    for chunk in rows.chunks(1000) {
        crate::insert_rows!(conn, ticket_events::table, chunk)?;
    }
    Ok(())
}

/// The row of an event with its id and time given: for history that is
/// built rather than happening now (the demo's simulated months).
pub fn row(
    id: String,
    ticket_id: &str,
    actor: &str,
    event: &EventData,
    at: NaiveDateTime,
) -> TicketEvent {
    TicketEvent {
        id,
        ticket_id: ticket_id.to_string(),
        kind: event.kind().to_string(),
        actor: actor.to_string(),
        data: event.payload().to_string(),
        created_at: at,
    }
}

pub fn for_ticket(conn: &mut DbConnection, ticket_id: &str) -> QueryResult<Vec<TicketEvent>> {
    ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .order((ticket_events::created_at.asc(), ticket_events::id.asc()))
        .select(TicketEvent::as_select())
        .load(conn)
}

/// Records that a vendor agent or lead read a ticket's customer data (the
/// ticket, its messages, events or attachments), so the client can audit
/// who saw what. Reads in a burst make one event: when the caller already
/// has a `viewed` event on the ticket within [`VIEW_COALESCING`], this is a
/// single indexed read and writes nothing. Staff reads are not recorded.
pub fn record_view(conn: &mut Conn, caller: &Principal, ticket_id: &str) -> QueryResult<()> {
    if !caller.role.is_vendor_scoped() {
        return Ok(());
    }
    let actor = caller.actor();
    let viewed = EventData::Viewed {};
    let since = conn.now() - VIEW_COALESCING;
    if recorded_since(conn, ticket_id, viewed.kind(), &actor, since)? {
        return Ok(());
    }
    write_tx(conn, |conn| {
        // Looked at again in the writer queue: a parallel read of the same
        // agent may have just recorded it (exact on SQLite, where writers
        // queue; on PostgreSQL two reads at the same instant may both write).
        if recorded_since(conn, ticket_id, viewed.kind(), &actor, since)? {
            return Ok(());
        }
        append(conn, ticket_id, &actor, &viewed)
    })
}

/// Whether `actor` has a `kind` event on the ticket at or after `since`.
fn recorded_since(
    conn: &mut DbConnection,
    ticket_id: &str,
    kind: &str,
    actor: &str,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    let found: Option<String> = ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        // Event ids are UUID v7, so this bound keeps the read to the recent
        // end of the (ticket_id, id) index however long the trail is.
        .filter(ticket_events::id.ge(first_id_at(since)))
        .filter(ticket_events::created_at.ge(since))
        .filter(ticket_events::kind.eq(kind))
        .filter(ticket_events::actor.eq(actor))
        .select(ticket_events::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}
