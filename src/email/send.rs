//! Mail out, the lettre side: an outbox row becomes a MIME message, and a
//! transport (SMTP, or `.eml` files when `[smtp]` is not configured) delivers
//! it. The sender job only orchestrates; everything lettre-specific is here.

use super::outbox::Attempt;
use super::LOOP_HEADER;
use crate::config::{Settings, SmtpSettings, SmtpTls};
use crate::db::models::OutboxMessage;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Category;
use lettre::{Address, FileTransport, Message, SmtpTransport, Transport};
use std::time::Duration;

/// How long one SMTP conversation may stall before it counts as a failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The message cannot be built (an address lettre refuses...): trying
    /// again would fail the same way.
    #[error("the message cannot be built: {0}")]
    Invalid(String),
    /// No answer from the server (down, TLS, timeout) or one about the
    /// connection itself (53x: authentication); a later attempt may succeed.
    #[error("{0}")]
    Transport(String),
    /// The server answered 4xx to this message or a recipient (greylisting,
    /// a full mailbox): a later attempt may succeed.
    #[error("{0}")]
    Deferred(String),
    /// The server refused the message or a recipient for good (a 5xx reply
    /// such as an unknown mailbox): sending it again would be refused again.
    #[error("{0}")]
    Refused(String),
}

impl SendError {
    /// Whether another attempt could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Transport(_) | SendError::Deferred(_))
    }

    /// Whether the server answered about this message or its recipients
    /// (not about the connection): then sending to each recipient on its
    /// own may get some of them served.
    pub fn concerns_recipients(&self) -> bool {
        matches!(self, SendError::Deferred(_) | SendError::Refused(_))
    }
}

/// An address as it goes out: an internationalised domain in its ASCII
/// (punycode) form, which every server accepts, where raw UTF-8 needs
/// SMTPUTF8. (A non-ASCII local part has no such form; lettre uses SMTPUTF8
/// for it when the server offers it, and the message fails otherwise.)
fn address(what: &str, text: &str) -> Result<Address, SendError> {
    let invalid = |why: String| SendError::Invalid(format!("{what} '{text}': {why}"));
    let (user, domain) = text
        .rsplit_once('@')
        .ok_or_else(|| invalid("no @".into()))?;
    let domain = idna::domain_to_ascii(domain).map_err(|e| invalid(e.to_string()))?;
    Address::new(user, domain).map_err(|e| invalid(e.to_string()))
}

fn header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

/// The message for an outbox row and its recipients: From the support
/// address, To the row's `to_address` and Cc everyone else (all in To for
/// rows without one), Reply-To the ticket's reply address, threading headers,
/// `Auto-Submitted` on automatic mail, the loop header on everything, and
/// text plus HTML as multipart/alternative when there is HTML.
pub fn build_message(
    row: &OutboxMessage,
    recipients: &[String],
    settings: &Settings,
) -> Result<Message, SendError> {
    if recipients.is_empty() {
        return Err(SendError::Invalid("the message has no recipients".into()));
    }
    let from = Mailbox::new(
        Some(settings.email.from_name.clone()),
        address("support address", &settings.email.support_address)?,
    );
    let mut builder = Message::builder()
        .from(from)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}>", row.message_id)))
        .raw_header(header(LOOP_HEADER, &settings.email.message_id_domain));
    for recipient in recipients {
        let mailbox = Mailbox::new(None, address("recipient", recipient)?);
        let is_to = row
            .to_address
            .as_deref()
            .is_none_or(|to| to.eq_ignore_ascii_case(recipient));
        builder = if is_to {
            builder.to(mailbox)
        } else {
            builder.cc(mailbox)
        };
    }
    if let Some(reply_to) = &row.reply_to {
        builder = builder.reply_to(Mailbox::new(None, address("reply-to", reply_to)?));
    }
    if let Some(parent) = &row.in_reply_to {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    if let Some(references) = &row.references_header {
        builder = builder.references(references.clone());
    }
    if row.automatic {
        // RFC 3834; the Microsoft header keeps Exchange out-of-office
        // replies from answering an acknowledgement.
        builder = builder
            .raw_header(header("Auto-Submitted", "auto-replied"))
            .raw_header(header("X-Auto-Response-Suppress", "All"));
    }
    let built = match &row.body_html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            row.body_text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(SinglePart::plain(row.body_text.clone())),
    };
    built.map_err(|e| SendError::Invalid(e.to_string()))
}

