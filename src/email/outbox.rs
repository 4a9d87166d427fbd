//! The transactional outbox: mail is written here in the same transaction as
//! the change that caused it; the sender job delivers it later.

use super::reply_address::ReplyAddresses;
use super::thread::outgoing_subject;
use crate::config::Settings;
use crate::db::models::{OutboxMessage, OutboxRecipient};
use crate::db::schema::{outbox, outbox_recipients};
use crate::db::{write_statement, write_tx, DbConnection};
use crate::error::{AppError, AppResult};
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
    // Recipients differing only in case are one mailbox (and one key).
    let mut emails: Vec<String> = mail.recipients.iter().map(|e| e.to_lowercase()).collect();
    emails.sort();
    emails.dedup();
    let recipients: Vec<OutboxRecipient> = emails
        .into_iter()
        .map(|email| OutboxRecipient {
            outbox_id: row.id.clone(),
            email,
            kind: row.kind.clone(),
            created_at: now,
        })
        .collect();
    crate::insert_rows!(conn, outbox_recipients::table, &recipients)?;
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
        .filter(outbox_recipients::email.eq(email.to_lowercase()))
        .filter(outbox_recipients::kind.eq(MailKind::Acknowledgement.as_str()))
        .filter(outbox_recipients::created_at.gt(now - Duration::hours(1)))
        .count()
        .get_result(conn)?)
}

/// Where an outbox message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutboxStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// Claimed by a sender that is delivering it now.
    Sending,
    Sent,
    /// Gave up after `outbox.max_attempts`; an admin may retry it.
    Failed,
}

impl OutboxStatus {
    pub const ALL: [OutboxStatus; 4] = [
        OutboxStatus::Pending,
        OutboxStatus::Sending,
        OutboxStatus::Sent,
        OutboxStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for OutboxStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        OutboxStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not one of pending, sending, sent, failed"))
    }
}

/// The recipients of each of these outbox messages.
pub fn recipients_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> AppResult<std::collections::HashMap<String, Vec<String>>> {
    let rows: Vec<(String, String)> = outbox_recipients::table
        .filter(outbox_recipients::outbox_id.eq_any(ids))
        .order((outbox_recipients::outbox_id, outbox_recipients::email))
        .select((outbox_recipients::outbox_id, outbox_recipients::email))
        .load(conn)?;
    let mut map = std::collections::HashMap::<String, Vec<String>>::new();
    for (id, email) in rows {
        map.entry(id).or_default().push(email);
    }
    Ok(map)
}

/// Delay before attempt `attempts + 1` after `attempts` failed ones:
/// `base * 2^(attempts - 1)`, at most a day.
pub fn backoff(base_seconds: u64, attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let seconds = base_seconds.saturating_mul(1u64 << doublings).min(86_400);
    Duration::seconds(seconds as i64)
}

