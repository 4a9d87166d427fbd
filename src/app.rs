//! The application, built once: what `relay serve` runs and what the
//! integration tests start (on port 0, with a settable clock and the
//! background workers off, run one step at a time instead).

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::connection::{self, PoolOptions};
use crate::db::{Backend, Database};
use crate::http::state::AppState;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

/// How to build the app.
pub struct Build {
    pub clock: Clock,
    /// Where to serve: `None` binds `server.bind`; a listener given (tests
    /// bind port 0 first, to know the address) is used as it is.
    pub listener: Option<TcpListener>,
    /// Start the outbox sender and the IMAP poller (off in tests, which run
    /// them on demand through `jobs`).
    pub background_workers: bool,
}

impl Build {
    /// What `relay serve` builds: the system clock, `server.bind`, workers on.
    pub fn production() -> Build {
        Build {
            clock: Clock::system(),
            listener: None,
            background_workers: true,
        }
    }
}

/// A built Relay: its database is migrated and bootstrapped and its
/// listener bound; [`Application::run`] serves.
pub struct Application {
    db: Database,
    /// Where reports read: the replica of `database.read_url`, or `db`.
    report_db: Database,
    backend: Backend,
    settings: Settings,
    listener: TcpListener,
}

impl Application {
    /// Opens (and migrates) the database, creates the first admin token on
    /// a database without tokens (written to `bootstrap.admin_token_file`),
    /// the installation's reply-address secret, binds the listener, and
    /// starts the background workers when asked.
    pub fn build(settings: Settings, build: Build) -> Result<Application, String> {
        let (db, backend) =
            open_database(&settings, settings.database.pool_size, build.clock.clone())?;
        bootstrap(&db, &settings)?;
        let report_db = match &settings.database.read_url {
            Some(url) => open_replica(&settings, url, build.clock)?,
            None => db.clone(),
        };
        let listener = match build.listener {
            Some(listener) => listener,
            None => TcpListener::bind(settings.bind_addr()).map_err(|e| {
                format!(
                    "cannot listen on {} (setting `server.bind`): {e}",
                    settings.server.bind
                )
            })?,
        };
        if build.background_workers {
            crate::jobs::start(&db, &settings);
        }
        Ok(Application {
            db,
            report_db,
            backend,
            settings,
            listener,
        })
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The address it serves on (the real port when bound to port 0).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the HTTP server on the current actix system; it runs until
    /// the returned server is stopped or finishes.
    pub fn start(self) -> std::io::Result<actix_web::dev::Server> {
        tracing::info!(address = %self.local_addr()?, backend = ?self.backend, "Relay is serving");
        let state = AppState::new(self.db, self.settings).with_report_reads(self.report_db);
        crate::http::start(state, self.listener)
    }
}

/// Opens the pool on `settings.database` and applies pending migrations.
pub fn open_database(
    settings: &Settings,
    max_size: u32,
    clock: Clock,
) -> Result<(Database, Backend), String> {
    let (pool, backend) = connection::connect(&PoolOptions {
        url: settings.database.url.clone(),
        max_size,
        sqlite_synchronous: settings.database.sqlite_synchronous.pragma_value().into(),
        connect_timeout: Duration::from_secs(settings.database.connect_timeout_seconds),
    })
    .map_err(|e| e.to_string())?;
    let applied = connection::migrate(&pool).map_err(|e| e.to_string())?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok((Database::new(pool, clock), backend))
}

/// Opens a pool on the read replica for reports; a replica follows its
/// primary's schema, so nothing is migrated on it.
fn open_replica(settings: &Settings, url: &str, clock: Clock) -> Result<Database, String> {
    let (pool, _) = connection::connect(&PoolOptions {
        url: url.to_string(),
        max_size: settings.database.pool_size,
        sqlite_synchronous: settings.database.sqlite_synchronous.pragma_value().into(),
        connect_timeout: Duration::from_secs(settings.database.connect_timeout_seconds),
    })
    .map_err(|e| format!("the read replica (`database.read_url`): {e}"))?;
    Ok(Database::new(pool, clock))
}

/// First start: the admin token for the operator, and the reply-address
/// secret (created once per installation now rather than by the first mail).
fn bootstrap(db: &Database, settings: &Settings) -> Result<(), String> {
    let mut conn = db.get().map_err(|e| e.to_string())?;
    if let Some(issued) =
        crate::auth::bootstrap_admin_token(&mut conn).map_err(|e| e.to_string())?
    {
        let path = &settings.bootstrap.admin_token_file;
        hand_over_admin_token(path, &issued.secret).map_err(|e| {
            format!(
                "cannot write the initial admin token to {}: {e}",
                path.display()
            )
        })?;
        tracing::warn!(
            file = %path.display(),
            "no API tokens existed: created an admin token and wrote it to this file; read it, store it safely, then delete the file"
        );
    }
    crate::db::write_tx(&mut conn, |w| {
        crate::email::ingest::reply_addresses(w, settings)
    })
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes the first admin token where only the operator can read it.
fn hand_over_admin_token(path: &Path, secret: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, format!("{secret}\n").as_bytes())
}
