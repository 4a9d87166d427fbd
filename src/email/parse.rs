//! Raw RFC 5322 bytes to the facts Relay works with, via mail-parser
//! (charsets, quoted-printable/base64, RFC 2047 words, multipart).

use super::classify::MailFacts;
use super::thread::normalize_message_id;
use crate::attachments::Upload;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

/// Everything the pipeline needs from one message.
#[derive(Debug, Clone, Default)]
pub struct ParsedMail {
    pub message_id: Option<String>,
    /// In-Reply-To then References, normalised, without duplicates.
    pub referenced_ids: Vec<String>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Delivered-To and X-Original-To: where the MTA actually delivered it.
    pub delivered_to: Vec<String>,
    pub subject: String,
    pub text: String,
    /// Sanitised HTML, when the message had an HTML part.
    pub html: Option<String>,
    pub attachments: Vec<Upload>,
    pub facts: MailFacts,
    pub bounce: Option<BounceReport>,
}

/// What a delivery-status report says about the failed mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BounceReport {
    pub failed_recipients: Vec<String>,
    pub original_message_id: Option<String>,
    pub diagnostic: Option<String>,
}

impl ParsedMail {
    /// Every address the message was sent to, lower-cased (for routing and
    /// reply-address lookup).
    pub fn recipients(&self) -> impl Iterator<Item = &String> {
        self.to.iter().chain(&self.cc).chain(&self.delivered_to)
    }

    /// Each recipient once, in order of appearance (the support address is
    /// usually in both To and Delivered-To).
    pub fn unique_recipients(&self) -> Vec<&String> {
        let mut seen: Vec<&String> = Vec::new();
        for address in self.recipients() {
            if !seen.contains(&address) {
                seen.push(address);
            }
        }
        seen
    }
}

