//! Storage: one diesel code path over SQLite and PostgreSQL.
//!
//! Everything that differs between the two backends (connection set-up,
//! transactions that take the write lock up front, sequences, insert-or-ignore)
//! lives in this module and nowhere else.

pub mod connection;
pub mod event_feed;
pub mod first_only;
pub mod models;
pub mod outbox_claim;
pub mod report_sql;
pub mod schema;
pub mod ticket_claim;
pub mod together;
pub mod workers;

pub use connection::{Backend, DbConnection, DbPool, PoolState};

use crate::clock::Clock;

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
    /// Waits for the write lock. A body that checked out a second connection
    /// and opened a write transaction on it would wait for the lock its own
    /// thread holds. Bodies receive the only connection they may write on (a
    /// `WriteConn`, which `write_tx` does not take), so that is a bug in the
    /// caller: it fails loudly instead of hanging.
    fn enter() -> (std::sync::MutexGuard<'static, ()>, WriterHeld) {
        assert!(
            !WRITER_HELD.get(),
            "write_tx inside write_tx: write on the WriteConn the outer transaction gave you"
        );
        let lock = SQLITE_WRITER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        WRITER_HELD.set(true);
        (lock, WriterHeld)
    }
}

impl Drop for WriterHeld {
    fn drop(&mut self) {
        WRITER_HELD.set(false);
    }
}

/// What a process derives from its database and keeps between requests
/// (the compiled routing rules), one of each type. Services own what they
/// keep and how they tell it is out of date; this only holds it, per
/// database, so two apps in one process (tests) never share one.
#[derive(Clone, Default)]
pub struct Caches(
    std::sync::Arc<
        std::sync::Mutex<
            std::collections::HashMap<
                std::any::TypeId,
                std::sync::Arc<dyn std::any::Any + Send + Sync>,
            >,
        >,
    >,
);

impl Caches {
    /// This database's `T`, made on first use.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> std::sync::Arc<T> {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = held
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| std::sync::Arc::new(T::default()));
        entry.clone().downcast::<T>().expect("keyed by its type")
    }
}

/// The app's database: the pool, the clock every change is timed by, and
/// the process's caches of what it holds.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    clock: Clock,
    caches: Caches,
}

impl Database {
    pub fn new(pool: DbPool, clock: Clock) -> Database {
        Database {
            pool,
            clock,
            caches: Caches::default(),
        }
    }

    /// A pooled connection, for reads and for opening write transactions.
    pub fn get(&self) -> Result<Conn, diesel::r2d2::PoolError> {
        Ok(Conn {
            pooled: self.pool.get()?,
            clock: self.clock.clone(),
            caches: self.caches.clone(),
        })
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

/// A checked-out connection. It reads (it dereferences to the
/// [`DbConnection`] that queries run on) and opens write transactions
/// ([`write_tx`]); it cannot write by itself.
pub struct Conn {
    pooled: diesel::r2d2::PooledConnection<connection::Manager>,
    clock: Clock,
    caches: Caches,
}

impl Conn {
    /// Now, on the app's clock, as the database stores it.
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now_naive()
    }

    pub fn caches(&self) -> &Caches {
        &self.caches
    }
}

impl std::ops::Deref for Conn {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.pooled
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.pooled
    }
}

/// The connection inside a write transaction, the only one a body may write
/// on: every function that writes takes one, and only [`write_tx`] and
/// [`write_statement`] make them, so a write outside the writer queue does
/// not compile. It carries the change's instant: everything one transaction
/// writes (rows, events, ids) is timed alike.
///
/// Writing in a transaction:
/// ```no_run
/// # fn example(conn: &mut relay::db::Conn) -> relay::error::AppResult<()> {
/// relay::db::write_tx(conn, |w| {
///     relay::auth::issue_token(w, relay::domain::Role::Admin, "ops", None).map(drop)
/// })
/// # }
/// ```
/// A write outside the queue does not compile:
/// ```compile_fail
/// # fn example(conn: &mut relay::db::Conn) -> relay::error::AppResult<()> {
/// relay::auth::issue_token(conn, relay::domain::Role::Admin, "ops", None).map(drop)
/// # }
/// ```
/// Nor does a transaction opened inside another:
/// ```compile_fail
/// # fn example(conn: &mut relay::db::Conn) -> relay::error::AppResult<()> {
/// relay::db::write_tx(conn, |w| {
///     relay::db::write_tx(w, |inner| {
///         relay::auth::issue_token(inner, relay::domain::Role::Admin, "ops", None).map(drop)
///     })
/// })
/// # }
/// ```
pub struct WriteConn<'a> {
    conn: &'a mut DbConnection,
    clock: &'a Clock,
    caches: &'a Caches,
    now: chrono::NaiveDateTime,
}

