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
fn production_without_smtp_stops_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
        config.join("default.toml"),
    )
    .unwrap();
    std::fs::write(
        config.join("production.toml"),
        "[server]\nlog_format = \"json\"\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["serve"],
        &[
            ("RELAY_ENV", "production"),
            ("RELAY_CONFIG_DIR", config.to_str().unwrap()),
            ("RELAY__SERVER__BIND", "127.0.0.1:0"),
        ],
    );
    assert!(!out.status.success(), "it must not start");
    let err = stderr(&out);
    assert!(
        err.contains("RELAY_ENV=production") && err.contains("[smtp]"),
        "{err}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "stopped before opening the database"
    );
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

#[test]
fn sla_scan_runs_the_passes_asked_for_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["sla", "scan", "--passes", "3"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for line in lines {
        assert!(
            line.starts_with(
                "scanned 0 ticket(s): 0 warning(s), 0 breach(es), 0 escalation(s), in "
            ) && line.ends_with(" ms"),
            "{line}"
        );
    }
    let out = run(dir.path(), &["sla", "scan", "--passes", "0"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--passes"), "{}", stderr(&out));
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

// ---- relay mailgate: an MTA pipe with sysexits exit codes ----

const EX_DATAERR: i32 = 65;
const EX_TEMPFAIL: i32 = 75;

fn customer_mail(tag: &str, padding: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Mail Gate <gate.{tag}@example.net>\r\n\
         To: support@relay.localhost\r\n\
         Subject: Mailgate {tag}\r\n\
         Message-ID: <mailgate-{tag}@example.net>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         \r\n\
         Hello from the MTA.\r\n"
    )
    .into_bytes();
    raw.extend(std::iter::repeat_n(b'x', padding));
    raw
}

/// Runs `relay mailgate` with `input` on stdin, without any usable
/// configuration or database (it must need neither).
fn mailgate(url: &str, token: &str, extra: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["mailgate", "--url", url, "--token", token];
    args.extend_from_slice(extra);
    let mut child = relay(
        dir.path(),
        &args,
        &[
            ("RELAY_CONFIG_DIR", "/nonexistent/relay-config"),
            ("DATABASE_URL", "mysql://nowhere/at-all"),
            ("RELAY__SERVER__BIND", "not an address"),
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "mailgate leaves no files behind"
    );
    out
}

/// One line on stderr saying why, and the exit status.
fn failure(out: &Output) -> (i32, String) {
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn mailgate_delivers_to_a_running_relay_and_reports_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let _server = Server(
        relay(
            dir.path(),
            &["serve", "--bind", &bind],
            &[("RELAY__EMAIL__MAX_MESSAGE_BYTES", "4096")],
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_until_healthy(port);
    let token = std::fs::read_to_string(dir.path().join("data/initial-admin-token"))
        .unwrap()
        .trim()
        .to_string();
    let url = format!("http://{bind}");

    let out = mailgate(&url, &token, &[], &customer_mail("up", 0));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8(out.stdout).unwrap();
    let number: i64 = said
        .trim()
        .rsplit('#')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a ticket number in: {said}"));
    assert!(said.contains("created"), "{said}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ticket: serde_json::Value = rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(format!("{url}/api/v1/tickets/{number}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    });
    assert_eq!(ticket["subject"], "Mailgate up", "{ticket}");

    // The MTA retried a delivery that had worked: still 0, nothing doubles.
    let out = mailgate(&url, &token, &[], &customer_mail("up", 0));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("duplicate"));

    // A queue hint travels along (an unknown queue never loses the mail).
    let out = mailgate(
        &url,
        &token,
        &["--queue", "no-such-queue"],
        &customer_mail("queued", 0),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Refused for good: bounce (65), with the reason.
    let out = mailgate(&url, "rly_not-a-token", &[], &customer_mail("badtoken", 0));
    let (code, err) = failure(&out);
    assert_eq!(code, EX_DATAERR, "{err}");
    assert!(err.contains("401"), "{err}");

    let out = mailgate(&url, &token, &[], &customer_mail("huge", 8192));
    let (code, err) = failure(&out);
    assert_eq!(code, EX_DATAERR, "{err}");
    assert!(err.contains("413"), "{err}");

    let out = mailgate(&url, &token, &[], b"");
    assert_eq!(failure(&out).0, EX_DATAERR);
}

#[test]
fn mailgate_asks_the_mta_to_retry_when_relay_is_down() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = mailgate(&url, "rly_whatever", &[], &customer_mail("down", 0));
    let (code, err) = failure(&out);
    assert_eq!(code, EX_TEMPFAIL, "{err}");
    assert!(err.contains("cannot reach Relay"), "{err}");
}

/// A stand-in for a struggling Relay: reads each request whole, then
/// answers with `status`, or (with `None`) never answers at all.
fn fake_relay(status: Option<&'static str>, connections: usize) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut stream = reader.into_inner();
            match status {
                Some(status) => {
                    let problem = format!(
                        r#"{{"title":"struggling","detail":"{status} from the stand-in","status":0}}"#
                    );
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{problem}",
                        problem.len()
                    );
                }
                None => std::thread::sleep(Duration::from_secs(4)),
            }
        }
    });
    url
}

#[test]
fn mailgate_asks_for_a_retry_on_5xx_429_and_timeouts() {
    for status in [
        "503 Service Unavailable",
        "500 Internal Server Error",
        "429 Too Many Requests",
    ] {
        let url = fake_relay(Some(status), 1);
        let out = mailgate(&url, "rly_x", &[], &customer_mail("busy", 0));
        let (code, err) = failure(&out);
        assert_eq!(code, EX_TEMPFAIL, "{status}: {err}");
        assert!(err.contains(&status[..3]), "{err}");
    }
    let url = fake_relay(Some("422 Unprocessable Entity"), 1);
    let out = mailgate(&url, "rly_x", &[], &customer_mail("bad", 0));
    assert_eq!(failure(&out).0, EX_DATAERR);

    let url = fake_relay(None, 1);
    let started = Instant::now();
    let out = mailgate(
        &url,
        "rly_x",
        &["--timeout", "1"],
        &customer_mail("slow", 0),
    );
    let (code, err) = failure(&out);
    assert_eq!(code, EX_TEMPFAIL, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up on time"
    );
}