impl ParsedMail {
    /// Removes NUL from every text that may reach the database. Mail may
    /// carry NUL (even base64 decodes to one) and PostgreSQL refuses it in
    /// text, so a message would otherwise never be stored; a NUL means
    /// nothing in mail text.
    fn remove_nul(&mut self) {
        let facts = &mut self.facts;
        let texts = [&mut self.subject, &mut self.text, &mut facts.from]
            .into_iter()
            .chain(facts.return_path.as_mut())
            .chain(facts.auto_submitted.as_mut())
            .chain(facts.precedence.as_mut())
            .chain(facts.message_id.as_mut())
            .chain(facts.relay_loop.as_mut())
            .chain(self.message_id.as_mut())
            .chain(self.from_address.as_mut())
            .chain(self.from_name.as_mut())
            .chain(self.html.as_mut())
            .chain(self.referenced_ids.iter_mut())
            .chain(self.to.iter_mut())
            .chain(self.cc.iter_mut())
            .chain(self.delivered_to.iter_mut())
            .chain(
                self.attachments
                    .iter_mut()
                    .flat_map(|a| [&mut a.filename, &mut a.content_type]),
            );
        let bounce = self.bounce.iter_mut().flat_map(|b| {
            b.failed_recipients
                .iter_mut()
                .chain(b.original_message_id.as_mut())
                .chain(b.diagnostic.as_mut())
        });
        for text in texts.chain(bounce) {
            if text.contains('\0') {
                text.retain(|c| c != '\0');
            }
        }
    }
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address
        .map(|a| {
            a.iter()
                .filter_map(|a| a.address())
                .map(|s| s.trim().to_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

fn text_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => t.split_whitespace().map(str::to_string).collect(),
        HeaderValue::TextList(list) => list.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn header_text(message: &Message<'_>, name: &str) -> Option<String> {
    message.header_raw(name).map(|v| v.trim().to_string())
}

fn all_header_values(message: &Message<'_>, name: &str) -> Vec<String> {
    message
        .headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().trim_matches(['<', '>']).to_lowercase())
        .collect()
}

/// Parses a raw message. `None` only when mail-parser finds no message at
/// all (the caller keeps the raw bytes and reports it).
pub fn parse(raw: &[u8]) -> Option<ParsedMail> {
    let message = MessageParser::default().parse(raw)?;
    let from = message.from().and_then(|a| a.first());
    let mut referenced_ids = Vec::new();
    for id in text_list(message.in_reply_to())
        .into_iter()
        .chain(text_list(message.references()))
    {
        if let Some(id) = normalize_message_id(&id) {
            if !referenced_ids.contains(&id) {
                referenced_ids.push(id);
            }
        }
    }
    let content_type = message.root_part().content_type();
    let is_delivery_report = content_type.is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    let facts = MailFacts {
        from: from
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_lowercase(),
        return_path: header_text(&message, "Return-Path"),
        auto_submitted: header_text(&message, "Auto-Submitted"),
        precedence: header_text(&message, "Precedence"),
        has_autoreply_header: message.header_raw("X-Autoreply").is_some()
            || message.header_raw("X-Autorespond").is_some(),
        has_list_id: message.header_raw("List-Id").is_some(),
        is_delivery_report,
        message_id: message.message_id().map(str::to_string),
        relay_loop: header_text(&message, super::LOOP_HEADER),
    };
    let html_part = message.html_bodies().next().filter(|p| p.is_text_html());
    let html = html_part
        .and_then(|p| p.text_contents())
        .map(ammonia::clean);
    let text = message
        .body_text(0)
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let mut delivered_to = all_header_values(&message, "Delivered-To");
    delivered_to.extend(all_header_values(&message, "X-Original-To"));
    let bounce = is_delivery_report
        .then(|| bounce_report(&message))
        .or_else(|| {
            // Some MTAs send plain-text bounces; still note what we can.
            facts
                .from
                .starts_with("mailer-daemon@")
                .then(|| bounce_report(&message))
        });
    let mut mail = ParsedMail {
        message_id: message.message_id().and_then(normalize_message_id),
        referenced_ids,
        from_name: from
            .and_then(|a| a.name())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        from_address: from
            .and_then(|a| a.address())
            .map(|a| a.trim().to_lowercase()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        delivered_to,
        subject: message.subject().unwrap_or_default().trim().to_string(),
        text,
        html,
        attachments: attachments(&message),
        facts,
        bounce,
    };
    mail.remove_nul();
    Some(mail)
}

fn attachments(message: &Message<'_>) -> Vec<Upload> {
    message
        .attachments()
        .filter_map(|part| {
            let bytes = match &part.body {
                PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
                PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
                PartType::Message(m) => m.raw_message().to_vec(),
                PartType::Multipart(_) => return None,
            };
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_lowercase();
            let filename = part
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| match content_type.as_str() {
                    "message/rfc822" => "message.eml".into(),
                    _ => "attachment".into(),
                });
            Some(Upload {
                filename,
                content_type,
                bytes,
            })
        })
        .collect()
}

/// Reads the machine-readable parts of an RFC 3464 report.
fn bounce_report(message: &Message<'_>) -> BounceReport {
    let mut report = BounceReport::default();
    for part in &message.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let kind = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_lowercase();
        match (&part.body, kind.as_str()) {
            (PartType::Message(original), _) => {
                report.original_message_id = report
                    .original_message_id
                    .take()
                    .or_else(|| original.message_id().and_then(normalize_message_id));
            }
            (body, "message/delivery-status") => {
                let text = match body {
                    PartType::Text(t) => t.to_string(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    _ => continue,
                };
                for line in text.lines() {
                    let Some((name, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.trim();
                    if name.trim().eq_ignore_ascii_case("Final-Recipient")
                        || name.trim().eq_ignore_ascii_case("Original-Recipient")
                    {
                        let address = value
                            .rsplit(';')
                            .next()
                            .unwrap_or(value)
                            .trim()
                            .to_lowercase();
                        if !address.is_empty() && !report.failed_recipients.contains(&address) {
                            report.failed_recipients.push(address);
                        }
                    } else if name.trim().eq_ignore_ascii_case("Diagnostic-Code") {
                        report.diagnostic.get_or_insert_with(|| value.to_string());
                    }
                }
            }
            (body, "text/rfc822-headers") => {
                let text = match body {
                    PartType::Text(t) => t.to_string(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    _ => continue,
                };
                if let Some(headers) = MessageParser::default().parse_headers(text.as_bytes()) {
                    report.original_message_id = report
                        .original_message_id
                        .take()
                        .or_else(|| headers.message_id().and_then(normalize_message_id));
                }
            }
            _ => {}
        }
    }
    // Bounces usually reference the failed message in their own headers too.
    if report.original_message_id.is_none() {
        report.original_message_id = text_list(message.in_reply_to())
            .first()
            .and_then(|id| normalize_message_id(id));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_removed_from_every_text_of_a_message() {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode("pay\0ment failed");
        let file = base64::engine::general_purpose::STANDARD.encode("a\0b");
        let raw = format!(
            "From: =?utf-8?B?{name}?= <ana@example.com>\r\n\
             To: support@relay.localhost\r\n\
             Cc: =?utf-8?B?{name}?= <b\0o@example.com>\r\n\
             Subject: =?utf-8?B?{subject}?=\r\n\
             Message-ID: <id\0x@example.com>\r\n\
             In-Reply-To: <parent\0@example.com>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\
             \r\n\
             --b\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             {body}\r\n\
             --b\r\n\
             Content-Type: application/octet-stream; name=\"=?utf-8?B?{filename}?=\"\r\n\
             Content-Disposition: attachment; filename=\"=?utf-8?B?{filename}?=\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             {file}\r\n\
             --b--\r\n",
            name = base64::engine::general_purpose::STANDARD.encode("A\0na"),
            subject = base64::engine::general_purpose::STANDARD.encode("Sub\0ject"),
            filename = base64::engine::general_purpose::STANDARD.encode("in\0voice.pdf"),
        );
        let mail = parse(raw.as_bytes()).unwrap();
        assert_eq!(mail.text, "payment failed");
        assert_eq!(mail.subject, "Subject");
        assert_eq!(mail.from_name.as_deref(), Some("Ana"));
        assert_eq!(mail.message_id.as_deref(), Some("idx@example.com"));
        assert_eq!(mail.referenced_ids, ["parent@example.com"]);
        assert_eq!(mail.cc, ["bo@example.com"]);
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].filename, "invoice.pdf");
        assert_eq!(
            mail.attachments[0].bytes, b"a\0b",
            "attachment contents are bytes and stay as they are"
        );
    }
}
