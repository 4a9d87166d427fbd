//! TLS to PostgreSQL, against a private PostgreSQL server started for this
//! run (the shared one on 5432 is left alone): `initdb` into a temp dir, a
//! test CA and a server certificate for localhost / 127.0.0.1, `ssl = on`,
//! listening on a free port of 127.0.0.1 only, and a pg_hba.conf that accepts
//! TLS connections (SCRAM password) and rejects plain ones.
//!
//! Its own harness (libtest-mimic, `harness = false`) so that without
//! PostgreSQL's server programs the tests are reported as *ignored*, never as
//! passed; under CI (`CI` set, as `.ci/run` runs) they fail instead.
//! Independent of `TEST_DATABASE_URL`: it runs the same on both passes.

#[path = "api/certs.rs"]
mod certs;

use diesel::prelude::*;
use diesel::sql_types::Bool;
use libtest_mimic::{Arguments, Failed, Trial};
use relay::db::connection::{connect, migrate, PoolOptions};
use relay::db::schema::tickets;
use relay::db::{Backend, DbConnection, DbPool};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const USER: &str = "relay";
const PASSWORD: &str = "pgtls-test-secret";

type Test = fn(&PrivatePostgres) -> Result<(), Failed>;

const TESTS: &[(&str, Test)] = &[
    (
        "sslmode_require_connects_migrates_and_queries_over_tls",
        sslmode_require_connects_migrates_and_queries_over_tls,
    ),
    (
        "verify_full_with_the_ca_file_connects_to_localhost",
        verify_full_with_the_ca_file_connects_to_localhost,
    ),
    (
        "verify_full_with_another_ca_is_refused_naming_the_certificate",
        verify_full_with_another_ca_is_refused_naming_the_certificate,
    ),
    (
        "a_url_without_sslmode_negotiates_tls",
        a_url_without_sslmode_negotiates_tls,
    ),
    (
        "plain_connections_are_refused_by_the_test_server",
        plain_connections_are_refused_by_the_test_server,
    ),
    (
        "relay_serve_answers_with_a_verify_full_database_url",
        relay_serve_answers_with_a_verify_full_database_url,
    ),
    (
        "sslrootcert_system_trusts_ssl_cert_file",
        sslrootcert_system_trusts_ssl_cert_file,
    ),
];

fn main() {
    let args = Arguments::from_args();
    let programs = PgPrograms::find();
    if let Err(missing) = &programs {
        if !running_in_ci() {
            eprintln!("SKIPPED (ignored): TLS-to-PostgreSQL tests: {missing}");
        }
    }
    // Started by the first test that runs, shared by all, stopped at the end.
    let server: Arc<OnceLock<Result<PrivatePostgres, String>>> = Arc::default();
    let trials = TESTS
        .iter()
        .map(|&(name, test)| trial(name, test, &programs, &server))
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(server);
    conclusion.exit();
}

fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn trial(
    name: &str,
    test: Test,
    programs: &Result<PgPrograms, String>,
    server: &Arc<OnceLock<Result<PrivatePostgres, String>>>,
) -> Trial {
    match programs {
        Ok(programs) => {
            let (programs, server) = (programs.clone(), server.clone());
            Trial::test(name, move || {
                let server = server
                    .get_or_init(|| PrivatePostgres::start(&programs))
                    .as_ref()
                    .map_err(|why| format!("the private PostgreSQL did not start: {why}"))?;
                test(server)
            })
        }
        Err(missing) if running_in_ci() => {
            let why = format!("{missing} (CI must have it: .ci/run installs it)");
            Trial::test(name, move || Err(why.into()))
        }
        Err(_) => Trial::test(name, || Ok(())).with_ignored_flag(true),
    }
}

// ---------------------------------------------------------------- the tests