impl WriteConn<'_> {
    /// The instant of this change, taken when the transaction got the write
    /// lock (so on SQLite, changes are timed in the order they commit).
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.now
    }

    pub fn clock(&self) -> &Clock {
        self.clock
    }

    pub fn caches(&self) -> &Caches {
        self.caches
    }

    /// The connection to run statements on (what `*self` is), for code
    /// that matches on the backend.
    pub fn connection(&mut self) -> &mut DbConnection {
        self.conn
    }

    /// A new row id that sorts by time (UUID v7 on the app's clock).
    pub fn new_id(&self) -> String {
        self.clock.new_id().to_string()
    }
}

impl std::ops::Deref for WriteConn<'_> {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        self.conn
    }
}

impl std::ops::DerefMut for WriteConn<'_> {
    fn deref_mut(&mut self) -> &mut DbConnection {
        self.conn
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
/// Transactions do not nest: the body gets a [`WriteConn`], which this does
/// not take, and a service that writes takes a `WriteConn` and leaves the
/// transaction to its caller.
pub fn write_tx<T, E, F>(conn: &mut Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut WriteConn<'_>) -> Result<T, E>,
    E: From<DieselError>,
{
    let clock = conn.clock.clone();
    let caches = conn.caches.clone();
    let conn: &mut DbConnection = &mut conn.pooled;
    match conn {
        DbConnection::Sqlite(_) => {
            // SQLite has one writer at a time. Writers of this process queue
            // here, woken the moment the lock is free, instead of in SQLite's
            // busy handler, which sleeps and polls (p99 230 ms under
            // bench/intake). Other processes on the same file still meet the
            // busy timeout.
            let _held = WriterHeld::enter();
            sqlite_block(conn, |conn| {
                f(&mut WriteConn {
                    now: clock.now_naive(),
                    conn,
                    clock: &clock,
                    caches: &caches,
                })
            })
        }
        DbConnection::Postgresql(_) => conn.transaction(|conn| {
            f(&mut WriteConn {
                now: clock.now_naive(),
                conn,
                clock: &clock,
                caches: &caches,
            })
        }),
    }
}

/// Runs one write statement: on SQLite in the writer queue of [`write_tx`],
/// on PostgreSQL as it is (autocommit), sparing the BEGIN and COMMIT round
/// trips that a lone statement does not need (the outbox marks one per mail).
pub fn write_statement<T, E, F>(conn: &mut Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut WriteConn<'_>) -> Result<T, E>,
    E: From<DieselError>,
{
    if matches!(*conn.pooled, DbConnection::Sqlite(_)) {
        return write_tx(conn, f);
    }
    let clock = conn.clock.clone();
    let caches = conn.caches.clone();
    f(&mut WriteConn {
        now: clock.now_naive(),
        conn: &mut conn.pooled,
        clock: &clock,
        caches: &caches,
    })
}

/// Runs `f` between `BEGIN IMMEDIATE` and `COMMIT`, or `ROLLBACK` when it
/// fails or panics. The statements are issued by hand because `f` needs the
/// multi-connection, not the inner SQLite connection that diesel's own
/// transactions would lend it.
fn sqlite_block<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    const ROLLBACK: &str = "ROLLBACK";
    conn.batch_execute("BEGIN IMMEDIATE")?;
    let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *conn))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            // A pooled connection must not go back holding the write lock.
            let _ = conn.batch_execute(ROLLBACK);
            std::panic::resume_unwind(panic)
        }
    };
    let outcome = outcome.and_then(|value| {
        conn.batch_execute("COMMIT")?;
        Ok(value)
    });
    if outcome.is_err() {
        // Nothing to do if this fails too: the connection drops the
        // transaction when it is closed, and the first error is the one
        // worth reporting.
        let _ = conn.batch_execute(ROLLBACK);
    }
    outcome
}

