//! Storage: one diesel code path over SQLite and PostgreSQL.
//!
//! Everything that differs between the two backends (connection set-up,
//! transactions that take the write lock up front, sequences, insert-or-ignore)
//! lives in this module and nowhere else.

pub mod connection;
pub mod models;
pub mod outbox_claim;
pub mod schema;

pub use connection::{Backend, DbConnection, DbPool, PoolState};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// The SQLite write lock, taken in process (see [`write_tx`]). One for the
/// process: a Relay process serves one database.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// Whether this thread is inside [`write_tx`] on SQLite.
    static WRITER_HELD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as holding [`SQLITE_WRITER`] until dropped.
struct WriterHeld;

impl WriterHeld {
    fn enter() -> WriterHeld {
        WRITER_HELD.set(true);
        WriterHeld
    }
}

impl Drop for WriterHeld {
    fn drop(&mut self) {
        WRITER_HELD.set(false);
    }
}

/// Runs `f` in a transaction that holds the write lock from its first
/// statement. On SQLite a deferred transaction that reads and then writes can
/// fail with SQLITE_BUSY without waiting; `BEGIN IMMEDIATE` waits its turn
/// (up to the busy timeout) instead.
///
/// Every write goes through here, or through [`write_statement`] for a lone
/// statement: on SQLite a write outside the queue waits in SQLite's busy
/// handler, which polls and can lose to the queue of writers here for
/// seconds (bench/email saw 1-2 s stalls from the once-a-minute token
/// `last_used_at` update before it moved in).
///
/// Called again inside `f` (a service that writes, used by a larger
/// transaction such as the demo seed), it joins the outer transaction with a
/// savepoint, so an error undoes only the inner part: what diesel does for
/// nested transactions on PostgreSQL.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConnection::Sqlite(_) if WRITER_HELD.get() => {
            // Bodies never check out a second connection, so this is the
            // connection that already holds the write lock.
            sqlite_block(
                conn,
                [
                    "SAVEPOINT relay_nested",
                    "RELEASE relay_nested",
                    "ROLLBACK TO relay_nested; RELEASE relay_nested",
                ],
                f,
            )
        }
        DbConnection::Sqlite(_) => {
            // SQLite has one writer at a time. Writers of this process queue
            // here, woken the moment the lock is free, instead of in SQLite's
            // busy handler, which sleeps and polls (p99 230 ms under
            // bench/intake). Other processes on the same file still meet the
            // busy timeout. Bodies never check out a second connection, so
            // holding this while waiting for nothing else cannot deadlock.
            let _writer = SQLITE_WRITER
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _held = WriterHeld::enter();
            sqlite_block(conn, ["BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"], f)
        }
        DbConnection::Postgresql(_) => conn.transaction(f),
    }
}

/// Runs one write statement: on SQLite in the writer queue of [`write_tx`],
/// on PostgreSQL as it is (autocommit), sparing the BEGIN and COMMIT round
/// trips that a lone statement does not need (the outbox marks one per mail).
pub fn write_statement<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConnection::Sqlite(_) => write_tx(conn, f),
        DbConnection::Postgresql(_) => f(conn),
    }
}

/// Runs `f` between `begin` and `commit`, or `rollback` when it fails or
/// panics. The statements are issued by hand because `f` needs the
/// multi-connection, not the inner SQLite connection that diesel's own
/// transactions would lend it.
fn sqlite_block<T, E, F>(
    conn: &mut DbConnection,
    [begin, commit, rollback]: [&str; 3],
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    conn.batch_execute(begin)?;
    let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *conn))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            // A pooled connection must not go back holding the write lock.
            let _ = conn.batch_execute(rollback);
            std::panic::resume_unwind(panic)
        }
    };
    let outcome = outcome.and_then(|value| {
        conn.batch_execute(commit)?;
        Ok(value)
    });
    if outcome.is_err() {
        // Nothing to do if this fails too: the connection drops the
        // transaction when it is closed, and the first error is the one
        // worth reporting.
        let _ = conn.batch_execute(rollback);
    }
    outcome
}

diesel::define_sql_function! {
    /// PostgreSQL's `nextval`; a function call (unlike a literal SQL
    /// fragment) keeps the statement in diesel's prepared-statement cache.
    fn nextval(sequence: diesel::sql_types::Text) -> diesel::sql_types::BigInt;
}

/// The number of the first ticket (the PostgreSQL sequence starts here too).
const FIRST_TICKET_NUMBER: i64 = 10001;

/// Locks a ticket's row until the transaction ends, so that read-modify-write
/// of its status and version never interleaves with another writer (two
/// replies arriving at once must both land). SQLite's write transaction
/// already excludes every other writer.
pub fn lock_ticket(conn: &mut DbConnection, ticket_id: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Postgresql(c) => schema::tickets::table
            .find(ticket_id)
            .select(schema::tickets::id)
            .for_update()
            .load::<String>(c)
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// [`lock_ticket`] and the read that follows it in one statement, for
/// callers that need only the ticket's own row.
pub fn lock_and_load_ticket(
    conn: &mut DbConnection,
    ticket_id: &str,
) -> QueryResult<models::Ticket> {
    let query = schema::tickets::table.find(ticket_id);
    match conn {
        DbConnection::Postgresql(c) => query
            .select(models::Ticket::as_select())
            .for_update()
            .first(c),
        DbConnection::Sqlite(c) => query.select(models::Ticket::as_select()).first(c),
    }
}

/// Inserts a slice of rows. On PostgreSQL one multi-row statement saves a
/// round trip per row; diesel's multi-connection has no multi-row insert, so
/// that statement is built on the inner connection. diesel never caches a
/// multi-row statement (its text depends on the count), so a lone row goes
/// in as a single-row insert, which stays prepared (the usual one outbox
/// recipient: bench/email lost about a tenth of its rate to re-planning).
/// On SQLite (in-process, no round trips) rows go one by one, inside the
/// caller's transaction.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Postgresql(c) => match &$rows[..] {
                [row] => diesel::insert_into($table).values(row).execute(c),
                rows => diesel::insert_into($table).values(rows).execute(c),
            }
            .map(drop),
            $crate::db::DbConnection::Sqlite(c) => $rows
                .iter()
                .try_for_each(|row| diesel::insert_into($table).values(row).execute(c).map(drop)),
        }
    }};
}