fn sslmode_require_connects_migrates_and_queries_over_tls(
    pg: &PrivatePostgres,
) -> Result<(), Failed> {
    let url = pg
        .fresh_database("require_migrate")?
        .url("127.0.0.1", "sslmode=require");
    let pool = pool(&url)?;
    let applied = migrate(&pool)?;
    assert!(applied > 0, "migrations ran over TLS");
    let mut conn = pool.get()?;
    assert!(session_uses_tls(&mut conn)?, "the session is encrypted");
    let count: i64 = tickets::table.count().get_result(&mut *conn)?;
    assert_eq!(count, 0);
    Ok(())
}

fn verify_full_with_the_ca_file_connects_to_localhost(pg: &PrivatePostgres) -> Result<(), Failed> {
    let params = format!("sslmode=verify-full&sslrootcert={}", pg.ca_file.display());
    let pool = pool(&pg.database("postgres").url("localhost", &params))?;
    assert!(session_uses_tls(&mut *pool.get()?)?);
    Ok(())
}

/// The other CA has the same name as the right one (as after a CA is
/// re-keyed), where OpenSSL's reason alone names no certificate.
fn verify_full_with_another_ca_is_refused_naming_the_certificate(
    pg: &PrivatePostgres,
) -> Result<(), Failed> {
    let params = format!(
        "sslmode=verify-full&sslrootcert={}",
        pg.other_ca_file.display()
    );
    let err = refusal(&pg.database("postgres").url("localhost", &params))?;
    assert!(err.contains("TLS") && err.contains("certificate"), "{err}");
    Ok(())
}

/// libpq's default `sslmode=prefer` takes TLS when the server offers it.
fn a_url_without_sslmode_negotiates_tls(pg: &PrivatePostgres) -> Result<(), Failed> {
    let url = pg.database("postgres").url("127.0.0.1", "");
    assert!(session_uses_tls(&mut *pool(&url)?.get()?)?);
    Ok(())
}

/// The server really insists on TLS, so the tests above prove TLS was used.
fn plain_connections_are_refused_by_the_test_server(pg: &PrivatePostgres) -> Result<(), Failed> {
    let err = refusal(&pg.database("postgres").url("127.0.0.1", "sslmode=disable"))?;
    assert!(err.contains("no encryption"), "{err}");
    Ok(())
}

/// `relay serve` with the URL in DATABASE_URL: migrations, the first admin
/// token and an authenticated request, all over verify-full TLS.
fn relay_serve_answers_with_a_verify_full_database_url(pg: &PrivatePostgres) -> Result<(), Failed> {
    let params = format!("sslmode=verify-full&sslrootcert={}", pg.ca_file.display());
    let url = pg.fresh_database("serve")?.url("localhost", &params);
    let work = tempfile::tempdir()?;
    let bind = format!("127.0.0.1:{}", free_port());
    let log = work.path().join("relay.log");
    let _relay = RunningChild(
        relay_command(work.path(), &url)
            .args(["serve", "--bind", &bind])
            .env("RELAY__SERVER__WORKERS", "1")
            .stderr(std::fs::File::create(&log)?)
            .spawn()?,
    );
    let base = format!("http://{bind}");
    wait_until_ready(&base, &log)?;
    let token = std::fs::read_to_string(work.path().join("data/initial-admin-token"))?;
    let answer = ureq::get(&format!("{base}/api/v1/tickets"))
        .set("Authorization", &format!("Bearer {}", token.trim()))
        .call()?;
    assert_eq!(answer.status(), 200);
    Ok(())
}

/// The bundled OpenSSL does not know the system's certificate store, so
/// `sslrootcert=system` trusts what SSL_CERT_FILE names (the README says so).
fn sslrootcert_system_trusts_ssl_cert_file(pg: &PrivatePostgres) -> Result<(), Failed> {
    let url = pg
        .fresh_database("system_roots")?
        .url("localhost", "sslmode=verify-full&sslrootcert=system");
    let work = tempfile::tempdir()?;
    let migrate_with = |cert_file: &Path| {
        relay_command(work.path(), &url)
            .arg("migrate")
            .env("SSL_CERT_FILE", cert_file)
            .output()
    };
    let refused = migrate_with(&pg.other_ca_file)?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("TLS") && stderr.contains("certificate"),
        "{stderr}"
    );
    let trusted = migrate_with(&pg.ca_file)?;
    let stderr = String::from_utf8_lossy(&trusted.stderr);
    assert!(trusted.status.success(), "{stderr}");
    Ok(())
}

