//! Connections, the pool and migrations.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::path::{Path, PathBuf};
use std::time::Duration;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<Manager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("setting `database.url` (DATABASE_URL): {0}")]
    Url(String),
    #[error("cannot create the directory {path} for the SQLite database: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("cannot apply database migrations: {0}")]
    Migrate(String),
}

/// A parsed database URL: which backend, and what to hand its driver.
#[derive(Debug, Clone)]
pub struct DatabaseTarget {
    pub backend: Backend,
    /// For PostgreSQL the URL itself, for SQLite the file path.
    pub address: String,
}

impl DatabaseTarget {
    /// Only `sqlite:` and `postgres(ql)://` URLs are accepted: anything else is
    /// refused rather than silently opening a new SQLite file by that name.
    pub fn parse(url: &str) -> Result<Self, DbSetupError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                address: url.to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(DbSetupError::Url(format!(
                    "'{url}' names no file; use e.g. sqlite://data/relay.db (an in-memory database would lose every ticket at exit)"
                )));
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                address: path.to_string(),
            });
        }
        let scheme = url.split(':').next().unwrap_or_default();
        Err(DbSetupError::Url(format!(
            "unsupported scheme '{scheme}' in '{}'; use sqlite://PATH or postgres://USER@HOST/DB",
            redact(url)
        )))
    }
}

/// Hides a password in a URL before it reaches a log or an error message.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Opens one PostgreSQL connection. OpenSSL (libpq's TLS) is initialised
/// first, without the exit handler it registers by default: that handler
/// frees OpenSSL's global state while other threads may still be closing
/// TLS connections (pool reapers, workers of a server being shut down), and
/// a process that exits with connections open then aborts with a double
/// free (seen at the end of the PostgreSQL test run).
pub fn establish_postgres(url: &str) -> diesel::ConnectionResult<PgConnection> {
    openssl_sys::init();
    PgConnection::establish(url)
}

/// Opens connections for one database. Dispatches on the URL scheme so that a
/// PostgreSQL failure reports libpq's own message (diesel's derived
/// `establish` tries every backend and hides it).
#[derive(Debug, Clone)]
pub struct Manager {
    target: DatabaseTarget,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.target.backend {
            Backend::Postgres => {
                establish_postgres(&self.target.address).map(DbConnection::Postgresql)
            }
            Backend::Sqlite => {
                SqliteConnection::establish(&self.target.address).map(DbConnection::Sqlite)
            }
        }
        .map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    /// Checked when a connection comes back to the pool: one whose session
    /// died or whose transaction is stuck is dropped instead of reused.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        match conn {
            DbConnection::Postgresql(c) => c.is_broken(),
            DbConnection::Sqlite(c) => c.is_broken(),
        }
    }
}

/// Per-connection SQLite settings. `busy_timeout` must come before
/// `journal_mode=WAL`, or connections opened in parallel at pool start-up
/// fail with "database is locked".
#[derive(Debug, Clone)]
struct SqlitePragmas {
    synchronous: String,
}

impl CustomizeConnection<DbConnection, r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            c.batch_execute(&format!(
                "PRAGMA busy_timeout = 15000; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                self.synchronous
            ))
            .map_err(r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

pub struct PoolOptions {
    pub url: String,
    pub max_size: u32,
    pub sqlite_synchronous: String,
    pub connect_timeout: Duration,
}

/// Builds the pool and applies pending migrations, creating the SQLite file's
/// directory when needed.
pub fn connect(options: &PoolOptions) -> Result<(DbPool, Backend), DbSetupError> {
    let target = DatabaseTarget::parse(&options.url)?;
    if target.backend == Backend::Sqlite {
        create_private_sqlite_file(&PathBuf::from(&target.address))?;
    }
    let backend = target.backend;
    let manager = Manager { target };
    // Check the database is reachable first, so the operator sees the driver's
    // message instead of r2d2's generic timeout.
    manager
        .connect()
        .map_err(|e| DbSetupError::Connect(with_tls_hint(e.to_string())))?;
    let pool = r2d2::Pool::builder()
        .max_size(options.max_size)
        .connection_timeout(options.connect_timeout)
        // No `SELECT 1` before every checkout (a round trip on each request):
        // broken connections are weeded out when they are returned instead.
        .test_on_check_out(false)
        .connection_customizer(Box::new(SqlitePragmas {
            synchronous: options.sqlite_synchronous.clone(),
        }))
        .build(manager)
        .map_err(|e| DbSetupError::Connect(e.to_string()))?;
    Ok((pool, backend))
}

/// Creates a missing SQLite database file as 0600 in a 0700 directory (it
/// holds every customer's data). SQLite gives its `-wal` and `-shm` files
/// the database file's mode, so they follow. Existing files and
/// directories keep the mode their owner chose.
fn create_private_sqlite_file(path: &Path) -> Result<(), DbSetupError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|source| DbSetupError::Directory {
                path: dir.display().to_string(),
                source,
            })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(DbSetupError::Connect(format!(
            "cannot create the SQLite database file {}: {e}",
            path.display()
        ))),
    }
}

