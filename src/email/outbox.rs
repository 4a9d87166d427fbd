//! The transactional outbox: mail is written here in the same transaction as
//! the change that caused it; the sender job delivers it later.

use super::reply_address::ReplyAddresses;
use super::thread::outgoing_subject;
use crate::config::Settings;
use crate::db::models::{OutboxMessage, OutboxRecipient};
use crate::db::schema::{outbox, outbox_recipients};
use crate::db::{write_statement, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::event::EventData;
use crate::error::{AppError, AppResult};
use crate::tickets::change::SYSTEM_ACTOR;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

pub use crate::domain::outbox::{OutboxStatus, OutgoingKind, RecipientOutcome};

/// A message to send about a ticket.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub ticket_id: String,
    pub ticket_number: i64,
    pub kind: OutgoingKind,
    /// The one address in To: the ticket's customer.
    pub to: String,
    /// Everyone else it goes to, named in Cc.
    pub cc: Vec<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Message-IDs this continues, oldest first (for In-Reply-To/References).
    pub thread: Vec<String>,
    /// `Auto-Submitted: auto-replied` (RFC 3834) for mail no person wrote.
    pub automatic: bool,
}

/// A fresh Message-ID under Relay's domain (without angle brackets).
pub fn new_message_id(conn: &WriteConn<'_>, settings: &Settings) -> String {
    format!(
        "{}@{}",
        conn.clock().new_id().simple(),
        settings.email.message_id_domain
    )
}

/// A message written into the outbox.
pub struct Enqueued {
    pub outbox_id: String,
    /// The Message-ID it will be sent with.
    pub message_id: String,
}

/// Writes the message into the outbox.
pub fn enqueue(
    conn: &mut WriteConn<'_>,
    settings: &Settings,
    replies: &ReplyAddresses,
    mail: OutgoingMail,
) -> AppResult<Enqueued> {
    let mut enqueued = enqueue_all(conn, settings, replies, vec![mail])?;
    enqueued
        .pop()
        .ok_or_else(|| AppError::Internal("an enqueued message went missing".into()))
}

/// Rows per outbox insert (PostgreSQL takes at most 65,535 parameters).
const MAILS_PER_INSERT: usize = 500;

/// Writes the messages into the outbox together (a few statements for any
/// number, as the SLA scanner's notifications need); in their order.
pub fn enqueue_all(
    conn: &mut WriteConn<'_>,
    settings: &Settings,
    replies: &ReplyAddresses,
    mails: Vec<OutgoingMail>,
) -> AppResult<Vec<Enqueued>> {
    let mut rows = Vec::with_capacity(mails.len());
    let mut recipients = Vec::with_capacity(mails.len());
    let mut enqueued = Vec::with_capacity(mails.len());
    for mail in mails {
        let (row, mut its_recipients) = outbox_rows(conn, settings, replies, mail)?;
        enqueued.push(Enqueued {
            outbox_id: row.id.clone(),
            message_id: row.message_id.clone(),
        });
        rows.push(row);
        recipients.append(&mut its_recipients);
    }
    for chunk in rows.chunks(MAILS_PER_INSERT) {
        crate::insert_rows!(conn, outbox::table, chunk)?;
    }
    for chunk in recipients.chunks(MAILS_PER_INSERT) {
        crate::insert_rows!(conn, outbox_recipients::table, chunk)?;
    }
    Ok(enqueued)
}

