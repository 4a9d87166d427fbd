//! Delivers the outbox. Every `outbox.poll_seconds` the sender claims due
//! messages in a short transaction (`db::outbox_claim`: row locks with SKIP
//! LOCKED on PostgreSQL, the write lock on SQLite), so several Relay
//! processes never send the same message twice; then it sends each one
//! outside any transaction and records the outcome: `sent`, `pending` again
//! after an exponential backoff, or `failed` after `outbox.max_attempts`.
//!
//! A sender that dies after claiming leaves its messages `sending`; the claim
//! expires after `CLAIM` and another sender takes them over. (A crash between
//! the SMTP server accepting a message and the `sent` mark sends it again:
//! at least once, never lost.)

use crate::config::Settings;
use crate::db::models::OutboxMessage;
use crate::db::outbox_claim::claim_due;
use crate::db::Database;
use crate::email::outbox::{self, Attempt, AttemptOutcome, Recipient};
use crate::email::send::{build_message, Mailer};
use crate::error::{AppError, AppResult};
use std::time::Duration;

/// How long a claimed message is reserved for its sender.
pub const CLAIM: Duration = Duration::from_secs(5 * 60);

/// Messages claimed per transaction.
const BATCH: i64 = 20;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    /// Failed attempts that will be tried again later.
    pub retried: usize,
    /// Messages given up on (`failed`).
    pub failed: usize,
}

impl SendReport {
    pub fn is_empty(&self) -> bool {
        *self == SendReport::default()
    }
}

/// Starts the sender thread; it runs until the process exits.
pub fn start(db: Database, settings: Settings) {
    let spawned = std::thread::Builder::new()
        .name("outbox-sender".into())
        .spawn(move || {
            let pause = Duration::from_secs(settings.outbox.poll_seconds);
            // One transport for the life of the thread, so SMTP connections
            // are pooled between runs; rebuilt after a set-up failure.
            let mut mailer: Option<Mailer> = None;
            loop {
                if mailer.is_none() {
                    match Mailer::from_settings(&settings) {
                        Ok(m) => mailer = Some(m),
                        Err(err) => {
                            tracing::error!(error = %crate::error::cause_chain(&err), "outbox: cannot set up mail delivery")
                        }
                    }
                }
                if let Some(m) = &mailer {
                    match run_with(&db, &settings, m) {
                        Ok(report) if !report.is_empty() => tracing::info!(
                            sent = report.sent,
                            retried = report.retried,
                            failed = report.failed,
                            "outbox delivered"
                        ),
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %crate::error::cause_chain(&err), "outbox run failed; will retry"),
                    }
                }
                std::thread::sleep(pause);
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %crate::error::cause_chain(&err), "cannot start the outbox sender");
    }
}

/// Sends every message due now, once, with a transport built from `settings`.
pub fn run_once(db: &Database, settings: &Settings) -> AppResult<SendReport> {
    let mailer = Mailer::from_settings(settings)
        .map_err(|e| AppError::failed("cannot set up mail delivery", e))?;
    run_with(db, settings, &mailer)
}

/// Claims and sends batches until nothing is due. Only messages due when the
/// run started are taken, so a message that fails now is not tried again in
/// the same run however short its backoff.
pub fn run_with(db: &Database, settings: &Settings, mailer: &Mailer) -> AppResult<SendReport> {
    let started = db.clock().now_naive();
    let mut report = SendReport::default();
    loop {
        let claim_until =
            db.clock().now_naive() + chrono::Duration::from_std(CLAIM).expect("a short duration");
        let (batch, mut recipients) = {
            let mut conn = db.get()?;
            let batch = claim_due(&mut conn, started, claim_until, BATCH)?;
            let ids: Vec<String> = batch.iter().map(|row| row.id.clone()).collect();
            let recipients = outbox::recipients_of(&mut conn, &ids)?;
            (batch, recipients)
        };
        let full = batch.len() as i64 == BATCH;
        for row in batch {
            let to = recipients.remove(&row.id).unwrap_or_default();
            deliver(db, settings, mailer, &row, &to, &mut report)?;
        }
        if !full {
            return Ok(report);
        }
    }
}

fn deliver(
    db: &Database,
    settings: &Settings,
    mailer: &Mailer,
    row: &OutboxMessage,
    recipients: &[Recipient],
    report: &mut SendReport,
) -> AppResult<()> {
    // To names everyone; the envelope only those an earlier attempt has not
    // settled.
    let everyone: Vec<String> = recipients.iter().map(|r| r.email.clone()).collect();
    let waiting: Vec<String> = recipients
        .iter()
        .filter(|r| r.outcome.is_none())
        .map(|r| r.email.clone())
        .collect();
    let attempt = match build_message(row, &everyone, settings) {
        Ok(message) => mailer.attempt(&message, &waiting),
        Err(err) => Attempt::for_all(&waiting, Err(err)),
    };
    let outcome = outbox::record_attempt(&mut db.get()?, settings, row, &attempt)?;
    log_attempt(row, &attempt, outcome);
    match outcome {
        AttemptOutcome::Sent => report.sent += 1,
        AttemptOutcome::RetryAt(_) => report.retried += 1,
        AttemptOutcome::Failed => report.failed += 1,
        AttemptOutcome::ClaimLost => {}
    }
    Ok(())
}

fn log_attempt(row: &OutboxMessage, attempt: &Attempt, outcome: AttemptOutcome) {
    if attempt.served_everyone() {
        if outcome == AttemptOutcome::ClaimLost {
            tracing::warn!(outbox_id = %row.id, "sent after the claim expired; another sender may send it again");
        }
        return;
    }
    let error = attempt.summary();
    match outcome {
        AttemptOutcome::Sent => {
            tracing::warn!(outbox_id = %row.id, error, "outbox: sent, but some recipients were refused")
        }
        AttemptOutcome::RetryAt(at) => {
            tracing::warn!(outbox_id = %row.id, attempt = row.attempts + 1, retry_at = %at, error, "outbox: delivery failed; will retry")
        }
        AttemptOutcome::Failed => {
            tracing::error!(outbox_id = %row.id, attempts = row.attempts + 1, error, "outbox: delivery failed for good")
        }
        AttemptOutcome::ClaimLost => {
            tracing::warn!(outbox_id = %row.id, error, "outbox: delivery failed after the claim expired")
        }
    }
}