diesel::define_sql_function! {
    /// PostgreSQL's `nextval`; a function call (unlike a literal SQL
    /// fragment) keeps the statement in diesel's prepared-statement cache.
    fn nextval(sequence: diesel::sql_types::Text) -> diesel::sql_types::BigInt;
}

/// A ticket's UPDATE, written out here because diesel never keeps an
/// `UpdateStatement` prepared (a changeset's columns may vary with what is
/// set). `TicketChanges` always sets the same columns (`treat_none_as_null`,
/// no skipped fields), so this statement's text never changes and
/// PostgreSQL plans it once per connection instead of on every change.
struct TicketUpdate<C, W> {
    changes: C,
    filter: W,
}

impl<C: 'static, W: 'static> diesel::query_builder::QueryId for TicketUpdate<C, W> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<C, W, DB> diesel::query_builder::QueryFragment<DB> for TicketUpdate<C, W>
where
    DB: diesel::backend::Backend,
    C: diesel::query_builder::QueryFragment<DB>,
    W: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        out.push_identifier("tickets")?;
        out.push_sql(" SET ");
        self.changes.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

impl<C, W, Conn> diesel::RunQueryDsl<Conn> for TicketUpdate<C, W> {}

/// Writes a ticket's mutable columns if it is still at `expected_version`;
/// the number of rows written (0: someone else changed it). Every change
/// of a ticket runs this, so its statement stays prepared on both
/// backends.
pub fn update_ticket_row(
    conn: &mut WriteConn<'_>,
    ticket: &models::Ticket,
    expected_version: i32,
) -> QueryResult<usize> {
    use schema::tickets;
    let update = TicketUpdate {
        changes: ticket.changes().as_changeset(),
        filter: tickets::id
            .eq(ticket.id.clone())
            .and(tickets::version.eq(expected_version)),
    };
    match conn.connection() {
        DbConnection::Postgresql(c) => update.execute(c),
        DbConnection::Sqlite(c) => update.execute(c),
    }
}

/// The number of the first ticket (the PostgreSQL sequence starts here too).
const FIRST_TICKET_NUMBER: i64 = 10001;

/// Locks a ticket's row until the transaction ends, so that read-modify-write
/// of its status and version never interleaves with another writer (two
/// replies arriving at once must both land). SQLite's write transaction
/// already excludes every other writer.
pub fn lock_ticket(conn: &mut WriteConn<'_>, ticket_id: &str) -> QueryResult<()> {
    match conn.connection() {
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
    conn: &mut WriteConn<'_>,
    ticket_id: &str,
) -> QueryResult<models::Ticket> {
    let query = schema::tickets::table.find(ticket_id);
    match conn.connection() {
        DbConnection::Postgresql(c) => query
            .select(models::Ticket::as_select())
            .for_update()
            .first(c),
        DbConnection::Sqlite(c) => query.select(models::Ticket::as_select()).first(c),
    }
}

/// Locks and reads the tickets of `ids` that exist, in id order (so two
/// batches that share tickets lock them in the same order and one waits
/// for the other instead of deadlocking).
pub fn lock_and_load_tickets(
    conn: &mut WriteConn<'_>,
    ids: &[String],
) -> QueryResult<Vec<models::Ticket>> {
    macro_rules! query {
        () => {
            schema::tickets::table
                .filter(schema::tickets::id.eq_any(ids))
                .order(schema::tickets::id.asc())
                .select(models::Ticket::as_select())
        };
    }
    match conn.connection() {
        DbConnection::Postgresql(c) => query!().for_update().load(c),
        DbConnection::Sqlite(c) => query!().load(c),
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
        match $crate::db::WriteConn::connection($conn) {
            $crate::db::DbConnection::Postgresql(c) => $crate::by_row_count!($rows, |values| {
                diesel::insert_into($table).values(values).execute(c)
            })
            .map(drop),
            $crate::db::DbConnection::Sqlite(c) => $rows
                .iter()
                .try_for_each(|row| diesel::insert_into($table).values(row).execute(c).map(drop)),
        }
    }};
}

