//! `relay mailgate`: the MTA's door into Relay. Reads one raw message on
//! standard input and posts it to `POST /api/v1/inbound/email` of a running
//! Relay. Needs no configuration file and no database, only the URL and an
//! intake token.
//!
//! The exit status follows sysexits(3), which is what Postfix `pipe`,
//! sendmail aliases and friends understand:
//! - 0: Relay took the message (any 2xx: created, appended, duplicate...).
//! - 75 `EX_TEMPFAIL`: Relay unreachable, too slow, 5xx, 429 or 408; the MTA
//!   keeps the message and retries, and ingest recognises a retry.
//! - 65 `EX_DATAERR`: Relay refused the message for good (other 4xx: bad
//!   request, wrong token, too large...); the MTA bounces it.
//! - 64 `EX_USAGE`: the command line is wrong (bad `--url`).
//!
//! Every failure prints one line on standard error saying why.

use std::io::Read;
use std::time::Duration;

pub const EX_OK: i32 = 0;
pub const EX_USAGE: i32 = 64;
pub const EX_DATAERR: i32 = 65;
pub const EX_TEMPFAIL: i32 = 75;

/// What `relay mailgate` was told.
#[derive(Debug, Clone)]
pub struct MailgateArgs {
    /// Relay's base URL, e.g. `https://relay.example.com`.
    pub url: String,
    pub token: String,
    /// Queue (slug or id) for tickets this message opens.
    pub queue: Option<String>,
    /// Longest wait for connecting, and for the whole request.
    pub timeout: Duration,
}

/// The end of one delivery: the exit status and the line explaining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    pub code: i32,
    pub message: String,
}

impl Finish {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Finish {
            code,
            message: message.into(),
        }
    }
}

/// The exit status for an HTTP status from Relay.
pub fn exit_code_for(status: u16) -> i32 {
    match status {
        200..=299 => EX_OK,
        // Busy or broken now, fine later: let the MTA retry.
        408 | 429 | 500..=599 => EX_TEMPFAIL,
        400..=499 => EX_DATAERR,
        // Redirects (not followed: a POST must not turn into a GET) and
        // anything unexpected point at a setup problem on our side; keep the
        // mail queued rather than bounce it.
        _ => EX_TEMPFAIL,
    }
}

/// `{base}/api/v1/inbound/email?source=mailgate[&queue=...]`.
pub fn endpoint(base: &str, queue: Option<&str>) -> Result<url::Url, String> {
    let parsed =
        url::Url::parse(base.trim()).map_err(|e| format!("--url '{base}' is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "--url '{base}' must be an http:// or https:// address of Relay"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "--url '{base}' must be Relay's base address, without ?query or #fragment"
        ));
    }
    let mut url = parsed.clone();
    let path = format!(
        "{}/api/v1/inbound/email",
        parsed.path().trim_end_matches('/')
    );
    url.set_path(&path);
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("source", "mailgate");
        if let Some(queue) = queue {
            query.append_pair("queue", queue);
        }
    }
    Ok(url)
}

/// Reads the message from `input` and delivers it.
pub fn deliver_from(args: &MailgateArgs, input: &mut impl Read) -> Finish {
    let url = match endpoint(&args.url, args.queue.as_deref()) {
        Ok(url) => url,
        Err(why) => return Finish::new(EX_USAGE, why),
    };
    if args.token.trim().is_empty() {
        return Finish::new(
            EX_USAGE,
            "--token (or RELAY_MAILGATE_TOKEN) must hold an intake token",
        );
    }
    let mut raw = Vec::new();
    if let Err(err) = input.read_to_end(&mut raw) {
        return Finish::new(
            EX_TEMPFAIL,
            format!("cannot read the message on standard input: {err}"),
        );
    }
    if raw.is_empty() {
        return Finish::new(EX_DATAERR, "no message on standard input");
    }
    deliver(args, &url, &raw)
}

