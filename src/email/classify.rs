//! What kind of mail arrived: a person writing, an automatic reply, a
//! bounce, or Relay's own mail coming back. Pure; RFC 3834 and RFC 3464.

use serde::Serialize;

/// The header facts classification needs, extracted by the parser.
#[derive(Debug, Default, Clone)]
pub struct MailFacts {
    pub from: String,
    pub return_path: Option<String>,
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub has_autoreply_header: bool,
    pub has_list_id: bool,
    /// e.g. `multipart/report; report-type=delivery-status`.
    pub is_delivery_report: bool,
    pub message_id: Option<String>,
    /// Relay's loop header, if present.
    pub relay_loop: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InboundKind {
    Regular,
    /// Stored on the ticket, never acknowledged, never re-opens.
    Automatic {
        reason: String,
    },
    /// A delivery failure report about mail Relay sent.
    Bounce,
    /// Mail Relay sent itself: ignored.
    OwnMail,
}

pub fn classify(facts: &MailFacts, own_domain: &str) -> InboundKind {
    let own_id = facts
        .message_id
        .as_deref()
        .and_then(|id| id.rsplit_once('@'))
        .is_some_and(|(_, domain)| {
            domain
                .trim_end_matches('>')
                .eq_ignore_ascii_case(own_domain)
        });
    if facts.relay_loop.is_some() || own_id {
        return InboundKind::OwnMail;
    }
    let local_part = facts
        .from
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let null_return_path = facts
        .return_path
        .as_deref()
        .is_some_and(|r| r.trim().trim_matches(['<', '>']).is_empty());
    if facts.is_delivery_report
        || local_part == "mailer-daemon"
        || (null_return_path && local_part == "postmaster")
    {
        return InboundKind::Bounce;
    }
    let automatic = |reason: String| InboundKind::Automatic { reason };
    if let Some(value) = facts.auto_submitted.as_deref() {
        let value = value.trim().to_ascii_lowercase();
        if !value.is_empty() && !value.starts_with("no") {
            return automatic(format!("Auto-Submitted: {value}"));
        }
    }
    if let Some(value) = facts.precedence.as_deref() {
        let value = value.trim().to_ascii_lowercase();
        if matches!(value.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return automatic(format!("Precedence: {value}"));
        }
    }
    if facts.has_autoreply_header {
        return automatic("X-Autoreply/X-Autorespond header".into());
    }
    if facts.has_list_id {
        return automatic("mailing list (List-Id)".into());
    }
    if null_return_path {
        return automatic("null return path".into());
    }
    InboundKind::Regular
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(addr: &str) -> MailFacts {
        MailFacts {
            from: addr.into(),
            ..Default::default()
        }
    }

    #[test]
    fn people_are_regular() {
        let mut f = from("ana@example.com");
        f.auto_submitted = Some("no".into());
        assert_eq!(classify(&f, "relay.example"), InboundKind::Regular);
    }

    #[test]
    fn rfc3834_auto_replies_and_lists_are_automatic() {
        type Setter = fn(&mut MailFacts);
        let cases: [Setter; 7] = [
            |f| f.auto_submitted = Some("auto-replied".into()),
            |f| f.precedence = Some("bulk".into()),
            |f| f.precedence = Some("Junk".into()),
            |f| f.precedence = Some("list".into()),
            |f| f.has_autoreply_header = true,
            |f| f.has_list_id = true,
            |f| f.return_path = Some("<>".into()),
        ];
        for set in cases {
            let mut f = from("ana@example.com");
            set(&mut f);
            assert!(
                matches!(classify(&f, "relay.example"), InboundKind::Automatic { .. }),
                "{f:?}"
            );
        }
    }

    #[test]
    fn bounces_are_recognised() {
        let mut report = from("postmaster@example.com");
        report.is_delivery_report = true;
        assert_eq!(classify(&report, "relay.example"), InboundKind::Bounce);
        assert_eq!(
            classify(&from("MAILER-DAEMON@mx.example.com"), "relay.example"),
            InboundKind::Bounce
        );
        let mut postmaster = from("postmaster@example.com");
        postmaster.return_path = Some("<>".into());
        assert_eq!(classify(&postmaster, "relay.example"), InboundKind::Bounce);
    }

    #[test]
    fn relays_own_mail_is_recognised_first() {
        let mut own = from("support@relay.example");
        own.message_id = Some("<abc@Relay.Example>".into());
        own.auto_submitted = Some("auto-replied".into());
        assert_eq!(classify(&own, "relay.example"), InboundKind::OwnMail);
        let mut looped = from("x@elsewhere.example");
        looped.relay_loop = Some("relay.example".into());
        assert_eq!(classify(&looped, "relay.example"), InboundKind::OwnMail);
    }
}