/// Inserts a new ticket and gives it the next number. On PostgreSQL a
/// sequence (no lock held across the transaction, so concurrent intake does
/// not serialise on it) read by the insert itself, one round trip; on
/// SQLite, where writers are serialised anyway, the maximum plus one inside
/// the write transaction is exact.
pub fn insert_ticket(conn: &mut DbConnection, ticket: &mut models::Ticket) -> QueryResult<()> {
    use schema::tickets;
    match conn {
        DbConnection::Postgresql(c) => {
            ticket.number = diesel::insert_into(tickets::table)
                .values((&*ticket, tickets::number.eq(nextval("ticket_number_seq"))))
                .returning(tickets::number)
                .get_result(c)?;
        }
        DbConnection::Sqlite(c) => {
            ticket.number = tickets::table
                .select(diesel::dsl::max(tickets::number))
                .first::<Option<i64>>(c)?
                .map_or(FIRST_TICKET_NUMBER, |n| n + 1);
            diesel::insert_into(tickets::table)
                .values((&*ticket, tickets::number.eq(ticket.number)))
                .execute(c)?;
        }
    }
    Ok(())
}

/// Stores a blob unless one with the same content hash is already there.
pub fn insert_blob_if_absent(
    conn: &mut DbConnection,
    blob: &models::NewBlob<'_>,
) -> QueryResult<()> {
    crate::insert_ignoring_conflicts!(conn, schema::blobs::table, blob).map(drop)
}

pub fn is_unique_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Whether a failed statement may succeed if tried again: the database was
/// unreachable, busy or deadlocked, as opposed to refusing the values.
pub fn is_transient(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(kind, info) => {
            matches!(
                kind,
                DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand
                    | DatabaseErrorKind::SerializationFailure
            ) || {
                // Neither backend has a kind of its own for these: PostgreSQL
                // deadlocks and shutdowns, SQLite's locked database.
                let message = info.message().to_lowercase();
                [
                    "deadlock",
                    "is locked",
                    "shutting down",
                    "terminating connection",
                ]
                .iter()
                .any(|m| message.contains(m))
            }
        }
        DieselError::BrokenTransactionManager | DieselError::RollbackErrorOnCommit { .. } => true,
        _ => false,
    }
}

/// Case-insensitive substring match that behaves the same on both backends.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// `INSERT ... ON CONFLICT DO NOTHING` on both backends. diesel's
/// multi-connection cannot express conflict clauses, so the statement is
/// built per backend.
#[macro_export]
macro_rules! insert_ignoring_conflicts {
    ($conn:expr, $table:expr, $values:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Postgresql(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c),
            $crate::db::DbConnection::Sqlite(c) => diesel::insert_or_ignore_into($table)
                .values($values)
                .execute(c),
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sqlite::SqliteConnection;

    fn sqlite() -> DbConnection {
        DbConnection::Sqlite(SqliteConnection::establish(":memory:").expect("in-memory SQLite"))
    }

    fn values(conn: &mut DbConnection) -> Vec<i32> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            x: i32,
        }
        diesel::sql_query("SELECT x FROM t ORDER BY x")
            .load::<Row>(conn)
            .unwrap()
            .into_iter()
            .map(|r| r.x)
            .collect()
    }

    fn insert(conn: &mut DbConnection, x: i32) -> Result<(), DieselError> {
        conn.batch_execute(&format!("INSERT INTO t VALUES ({x})"))
    }

    #[test]
    fn a_nested_write_tx_joins_the_outer_one_and_a_failure_undoes_only_its_part() {
        let mut conn = sqlite();
        conn.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let outer = write_tx(&mut conn, |conn| {
            insert(conn, 1)?;
            write_tx(conn, |conn| insert(conn, 2))?;
            let inner = write_tx(conn, |conn| {
                insert(conn, 3)?;
                Err::<(), _>(DieselError::RollbackTransaction)
            });
            assert!(inner.is_err());
            insert(conn, 4)
        });
        assert_eq!(outer, Ok(()));
        assert_eq!(values(&mut conn), vec![1, 2, 4]);

        let failed = write_tx(&mut conn, |conn| {
            write_tx(conn, |conn| insert(conn, 5))?;
            Err::<(), _>(DieselError::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(values(&mut conn), vec![1, 2, 4]);
    }

    #[test]
    fn a_panic_inside_write_tx_rolls_back_and_releases_the_lock() {
        let mut conn = sqlite();
        conn.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_tx(&mut conn, |conn| {
                insert(conn, 1)?;
                panic!("a bug in a body");
                #[allow(unreachable_code)]
                Ok::<_, DieselError>(())
            })
        }));
        assert!(panicked.is_err());
        // Rolled back, out of the transaction, and the next writer gets in.
        assert_eq!(write_tx(&mut conn, |conn| insert(conn, 2)), Ok(()));
        assert_eq!(values(&mut conn), vec![2]);
    }
}