/// Records a delivery. `false` when the claim had been lost meanwhile (the
/// sender took longer than the claim lasts).
pub fn mark_sent(
    conn: &mut DbConnection,
    row: &OutboxMessage,
    now: NaiveDateTime,
) -> AppResult<bool> {
    // Only while the claim (status `sending`, the same `claimed_until`) is
    // still this sender's.
    let updated = write_statement(conn, |conn| {
        diesel::update(outbox::table)
            .filter(outbox::id.eq(&row.id))
            .filter(outbox::status.eq(OutboxStatus::Sending.as_str()))
            .filter(outbox::claimed_until.eq(row.claimed_until))
            .set((
                outbox::status.eq(OutboxStatus::Sent.as_str()),
                outbox::sent_at.eq(Some(now)),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
    })?;
    Ok(updated == 1)
}

/// What became of a message whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Pending again, due at this time.
    RetryAt(NaiveDateTime),
    /// Given up: `failed`, with a `delivery_failed` event on its ticket.
    Failed,
    /// The claim had been lost; another sender owns the message now.
    ClaimLost,
}

/// Records a failed attempt: pending again after the backoff, or `failed`
/// once `outbox.max_attempts` is reached or when retrying cannot help.
pub fn record_failure(
    conn: &mut DbConnection,
    settings: &Settings,
    row: &OutboxMessage,
    error: &str,
    retryable: bool,
    now: NaiveDateTime,
) -> AppResult<AttemptOutcome> {
    let attempts = row.attempts.saturating_add(1);
    let error: String = error.chars().take(2000).collect();
    let give_up = !retryable || attempts >= settings.outbox.max_attempts;
    write_tx(conn, |conn| {
        let (status, next) = if give_up {
            (OutboxStatus::Failed, row.next_attempt_at)
        } else {
            let next = now + backoff(settings.outbox.retry_base_seconds, attempts);
            (OutboxStatus::Pending, next)
        };
        let updated = diesel::update(outbox::table)
            .filter(outbox::id.eq(&row.id))
            .filter(outbox::status.eq(OutboxStatus::Sending.as_str()))
            .filter(outbox::claimed_until.eq(row.claimed_until))
            .set((
                outbox::status.eq(status.as_str()),
                outbox::attempts.eq(attempts),
                outbox::last_error.eq(Some(&error)),
                outbox::next_attempt_at.eq(next),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        if updated == 0 {
            return Ok(AttemptOutcome::ClaimLost);
        }
        if !give_up {
            return Ok(AttemptOutcome::RetryAt(next));
        }
        if let Some(ticket_id) = &row.ticket_id {
            let recipients = recipients_of(conn, std::slice::from_ref(&row.id))?
                .remove(&row.id)
                .unwrap_or_default();
            crate::tickets::events::append(
                conn,
                ticket_id,
                "delivery_failed",
                "system",
                serde_json::json!({
                    "outbox_id": row.id,
                    "kind": row.kind,
                    "failed_recipients": recipients,
                    "attempts": attempts,
                    "error": error,
                }),
                now,
            )?;
        }
        Ok(AttemptOutcome::Failed)
    })
}

/// An outbox message as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxView {
    pub id: String,
    pub ticket_id: Option<String>,
    /// `acknowledgement`, `reply` or `notification`.
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// The Message-ID it is sent with (without angle brackets).
    pub message_id: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn views(conn: &mut DbConnection, rows: Vec<OutboxMessage>) -> AppResult<Vec<OutboxView>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut recipients = recipients_of(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            Ok(OutboxView {
                recipients: recipients.remove(&row.id).unwrap_or_default(),
                status: row.status.parse().map_err(AppError::Internal)?,
                id: row.id,
                ticket_id: row.ticket_id,
                kind: row.kind,
                subject: row.subject,
                message_id: row.message_id,
                attempts: row.attempts,
                last_error: row.last_error,
                next_attempt_at: row.next_attempt_at.and_utc(),
                created_at: row.created_at.and_utc(),
                sent_at: row.sent_at.map(|t| t.and_utc()),
            })
        })
        .collect()
}

/// The newest outbox messages (at most `limit`), optionally of one status.
pub fn list(
    conn: &mut DbConnection,
    status: Option<OutboxStatus>,
    limit: i64,
) -> AppResult<Vec<OutboxView>> {
    let mut query = outbox::table
        .order((outbox::created_at.desc(), outbox::id.desc()))
        .limit(limit)
        .select(OutboxMessage::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(outbox::status.eq(status.as_str()));
    }
    let rows = query.load(conn)?;
    views(conn, rows)
}

/// Puts a failed message back in line: pending, attempts reset, due now.
/// 404 for an unknown id, 409 unless it is `failed`.
pub fn retry(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> AppResult<OutboxView> {
    let updated = write_statement(conn, |conn| {
        diesel::update(outbox::table)
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(OutboxStatus::Failed.as_str()))
            .set((
                outbox::status.eq(OutboxStatus::Pending.as_str()),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
    })?;
    let row: OutboxMessage = outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("outbox message"))?;
    if updated == 0 {
        return Err(AppError::Conflict(format!(
            "only failed messages can be retried; this one is {}",
            row.status
        )));
    }
    Ok(views(conn, vec![row])?.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_the_base_and_is_capped_at_a_day() {
        let seconds = |attempts| backoff(30, attempts).num_seconds();
        assert_eq!(
            [seconds(1), seconds(2), seconds(3), seconds(4)],
            [30, 60, 120, 240]
        );
        assert_eq!(seconds(0), 30);
        assert_eq!(seconds(40), 86_400);
        assert_eq!(backoff(u64::MAX, 3).num_seconds(), 86_400);
    }

    #[test]
    fn statuses_are_known_by_name_only() {
        for status in OutboxStatus::ALL {
            assert_eq!(status.as_str().parse::<OutboxStatus>(), Ok(status));
        }
        assert!("Failed".parse::<OutboxStatus>().is_err());
        assert!("lost".parse::<OutboxStatus>().is_err());
    }
}
