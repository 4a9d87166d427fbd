//! A real SMTP server for the tests: `tests/support/smtp_sink.py` (Python's
//! aiosmtpd) on a free port, keeping every message it receives as a `.eml`
//! file with its envelope. Plain, or STARTTLS or TLS with a certificate from
//! a test CA, optionally requiring a login. Killed on drop; `stop` and
//! `start_again` take it down and bring it back on the same port (SMTP down
//! for a while, then up).

#![allow(dead_code)]

use crate::certs::write_certificates;
use crate::common::skip_without;
use relay::config::{SmtpSettings, SmtpTls};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    options: SinkOptions,
}

/// How the sink wants to be spoken to.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// STARTTLS required, or TLS from the first byte, with a certificate
    /// from a test CA (`settings()` trusts it through `ca_file`).
    pub security: SmtpTls,
    /// The user and password it requires before MAIL.
    pub login: Option<(String, String)>,
    /// Addresses it refuses at RCPT TO with 550.
    pub refuse: Vec<String>,
    /// Addresses it defers at RCPT TO with 450 (greylisting).
    pub defer: Vec<String>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            security: SmtpTls::None,
            login: None,
            refuse: Vec::new(),
            defer: Vec::new(),
        }
    }
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: Vec<u8>,
    /// `MAIL FROM` and `RCPT TO` of the SMTP conversation.
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Whether the conversation was encrypted.
    pub tls: bool,
    /// The user the client logged in as.
    pub login: Option<String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py")
}

/// Whether python3 with aiosmtpd is installed (`.ci/run` installs it).
pub fn available() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl SmtpSink {
    /// A running plain sink, or `None` (after saying why) when python3 or
    /// aiosmtpd is missing, so the calling test can return early.
    pub fn start(test: &str) -> Option<SmtpSink> {
        SmtpSink::start_with(test, SinkOptions::default())
    }

    /// A running sink with these options (or `None`, as `start`).
    pub fn start_with(test: &str, options: SinkOptions) -> Option<SmtpSink> {
        if !available() {
            skip_without(
                "python3 with aiosmtpd for a real SMTP server (pip install aiosmtpd)",
                test,
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut sink = SmtpSink {
            port: 0,
            dir,
            child: None,
            options,
        };
        if sink.options.security != SmtpTls::None {
            std::fs::create_dir(sink.tls_dir()).unwrap();
            write_certificates(&sink.tls_dir());
        }
        // The port is free when chosen but another test may take it before
        // the server binds it: then try another one.
        let mut failures = Vec::new();
        for _ in 0..5 {
            sink.port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            match sink.launch() {
                Ok(child) => {
                    sink.child = Some(child);
                    return Some(sink);
                }
                Err(why) => failures.push(why),
            }
        }
        panic!("the SMTP sink did not start: {failures:?}");
    }

    /// Starts the server again on its port; returns once it accepts mail.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the SMTP sink is already running");
        let mut failures = Vec::new();
        for _ in 0..5 {
            match self.launch() {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(why) => failures.push(why),
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!(
            "the SMTP sink did not start again on port {}: {failures:?}",
            self.port
        );
    }

    /// Restarts the server on its port with other options (the same
    /// security: its certificates were made at start).
    pub fn restart_with(&mut self, options: SinkOptions) {
        assert_eq!(options.security, self.options.security);
        self.stop();
        self.options = options;
        self.start_again();
    }

    /// Takes the server down: connections to its port are refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `[smtp]` settings for this server: its security, its test CA as
    /// `ca_file`, and its login.
    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: self.options.security,
            ca_file: (self.options.security != SmtpTls::None)
                .then(|| self.tls_dir().join("ca.pem")),
            username: self.options.login.as_ref().map(|(user, _)| user.clone()),
            password: self
                .options
                .login
                .as_ref()
                .map(|(_, password)| password.clone()),
        }
    }

    /// Everything received so far, in order of arrival. (The server writes a
    /// message before it answers 250, so a sender that returned has its
    /// mail here.)
    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let envelope: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(eml.with_extension("json")).unwrap())
                        .unwrap();
                Received {
                    raw: std::fs::read(&eml).unwrap(),
                    tls: envelope["tls"].as_bool().unwrap(),
                    login: envelope["login"].as_str().map(str::to_string),
                    mail_from: envelope["mail_from"].as_str().unwrap().to_string(),
                    rcpt_to: envelope["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_lowercase())
                        .collect(),
                }
            })
            .collect()
    }

    /// Messages received with this Message-ID (without angle brackets).
    pub fn with_message_id(&self, id: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.message_id() == id)
            .collect()
    }
}

impl SmtpSink {
    /// The test CA (ca.pem) and the server's certificate and key.
    fn tls_dir(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    /// Runs the server on `self.port`; the child once it printed "ready".
    fn launch(&self) -> Result<Child, String> {
        let mut command = Command::new("python3");
        command
            .arg(script())
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let security = match self.options.security {
            SmtpTls::None => None,
            SmtpTls::Starttls => Some("starttls"),
            SmtpTls::Tls => Some("tls"),
        };
        if let Some(security) = security {
            command
                .args(["--security", security, "--cert-dir"])
                .arg(self.tls_dir());
        }
        if let Some((user, password)) = &self.options.login {
            command.arg("--login").arg(format!("{user}:{password}"));
        }
        for address in &self.options.refuse {
            command.arg("--refuse").arg(address);
        }
        for address in &self.options.defer {
            command.arg("--defer").arg(address);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run python3 tests/support/smtp_sink.py: {e}"))?;
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        if read.is_ok() && line.trim() == "ready" {
            return Ok(child);
        }
        let _ = child.kill();
        let status = child.wait();
        Err(format!("port {}: {} ({status:?})", self.port, line.trim()))
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parsable message")
    }

    /// A header's raw value, unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed()
            .header_raw(name)
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_string()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    /// Addresses in a header such as To or Reply-To, lower-cased.
    pub fn addresses(&self, name: &str) -> Vec<String> {
        let parsed = self.parsed();
        let list = match name.to_ascii_lowercase().as_str() {
            "to" => parsed.to(),
            "cc" => parsed.cc(),
            "from" => parsed.from(),
            "reply-to" => parsed.reply_to(),
            other => panic!("no address header {other}"),
        };
        list.map(|a| {
            a.iter()
                .filter_map(|a| a.address())
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
    }

    /// The text/plain body, decoded.
    pub fn text(&self) -> String {
        let parsed = self.parsed();
        let text = parsed
            .text_bodies()
            .find(|p| p.is_text() && !p.is_text_html())
            .and_then(|p| p.text_contents())
            .unwrap_or_default()
            .to_string();
        text
    }

    /// The text/html body, decoded, if there is one.
    pub fn html(&self) -> Option<String> {
        let parsed = self.parsed();
        let html = parsed
            .html_bodies()
            .find(|p| p.is_text_html())
            .and_then(|p| p.text_contents())
            .map(str::to_string);
        html
    }
}
