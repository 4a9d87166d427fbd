//! Settings: built-in defaults < config/default.toml < config/$RELAY_ENV.toml
//! < RELAY__SECTION__KEY environment variables (and DATABASE_URL).

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const BUILT_IN_DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub intake: IntakeSettings,
    pub bootstrap: BootstrapSettings,
    pub email: EmailSettings,
    pub outbox: OutboxSettings,
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    #[serde(default)]
    pub imap: ImapSettings,
    /// Who may read `/metrics` (`[metrics]`; open on the public port without it).
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub routing: RoutingSettings,
    #[serde(default)]
    pub sla: SlaSettings,
    pub satisfaction: SatisfactionSettings,
}

/// `[sla]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaSettings {
    /// How often the scanner announces warnings and breaches that came due
    /// and runs their escalations, in seconds.
    pub scan_seconds: u64,
    /// Tickets one scanner pass takes at most (the rest wait for the next).
    pub scan_batch: i64,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings {
            scan_seconds: 15,
            scan_batch: 1000,
        }
    }
}

/// `[satisfaction]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SatisfactionSettings {
    /// Mail the customer a rating link when a ticket is solved.
    pub enabled: bool,
    /// How long the link takes a rating, in days.
    pub valid_days: u32,
    /// How often solved tickets are looked for, in seconds.
    pub request_seconds: u64,
    /// Tickets solved longer ago than this many hours get no survey (a
    /// process that was down does not mail last month's customers).
    pub request_within_hours: u32,
}

impl Default for SatisfactionSettings {
    fn default() -> Self {
        SatisfactionSettings {
            enabled: true,
            valid_days: 14,
            request_seconds: 60,
            request_within_hours: 72,
        }
    }
}

/// `[routing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSettings {
    /// The queue (slug or id) of a new ticket that neither its caller, the
    /// rules nor its door placed; unset: such tickets wait outside every queue.
    pub default_queue: Option<String>,
    /// How often the dispatcher moves overdue tickets to overflow queues and
    /// offers waiting tickets to agents who came on shift, in seconds.
    pub dispatch_seconds: u64,
    /// Open assigned tickets a new agent may hold when their record names
    /// no capacity of its own (0–1000).
    pub default_capacity: i32,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            default_queue: None,
            dispatch_seconds: 30,
            default_capacity: crate::directory::agents::DEFAULT_CAPACITY,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub public_base_url: String,
    pub trust_forwarded_for: bool,
    pub json_body_limit: usize,
    pub log_format: LogFormat,
    /// Failed bearer tokens per minute per client address, after a burst of
    /// `failed_token_burst`; past them the address's token requests answer
    /// 429 without a database lookup until the budget refills.
    pub failed_token_attempts_per_minute: std::num::NonZeroU32,
    pub failed_token_burst: std::num::NonZeroU32,
    /// With `trust_forwarded_for`/`trust_forwarded_header`: how many reverse
    /// proxies of ours append to the header. The client is the address the
    /// outermost of them saw: this many entries from the right.
    pub trusted_proxy_hops: usize,
    /// Take the client address from `Forwarded` (RFC 7239) `for=` values, by
    /// the same right-most rule; off by default, since a proxy that does not
    /// set it passes on whatever the client wrote.
    pub trust_forwarded_header: bool,
    /// Longest wait, in seconds, for a whole request body to arrive; a slow
    /// or stalled client answers 408 and loses its connection.
    pub body_read_timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    /// A PostgreSQL read replica for reports (they never write); unset:
    /// reports read the primary.
    #[serde(default)]
    pub read_url: Option<String>,
    pub pool_size: u32,
    pub sqlite_synchronous: SqliteSynchronous,
    pub connect_timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