/// Runs `$body` with `$values` bound to `$rows` in the form diesel
/// prepares and caches on PostgreSQL: one row alone, two or three rows (a
/// new ticket's events and clocks) as arrays, which give a statement of
/// fixed shape; any other count as a slice, whose statement is parsed and
/// planned on every insert.
#[doc(hidden)]
#[macro_export]
macro_rules! by_row_count {
    ($rows:expr, |$values:ident| $body:expr) => {{
        let rows = &$rows[..];
        if let [$values] = rows {
            $body
        } else if let Ok($values) = <&[_; 2]>::try_from(rows) {
            $body
        } else if let Ok($values) = <&[_; 3]>::try_from(rows) {
            $body
        } else {
            let $values = rows;
            $body
        }
    }};
}

/// [`insert_rows!`] of one row into `$first` and a few rows into
/// `$second`, in one statement on PostgreSQL ([`together::Together`]): a
/// round trip saved where a ticket's row comes with others (a new
/// ticket's SLA summary and its clocks). Neither table may refer to the
/// other: the two inserts see one snapshot. Other counts, and SQLite, go
/// as two [`insert_rows!`].
#[macro_export]
macro_rules! insert_rows_together {
    ($conn:expr, $first:expr, $first_rows:expr, $second:expr, $second_rows:expr) => {{
        use diesel::RunQueryDsl as _;
        let (first, second) = (&$first_rows[..], &$second_rows[..]);
        match ($crate::db::WriteConn::connection($conn), first) {
            ($crate::db::DbConnection::Postgresql(c), [row]) if (1..=3).contains(&second.len()) => {
                $crate::by_row_count!(second, |values| {
                    $crate::db::together::Together(
                        diesel::insert_into($first).values(row),
                        diesel::insert_into($second).values(values),
                    )
                    .execute(c)
                })
                .map(drop)
            }
            _ => if first.is_empty() {
                Ok(())
            } else {
                $crate::insert_rows!($conn, $first, first)
            }
            .and_then(|()| {
                if second.is_empty() {
                    Ok(())
                } else {
                    $crate::insert_rows!($conn, $second, second)
                }
            }),
        }
    }};
}

/// [`insert_rows!`] for rows that replace stored ones: a row whose key
/// (`$target`) is taken updates the stored one (`ON CONFLICT ($target) DO
/// UPDATE SET $set`, `excluded` naming the new row's values). An update
/// that changes no indexed column stays on its page (HOT), and the row's
/// foreign key is not checked again. Diesel prepares no upsert for reuse,
/// so rows known to be new go through `insert_rows!`.
#[macro_export]
macro_rules! upsert_rows {
    ($conn:expr, $table:expr, $rows:expr, $target:expr, $set:expr) => {{
        use diesel::RunQueryDsl as _;
        match $crate::db::WriteConn::connection($conn) {
            $crate::db::DbConnection::Postgresql(c) => diesel::insert_into($table)
                .values(&$rows[..])
                .on_conflict($target)
                .do_update()
                .set($set)
                .execute(c)
                .map(drop),
            $crate::db::DbConnection::Sqlite(c) => $rows.iter().try_for_each(|row| {
                diesel::insert_into($table)
                    .values(row)
                    .on_conflict($target)
                    .do_update()
                    .set($set)
                    .execute(c)
                    .map(drop)
            }),
        }
    }};
}

