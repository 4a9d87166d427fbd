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
//! Claim order: the earliest running SLA due time first (tickets without a
//! running clock after every ticket with one), then priority (urgent
//! first), then the longest wait in the queue, read from one index
//! (`tickets_waiting`, on `sla_due_at` and [`URGENCY`]). `tickets.sla_due_at`
//! is the copy of `ticket_sla.due_at` that [`copy_due_times`] keeps.

use super::first_only::{first_only, Only, OnlyUnlocked};
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
    /// Whether the ticket has no running SLA clock: sorts those after the
    /// ones with a due time on both backends, from the index (SQLite's
    /// indexes know no `NULLS LAST`).
    NoDueTime: diesel::sql_types::Bool = "(sla_due_at IS NULL)"
);

constant_sql!(
    /// The ticket's earliest running due time as `sla::tracking` stored it.
    StoredDueTime: diesel::sql_types::Nullable<diesel::sql_types::Timestamp> =
        "(SELECT due_at FROM ticket_sla WHERE ticket_sla.ticket_id = tickets.id)"
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

constant_sql!(
    /// The state of the ticket's SLA summary as `sla::tracking` stored it.
    StoredSlaState: diesel::sql_types::Nullable<diesel::sql_types::Text> =
        "(SELECT state FROM ticket_sla WHERE ticket_sla.ticket_id = tickets.id)"
);

/// A claimed ticket's stored SLA summary: its earliest running due time
/// and state (`ticket_sla`; both `None` without one). A claim moves no
/// clock, so it is what the ticket shows after the claim too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSla {
    pub due_at: Option<chrono::NaiveDateTime>,
    pub state: Option<String>,
}

type CustomerColumns = (
    String,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
);

/// The unassigned tickets waiting in `$queue_id`, in claim order: the
/// range of the `tickets_waiting` index (keep the two in step).
macro_rules! waiting_in_claim_order {
    ($queue_id:expr) => {
        tickets::table
            .filter(tickets::queue_id.eq($queue_id))
            .filter(tickets::assignee_id.is_null())
            .filter(Waiting)
            .order((
                NoDueTime,
                tickets::sla_due_at.asc(),
                Urgency,
                tickets::queued_at.asc(),
                tickets::number.asc(),
            ))
    };
}

// The customer is read by subqueries rather than a join: `FOR UPDATE`
// would lock the customer's row too, and every claimer of that
// customer's tickets would skip them all.
macro_rules! most_urgent {
    ($queue_id:expr) => {
        waiting_in_claim_order!($queue_id).select((
            Ticket::as_select(),
            (
                CustomerEmail,
                CustomerName,
                CustomerOrganization,
                CustomerSince,
            ),
            (StoredDueTime, StoredSlaState),
        ))
    };
}

/// The most urgent waiting unassigned ticket of `queue_id` that no
/// other claimer holds, with its customer and SLA summary, locked for this
/// transaction: one statement, one index range, planned once
/// (`first_only`).
pub fn lock_most_urgent(
    conn: &mut WriteConn<'_>,
    queue_id: &str,
) -> QueryResult<Option<(Ticket, Customer, StoredSla)>> {
    type SlaColumns = (Option<chrono::NaiveDateTime>, Option<String>);
    let found: Option<(Ticket, CustomerColumns, SlaColumns)> = match conn.connection() {
        DbConnection::Postgresql(c) => first_only::<_, OnlyUnlocked>(most_urgent!(queue_id))
            .get_result(c)
            .optional()?,
        DbConnection::Sqlite(c) => first_only::<_, Only>(most_urgent!(queue_id))
            .get_result(c)
            .optional()?,
    };
    Ok(found.map(
        |(ticket, (email, name, organization, created_at), (due_at, state))| {
            let customer = Customer {
                id: ticket.customer_id.clone(),
                email,
                name,
                organization,
                created_at,
            };
            (ticket, customer, StoredSla { due_at, state })
        },
    ))
}

/// The statuses [`lock_most_urgent`] treats as waiting, for the test that
/// keeps them in step with the routing rules' list.
pub fn waiting_statuses_sql() -> &'static str {
    WAITING_SQL
}

/// Up to `limit` waiting unassigned tickets of `queue_id`, in claim order,
/// not locked: for claimers who must pick among them (skills) before
/// locking one, and for push assignment offering them one by one.
pub fn peek_waiting(
    conn: &mut DbConnection,
    queue_id: &str,
    limit: i64,
) -> QueryResult<Vec<Ticket>> {
    waiting_in_claim_order!(queue_id)
        .select(Ticket::as_select())
        .limit(limit)
        .load(conn)
}

/// Copies the stored earliest running due time of `ticket_ids` (their
/// `ticket_sla` rows, just written) onto the tickets, where the claim
/// order reads it. Neither the version nor `updated_at` moves: the due
/// time is derived, like the summary it copies.
pub fn copy_due_times(conn: &mut WriteConn<'_>, ticket_ids: &[String]) -> QueryResult<usize> {
    diesel::update(tickets::table.filter(tickets::id.eq_any(ticket_ids)))
        .set(tickets::sla_due_at.eq(StoredDueTime))
        .execute(&mut **conn)
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

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::pg::Pg;

    /// The claim's statement binds only the queue: with its limit bound,
    /// PostgreSQL would plan it again on every claim (`first_only`).
    #[test]
    fn the_claim_statement_binds_only_the_queue() {
        let query = first_only::<_, OnlyUnlocked>(most_urgent!("q1"));
        let sql = diesel::debug_query::<Pg, _>(&query).to_string();
        let (text, binds) = sql
            .split_once(" -- binds: ")
            .expect("debug_query names its binds");
        assert!(text.ends_with(" LIMIT 1 FOR UPDATE SKIP LOCKED"), "{text}");
        assert!(text.contains("\"tickets\".\"queue_id\" = $1"), "{text}");
        assert!(!text.contains("$2"), "{text}");
        assert_eq!(binds, "[\"q1\"]");
    }
}