impl SqliteSynchronous {
    pub fn pragma_value(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    pub public_requests_per_minute: u32,
    pub public_burst: u32,
    pub max_attachment_bytes: usize,
    pub max_attachments: usize,
    pub max_upload_bytes: usize,
    /// Channels whose new tickets get the acknowledgement mail.
    pub acknowledge_channels: Vec<crate::domain::Channel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    pub admin_token_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub support_address: String,
    pub from_name: String,
    pub message_id_domain: String,
    pub max_message_bytes: usize,
    pub acknowledgements_per_hour: u32,
    /// Further addresses of ours and the queue (slug) their mail goes to,
    /// e.g. `"billing@example.com" = "billing"`.
    #[serde(default)]
    pub address_queues: std::collections::BTreeMap<String, String>,
    /// Participants a ticket may have besides its customer; further
    /// addresses in a mail are not added (the `email_received` event counts
    /// them), so one mail cannot make every reply go to thousands.
    pub max_participants: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    pub directory: PathBuf,
    pub max_attempts: i32,
    pub retry_base_seconds: u64,
    pub poll_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// A PEM file of certificate authorities to trust for this server besides
    /// the public ones (a company relay with its own CA). Read at start.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

impl SmtpSettings {
    /// The certificates in `ca_file` (none without one).
    pub fn ca_certificates(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        read_ca_file(self.ca_file.as_deref())
    }
}

/// Never prints the password.
impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// `[metrics]`: `/metrics` on a listener of its own, or behind a token.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// A separate address (e.g. `127.0.0.1:9090`) that serves only `/metrics`;
    /// the public port then answers 404 there.
    #[serde(default)]
    pub bind: Option<SocketAddr>,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Option<String>,
}

/// Never prints the token.
impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// The shortest `metrics.token` accepted: a guessable one would be no gate.
const MIN_METRICS_TOKEN_CHARS: usize = 16;

/// The certificates of a `ca_file` setting: none without one, an error that
/// names the file when it cannot be read or holds no PEM certificate.
fn read_ca_file(path: Option<&Path>) -> Result<Vec<CertificateDer<'static>>, String> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let shown = path.display();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown} is not a PEM certificate file: {e}"))?;
    if certificates.is_empty() {
        return Err(format!("{shown} holds no PEM certificate"));
    }
    Ok(certificates)
}

/// IMAP mailboxes Relay polls for mail (`[imap]` and `[[imap.mailboxes]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    /// Seconds between two polls of every mailbox.
    #[serde(default = "ImapSettings::default_poll_seconds")]
    pub poll_seconds: u64,
    #[serde(default)]
    pub mailboxes: Vec<ImapMailbox>,
}

impl ImapSettings {
    fn default_poll_seconds() -> u64 {
        30
    }
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            poll_seconds: Self::default_poll_seconds(),
            mailboxes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    None,
    Starttls,
    Tls,
}

/// What happens to a message in the mailbox once it is safely in Relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAfter {
    /// Set `flag` on it (`\Seen` by default).
    Flag,
    /// Move it to the folder `move_to`.
    Move,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapMailbox {
    /// Short name: kept with each message as its source `imap:<name>`, and the
    /// key of the mailbox's position in the database.
    pub name: String,
    pub host: String,
    /// Defaults to 993 with `tls = "tls"`, otherwise 143.
    #[serde(default)]
    pub port: Option<u16>,
    pub tls: ImapTls,
    /// A PEM file of certificate authorities to trust for this server besides
    /// the public ones: a company CA, or a self-signed server's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub password: String,
    #[serde(default = "ImapMailbox::default_folder")]
    pub folder: String,
    /// Queue (id or slug) for tickets opened by mail from this mailbox.
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default = "ImapMailbox::default_after")]
    pub after: ImapAfter,
    /// With `after = "flag"`: a system flag (`\Seen`, `\Flagged`,
    /// `\Answered`) or a keyword of your own such as `relay-done`.
    #[serde(default = "ImapMailbox::default_flag")]
    pub flag: String,
    /// With `after = "move"`: the folder messages go to (created if missing).
    #[serde(default)]
    pub move_to: Option<String>,
}

impl ImapMailbox {
    fn default_folder() -> String {
        "INBOX".into()
    }
    fn default_after() -> ImapAfter {
        ImapAfter::Flag
    }
    fn default_flag() -> String {
        "\\Seen".into()
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            ImapTls::Tls => 993,
            ImapTls::None | ImapTls::Starttls => 143,
        })
    }

    /// The source recorded with each message from this mailbox.
    pub fn source(&self) -> String {
        format!("imap:{}", self.name)
    }

    /// The certificates in `ca_file` (none without one). Read when the
    /// settings are validated and again on every connection, so a renewed
    /// file is picked up without a restart.
    pub fn ca_certificates(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        read_ca_file(self.ca_file.as_deref())
    }
}

/// Never prints the password.
impl std::fmt::Debug for ImapMailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapMailbox")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port())
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("folder", &self.folder)
            .field("queue", &self.queue)
            .field("after", &self.after)
            .field("flag", &self.flag)
            .field("move_to", &self.move_to)
            .finish()
    }
}

