//! Reading ticket events in feed order, for `GET /api/v1/events`.
//!
//! The feed is ordered by `(feed_xid, feed_position)`. On SQLite writers
//! commit one at a time and `feed_position` is the insert rowid, so that
//! order is commit order and everything committed can be read. On
//! PostgreSQL `feed_xid` is the writing transaction's id and a reader takes
//! only events of transactions older than the oldest one still running
//! (its snapshot's xmin): every such transaction has ended, so nothing can
//! later appear before the cursor. A long transaction delays the feed
//! until it ends; it never makes it skip.

use super::models::TicketEvent;
use super::schema::{queues, ticket_events, tickets};
use super::DbConnection;
use diesel::prelude::*;

/// A position in the feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedCursor {
    pub xid: i64,
    pub position: i64,
}

pub struct FeedRow {
    pub event: TicketEvent,
    pub ticket_number: i64,
    pub cursor: FeedCursor,
}

macro_rules! after {
    ($cursor:expr, $vendor:expr, $limit:expr) => {{
        let mut query = ticket_events::table
            .inner_join(tickets::table.left_join(queues::table))
            .filter(
                ticket_events::feed_xid
                    .gt($cursor.xid)
                    .or(ticket_events::feed_xid
                        .eq($cursor.xid)
                        .and(ticket_events::feed_position.gt($cursor.position))),
            )
            .order((
                ticket_events::feed_xid.asc(),
                ticket_events::feed_position.asc(),
            ))
            .select((
                TicketEvent::as_select(),
                tickets::number,
                ticket_events::feed_xid,
                ticket_events::feed_position,
            ))
            .limit($limit)
            .into_boxed();
        if let Some(vendor) = $vendor {
            query = query.filter(queues::vendor_id.eq(vendor.to_string()));
        }
        query
    }};
}

/// Up to `limit` events after `cursor`, of tickets in `vendor`'s queues
/// (all tickets when `None`), in feed order.
pub fn read_after(
    conn: &mut DbConnection,
    cursor: FeedCursor,
    vendor: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<FeedRow>> {
    type Row = (TicketEvent, i64, i64, Option<i64>);
    let rows: Vec<Row> = match conn {
        DbConnection::Postgresql(c) => after!(cursor, vendor, limit)
            .filter(
                ticket_events::feed_xid.lt(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
                )),
            )
            .load(c)?,
        DbConnection::Sqlite(c) => after!(cursor, vendor, limit).load(c)?,
    };
    Ok(rows
        .into_iter()
        .map(|(event, ticket_number, xid, position)| FeedRow {
            event,
            ticket_number,
            cursor: FeedCursor {
                xid,
                position: position.unwrap_or(0),
            },
        })
        .collect())
}