/// Inserts a new ticket and gives it the next number. On PostgreSQL a
/// sequence (no lock held across the transaction, so concurrent intake does
/// not serialise on it) read by the insert itself, one round trip; on
/// SQLite, where writers are serialised anyway, the maximum plus one inside
/// the write transaction is exact.
pub fn insert_ticket(
    conn: &mut WriteConn<'_>,
    ticket: &mut models::Ticket,
    sla_due_at: Option<chrono::NaiveDateTime>,
) -> QueryResult<()> {
    use schema::tickets;
    // `sla_due_at` is the claim order's copy of the SLA summary's due time
    // (`ticket_claim::copy_due_times`), not a field of the ticket model.
    let due = tickets::sla_due_at.eq(sla_due_at);
    match conn.connection() {
        DbConnection::Postgresql(c) => {
            ticket.number = diesel::insert_into(tickets::table)
                .values((
                    &*ticket,
                    due,
                    tickets::number.eq(nextval("ticket_number_seq")),
                ))
                .returning(tickets::number)
                .get_result(c)?;
        }
        DbConnection::Sqlite(c) => {
            ticket.number = tickets::table
                .select(diesel::dsl::max(tickets::number))
                .first::<Option<i64>>(c)?
                .map_or(FIRST_TICKET_NUMBER, |n| n + 1);
            diesel::insert_into(tickets::table)
                .values((&*ticket, due, tickets::number.eq(ticket.number)))
                .execute(c)?;
        }
    }
    Ok(())
}

/// Stores a blob unless one with the same content hash is already there.
pub fn insert_blob_if_absent(
    conn: &mut WriteConn<'_>,
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
        match $crate::db::WriteConn::connection($conn) {
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

    /// A database of one file with its own pool (the pool is what
    /// `write_tx` is opened from).
    fn sqlite() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let (pool, _) = connection::connect(&connection::PoolOptions {
            url: format!("sqlite://{}", dir.path().join("t.db").display()),
            max_size: 2,
            sqlite_synchronous: "NORMAL".into(),
            connect_timeout: std::time::Duration::from_secs(5),
        })
        .unwrap();
        let db = Database::new(pool, Clock::system());
        db.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (x INTEGER)")
            .unwrap();
        (dir, db)
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

    fn insert(conn: &mut WriteConn<'_>, x: i32) -> Result<(), DieselError> {
        conn.batch_execute(&format!("INSERT INTO t VALUES ({x})"))
    }

    #[test]
    fn a_failed_body_writes_nothing_and_a_good_one_commits() {
        let (_dir, db) = sqlite();
        let mut conn = db.get().unwrap();
        let failed = write_tx(&mut conn, |w| {
            insert(w, 1)?;
            Err::<(), _>(DieselError::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(write_tx(&mut conn, |w| insert(w, 2)), Ok(()));
        assert_eq!(values(&mut conn), vec![2]);
    }

    #[test]
    fn a_panic_inside_write_tx_rolls_back_and_releases_the_lock() {
        let (_dir, db) = sqlite();
        let mut conn = db.get().unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_tx(&mut conn, |w| {
                insert(w, 1)?;
                panic!("a bug in a body");
                #[allow(unreachable_code)]
                Ok::<_, DieselError>(())
            })
        }));
        assert!(panicked.is_err());
        // Rolled back, out of the transaction, and the next writer gets in.
        assert_eq!(write_tx(&mut conn, |w| insert(w, 2)), Ok(()));
        assert_eq!(values(&mut conn), vec![2]);
    }

    #[test]
    fn a_write_on_a_second_connection_inside_a_body_fails_instead_of_hanging() {
        let (_dir, db) = sqlite();
        let mut first = db.get().unwrap();
        let mut second = db.get().unwrap();
        let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_tx(&mut first, |w| {
                insert(w, 1)?;
                write_tx(&mut second, |w| insert(w, 2))
            })
        }));
        let message = nested.expect_err("refused");
        let message = message
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| message.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        assert!(message.contains("write_tx inside write_tx"), "{message}");
        assert_eq!(values(&mut first), Vec::<i32>::new());
        assert_eq!(write_tx(&mut second, |w| insert(w, 3)), Ok(()));
    }

    #[test]
    fn a_transaction_is_timed_by_the_app_clock() {
        let (_dir, db) = sqlite();
        let settable = crate::clock::SettableClock::new();
        let at = chrono::DateTime::parse_from_rfc3339("2031-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        settable.pin(at);
        let db = Database::new(db.pool().clone(), settable.clock());
        let mut conn = db.get().unwrap();
        let (now, id) =
            write_tx(&mut conn, |w| Ok::<_, DieselError>((w.now(), w.new_id()))).unwrap();
        assert_eq!(now, at.naive_utc());
        assert!(id >= crate::clock::first_id_at(at.naive_utc()), "{id}");
    }
}