/// An IMAP flag Relay may set: one of the system flags that mean "handled",
/// or a keyword atom (RFC 3501 `atom`, no `\`).
fn is_settable_imap_flag(flag: &str) -> bool {
    const SYSTEM: [&str; 3] = ["\\Seen", "\\Flagged", "\\Answered"];
    if SYSTEM.iter().any(|s| s.eq_ignore_ascii_case(flag)) {
        return true;
    }
    !flag.is_empty()
        && flag.len() <= 64
        && flag
            .chars()
            .all(|c| c.is_ascii_graphic() && !"(){%*\"]\\".contains(c))
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Loads settings from `config_dir` (normally `config/`), the environment
    /// named by `RELAY_ENV`, and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(BUILT_IN_DEFAULTS))
            .merge(Toml::file(config_dir.join("default.toml")));
        if let Ok(env) = std::env::var("RELAY_ENV") {
            let file = config_dir.join(format!("{env}.toml"));
            if !file.exists() {
                return Err(ConfigError(format!(
                    "RELAY_ENV={env} but {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("RELAY__").split("__"));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(("database.url", url));
        }
        if let Ok(format) = std::env::var("RELAY_LOG_FORMAT") {
            figment = figment.merge(("server.log_format", format));
        }
        let settings = Self::from_figment(figment)?;
        settings.check_environment(std::env::var("RELAY_ENV").ok().as_deref())?;
        Ok(settings)
    }

    /// What a named environment demands beyond valid settings: in
    /// production, mail must reach customers. Without `[smtp]` the outbox
    /// writes mail to files (right on a laptop), which no customer reads.
    pub fn check_environment(&self, env: Option<&str>) -> Result<(), ConfigError> {
        if env == Some("production") && self.smtp.is_none() {
            return Err(ConfigError(
                "RELAY_ENV=production needs an [smtp] section: without it \
                 mail to customers would only be written to files under outbox.directory"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The built-in defaults alone (tests start from these).
    pub fn defaults() -> Self {
        Self::from_figment(Figment::from(Toml::string(BUILT_IN_DEFAULTS)))
            .expect("built-in defaults are valid")
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|e| {
            // figment names the key in its message ("for key `server.bind`").
            ConfigError(e.to_string())
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that cannot be expressed by types alone; each names its setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, why: String| Err(ConfigError(format!("setting `{key}`: {why}")));
        if self.server.bind.parse::<SocketAddr>().is_err() {
            return fail(
                "server.bind",
                format!(
                    "'{}' is not an address such as 127.0.0.1:8080",
                    self.server.bind
                ),
            );
        }
        match url::Url::parse(&self.server.public_base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return fail(
                    "server.public_base_url",
                    format!("'{}' is not an http(s) URL", self.server.public_base_url),
                )
            }
        }
        if self.server.json_body_limit < 1024 {
            return fail(
                "server.json_body_limit",
                "must be at least 1024 bytes".into(),
            );
        }
        if self.server.body_read_timeout_seconds == 0 {
            return fail(
                "server.body_read_timeout_seconds",
                "must be at least 1".into(),
            );
        }
        if self.database.pool_size == 0 {
            return fail("database.pool_size", "must be at least 1".into());
        }
        let primary = crate::db::connection::DatabaseTarget::parse(&self.database.url)
            .map_err(|e| ConfigError(e.to_string()))?;
        if let Some(read_url) = &self.database.read_url {
            let replica = crate::db::connection::DatabaseTarget::parse(read_url)
                .map_err(|e| ConfigError(format!("setting `database.read_url`: {e}")))?;
            let postgres = crate::db::Backend::Postgres;
            if primary.backend != postgres || replica.backend != postgres {
                return fail(
                    "database.read_url",
                    "is a PostgreSQL replica of a PostgreSQL primary (SQLite has no replicas)"
                        .into(),
                );
            }
        }
        if self.intake.public_requests_per_minute == 0 || self.intake.public_burst == 0 {
            return fail(
                "intake.public_requests_per_minute",
                "and intake.public_burst must be at least 1".into(),
            );
        }
        if self.intake.max_attachment_bytes == 0 {
            return fail("intake.max_attachment_bytes", "must be at least 1".into());
        }
        if self.intake.max_upload_bytes < self.intake.max_attachment_bytes {
            return fail(
                "intake.max_upload_bytes",
                "must be at least intake.max_attachment_bytes".into(),
            );
        }
        if crate::domain::validate::normalize_email(&self.email.support_address).is_none() {
            return fail(
                "email.support_address",
                format!("'{}' is not an email address", self.email.support_address),
            );
        }
        if self.email.message_id_domain.is_empty()
            || self.email.message_id_domain.contains(['@', ' ', '<', '>'])
        {
            return fail(
                "email.message_id_domain",
                "must be a domain name such as relay.example.com".into(),
            );
        }
        if let Some(bad) = self
            .email
            .address_queues
            .keys()
            .find(|a| crate::domain::validate::normalize_email(a).is_none())
        {
            return fail(
                "email.address_queues",
                format!("'{bad}' is not an email address"),
            );
        }
        if self.email.max_message_bytes < 1024 {
            return fail(
                "email.max_message_bytes",
                "must be at least 1024 bytes".into(),
            );
        }
        if self.outbox.max_attempts < 1 {
            return fail("outbox.max_attempts", "must be at least 1".into());
        }
        if self.outbox.poll_seconds == 0 || self.outbox.retry_base_seconds == 0 {
            return fail(
                "outbox.poll_seconds",
                "and outbox.retry_base_seconds must be at least 1".into(),
            );
        }
        if let Some(smtp) = &self.smtp {
            if smtp.host.trim().is_empty() {
                return fail("smtp.host", "must name the SMTP server".into());
            }
            if smtp.username.is_some() != smtp.password.is_some() {
                return fail("smtp.username", "and smtp.password go together".into());
            }
            if smtp.ca_file.is_some() {
                if smtp.tls == SmtpTls::None {
                    return fail(
                        "smtp.ca_file",
                        "applies only with tls = \"tls\" or \"starttls\"".into(),
                    );
                }
                if let Err(why) = smtp.ca_certificates() {
                    return fail("smtp.ca_file", why);
                }
            }
        }
        if !(1..=100_000).contains(&self.sla.scan_batch) {
            return fail(
                "sla.scan_batch",
                "must be between 1 and 100000 (tickets per scanner pass)".into(),
            );
        }
        if !(0..=1000).contains(&self.routing.default_capacity) {
            return fail(
                "routing.default_capacity",
                "must be between 0 and 1000".into(),
            );
        }
        self.validate_imap()?;
        self.validate_client_address()?;
        self.validate_metrics()?;
        Ok(())
    }

    fn validate_client_address(&self) -> Result<(), ConfigError> {
        if self.server.trusted_proxy_hops == 0 {
            return Err(ConfigError(
                "setting `server.trusted_proxy_hops`: must be at least 1 (the proxy in front of Relay)"
                    .into(),
            ));
        }
        Ok(())
    }

    fn validate_metrics(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, why: String| Err(ConfigError(format!("setting `{key}`: {why}")));
        match self.metrics.bind {
            Some(addr) if addr.port() == 0 => {
                return fail("metrics.bind", "needs a port, e.g. 127.0.0.1:9090".into())
            }
            Some(addr) if addr == self.bind_addr() => {
                return fail("metrics.bind", "must differ from server.bind".into())
            }
            _ => {}
        }
        if let Some(token) = &self.metrics.token {
            if token.chars().count() < MIN_METRICS_TOKEN_CHARS
                || token.contains(char::is_whitespace)
            {
                return fail(
                    "metrics.token",
                    format!("must be at least {MIN_METRICS_TOKEN_CHARS} characters without spaces"),
                );
            }
        }
        Ok(())
    }

    fn validate_imap(&self) -> Result<(), ConfigError> {
        let fail = |key: String, why: String| Err(ConfigError(format!("setting `{key}`: {why}")));
        if self.imap.poll_seconds == 0 {
            return fail("imap.poll_seconds".into(), "must be at least 1".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, mailbox) in self.imap.mailboxes.iter().enumerate() {
            let key = |field: &str| format!("imap.mailboxes[{i}].{field}");
            let name = &mailbox.name;
            if name.is_empty()
                || name.len() > 48
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return fail(
                    key("name"),
                    format!("'{name}' must be 1 to 48 letters, digits, - _ or ."),
                );
            }
            if !seen.insert(name.to_ascii_lowercase()) {
                return fail(key("name"), format!("'{name}' is used by two mailboxes"));
            }
            if mailbox.host.trim().is_empty() {
                return fail(key("host"), "must name the IMAP server".into());
            }
            if mailbox.port == Some(0) {
                return fail(key("port"), "must be a TCP port (1-65535)".into());
            }
            if mailbox.username.is_empty() {
                return fail(key("username"), "must not be empty".into());
            }
            if mailbox.ca_file.is_some() {
                if mailbox.tls == ImapTls::None {
                    return fail(
                        key("ca_file"),
                        "applies only with tls = \"tls\" or \"starttls\"".into(),
                    );
                }
                if let Err(why) = mailbox.ca_certificates() {
                    return fail(key("ca_file"), why);
                }
            }
            if mailbox.folder.trim().is_empty() {
                return fail(key("folder"), "must name a folder such as INBOX".into());
            }
            if mailbox
                .queue
                .as_deref()
                .is_some_and(|q| q.trim().is_empty())
            {
                return fail(key("queue"), "must name a queue, or be left out".into());
            }
            for (field, value) in [
                ("username", &mailbox.username),
                ("password", &mailbox.password),
                ("folder", &mailbox.folder),
            ] {
                if value.contains(['\r', '\n', '\0']) {
                    return fail(key(field), "must not contain line breaks".into());
                }
            }
            match mailbox.after {
                ImapAfter::Flag => {
                    if !is_settable_imap_flag(&mailbox.flag) {
                        return fail(
                            key("flag"),
                            format!(
                                "'{}' is not \\Seen, \\Flagged, \\Answered or a keyword such as relay-done",
                                mailbox.flag
                            ),
                        );
                    }
                }
                ImapAfter::Move => match mailbox.move_to.as_deref().map(str::trim) {
                    None | Some("") => {
                        return fail(key("move_to"), "is required with after = \"move\"".into())
                    }
                    Some(target) if target.contains(['\r', '\n', '\0']) => {
                        return fail(key("move_to"), "must not contain line breaks".into())
                    }
                    Some(target) if target.eq_ignore_ascii_case(mailbox.folder.trim()) => {
                        return fail(
                            key("move_to"),
                            "must differ from the folder that is polled".into(),
                        )
                    }
                    Some(_) => {}
                },
            }
        }
        Ok(())
    }

    pub fn bind_addr(&self) -> SocketAddr {
        self.server.bind.parse().expect("validated at load")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_are_valid_and_local() {
        let s = Settings::defaults();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert!(s.database.url.starts_with("sqlite://data/"));
    }

    #[test]
    fn proxy_and_metrics_settings_are_checked() {
        let refused = |key: &str, value: &str| {
            let fig = Figment::from(Toml::string(BUILT_IN_DEFAULTS)).merge((key, value));
            Settings::from_figment(fig).unwrap_err().to_string()
        };
        assert!(refused("server.trusted_proxy_hops", "0").contains("trusted_proxy_hops"));
        for bind in ["127.0.0.1:8080", "127.0.0.1:0", "localhost"] {
            let err = refused("metrics.bind", bind);
            assert!(err.contains("metrics.bind"), "{bind}: {err}");
        }
        assert!(refused("metrics.token", "short").contains("metrics.token"));
        assert!(refused("routing.default_capacity", "-1").contains("default_capacity"));
        assert!(refused("routing.default_capacity", "1001").contains("default_capacity"));
        let fig = Figment::from(Toml::string(BUILT_IN_DEFAULTS))
            .merge(("metrics.bind", "127.0.0.1:9090"))
            .merge(("metrics.token", "a-long-enough-secret"));
        let settings = Settings::from_figment(fig).unwrap();
        assert_eq!(
            settings.metrics.bind,
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert!(!format!("{settings:?}").contains("a-long-enough-secret"));
    }

    #[test]
    fn a_bad_setting_is_named_in_the_error() {
        let fig =
            Figment::from(Toml::string(BUILT_IN_DEFAULTS)).merge(("server.bind", "not-an-address"));
        let err = Settings::from_figment(fig).unwrap_err().to_string();
        assert!(err.contains("server.bind"), "{err}");

        let fig =
            Figment::from(Toml::string(BUILT_IN_DEFAULTS)).merge(("database.pool_size", "many"));
        let err = Settings::from_figment(fig).unwrap_err().to_string();
        assert!(err.contains("pool_size"), "{err}");

        let fig =
            Figment::from(Toml::string(BUILT_IN_DEFAULTS)).merge(("database.url", "mysql://x/y"));
        let err = Settings::from_figment(fig).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");
    }

    fn with_toml(toml: &str) -> Result<Settings, ConfigError> {
        Settings::from_figment(
            Figment::from(Toml::string(BUILT_IN_DEFAULTS)).merge(Toml::string(toml)),
        )
    }

    #[test]
    fn production_refuses_to_start_without_smtp() {
        let bare = Settings::defaults();
        let err = bare.check_environment(Some("production")).unwrap_err().0;
        assert!(
            err.contains("RELAY_ENV=production") && err.contains("[smtp]"),
            "{err}"
        );
        assert!(
            bare.check_environment(None).is_ok(),
            "a laptop keeps the file outbox"
        );
        assert!(bare.check_environment(Some("staging")).is_ok());
        let with_smtp = with_toml(SMTP).unwrap();
        assert!(with_smtp.check_environment(Some("production")).is_ok());
    }

    const MAILBOX: &str = r#"
        [[imap.mailboxes]]
        name = "support"
        host = "imap.example.com"
        tls = "tls"
        username = "support@example.com"
        password = "secret"
    "#;

    #[test]
    fn imap_mailboxes_have_sensible_defaults() {
        assert!(Settings::defaults().imap.mailboxes.is_empty());
        let s = with_toml(MAILBOX).unwrap();
        let mailbox = &s.imap.mailboxes[0];
        assert_eq!(mailbox.port(), 993);
        assert_eq!(mailbox.folder, "INBOX");
        assert_eq!(mailbox.after, ImapAfter::Flag);
        assert_eq!(mailbox.flag, "\\Seen");
        assert_eq!(mailbox.source(), "imap:support");
        assert!(!format!("{mailbox:?}").contains("secret"));
    }

    #[test]
    fn a_bad_imap_setting_is_named_in_the_error() {
        let cases = [
            ("[imap]\npoll_seconds = 0", "imap.poll_seconds"),
            (
                &format!("{MAILBOX}\nafter = \"move\""),
                "imap.mailboxes[0].move_to",
            ),
            (
                &format!("{MAILBOX}\nflag = \"bad flag\""),
                "imap.mailboxes[0].flag",
            ),
            (&MAILBOX.replace("\"tls\"", "\"ssl\""), "tls"),
            (&format!("{MAILBOX}\n{MAILBOX}"), "imap.mailboxes[1].name"),
            (
                &MAILBOX.replace("support\"", "sup port\""),
                "imap.mailboxes[0].name",
            ),
            (
                &MAILBOX.replace("imap.example.com", " "),
                "imap.mailboxes[0].host",
            ),
        ];
        for (toml, key) in cases {
            let err = with_toml(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        let ok = format!("{MAILBOX}\nafter = \"move\"\nmove_to = \"Relay\"\nflag = \"relay-done\"");
        assert!(with_toml(&ok).is_ok());
    }

    #[test]
    fn an_imap_ca_file_must_hold_certificates_and_go_with_tls() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let missing = dir.path().join("missing.pem");
        for (path, why) in [(&not_pem, "no PEM certificate"), (&missing, "cannot read")] {
            let toml = format!("{MAILBOX}\nca_file = \"{}\"", path.display());
            let err = with_toml(&toml).unwrap_err().to_string();
            assert!(
                err.contains("imap.mailboxes[0].ca_file") && err.contains(why),
                "{err}"
            );
        }
        let plain = MAILBOX.replace("\"tls\"", "\"none\"");
        let toml = format!("{plain}\nca_file = \"{}\"", not_pem.display());
        let err = with_toml(&toml).unwrap_err().to_string();
        assert!(err.contains("applies only with tls"), "{err}");
    }

    const SMTP: &str = r#"
        [smtp]
        host = "smtp.example.com"
        port = 587
        tls = "starttls"
        username = "relay"
        password = "hunter2"
    "#;

    #[test]
    fn an_smtp_ca_file_must_hold_certificates_and_go_with_tls() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let toml = format!("{SMTP}\nca_file = \"{}\"", not_pem.display());
        let err = with_toml(&toml).unwrap_err().to_string();
        assert!(
            err.contains("smtp.ca_file") && err.contains("no PEM certificate"),
            "{err}"
        );
        let plain = SMTP.replace("\"starttls\"", "\"none\"");
        let toml = format!("{plain}\nca_file = \"{}\"", not_pem.display());
        let err = with_toml(&toml).unwrap_err().to_string();
        assert!(err.contains("applies only with tls"), "{err}");

        let smtp = with_toml(SMTP).unwrap().smtp.unwrap();
        assert!(smtp.ca_certificates().unwrap().is_empty());
        let shown = format!("{smtp:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<hidden>"),
            "{shown}"
        );
    }
}