fn deliver(args: &MailgateArgs, url: &url::Url, raw: &[u8]) -> Finish {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(args.timeout)
        .timeout(args.timeout)
        .redirects(0)
        .user_agent(concat!("relay-mailgate/", env!("CARGO_PKG_VERSION")))
        .build();
    let response = agent
        .post(url.as_str())
        .set("Content-Type", "message/rfc822")
        .set("Authorization", &format!("Bearer {}", args.token.trim()))
        .send_bytes(raw);
    let response = match response {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(err)) => {
            return Finish::new(
                EX_TEMPFAIL,
                format!(
                    "cannot reach Relay at {}: {}; the MTA will retry",
                    without_query(url),
                    transport_reason(&err)
                ),
            )
        }
    };
    let status = response.status();
    let status_text = response.status_text().to_string();
    let body = response.into_string().unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&body).ok();
    let code = exit_code_for(status);
    let message = match (code, &detail) {
        (EX_OK, Some(result)) => {
            let outcome = result["outcome"].as_str().unwrap_or("delivered");
            match result["ticket"]["number"].as_i64() {
                Some(number) => format!("{outcome}: ticket #{number}"),
                None => outcome.to_string(),
            }
        }
        (EX_OK, None) => format!("delivered ({status} {status_text})"),
        _ => {
            let why = detail
                .as_ref()
                .and_then(|d| d["detail"].as_str().or(d["title"].as_str()))
                .map(str::to_string)
                .unwrap_or_else(|| {
                    body.lines()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(200)
                        .collect()
                });
            let then = if code == EX_TEMPFAIL {
                "the MTA will retry"
            } else {
                "the message is refused"
            };
            format!("Relay answered {status} {status_text}: {why}; {then}")
        }
    };
    Finish::new(code, message)
}

/// "Connection Failed: Connection refused (os error 111)", without the URL
/// that ureq's own message repeats.
fn transport_reason(err: &ureq::Transport) -> String {
    let mut parts = vec![err.kind().to_string()];
    if let Some(message) = err.message() {
        parts.push(message.to_string());
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.dedup();
    parts.join(": ")
}

fn without_query(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

/// `relay mailgate`: delivers standard input and reports on standard error
/// (standard output gets the outcome when all went well).
pub fn run(args: &MailgateArgs) -> i32 {
    let finish = deliver_from(args, &mut std::io::stdin().lock());
    if finish.code == EX_OK {
        println!("relay mailgate: {}", finish.message);
    } else {
        eprintln!("relay mailgate: {}", finish.message);
    }
    finish.code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_sysexits() {
        for (status, code) in [
            (200, EX_OK),
            (201, EX_OK),
            (400, EX_DATAERR),
            (401, EX_DATAERR),
            (403, EX_DATAERR),
            (413, EX_DATAERR),
            (422, EX_DATAERR),
            (408, EX_TEMPFAIL),
            (429, EX_TEMPFAIL),
            (500, EX_TEMPFAIL),
            (502, EX_TEMPFAIL),
            (503, EX_TEMPFAIL),
            (301, EX_TEMPFAIL),
        ] {
            assert_eq!(exit_code_for(status), code, "{status}");
        }
    }

    #[test]
    fn the_endpoint_keeps_a_path_prefix_and_encodes_the_queue() {
        let url = endpoint("https://relay.example.com/", None).unwrap();
        assert_eq!(
            url.as_str(),
            "https://relay.example.com/api/v1/inbound/email?source=mailgate"
        );
        let url = endpoint("http://10.0.0.1:8080/relay", Some("billing en")).unwrap();
        assert_eq!(
            url.as_str(),
            "http://10.0.0.1:8080/relay/api/v1/inbound/email?source=mailgate&queue=billing+en"
        );
        assert!(endpoint("relay.example.com", None).is_err());
        assert!(endpoint("ftp://relay.example.com", None).is_err());
        assert!(endpoint("http://relay.example.com/?x=1", None).is_err());
    }

    #[test]
    fn nothing_is_sent_without_a_message_or_with_a_bad_url() {
        let args = MailgateArgs {
            url: "http://127.0.0.1:9".into(),
            token: "rly_x".into(),
            queue: None,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(deliver_from(&args, &mut &b""[..]).code, EX_DATAERR);
        let bad = MailgateArgs {
            url: "not a url".into(),
            ..args.clone()
        };
        assert_eq!(
            deliver_from(&bad, &mut &b"Subject: x\r\n\r\nx"[..]).code,
            EX_USAGE
        );
        let no_token = MailgateArgs {
            token: " ".into(),
            ..args
        };
        assert_eq!(
            deliver_from(&no_token, &mut &b"Subject: x\r\n\r\nx"[..]).code,
            EX_USAGE
        );
    }
}
