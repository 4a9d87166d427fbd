//! The `relay` binary itself: start-up, configuration errors, migrate, tokens.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn relay(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relay"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("RELAY_ENV")
        .env(
            "RELAY_CONFIG_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    relay(dir, args, env).output().expect("relay runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unknown_database_scheme_is_refused_without_creating_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", "mysql://root@127.0.0.1/relay")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("database.url") && err.contains("mysql"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no stray SQLite file"
    );
}

#[test]
fn an_invalid_setting_stops_start_up_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["serve"],
        &[("RELAY__SERVER__BIND", "everywhere")],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("server.bind"), "{}", stderr(&out));
    let out = run(
        dir.path(),
        &["serve"],
        &[("RELAY__DATABASE__POOL_SIZE", "lots")],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).to_lowercase().contains("database.pool_size"),
        "{}",
        stderr(&out)
    );
    let out = run(dir.path(), &["serve", "--bind", "nowhere"], &[]);
    assert!(stderr(&out).contains("--bind"), "{}", stderr(&out));
    let out = run(
        dir.path(),
        &["migrate"],
        &[("RELAY_ENV", "staging-that-does-not-exist")],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("RELAY_ENV"), "{}", stderr(&out));
}

#[test]
fn migrate_creates_the_sqlite_database_and_tokens_print_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["migrate"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        dir.path().join("data/relay.db").exists(),
        "the default database lives under data/"
    );

    let out = run(
        dir.path(),
        &[
            "admin",
            "create-token",
            "--role",
            "intake",
            "--name",
            "mail",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.starts_with("rly_"));

    let out = run(
        dir.path(),
        &["admin", "create-token", "--role", "agent", "--name", "x"],
        &[],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("agent"), "{}", stderr(&out));
    let out = run(
        dir.path(),
        &["admin", "create-token", "--role", "root", "--name", "x"],
        &[],
    );
    assert!(!out.status.success());
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until_healthy(port: u16) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("relay did not start listening on {port}");
}

#[test]
fn first_start_creates_an_admin_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let server = Server(
        relay(dir.path(), &["serve", "--bind", &bind], &[])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_until_healthy(port);
    let token_file = dir.path().join("data/initial-admin-token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.starts_with("rly_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("http://{bind}/api/v1/tokens"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200, "the bootstrap token is an admin token");
    drop(server);

    // A restart with tokens present creates no new one.
    std::fs::remove_file(&token_file).unwrap();
    let port = free_port();
    let _again = Server(
        relay(
            dir.path(),
            &["serve", "--bind", &format!("127.0.0.1:{port}")],
            &[],
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_until_healthy(port);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!token_file.exists());
}
