//! The change feed: ticket events in feed order (see `db::event_feed`),
//! vendor-scoped and masked exactly like each ticket's own event list.

use super::view::{Disclosure, EventView};
use crate::auth::Principal;
use crate::db::event_feed::{self, FeedCursor};
use crate::db::DbConnection;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use serde::Serialize;
use utoipa::ToSchema;

/// Events one page holds at most.
pub const MAX_PAGE: i64 = 500;

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEvent {
    pub ticket_id: String,
    pub ticket_number: i64,
    #[serde(flatten)]
    pub event: EventView,
    /// Resume after this event.
    pub cursor: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    pub events: Vec<FeedEvent>,
    /// Pass as `after` for what follows (the same cursor when nothing came).
    pub next_cursor: String,
}

pub fn encode(cursor: FeedCursor) -> String {
    hex::encode(format!("f:{}:{}", cursor.xid, cursor.position))
}

/// A cursor a client sent back; `None` for one this server never made.
pub fn decode(raw: &str) -> Option<FeedCursor> {
    let text = String::from_utf8(hex::decode(raw).ok()?).ok()?;
    let mut parts = text.strip_prefix("f:")?.split(':');
    let cursor = FeedCursor {
        xid: parts.next()?.parse().ok()?,
        position: parts.next()?.parse().ok()?,
    };
    (parts.next().is_none() && cursor.xid >= 0 && cursor.position >= 0).then_some(cursor)
}

pub fn parse_cursor(raw: Option<&str>) -> AppResult<FeedCursor> {
    match raw {
        None => Ok(FeedCursor::default()),
        Some(raw) => {
            decode(raw).ok_or_else(|| AppError::invalid("after", "not a cursor this feed gave out"))
        }
    }
}

/// The events after `after` that `caller` may see, up to `limit`.
pub fn page(
    conn: &mut DbConnection,
    caller: &Principal,
    after: FeedCursor,
    limit: i64,
) -> AppResult<FeedPage> {
    caller.require(Role::works_tickets)?;
    let rows = event_feed::read_after(conn, after, caller.vendor_scope(), limit)?;
    let next = rows.last().map_or(after, |row| row.cursor);
    let cursors: Vec<(String, i64, FeedCursor)> = rows
        .iter()
        .map(|row| (row.event.ticket_id.clone(), row.ticket_number, row.cursor))
        .collect();
    let views = rows
        .into_iter()
        .map(|row| EventView::from_row(row.event))
        .collect();
    let shown = Disclosure::load(conn, caller)?.events(conn, views)?;
    let events = shown
        .into_iter()
        .zip(cursors)
        .map(|(event, (ticket_id, ticket_number, cursor))| FeedEvent {
            ticket_id,
            ticket_number,
            event,
            cursor: encode(cursor),
        })
        .collect();
    Ok(FeedPage {
        events,
        next_cursor: encode(next),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_others_are_refused() {
        let cursor = FeedCursor {
            xid: 7481,
            position: 12,
        };
        assert_eq!(decode(&encode(cursor)), Some(cursor));
        for bad in [
            "",
            "zz",
            &hex::encode("f:1"),
            &hex::encode("f:1:2:3"),
            &hex::encode("f:-1:2"),
            &hex::encode("n:10"),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
