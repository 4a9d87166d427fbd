//! Reading tickets. Vendor isolation is part of every query here: a ticket
//! outside the caller's vendor is simply not found.

use super::events;
use super::view::{attach_sla, Disclosure, TicketPage, TicketRow, TicketView};
use crate::auth::Principal;
use crate::db::models::{Agent, Customer, Queue, Ticket};
use crate::db::schema::{agents, customers, queues, ticket_sla, tickets};
use crate::db::{like_pattern, lower, Conn, DbConnection};
use crate::domain::{Priority, Status};
use crate::error::{AppError, AppResult};
use crate::sla;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Who may see which tickets.
#[derive(Debug, Clone)]
pub enum Visibility {
    /// Managers and admins: every ticket, including unrouted ones.
    All,
    /// Agents and leads: tickets in queues of this vendor only.
    Vendor(String),
}

impl Visibility {
    pub fn of(principal: &Principal) -> Self {
        match principal.vendor_scope() {
            Some(vendor) => Visibility::Vendor(vendor.to_string()),
            None => Visibility::All,
        }
    }
}

/// Tickets joined with their customer, queue and assignee, limited to what
/// `visibility` allows.
macro_rules! visible_tickets {
    ($visibility:expr) => {{
        let mut query = tickets::table
            .inner_join(customers::table)
            .left_join(queues::table)
            .left_join(agents::table)
            .left_join(ticket_sla::table)
            .select((
                Ticket::as_select(),
                Customer::as_select(),
                Option::<Queue>::as_select(),
                Option::<Agent>::as_select(),
            ))
            .into_boxed();
        if let Visibility::Vendor(vendor) = $visibility {
            query = query.filter(queues::vendor_id.eq(vendor.clone()));
        }
        query
    }};
}

/// A ticket reference from a path: a UUID or the human number (`10042` or `#10042`).
pub enum TicketRef {
    Id(String),
    Number(i64),
}

impl TicketRef {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let raw = raw.trim();
        if let Ok(id) = uuid::Uuid::parse_str(raw) {
            return Ok(TicketRef::Id(id.to_string()));
        }
        raw.trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(TicketRef::Number)
            .ok_or_else(|| AppError::not_found("ticket"))
    }
}

pub fn find_row(
    conn: &mut DbConnection,
    visibility: &Visibility,
    reference: &TicketRef,
) -> AppResult<TicketRow> {
    let query = visible_tickets!(visibility);
    let query = match reference {
        TicketRef::Id(id) => query.filter(tickets::id.eq(id.clone())),
        TicketRef::Number(n) => query.filter(tickets::number.eq(*n)),
    };
    query
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("ticket"))
}

pub fn find(
    conn: &mut DbConnection,
    visibility: &Visibility,
    reference: &TicketRef,
) -> AppResult<TicketView> {
    TicketView::from_row(find_row(conn, visibility, reference)?)
}

/// A ticket as `caller` is shown it. A vendor agent's read is recorded.
pub fn read(conn: &mut Conn, caller: &Principal, reference: &TicketRef) -> AppResult<TicketView> {
    let ticket = find(conn, &Visibility::of(caller), reference)?;
    events::record_view(conn, caller, &ticket.id)?;
    let now = conn.now();
    ticket.as_seen_by(conn, now, caller)
}

/// Why the ticket is due when it is (`GET /tickets/{id}/sla`), for a
/// caller who may read it.
pub fn explain_sla(
    conn: &mut Conn,
    caller: &Principal,
    reference: &TicketRef,
) -> AppResult<sla::explain::Explanation> {
    let (ticket, ..) = find_row(conn, &Visibility::of(caller), reference)?;
    sla::explain::explain(conn, &ticket, caller.vendor_scope())
}

/// Loads a ticket by id without a visibility check, for code that has just
/// written it on the caller's behalf.
pub fn load_by_id(conn: &mut DbConnection, id: &str) -> AppResult<TicketView> {
    find(conn, &Visibility::All, &TicketRef::Id(id.to_string()))
}

/// Which assignee a list is filtered on.
#[derive(Debug, Clone)]
pub enum AssigneeFilter {
    Agent(String),
    Unassigned,
}