/// Where mail goes: an SMTP server, or a folder of `.eml` files.
pub enum Mailer {
    Smtp(SmtpTransport),
    Files {
        transport: FileTransport,
        directory: std::path::PathBuf,
    },
}

impl Mailer {
    /// SMTP when `[smtp]` is configured, otherwise `.eml` files in
    /// `outbox.directory` (created if missing).
    pub fn from_settings(settings: &Settings) -> Result<Mailer, SendError> {
        match &settings.smtp {
            Some(smtp) => smtp_transport(smtp).map(Mailer::Smtp),
            None => {
                let dir = &settings.outbox.directory;
                private_directory(dir).map_err(|e| {
                    SendError::Transport(format!(
                        "cannot create the outbox directory {}: {e}",
                        dir.display()
                    ))
                })?;
                Ok(Mailer::Files {
                    transport: FileTransport::new(dir),
                    directory: dir.clone(),
                })
            }
        }
    }

    /// Sends to everyone waiting in one envelope (the To header may name
    /// more: those an earlier attempt served); when the server answers about
    /// the message or a recipient (not the connection) and there are several,
    /// once more to each on their own, so one refused or greylisted mailbox
    /// does not hold back the others.
    pub fn attempt(&self, message: &Message, waiting: &[String]) -> Attempt {
        let from = message.envelope().from();
        let raw = message.formatted();
        match self.send(from, &raw, waiting) {
            Err(err) if err.concerns_recipients() && waiting.len() > 1 => {
                let mut attempt = Attempt::default();
                for email in waiting {
                    attempt.record(email, self.send(from, &raw, std::slice::from_ref(email)));
                }
                attempt
            }
            result => Attempt::for_all(waiting, result),
        }
    }

    /// Sends the formatted message `raw` with this envelope.
    fn send(
        &self,
        from: Option<&Address>,
        raw: &[u8],
        recipients: &[String],
    ) -> Result<(), SendError> {
        let to = recipients
            .iter()
            .map(|r| address("recipient", r))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope =
            Envelope::new(from.cloned(), to).map_err(|e| SendError::Invalid(e.to_string()))?;
        match self {
            Mailer::Smtp(transport) => transport
                .send_raw(&envelope, raw)
                .map(drop)
                .map_err(classify),
            Mailer::Files {
                transport,
                directory,
            } => {
                let failed = |e: &dyn std::fmt::Display| {
                    SendError::Transport(format!("writing the .eml file: {e}"))
                };
                let id = transport.send_raw(&envelope, raw).map_err(|e| failed(&e))?;
                private_file(&directory.join(format!("{id}.eml"))).map_err(|e| failed(&e))
            }
        }
    }
}