/// libpq reports a refused server certificate as OpenSSL's reason alone
/// ("SSL error: provider signature failure" for a CA of the same name but
/// another key), which does not say what to change.
fn with_tls_hint(message: String) -> String {
    if message.contains("SSL error") {
        format!(
            "{message} (TLS to PostgreSQL failed; if the server's certificate was refused, \
             `sslrootcert` in the URL must name the file of the CA that signed it)"
        )
    } else {
        message
    }
}

/// Applies pending migrations; returns how many ran.
pub fn migrate(pool: &DbPool) -> Result<usize, DbSetupError> {
    let mut conn = pool
        .get()
        .map_err(|e| DbSetupError::Connect(e.to_string()))?;
    let applied = match &mut *conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| DbSetupError::Migrate(e.to_string()))
}

/// Connection counts for `/metrics`.
pub struct PoolState {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

pub fn pool_state(pool: &DbPool) -> PoolState {
    let state = pool.state();
    PoolState {
        size: state.connections,
        idle: state.idle_connections,
        max: pool.max_size(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::migration::MigrationSource;

    #[test]
    fn both_migration_trees_list_the_same_versions() {
        let names = |m: &EmbeddedMigrations| {
            MigrationSource::<diesel::pg::Pg>::migrations(m)
                .unwrap()
                .iter()
                .map(|m| m.name().to_string())
                .collect::<Vec<_>>()
        };
        let sqlite: Vec<String> =
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .unwrap()
                .iter()
                .map(|m| m.name().to_string())
                .collect();
        assert_eq!(names(&PG_MIGRATIONS), sqlite);
    }

    #[test]
    fn tls_failures_say_what_to_check() {
        let refused = with_tls_hint("SSL error: provider signature failure".into());
        assert!(refused.contains("certificate") && refused.contains("sslrootcert"));
        let other = "password authentication failed for user \"relay\"";
        assert_eq!(with_tls_hint(other.into()), other);
    }

    /// libpq reads the TLS settings (`sslmode`, `sslrootcert`, ...) from the
    /// URL's query, so the URL must reach it as the operator wrote it.
    #[test]
    fn postgres_urls_reach_libpq_unchanged() {
        let url = "postgres://relay:pw@db.example.com:5432/relay?sslmode=verify-full&sslrootcert=/etc/relay/db-ca.pem&application_name=relay";
        assert_eq!(DatabaseTarget::parse(url).unwrap().address, url);
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_setting_named() {
        let err = DatabaseTarget::parse("mysql://root@localhost/relay")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("database.url") && err.contains("mysql"),
            "{err}"
        );
        assert!(DatabaseTarget::parse("relay.db").is_err());
        assert!(DatabaseTarget::parse("sqlite::memory:").is_err());
        let err = DatabaseTarget::parse("redis://u:secret@h/1")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn sqlite_and_postgres_urls_are_understood() {
        let t = DatabaseTarget::parse("sqlite://data/relay.db").unwrap();
        assert_eq!(
            (t.backend, t.address.as_str()),
            (Backend::Sqlite, "data/relay.db")
        );
        let t = DatabaseTarget::parse("sqlite:/tmp/x.db").unwrap();
        assert_eq!(t.address, "/tmp/x.db");
        let t = DatabaseTarget::parse("postgres://postgres@127.0.0.1/relay").unwrap();
        assert_eq!(t.backend, Backend::Postgres);
    }
}