/// The outbox row of `mail` and its recipients' rows.
fn outbox_rows(
    conn: &WriteConn<'_>,
    settings: &Settings,
    replies: &ReplyAddresses,
    mail: OutgoingMail,
) -> AppResult<(OutboxMessage, Vec<OutboxRecipient>)> {
    if mail.to.is_empty() {
        return Err(AppError::Internal(
            "an outbox message needs a recipient".into(),
        ));
    }
    let now = conn.now();
    let message_id = new_message_id(conn, settings);
    // Lettre would write a non-ASCII Message-ID as an encoded word, which
    // no mail client matches: such an id is left out of the thread.
    let thread: Vec<&String> = mail.thread.iter().filter(|id| fits_a_header(id)).collect();
    let row = OutboxMessage {
        id: conn.new_id(),
        ticket_id: Some(mail.ticket_id.clone()),
        kind: mail.kind.as_str().into(),
        subject: outgoing_subject(mail.ticket_number, &mail.subject),
        body_text: mail.body_text,
        body_html: mail.body_html,
        message_id,
        in_reply_to: thread.last().map(|id| id.to_string()),
        references_header: (!thread.is_empty()).then(|| {
            thread
                .iter()
                .map(|id| format!("<{id}>"))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        reply_to: Some(replies.for_ticket(mail.ticket_number)),
        automatic: mail.automatic,
        status: OutboxStatus::Pending.as_str().into(),
        attempts: 0,
        next_attempt_at: now,
        claimed_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
        to_address: Some(mail.to.to_lowercase()),
    };
    // Recipients differing only in case are one mailbox (and one key).
    let mut emails: Vec<String> = std::iter::once(&mail.to)
        .chain(&mail.cc)
        .map(|e| e.to_lowercase())
        .collect();
    emails.sort();
    emails.dedup();
    let recipients = emails
        .into_iter()
        .map(|email| OutboxRecipient {
            outbox_id: row.id.clone(),
            email,
            kind: row.kind.clone(),
            created_at: now,
            outcome: None,
            error: None,
        })
        .collect();
    Ok((row, recipients))
}

/// Whether a Message-ID can stand in In-Reply-To/References as it is:
/// printable ASCII without spaces or angle brackets (RFC 5322 msg-id).
pub fn fits_a_header(message_id: &str) -> bool {
    !message_id.is_empty()
        && message_id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
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
        .filter(outbox_recipients::kind.eq(OutgoingKind::Acknowledgement.as_str()))
        .filter(outbox_recipients::created_at.gt(now - Duration::hours(1)))
        .count()
        .get_result(conn)?)
}

/// One recipient of an outbox message, and what became of it on its own
/// (`None` until an attempt settles it for this recipient alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub outcome: Option<RecipientOutcome>,
}