/// The SLA state a list is filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFilter {
    /// A clock that has not stopped ran out (its due time passed).
    Breached,
    /// The earliest running due time is within this many minutes.
    AtRisk { minutes: i64 },
}

/// The order of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Newest first (by number).
    #[default]
    Newest,
    /// Earliest running SLA due time first; tickets without one last.
    Due,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub statuses: Vec<Status>,
    pub priorities: Vec<Priority>,
    /// Queue id or slug.
    pub queue: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    pub customer_email: Option<String>,
    pub text: Option<String>,
    pub sla: Option<SlaFilter>,
    pub sort: Sort,
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

/// Where the previous page ended. Newest first: the number of the last
/// ticket seen (numbers only grow, so tickets created while a client pages
/// never shift the pages it has not read). By due time: the last ticket's
/// due time (none: the tickets without one, which come last) and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Newest {
        before_number: i64,
    },
    Due {
        due_at: Option<NaiveDateTime>,
        after_number: i64,
    },
}

impl Cursor {
    pub fn encode(self) -> String {
        hex::encode(match self {
            Cursor::Newest { before_number } => format!("n:{before_number}"),
            Cursor::Due {
                due_at: Some(due),
                after_number,
            } => format!("d:{}:{after_number}", due.and_utc().timestamp()),
            Cursor::Due {
                due_at: None,
                after_number,
            } => format!("d:-:{after_number}"),
        })
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let text = String::from_utf8(hex::decode(raw).ok()?).ok()?;
        if let Some(number) = text.strip_prefix("n:") {
            return Some(Cursor::Newest {
                before_number: number.parse().ok()?,
            });
        }
        let (due, number) = text.strip_prefix("d:")?.split_once(':')?;
        let due_at = match due {
            "-" => None,
            seconds => {
                Some(chrono::DateTime::from_timestamp(seconds.parse().ok()?, 0)?.naive_utc())
            }
        };
        Some(Cursor::Due {
            due_at,
            after_number: number.parse().ok()?,
        })
    }

    /// Whether the cursor belongs to a list in `sort` order.
    pub fn fits(self, sort: Sort) -> bool {
        matches!(
            (self, sort),
            (Cursor::Newest { .. }, Sort::Newest) | (Cursor::Due { .. }, Sort::Due)
        )
    }
}

/// A page of the tickets `caller` may see, as it is shown them. A vendor
/// that sees customers masked may not look them up by address either: the
/// `customer` filter would confirm who a customer is.
pub fn list_for(
    conn: &mut Conn,
    caller: &Principal,
    filter: &TicketFilter,
) -> AppResult<TicketPage> {
    let now = conn.now();
    let disclosure = Disclosure::load(conn, caller)?;
    if disclosure.masks_customers() && filter.customer_email.is_some() {
        return Err(AppError::invalid(
            "customer",
            "this vendor sees customer addresses masked, so tickets cannot be found by one",
        ));
    }
    let mut page = list(conn, &Visibility::of(caller), filter, now)?;
    attach_sla(conn, now, &mut page.items)?;
    super::satisfaction::attach_ratings(conn, &mut page.items)?;
    Ok(disclosure.page(page))
}

pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filter: &TicketFilter,
    now: NaiveDateTime,
) -> AppResult<TicketPage> {
    let mut query = visible_tickets!(visibility);
    if !filter.statuses.is_empty() {
        query = query.filter(tickets::status.eq_any(filter.statuses.iter().map(|s| s.as_str())));
    }
    if !filter.priorities.is_empty() {
        query =
            query.filter(tickets::priority.eq_any(filter.priorities.iter().map(|p| p.as_str())));
    }
    if let Some(queue) = &filter.queue {
        query = query.filter(
            queues::id
                .eq(queue.clone())
                .or(queues::slug.eq(queue.clone())),
        );
    }
    match &filter.assignee {
        Some(AssigneeFilter::Agent(id)) => {
            query = query.filter(tickets::assignee_id.eq(id.clone()))
        }
        Some(AssigneeFilter::Unassigned) => query = query.filter(tickets::assignee_id.is_null()),
        None => {}
    }
    if let Some(email) = &filter.customer_email {
        query = query.filter(customers::email.eq(email.to_lowercase()));
    }
    if let Some(text) = &filter.text {
        query = query.filter(
            lower(tickets::subject)
                .like(like_pattern(text))
                .escape('\\'),
        );
    }
    match filter.sla {
        Some(SlaFilter::Breached) => {
            let settled = [Status::Solved.as_str(), Status::Closed.as_str()];
            query = query.filter(
                ticket_sla::due_at.lt(now).or(ticket_sla::state
                    .eq("breached")
                    .and(tickets::status.ne_all(settled))),
            );
        }
        Some(SlaFilter::AtRisk { minutes }) => {
            let until = now + chrono::TimeDelta::minutes(minutes);
            query = query.filter(ticket_sla::due_at.ge(now).and(ticket_sla::due_at.le(until)));
        }
        None => {}
    }
    match filter.cursor {
        Some(Cursor::Newest { before_number }) => {
            query = query.filter(tickets::number.lt(before_number))
        }
        Some(Cursor::Due {
            due_at: Some(due),
            after_number,
        }) => {
            query = query.filter(
                ticket_sla::due_at
                    .gt(due)
                    .or(ticket_sla::due_at
                        .eq(due)
                        .and(tickets::number.gt(after_number)))
                    .or(ticket_sla::due_at.is_null()),
            )
        }
        Some(Cursor::Due {
            due_at: None,
            after_number,
        }) => {
            query = query.filter(
                ticket_sla::due_at
                    .is_null()
                    .and(tickets::number.gt(after_number)),
            )
        }
        None => {}
    }
    // One extra row tells whether another page follows. Sorting on
    // `due_at IS NULL` first puts tickets without a due time last on both
    // backends (SQLite sorts NULL first, PostgreSQL last).
    let query = match filter.sort {
        Sort::Newest => query.order(tickets::number.desc()),
        Sort::Due => query.order((
            ticket_sla::due_at.is_null().asc(),
            ticket_sla::due_at.asc(),
            tickets::number.asc(),
        )),
    };
    let rows: Vec<TicketRow> = query.limit(filter.limit + 1).load(conn)?;
    let has_more = rows.len() as i64 > filter.limit;
    let mut rows = rows;
    rows.truncate(filter.limit as usize);
    let next_cursor = if has_more {
        match filter.sort {
            Sort::Newest => rows.last().map(|(t, ..)| Cursor::Newest {
                before_number: t.number,
            }),
            Sort::Due => match rows.last() {
                Some((t, ..)) => Some(Cursor::Due {
                    due_at: due_of(conn, &t.id)?,
                    after_number: t.number,
                }),
                None => None,
            },
        }
        .map(Cursor::encode)
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(TicketView::from_row)
        .collect::<AppResult<Vec<_>>>()?;
    Ok(TicketPage { items, next_cursor })
}

/// A ticket's earliest running due time (for a cursor).
fn due_of(conn: &mut DbConnection, ticket_id: &str) -> AppResult<Option<NaiveDateTime>> {
    Ok(ticket_sla::table
        .find(ticket_id)
        .select(ticket_sla::due_at)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor::Newest {
            before_number: 10042,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        let due = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        for c in [
            Cursor::Due {
                due_at: Some(due),
                after_number: 7,
            },
            Cursor::Due {
                due_at: None,
                after_number: 7,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode(&hex::encode("x:1")), None);
    }

    #[test]
    fn ticket_refs_accept_uuid_number_and_hash_number() {
        assert!(matches!(
            TicketRef::parse("#10042").unwrap(),
            TicketRef::Number(10042)
        ));
        assert!(matches!(
            TicketRef::parse("10042").unwrap(),
            TicketRef::Number(10042)
        ));
        let id = crate::clock::Clock::system().new_id().to_string();
        assert!(matches!(TicketRef::parse(&id).unwrap(), TicketRef::Id(x) if x == id));
        assert!(TicketRef::parse("nope").is_err());
        assert!(TicketRef::parse("-3").is_err());
    }
}
