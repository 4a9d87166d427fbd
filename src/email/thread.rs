//! Which ticket an incoming message belongs to. A pure decision over facts
//! the caller has looked up, in the documented order of trust:
//! (1) In-Reply-To/References naming a Message-ID of a ticket,
//! (2) a per-ticket reply address with a valid signature,
//! (3) a `[#number]` subject token, only from that ticket's customer or a
//!     participant (so customer B cannot write into customer A's ticket).

/// A ticket the message might belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ticket_id: String,
    pub number: i64,
    pub closed: bool,
    /// Lower-cased addresses allowed to thread by subject token alone: the
    /// customer and the participants.
    pub known_senders: Vec<String>,
}

impl Candidate {
    /// Whether `sender` is the ticket's customer or a participant.
    pub fn knows(&self, sender: &str) -> bool {
        self.known_senders
            .iter()
            .any(|s| s.eq_ignore_ascii_case(sender))
    }
}

#[derive(Debug, Default)]
pub struct Evidence<'a> {
    /// The sender's address, lower-cased.
    pub sender: &'a str,
    pub by_message_id: Option<&'a Candidate>,
    pub by_reply_address: Option<&'a Candidate>,
    pub by_subject_token: Option<&'a Candidate>,
}

pub use crate::domain::event::ThreadRule as Rule;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Add the message to this ticket.
    Append {
        ticket_id: String,
        rule: Rule,
    },
    /// The ticket is closed: open a follow-up linked to it.
    FollowUp {
        closed_ticket_id: String,
        rule: Rule,
    },
    New,
}

pub fn decide(evidence: &Evidence<'_>) -> Decision {
    let found = evidence
        .by_message_id
        .map(|c| (c, Rule::MessageId))
        .or_else(|| evidence.by_reply_address.map(|c| (c, Rule::ReplyAddress)))
        .or_else(|| {
            evidence
                .by_subject_token
                .filter(|c| c.knows(evidence.sender))
                .map(|c| (c, Rule::SubjectToken))
        });
    match found {
        Some((c, rule)) if c.closed => Decision::FollowUp {
            closed_ticket_id: c.ticket_id.clone(),
            rule,
        },
        Some((c, rule)) => Decision::Append {
            ticket_id: c.ticket_id.clone(),
            rule,
        },
        None => Decision::New,
    }
}

/// The ticket number in a `[#10042]` subject token, wherever it stands.
pub fn subject_ticket_number(subject: &str) -> Option<i64> {
    let mut rest = subject;
    while let Some(start) = rest.find("[#") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find(']') {
            if let Ok(number) = after[..end].trim().parse::<i64>() {
                if number > 0 {
                    return Some(number);
                }
            }
        }
        rest = after;
    }
    None
}

/// The subject Relay puts on mail about a ticket: reply prefixes and any
/// older token dropped, then `[#number]` in front.
pub fn outgoing_subject(number: i64, subject: &str) -> String {
    let mut core = subject.trim();
    loop {
        let lower = core.to_lowercase();
        let stripped = ["re:", "aw:", "fw:", "fwd:", "sv:", "odp:", "rv:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| core[p.len()..].trim_start());
        match stripped {
            Some(rest) => core = rest,
            None => break,
        }
    }
    let token = format!("[#{number}]");
    let core = core.replace(&token, "");
    format!("{token} {}", core.trim())
}

/// `<abc@host>` and `abc@host` name the same message.
pub fn normalize_message_id(raw: &str) -> Option<String> {
    let id = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty() && id.len() <= 512).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(id: &str, closed: bool, senders: &[&str]) -> Candidate {
        Candidate {
            ticket_id: id.into(),
            number: 10042,
            closed,
            known_senders: senders.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn message_id_wins_over_everything_else() {
        let a = ticket("a", false, &[]);
        let b = ticket("b", false, &["x@example.com"]);
        let decision = decide(&Evidence {
            sender: "x@example.com",
            by_message_id: Some(&a),
            by_reply_address: Some(&b),
            by_subject_token: Some(&b),
        });
        assert_eq!(
            decision,
            Decision::Append {
                ticket_id: "a".into(),
                rule: Rule::MessageId
            }
        );
    }

    #[test]
    fn the_reply_address_threads_when_references_were_stripped() {
        let a = ticket("a", false, &["ana@example.com"]);
        let decision = decide(&Evidence {
            sender: "someone-else@example.com",
            by_reply_address: Some(&a),
            ..Default::default()
        });
        assert_eq!(
            decision,
            Decision::Append {
                ticket_id: "a".into(),
                rule: Rule::ReplyAddress
            }
        );
    }

    #[test]
    fn a_subject_token_only_counts_for_the_customer_or_participants() {
        let a = ticket("a", false, &["ana@example.com", "cc@example.com"]);
        let stranger = Evidence {
            sender: "bob@example.com",
            by_subject_token: Some(&a),
            ..Default::default()
        };
        assert_eq!(decide(&stranger), Decision::New);
        let customer = Evidence {
            sender: "ANA@example.com",
            by_subject_token: Some(&a),
            ..Default::default()
        };
        assert_eq!(
            decide(&customer),
            Decision::Append {
                ticket_id: "a".into(),
                rule: Rule::SubjectToken
            }
        );
    }

    #[test]
    fn a_reply_to_a_closed_ticket_follows_up() {
        let closed = ticket("c", true, &[]);
        let decision = decide(&Evidence {
            sender: "ana@example.com",
            by_message_id: Some(&closed),
            ..Default::default()
        });
        assert_eq!(
            decision,
            Decision::FollowUp {
                closed_ticket_id: "c".into(),
                rule: Rule::MessageId
            }
        );
        assert_eq!(decide(&Evidence::default()), Decision::New);
    }

    #[test]
    fn subject_tokens_are_found_anywhere_and_garbage_is_ignored() {
        assert_eq!(
            subject_ticket_number("Re: [#10042] Card declined"),
            Some(10042)
        );
        assert_eq!(subject_ticket_number("AW: Card declined [#7]"), Some(7));
        assert_eq!(subject_ticket_number("[#abc] then [#12]"), Some(12));
        assert_eq!(subject_ticket_number("[#0]"), None);
        assert_eq!(subject_ticket_number("no token #10042"), None);
    }

    #[test]
    fn outgoing_subjects_carry_one_token_and_no_reply_prefixes() {
        assert_eq!(
            outgoing_subject(10042, "Re: RE: Fwd: Card declined"),
            "[#10042] Card declined"
        );
        assert_eq!(
            outgoing_subject(10042, "Re: [#10042] Card declined"),
            "[#10042] Card declined"
        );
    }

    #[test]
    fn message_ids_compare_without_angle_brackets() {
        assert_eq!(
            normalize_message_id(" <a.b@host> ").as_deref(),
            Some("a.b@host")
        );
        assert_eq!(normalize_message_id("<>"), None);
    }
}