/// The recipients of each of these outbox messages, by address.
pub fn recipients_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> AppResult<std::collections::HashMap<String, Vec<Recipient>>> {
    let rows: Vec<(String, String, Option<String>)> = outbox_recipients::table
        .filter(outbox_recipients::outbox_id.eq_any(ids))
        .order((outbox_recipients::outbox_id, outbox_recipients::email))
        .select((
            outbox_recipients::outbox_id,
            outbox_recipients::email,
            outbox_recipients::outcome,
        ))
        .load(conn)?;
    let mut map = std::collections::HashMap::<String, Vec<Recipient>>::new();
    for (id, email, outcome) in rows {
        let outcome = outcome
            .as_deref()
            .map(|text| text.parse::<RecipientOutcome>().map_err(AppError::Internal))
            .transpose()?;
        map.entry(id)
            .or_default()
            .push(Recipient { email, outcome });
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

/// What one attempt did, recipient by recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    pub delivered: Vec<String>,
    /// Refused for good, with the reason.
    pub refused: Vec<(String, String)>,
    /// Not delivered this time but may be later, with the reason.
    pub deferred: Vec<(String, String)>,
}

impl Attempt {
    /// Files one recipient's result: an error that retrying cannot help
    /// refuses it, any other defers it.
    pub fn record(&mut self, email: &str, result: Result<(), super::send::SendError>) {
        match result {
            Ok(()) => self.delivered.push(email.to_string()),
            Err(err) if err.is_retryable() => {
                self.deferred.push((email.to_string(), err.to_string()))
            }
            Err(err) => self.refused.push((email.to_string(), err.to_string())),
        }
    }

    /// The same result for every one of `recipients` (one envelope, one
    /// answer).
    pub fn for_all(recipients: &[String], result: Result<(), super::send::SendError>) -> Attempt {
        let mut attempt = Attempt::default();
        for email in recipients {
            attempt.record(email, result.clone());
        }
        attempt
    }

    pub fn served_everyone(&self) -> bool {
        self.refused.is_empty() && self.deferred.is_empty()
    }

    /// The reasons for `last_error`: one when every recipient failed alike
    /// (the server was down), else each with its address.
    pub fn summary(&self) -> String {
        let failures: Vec<&(String, String)> = self.deferred.iter().chain(&self.refused).collect();
        let alike = failures.windows(2).all(|pair| pair[0].1 == pair[1].1);
        let text = match failures.first() {
            Some((_, why)) if alike => why.clone(),
            _ => failures
                .iter()
                .map(|(email, why)| format!("{email}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        };
        text.chars().take(2000).collect()
    }
}

/// What became of a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// `sent`: every recipient got it, or those that did not were refused
    /// for good (a `delivery_failed` event names them).
    Sent,
    /// Pending again, due at this time, for the recipients not yet served.
    RetryAt(NaiveDateTime),
    /// Given up: `failed`, with a `delivery_failed` event on its ticket.
    Failed,
    /// The claim had been lost; another sender owns the message now.
    ClaimLost,
}

/// Records an attempt, only while the claim (status `sending`, the same
/// `claimed_until`) is still this sender's. The usual case, everyone
/// served, is one statement. Otherwise the recipients settled on their own
/// are remembered (a retry goes only to the others), and the message is
/// `sent` once nobody is left to try, `pending` again after the backoff, or
/// `failed` when nobody got it for good or after `outbox.max_attempts`.
pub fn record_attempt(
    conn: &mut Conn,
    settings: &Settings,
    row: &OutboxMessage,
    attempt: &Attempt,
) -> AppResult<AttemptOutcome> {
    let still_ours = outbox::id
        .eq(row.id.clone())
        .and(outbox::status.eq(OutboxStatus::Sending.as_str()))
        .and(outbox::claimed_until.eq(row.claimed_until));
    if attempt.served_everyone() {
        let updated = write_statement(conn, |conn| {
            diesel::update(outbox::table.filter(still_ours))
                .set((
                    outbox::status.eq(OutboxStatus::Sent.as_str()),
                    outbox::sent_at.eq(Some(conn.now())),
                    outbox::claimed_until.eq(None::<NaiveDateTime>),
                ))
                .execute(&mut **conn)
        })?;
        return Ok(if updated == 1 {
            AttemptOutcome::Sent
        } else {
            AttemptOutcome::ClaimLost
        });
    }
    let attempts = row.attempts.saturating_add(1);
    let error = attempt.summary();
    write_tx(conn, |conn| {
        let now = conn.now();
        let before = recipients_of(conn, std::slice::from_ref(&row.id))?
            .remove(&row.id)
            .unwrap_or_default();
        let anyone_served = !attempt.delivered.is_empty()
            || before
                .iter()
                .any(|r| r.outcome == Some(RecipientOutcome::Delivered));
        let outcome = if attempt.deferred.is_empty() {
            if anyone_served {
                AttemptOutcome::Sent
            } else {
                AttemptOutcome::Failed
            }
        } else if attempts < settings.outbox.max_attempts {
            AttemptOutcome::RetryAt(now + backoff(settings.outbox.retry_base_seconds, attempts))
        } else {
            AttemptOutcome::Failed
        };
        let (status, next, sent_at) = match outcome {
            AttemptOutcome::RetryAt(next) => (OutboxStatus::Pending, next, None),
            AttemptOutcome::Sent => (OutboxStatus::Sent, row.next_attempt_at, Some(now)),
            _ => (OutboxStatus::Failed, row.next_attempt_at, None),
        };
        let updated = diesel::update(outbox::table.filter(still_ours))
            .set((
                outbox::status.eq(status.as_str()),
                outbox::attempts.eq(attempts),
                outbox::last_error.eq(Some(&error)),
                outbox::next_attempt_at.eq(next),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::sent_at.eq(sent_at),
            ))
            .execute(&mut **conn)?;
        if updated == 0 {
            return Ok(AttemptOutcome::ClaimLost);
        }
        let settled = attempt
            .delivered
            .iter()
            .map(|email| (email, RecipientOutcome::Delivered, None))
            .chain(
                attempt
                    .refused
                    .iter()
                    .map(|(email, why)| (email, RecipientOutcome::Refused, Some(why))),
            );
        for (email, settled_as, why) in settled {
            diesel::update(outbox_recipients::table.find((&row.id, email)))
                .set((
                    outbox_recipients::outcome.eq(settled_as.as_str()),
                    outbox_recipients::error.eq(why),
                ))
                .execute(&mut **conn)?;
        }
        let newly_failed = !attempt.refused.is_empty() || outcome == AttemptOutcome::Failed;
        if let (Some(ticket_id), true) = (&row.ticket_id, newly_failed) {
            // Everyone who will never get it: refused now or before and,
            // when giving up, everyone still waiting.
            let failed_recipients: Vec<String> = before
                .iter()
                .filter(|r| {
                    let refused = r.outcome == Some(RecipientOutcome::Refused)
                        || attempt.refused.iter().any(|(email, _)| *email == r.email);
                    let waiting = r.outcome.is_none() && !attempt.delivered.contains(&r.email);
                    refused || (outcome == AttemptOutcome::Failed && waiting)
                })
                .map(|r| r.email.clone())
                .collect();
            crate::tickets::change::note(
                conn,
                ticket_id,
                SYSTEM_ACTOR,
                &[EventData::DeliveryFailed {
                    failed_recipients,
                    outbox_id: Some(row.id.clone()),
                    mail_kind: Some(row.kind.clone()),
                    attempts: Some(attempts),
                    error: Some(error.clone()),
                    original_message_id: None,
                    diagnostic: None,
                }],
            )?;
        }
        Ok(outcome)
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
                recipients: recipients
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.email)
                    .collect(),
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
/// Recipients refused before are tried again too (their mailbox may have
/// been fixed); those already served are not.
pub fn retry(conn: &mut Conn, id: &str) -> AppResult<OutboxView> {
    let updated = write_tx(conn, |conn| {
        let now = conn.now();
        let updated = diesel::update(outbox::table)
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(OutboxStatus::Failed.as_str()))
            .set((
                outbox::status.eq(OutboxStatus::Pending.as_str()),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(&mut **conn)?;
        if updated == 1 {
            diesel::update(
                outbox_recipients::table
                    .filter(outbox_recipients::outbox_id.eq(id))
                    .filter(outbox_recipients::outcome.eq(RecipientOutcome::Refused.as_str())),
            )
            .set((
                outbox_recipients::outcome.eq(None::<String>),
                outbox_recipients::error.eq(None::<String>),
            ))
            .execute(&mut **conn)?;
        }
        Ok::<_, AppError>(updated)
    })?;
    let row: OutboxMessage = outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(&mut **conn)
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
    use crate::email::send::SendError;

    #[test]
    fn only_ascii_message_ids_fit_a_header() {
        assert!(fits_a_header("abc.123@example.com"));
        assert!(!fits_a_header("zażółć@example.pl"));
        assert!(!fits_a_header("a b@example.com"));
        assert!(!fits_a_header("<a@example.com>"));
        assert!(!fits_a_header(""));
    }

    #[test]
    fn an_attempt_files_each_recipient_and_sums_up_its_failures() {
        let mut alike = Attempt::default();
        for email in ["a@example.com", "b@example.com"] {
            alike.record(
                email,
                Err(SendError::Transport("SMTP: connection refused".into())),
            );
        }
        assert_eq!(alike.deferred.len(), 2);
        assert_eq!(alike.summary(), "SMTP: connection refused", "said once");

        let mut mixed = Attempt::default();
        mixed.record("a@example.com", Ok(()));
        mixed.record("b@example.com", Err(SendError::Refused("SMTP: 550".into())));
        mixed.record(
            "c@example.com",
            Err(SendError::Deferred("SMTP: 450".into())),
        );
        mixed.record(
            "d@example.com",
            Err(SendError::Invalid("bad address".into())),
        );
        assert_eq!(mixed.delivered, ["a@example.com"]);
        assert_eq!(mixed.deferred.len(), 1);
        assert_eq!(mixed.refused.len(), 2, "invalid cannot get better either");
        assert_eq!(
            mixed.summary(),
            "c@example.com: SMTP: 450; b@example.com: SMTP: 550; \
             d@example.com: the message cannot be built: bad address"
        );
        assert!(!mixed.served_everyone());
    }

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
        for status in OutboxStatus::ALL.iter().copied() {
            assert_eq!(status.as_str().parse::<OutboxStatus>(), Ok(status));
        }
        assert!("Failed".parse::<OutboxStatus>().is_err());
        assert!("lost".parse::<OutboxStatus>().is_err());
    }
}
