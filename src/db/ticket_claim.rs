//! Locking the most urgent waiting tickets of a queue for one claimer.
//!
//! - PostgreSQL: candidates are selected `FOR UPDATE SKIP LOCKED`, so
//!   agents claiming at once (from any number of Relay processes) each lock
//!   different tickets instead of queueing behind one another; a row one
//!   claimer holds is invisible to the others until its claim commits, and
//!   then it is assigned.
//! - SQLite: `write_tx` holds the database's one write lock, so claims are
//!   serialised and a plain select sees every earlier claim.
//!
//! Urgency: priority (urgent first), then the longest wait in the queue,
//! read from one index (`tickets_waiting`, on [`URGENCY`]).

use super::models::{Customer, Ticket};
use super::schema::tickets;
use super::{DbConnection, WriteConn};
use diesel::prelude::*;

/// A ticket's priority as a rank, urgent first: the expression the
/// `tickets_waiting` index is built on (keep the two identical).
pub const URGENCY: &str =
    "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END";

/// Declares `$name`, an expression of `tickets` whose SQL is the constant
/// `$sql`. Unlike a `sql()` literal it keeps its statement in diesel's
/// prepared-statement cache, so PostgreSQL does not parse and plan the
/// claim anew every time.
macro_rules! constant_sql {
    ($(#[$doc:meta])* $name:ident: $sql_type:ty = $sql:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        struct $name;

        impl diesel::Expression for $name {
            type SqlType = $sql_type;
        }

        impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl diesel::AppearsOnTable<tickets::table> for $name {}

        impl diesel::SelectableExpression<tickets::table> for $name {}

        impl diesel::expression::ValidGrouping<()> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
    };
}

constant_sql!(
    /// [`URGENCY`], for ordering.
    Urgency: diesel::sql_types::Integer = URGENCY
);

constant_sql!(
    /// `status IN (…)` with the statuses written into the statement rather
    /// than bound: with only the queue bound, PostgreSQL settles on one
    /// generic plan for the claim.
    Waiting: diesel::sql_types::Bool = WAITING_SQL
);

/// The statuses an unassigned ticket waits in (`routing::assignment::
/// WAITING_STATUSES`; a unit test keeps the two in step).
const WAITING_SQL: &str = "status IN ('new', 'open')";

constant_sql!(
    /// The ticket's customer's address, read by the claim statement.
    CustomerEmail: diesel::sql_types::Text =
        "(SELECT email FROM customers WHERE customers.id = tickets.customer_id)"
);

constant_sql!(
    CustomerName: diesel::sql_types::Nullable<diesel::sql_types::Text> =
        "(SELECT name FROM customers WHERE customers.id = tickets.customer_id)"
);

constant_sql!(
    CustomerOrganization: diesel::sql_types::Nullable<diesel::sql_types::Text> =
        "(SELECT organization FROM customers WHERE customers.id = tickets.customer_id)"
);

constant_sql!(
    CustomerSince: diesel::sql_types::Timestamp =
        "(SELECT created_at FROM customers WHERE customers.id = tickets.customer_id)"
);

type CustomerColumns = (
    String,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
);

// The customer is read by subqueries rather than a join: `FOR UPDATE`
// would lock the customer's row too, and every claimer of that
// customer's tickets would skip them all.
macro_rules! most_urgent {
    ($queue_id:expr) => {
        tickets::table
            .filter(tickets::queue_id.eq($queue_id))
            .filter(tickets::assignee_id.is_null())
            .filter(Waiting)
            .order((Urgency, tickets::queued_at.asc(), tickets::number.asc()))
            .select((
                Ticket::as_select(),
                (
                    CustomerEmail,
                    CustomerName,
                    CustomerOrganization,
                    CustomerSince,
                ),
            ))
            .limit(1)
    };
}

/// The most urgent waiting unassigned ticket of `queue_id` that no
/// other claimer holds, with its customer, locked for this transaction: one statement, one
/// index range.
pub fn lock_most_urgent(
    conn: &mut WriteConn<'_>,
    queue_id: &str,
) -> QueryResult<Option<(Ticket, Customer)>> {
    let found: Option<(Ticket, CustomerColumns)> = match conn.connection() {
        DbConnection::Postgresql(c) => most_urgent!(queue_id)
            .for_update()
            .skip_locked()
            .first(c)
            .optional()?,
        DbConnection::Sqlite(c) => most_urgent!(queue_id).first(c).optional()?,
    };
    Ok(
        found.map(|(ticket, (email, name, organization, created_at))| {
            let customer = Customer {
                id: ticket.customer_id.clone(),
                email,
                name,
                organization,
                created_at,
            };
            (ticket, customer)
        }),
    )
}

/// The statuses [`lock_most_urgent`] treats as waiting, for the test that
/// keeps them in step with the routing rules' list.
pub fn waiting_statuses_sql() -> &'static str {
    WAITING_SQL
}

macro_rules! waiting {
    ($queue_id:expr, $priority:expr, $statuses:expr, $limit:expr) => {
        tickets::table
            .filter(tickets::queue_id.eq($queue_id))
            .filter(tickets::assignee_id.is_null())
            .filter(tickets::priority.eq($priority))
            .filter(tickets::status.eq_any($statuses))
            .order((tickets::queued_at.asc(), tickets::number.asc()))
            .select(Ticket::as_select())
            .limit($limit)
    };
}

/// Up to `limit` unassigned tickets of `queue_id` in `statuses` with
/// `priority`, most urgent first, not locked: for claimers who must pick
/// among them (skills) before locking one.
pub fn peek_waiting(
    conn: &mut WriteConn<'_>,
    queue_id: &str,
    priority: &str,
    statuses: &[&str],
    limit: i64,
) -> QueryResult<Vec<Ticket>> {
    waiting!(queue_id, priority, statuses, limit).load(&mut **conn)
}

/// Locks `id` if it still waits unassigned in `queue_id` and no other
/// claimer holds it.
pub fn lock_if_waiting(
    conn: &mut WriteConn<'_>,
    id: &str,
    queue_id: &str,
) -> QueryResult<Option<Ticket>> {
    macro_rules! still_waiting {
        () => {
            tickets::table
                .find(id)
                .filter(tickets::queue_id.eq(queue_id))
                .filter(tickets::assignee_id.is_null())
                .select(Ticket::as_select())
        };
    }
    match conn.connection() {
        DbConnection::Postgresql(c) => still_waiting!()
            .for_update()
            .skip_locked()
            .first(c)
            .optional(),
        DbConnection::Sqlite(c) => still_waiting!().first(c).optional(),
    }
}

/// The tickets `agent_id` holds in `statuses`, in id order, locked on
/// PostgreSQL (SQLite's write transaction excludes every other writer).
pub fn lock_held(
    conn: &mut WriteConn<'_>,
    agent_id: &str,
    statuses: &[&str],
) -> QueryResult<Vec<Ticket>> {
    macro_rules! held {
        () => {
            tickets::table
                .filter(tickets::assignee_id.eq(agent_id))
                .filter(tickets::status.eq_any(statuses))
                .order(tickets::id.asc())
                .select(Ticket::as_select())
        };
    }
    match conn.connection() {
        DbConnection::Postgresql(c) => held!().for_update().load(c),
        DbConnection::Sqlite(c) => held!().load(c),
    }
}
