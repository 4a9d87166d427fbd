//! The append-only audit trail of a ticket.

use crate::db::models::TicketEvent;
use crate::db::schema::ticket_events;
use crate::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

pub fn append(
    conn: &mut DbConnection,
    ticket_id: &str,
    kind: &str,
    actor: &str,
    data: Value,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(ticket_events::table)
        .values(event(ticket_id, kind, actor, data, at))
        .execute(conn)
        .map(drop)
}

/// Several events of one change in one statement (on PostgreSQL).
pub fn append_all(conn: &mut DbConnection, events: &[TicketEvent]) -> QueryResult<()> {
    crate::insert_rows!(conn, ticket_events::table, events)
}

/// A new event row, for [`append_all`].
pub fn event(
    ticket_id: &str,
    kind: &str,
    actor: &str,
    data: Value,
    at: NaiveDateTime,
) -> TicketEvent {
    TicketEvent {
        id: uuid::Uuid::now_v7().to_string(),
        ticket_id: ticket_id.to_string(),
        kind: kind.to_string(),
        actor: actor.to_string(),
        data: data.to_string(),
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