/// Creates `dir` (and missing parents) readable by Relay's user alone: the
/// `.eml` files hold customers' private links.
fn private_directory(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Narrows a file lettre wrote (with the umask's mode) to 0600.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A 5xx reply is final, except 53x (authentication or encryption required
/// or refused): that is Relay's own settings at fault, which an administrator
/// can fix, so it is retried like an outage (as Postfix soft-bounces SASL
/// failures). A 4xx reply is deferred.
fn classify(error: lettre::transport::smtp::Error) -> SendError {
    let text = format!("SMTP: {error}");
    let about_connection = error
        .status()
        .is_some_and(|code| code.category == Category::Unspecified3);
    if about_connection {
        SendError::Transport(text)
    } else if error.is_permanent() {
        SendError::Refused(text)
    } else if error.is_transient() {
        SendError::Deferred(text)
    } else {
        SendError::Transport(text)
    }
}

fn smtp_transport(smtp: &SmtpSettings) -> Result<SmtpTransport, SendError> {
    let builder = SmtpTransport::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .timeout(Some(SMTP_TIMEOUT));
    let mut builder = match smtp.tls {
        SmtpTls::None => builder,
        // Required, not opportunistic: no mail or credentials go out if the
        // server does not offer STARTTLS (no downgrade).
        SmtpTls::Starttls => builder.tls(Tls::Required(tls_parameters(smtp)?)),
        SmtpTls::Tls => builder.tls(Tls::Wrapper(tls_parameters(smtp)?)),
    };
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// Verifies the server against the public roots plus `smtp.ca_file`.
fn tls_parameters(smtp: &SmtpSettings) -> Result<TlsParameters, SendError> {
    let failed =
        |why: String| SendError::Transport(format!("SMTP TLS set-up for {}: {why}", smtp.host));
    let mut parameters = TlsParameters::builder(smtp.host.clone());
    for certificate in smtp
        .ca_certificates()
        .map_err(|why| failed(format!("ca_file: {why}")))?
    {
        let certificate = Certificate::from_der(certificate.to_vec())
            .map_err(|e| failed(format!("ca_file: {e}")))?;
        parameters = parameters.add_root_certificate(certificate);
    }
    parameters.build().map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(automatic: bool, html: Option<&str>) -> OutboxMessage {
        let now = crate::clock::Clock::system().now_naive();
        OutboxMessage {
            id: "1".into(),
            ticket_id: Some("t".into()),
            kind: "reply".into(),
            subject: "[#10001] Printer on fire".into(),
            body_text: "Hello Ana,\nwe are on it.".into(),
            body_html: html.map(str::to_string),
            message_id: "abc@relay.localhost".into(),
            in_reply_to: Some("cust-2@example.com".into()),
            references_header: Some("<cust-1@example.com> <cust-2@example.com>".into()),
            reply_to: Some("support+t10001-sig@relay.localhost".into()),
            automatic,
            status: crate::domain::outbox::OutboxStatus::Sending.as_str().into(),
            attempts: 0,
            next_attempt_at: now,
            claimed_until: None,
            last_error: None,
            created_at: now,
            sent_at: None,
            to_address: None,
        }
    }

    fn formatted(row: &OutboxMessage, to: &[&str]) -> String {
        let to: Vec<String> = to.iter().map(|s| s.to_string()).collect();
        let message = build_message(row, &to, &Settings::defaults()).unwrap();
        String::from_utf8(message.formatted()).unwrap()
    }

    #[test]
    fn headers_carry_threading_reply_to_and_the_loop_marker() {
        let text = formatted(&row(true, Some("<p>Hello</p>")), &["ana@example.com"]);
        for expected in [
            "From: Support <support@relay.localhost>",
            "To: ana@example.com",
            "Reply-To: support+t10001-sig@relay.localhost",
            "Subject: [#10001] Printer on fire",
            "Message-ID: <abc@relay.localhost>",
            "In-Reply-To: <cust-2@example.com>",
            "References: <cust-1@example.com> <cust-2@example.com>",
            "Auto-Submitted: auto-replied",
            "X-Relay-Loop: relay.localhost",
            "multipart/alternative",
            "text/html",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
    }

    #[test]
    fn mail_a_person_wrote_is_not_marked_automatic() {
        let text = formatted(&row(false, None), &["ana@example.com", "bo@example.com"]);
        assert!(!text.contains("Auto-Submitted"), "{text}");
        assert!(!text.contains("multipart"), "{text}");
        assert!(text.contains("ana@example.com, bo@example.com"), "{text}");
    }

    #[test]
    fn the_customer_is_to_and_everyone_else_cc() {
        let mut row = row(false, None);
        row.to_address = Some("ana@example.com".into());
        let text = formatted(
            &row,
            &["bo@example.com", "ana@example.com", "cy@example.com"],
        );
        assert!(text.contains("To: ana@example.com\r\n"), "{text}");
        assert!(
            text.contains("Cc: bo@example.com, cy@example.com\r\n"),
            "{text}"
        );
    }

    #[test]
    fn internationalised_domains_go_out_as_punycode() {
        let text = formatted(&row(false, None), &["jose@bücher.example"]);
        assert!(text.contains("To: jose@xn--bcher-kva.example"), "{text}");
        assert!(text.is_ascii(), "{text}");
    }

    #[test]
    fn a_bad_address_is_not_worth_retrying() {
        let err = build_message(
            &row(false, None),
            &["not an address".into()],
            &Settings::defaults(),
        )
        .unwrap_err();
        assert!(!err.is_retryable());
        let err = build_message(&row(false, None), &[], &Settings::defaults()).unwrap_err();
        assert!(!err.is_retryable());
    }
}