// ------------------------------------------------------------------ helpers

fn pool(url: &str) -> Result<DbPool, Failed> {
    let (pool, backend) = connect(&pool_options(url))?;
    assert_eq!(backend, Backend::Postgres);
    Ok(pool)
}

/// The message Relay gives when it cannot connect.
fn refusal(url: &str) -> Result<String, Failed> {
    match connect(&pool_options(url)) {
        Ok(_) => Err(format!("{url} connected").into()),
        Err(err) => Ok(err.to_string()),
    }
}

fn pool_options(url: &str) -> PoolOptions {
    PoolOptions {
        url: url.to_string(),
        max_size: 2,
        sqlite_synchronous: "full".into(),
        connect_timeout: Duration::from_secs(10),
    }
}

#[derive(QueryableByName)]
struct SslStatus {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

fn session_uses_tls(conn: &mut DbConnection) -> Result<bool, Failed> {
    let DbConnection::Postgresql(pg) = conn else {
        return Err("not a PostgreSQL connection".into());
    };
    let status: SslStatus =
        diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .get_result(pg)?;
    Ok(status.ssl)
}

/// The relay binary in `dir`, with nothing but built-in defaults and `url`.
fn relay_command(dir: &Path, url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relay"));
    command
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("RELAY_ENV")
        .env_remove("RELAY_CONFIG_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

fn wait_until_ready(base: &str, log: &Path) -> Result<(), Failed> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(answer) = ureq::get(&format!("{base}/readyz")).call() {
            if answer.status() == 200 {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    Err(format!("relay serve was not ready in 60 s: {log}").into())
}

/// Killed when dropped.
struct RunningChild(Child);

impl Drop for RunningChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

// ------------------------------------------------------ the private server

/// Where PostgreSQL's server programs are, and whom to run them as:
/// `initdb` and `postgres` refuse to run as root.
#[derive(Clone)]
struct PgPrograms {
    bin_dir: PathBuf,
    run_as: Option<(u32, u32)>,
}

impl PgPrograms {
    fn find() -> Result<Self, String> {
        let bin_dir = server_bin_dir().ok_or(
            "needs PostgreSQL's server programs initdb and postgres \
             (apt-get install postgresql)",
        )?;
        let run_as = if effective_uid() == 0 {
            Some(unprivileged_account("postgres").ok_or(
                "running as root, and initdb refuses root: needs the user \
                 postgres (made by the postgresql package)",
            )?)
        } else {
            None
        };
        Ok(Self { bin_dir, run_as })
    }

    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command.stdin(Stdio::null());
        command
    }

    fn give(&self, path: &Path) -> std::io::Result<()> {
        match self.run_as {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
            None => Ok(()),
        }
    }
}

/// The newest /usr/lib/postgresql/N/bin (Debian), else initdb on PATH.
fn server_bin_dir() -> Option<PathBuf> {
    let has_programs = |dir: &Path| dir.join("initdb").exists() && dir.join("postgres").exists();
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_programs(dir))
        .collect();
    debian.sort();
    debian
        .pop()
        .map(|(_, dir)| dir)
        .or_else(|| std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| has_programs(dir)))
}

fn effective_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

/// (uid, gid) of `name` from /etc/passwd.
fn unprivileged_account(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let fields: Vec<&str> = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))?;
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

