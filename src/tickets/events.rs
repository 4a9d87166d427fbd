//! The append-only audit trail of a ticket.

use crate::auth::Principal;
use crate::db::models::TicketEvent;
use crate::db::schema::ticket_events;
use crate::db::{write_tx, DbConnection};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};

/// Reads by one agent of one ticket within this long make one `viewed` event.
pub const VIEW_COALESCING: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

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

/// Records that a vendor agent or lead read a ticket's customer data (the
/// ticket, its messages, events or attachments), so the client can audit
/// who saw what. Reads in a burst make one event: when the caller already
/// has a `viewed` event on the ticket within [`VIEW_COALESCING`], this is a
/// single indexed read and writes nothing. Staff reads are not recorded.
pub fn record_view(
    conn: &mut DbConnection,
    caller: &Principal,
    ticket_id: &str,
) -> QueryResult<()> {
    if !caller.role.is_vendor_scoped() {
        return Ok(());
    }
    let actor = caller.actor();
    let now = Utc::now().naive_utc();
    let since = now - VIEW_COALESCING;
    if recorded_since(conn, ticket_id, "viewed", &actor, since)? {
        return Ok(());
    }
    write_tx(conn, |conn| {
        // Looked at again in the writer queue: a parallel read of the same
        // agent may have just recorded it (exact on SQLite, where writers
        // queue; on PostgreSQL two reads at the same instant may both write).
        if recorded_since(conn, ticket_id, "viewed", &actor, since)? {
            return Ok(());
        }
        append(conn, ticket_id, "viewed", &actor, json!({}), now)
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

/// The smallest UUID v7 made at or after `at`: ids compare as text in time
/// order because v7 starts with the millisecond timestamp in hex.
fn first_id_at(at: NaiveDateTime) -> String {
    let millis = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10])
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_of_an_instant_sorts_between_earlier_and_later_ids() {
        let at = Utc::now().naive_utc();
        let bound = first_id_at(at);
        let millis = at.and_utc().timestamp_millis() as u64;
        let same_ms = uuid::Builder::from_unix_timestamp_millis(millis, &[0xff; 10])
            .into_uuid()
            .to_string();
        let before = uuid::Builder::from_unix_timestamp_millis(millis - 1, &[0xff; 10])
            .into_uuid()
            .to_string();
        assert!(
            before < bound && bound <= same_ms,
            "{before} {bound} {same_ms}"
        );
        assert!(uuid::Uuid::now_v7().to_string() >= bound);
    }
}
