//! The transactional outbox: mail is written here in the same transaction as
//! the change that caused it; the sender job delivers it later.

use super::reply_address::ReplyAddresses;
use super::thread::outgoing_subject;
use crate::config::Settings;
use crate::db::models::{OutboxMessage, OutboxRecipient};
use crate::db::schema::{outbox, outbox_recipients};
use crate::db::DbConnection;
use crate::error::AppResult;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// What a message is for; acknowledgements are rate-limited per recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Acknowledgement,
    Reply,
    Notification,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Acknowledgement => "acknowledgement",
            MailKind::Reply => "reply",
            MailKind::Notification => "notification",
        }
    }
}

/// A message to send about a ticket.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub ticket_id: String,
    pub ticket_number: i64,
    pub kind: MailKind,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Message-IDs this continues, oldest first (for In-Reply-To/References).
    pub thread: Vec<String>,
    /// `Auto-Submitted: auto-replied` (RFC 3834) for mail no person wrote.
    pub automatic: bool,
}

/// A fresh Message-ID under Relay's domain (without angle brackets).
pub fn new_message_id(settings: &Settings) -> String {
    format!(
        "{}@{}",
        uuid::Uuid::now_v7().simple(),
        settings.email.message_id_domain
    )
}

/// Writes the message into the outbox; returns its Message-ID.
pub fn enqueue(
    conn: &mut DbConnection,
    settings: &Settings,
    replies: &ReplyAddresses,
    mail: OutgoingMail,
    now: NaiveDateTime,
) -> AppResult<String> {
    let message_id = new_message_id(settings);
    let row = OutboxMessage {
        id: uuid::Uuid::now_v7().to_string(),
        ticket_id: Some(mail.ticket_id.clone()),
        kind: mail.kind.as_str().into(),
        subject: outgoing_subject(mail.ticket_number, &mail.subject),
        body_text: mail.body_text,
        body_html: mail.body_html,
        message_id: message_id.clone(),
        in_reply_to: mail.thread.last().cloned(),
        references_header: (!mail.thread.is_empty()).then(|| {
            mail.thread
                .iter()
                .map(|id| format!("<{id}>"))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        reply_to: Some(replies.for_ticket(mail.ticket_number)),
        automatic: mail.automatic,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        claimed_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
    };
    diesel::insert_into(outbox::table)
        .values(&row)
        .execute(conn)?;
    // One statement per recipient: the multi-backend connection has no batch insert.
    for email in &mail.recipients {
        let recipient = OutboxRecipient {
            outbox_id: row.id.clone(),
            email: email.to_lowercase(),
        };
        crate::insert_ignoring_conflicts!(conn, outbox_recipients::table, &recipient)?;
    }
    Ok(message_id)
}

/// How many acknowledgements went to `email` in the last hour; used to keep
/// a misbehaving autoresponder from starting a loop.
pub fn recent_acknowledgements(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
) -> AppResult<i64> {
    Ok(outbox_recipients::table
        .inner_join(outbox::table)
        .filter(outbox_recipients::email.eq(email.to_lowercase()))
        .filter(outbox::kind.eq(MailKind::Acknowledgement.as_str()))
        .filter(outbox::created_at.gt(now - Duration::hours(1)))
        .count()
        .get_result(conn)?)
}

/// The ticket a Message-ID we sent belongs to.
pub fn ticket_of_message_ids(conn: &mut DbConnection, ids: &[String]) -> AppResult<Option<String>> {
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(outbox::table
        .filter(outbox::message_id.eq_any(ids))
        .filter(outbox::ticket_id.is_not_null())
        .order(outbox::created_at.desc())
        .select(outbox::ticket_id)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}
