//! Logging set-up: human-readable text by default, JSON lines when asked.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    let requested = std::env::var("RELAY_LOG").ok();
    let filter = EnvFilter::try_new(log_directives(requested.as_deref()))
        .unwrap_or_else(|_| EnvFilter::new(log_directives(None)));
    // Colour codes only for a person at a terminal, not in files or `docker logs`.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    // A second init (tests start many apps in one process) is harmless.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// actix-http's connection dispatcher logs every request it refuses by
/// itself (a malformed request line, a head over its size limit, a client
/// gone mid-request) as `ERROR stream error`: a stranger's bad request is not
/// a server error, and one log line at ERROR per such request would let
/// anyone fill the log and bury real errors. Those lines are dropped unless
/// `RELAY_LOG` names `actix_http` itself (e.g. `info,actix_http=debug`).
const QUIET_DISPATCHER: &str = "actix_http::h1::dispatcher=off";

/// The filter directives: `RELAY_LOG` (default `info`) plus the quiet
/// dispatcher.
fn log_directives(requested: Option<&str>) -> String {
    match requested.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.contains("actix_http") => r.to_string(),
        Some(r) => format!("{r},{QUIET_DISPATCHER}"),
        None => format!("info,{QUIET_DISPATCHER}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatcher_is_quiet_unless_asked_for() {
        assert_eq!(log_directives(None), "info,actix_http::h1::dispatcher=off");
        assert_eq!(
            log_directives(Some("debug")),
            "debug,actix_http::h1::dispatcher=off"
        );
        assert_eq!(
            log_directives(Some("info,actix_http=trace")),
            "info,actix_http=trace"
        );
    }
}