/// A PostgreSQL of our own; stopped when dropped.
struct PrivatePostgres {
    programs: PgPrograms,
    child: Child,
    port: u16,
    data: PathBuf,
    /// The CA that signed the server's certificate.
    ca_file: PathBuf,
    /// A CA that did not.
    other_ca_file: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// A database on the private server.
struct Database<'a> {
    server: &'a PrivatePostgres,
    name: String,
}

impl Database<'_> {
    /// A URL with the password and the given query (e.g. `sslmode=require`).
    fn url(&self, host: &str, query: &str) -> String {
        let port = self.server.port;
        let name = &self.name;
        let url = format!("postgres://{USER}:{PASSWORD}@{host}:{port}/{name}");
        if query.is_empty() {
            url
        } else {
            format!("{url}?{query}")
        }
    }
}

impl PrivatePostgres {
    fn start(programs: &PgPrograms) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("relay-pgtls-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        prepare_files(programs, &root).map_err(|e| format!("preparing {}: {e}", root.display()))?;
        run(programs
            .command("initdb")
            .arg("--pgdata")
            .arg(&data)
            .args(["--username", USER, "--auth=scram-sha-256", "--pwfile"])
            .arg(root.join("password"))
            .args(["--encoding=UTF8", "--locale=C", "--no-sync"]))?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl   all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .map_err(|e| e.to_string())?;
        let mut last = String::new();
        for _ in 0..3 {
            match Self::launch(programs, &root, free_port()) {
                Ok((child, port)) => {
                    return Ok(Self {
                        programs: programs.clone(),
                        child,
                        port,
                        data,
                        ca_file: root.join("ca.pem"),
                        other_ca_file: root.join("other/ca.pem"),
                        log: root.join("postgres.log"),
                        _dir: dir,
                    })
                }
                // Most likely the port was taken between choosing and binding.
                Err(why) => last = why,
            }
        }
        Err(last)
    }

    fn launch(programs: &PgPrograms, root: &Path, port: u16) -> Result<(Child, u16), String> {
        let log_path = root.join("postgres.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let file = |name: &str| root.join(name).display().to_string();
        let mut child = programs
            .command("postgres")
            .arg("-D")
            .arg(root.join("data"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
            .arg(root)
            .args(["-c", "ssl=on"])
            .args(["-c", &format!("ssl_cert_file={}", file("cert.pem"))])
            .args(["-c", &format!("ssl_key_file={}", file("key.pem"))])
            .args(["-c", "fsync=off", "-c", "max_connections=40"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run postgres: {e}"))?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("postgres exited ({status}): {log}"));
            }
            let ready = programs
                .command("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status();
            if ready.as_ref().is_ok_and(ExitStatus::success) {
                return Ok((child, port));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("postgres did not accept connections on {port}"))
    }

    fn database(&self, name: &str) -> Database<'_> {
        Database {
            server: self,
            name: name.to_string(),
        }
    }

    /// A new empty database, for a test that migrates.
    fn fresh_database(&self, name: &str) -> Result<Database<'_>, Failed> {
        let admin = self
            .database("postgres")
            .url("127.0.0.1", "sslmode=require");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut relay::db::connection::establish_postgres(&admin)?)
            .map_err(|e| format!("{e}; server log: {}", self.log_text()))?;
        Ok(self.database(name))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // A fast shutdown (clients disconnected), then make sure it is gone.
        let _ = self
            .programs
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-s"])
            .stdout(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The certificates (the server's key readable by its owner only), the
/// password file, all owned by the user the server runs as.
fn prepare_files(programs: &PgPrograms, root: &Path) -> std::io::Result<()> {
    certs::write_certificates(root);
    let other = root.join("other");
    std::fs::create_dir(&other)?;
    certs::write_certificates(&other);
    std::fs::write(root.join("password"), PASSWORD)?;
    std::fs::set_permissions(root.join("key.pem"), std::fs::Permissions::from_mode(0o600))?;
    for name in [".", "cert.pem", "key.pem", "password"] {
        programs.give(&root.join(name))?;
    }
    Ok(())
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
