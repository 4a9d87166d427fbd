//! Settings: built-in defaults < config/default.toml < config/$RELAY_ENV.toml
//! < RELAY__SECTION__KEY environment variables (and DATABASE_URL).

use figment::providers::{Env, Format, Toml};
use figment::Figment;
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
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
        Self::from_figment(figment)
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
        if self.database.pool_size == 0 {
            return fail("database.pool_size", "must be at least 1".into());
        }
        if let Err(e) = crate::db::connection::DatabaseTarget::parse(&self.database.url) {
            return Err(ConfigError(e.to_string()));
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
}
