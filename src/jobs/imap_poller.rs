//! Polls the IMAP mailboxes of `[[imap.mailboxes]]` and delivers every new
//! message through the one ingest pipeline (`email::ingest`).
//!
//! Exactly once, even across crashes and with several Relay processes:
//! 1. The poller leases the mailbox's row in `imap_positions` (an UPDATE that
//!    only succeeds when the lease is free, expired or already ours; or the
//!    INSERT of a new row). Others skip a leased mailbox.
//! 2. It SELECTs the folder. When UIDVALIDITY differs from the stored one the
//!    old UIDs mean nothing any more: it starts over from UID 1, and ingest
//!    recognises what it already has, so nothing doubles.
//! 3. For each UID above `last_uid`: fetch (BODY.PEEK[], so \Seen stays as
//!    it was), ingest (commits in its own transaction), then move `last_uid`
//!    to it (only while the lease is still ours), then flag or move the
//!    message. A crash after ingest and before `last_uid` moved fetches the
//!    message again and ingest answers "duplicate"; a crash after that leaves
//!    it unflagged but done.
//!
//! The lease is only an economy: a poller that lost it stops at its next
//! write, and anything it ingested twice was a duplicate.

use crate::config::{ImapAfter, ImapMailbox, Settings};
use crate::db::models::ImapPosition;
use crate::db::schema::imap_positions;
use crate::db::{write_statement, write_tx, Conn, Database};
use crate::email::imap::{ImapClient, ImapError};
use crate::email::ingest::{ingest, is_transient, Delivery, Outcome};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;
use std::time::Duration;

/// How long a lease lasts at least; renewed on every poll and message.
pub const MIN_LEASE: Duration = Duration::from_secs(60);

/// Messages taken from one mailbox in one poll; the rest wait for the next.
const BATCH: usize = 500;

/// What one poll did, mailbox by mailbox.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    pub mailboxes: Vec<MailboxReport>,
}

#[derive(Debug, Clone, Default)]
pub struct MailboxReport {
    pub name: String,
    /// Another poller holds the lease; this one left the mailbox alone.
    pub leased_elsewhere: bool,
    /// UIDVALIDITY changed since the last poll: read again from UID 1.
    pub uid_validity_reset: bool,
    /// Messages fetched and handed to ingest.
    pub fetched: usize,
    pub created: usize,
    pub appended: usize,
    pub duplicates: usize,
    /// Ignored or bounced (see the inbound message for the reason).
    pub other: usize,
    /// Messages ingest can never take (over the size limit, refused even as
    /// raw mail...): left in the mailbox, neither flagged nor moved, and
    /// not fetched again.
    pub rejected: usize,
    /// The highest UID done after this poll.
    pub last_uid: u32,
    pub error: Option<String>,
}

impl PollReport {
    pub fn fetched(&self) -> usize {
        self.mailboxes.iter().map(|m| m.fetched).sum()
    }
    pub fn created(&self) -> usize {
        self.mailboxes.iter().map(|m| m.created).sum()
    }
    pub fn duplicates(&self) -> usize {
        self.mailboxes.iter().map(|m| m.duplicates).sum()
    }
    pub fn errors(&self) -> Vec<String> {
        self.mailboxes
            .iter()
            .filter_map(|m| m.error.as_ref().map(|e| format!("{}: {e}", m.name)))
            .collect()
    }
    pub fn mailbox(&self, name: &str) -> Option<&MailboxReport> {
        self.mailboxes.iter().find(|m| m.name == name)
    }
}

/// The lease length for these settings: long enough to outlast the pause
/// between two polls, so a running poller keeps its mailboxes.
pub fn lease_length(settings: &Settings) -> Duration {
    MIN_LEASE.max(Duration::from_secs(
        settings.imap.poll_seconds.saturating_mul(2),
    ))
}

/// One poller identity: leases are taken in its name.
pub struct ImapPoller {
    owner: String,
}

impl Default for ImapPoller {
    fn default() -> Self {
        Self::new()
    }
}

impl ImapPoller {
    pub fn new() -> Self {
        ImapPoller {
            owner: format!(
                "pid{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Polls every configured mailbox once, keeping the leases it took.
    /// A mailbox that fails is reported and does not stop the others.
    pub fn poll(&self, db: &Database, settings: &Settings) -> AppResult<PollReport> {
        let mut report = PollReport::default();
        for mailbox in &settings.imap.mailboxes {
            let mut entry = MailboxReport {
                name: mailbox.name.clone(),
                ..MailboxReport::default()
            };
            if let Err(err) = self.poll_mailbox(db, settings, mailbox, &mut entry) {
                tracing::warn!(mailbox = %mailbox.name, error = %crate::error::cause_chain(&err), "IMAP poll failed; will retry");
                entry.error = Some(err.to_string());
            } else if entry.fetched > 0 || entry.rejected > 0 {
                tracing::info!(
                    mailbox = %mailbox.name,
                    fetched = entry.fetched,
                    created = entry.created,
                    appended = entry.appended,
                    duplicates = entry.duplicates,
                    rejected = entry.rejected,
                    "IMAP mail delivered"
                );
            }
            report.mailboxes.push(entry);
        }
        Ok(report)
    }

    /// Gives up every lease this poller holds, so another can start at once.
    pub fn release(&self, db: &Database) -> AppResult<()> {
        write_statement(&mut db.get()?, |conn| {
            diesel::update(
                imap_positions::table.filter(imap_positions::lease_owner.eq(&self.owner)),
            )
            .set((
                imap_positions::lease_owner.eq(None::<String>),
                imap_positions::lease_until.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(&mut **conn)
        })?;
        Ok(())
    }

    fn poll_mailbox(
        &self,
        db: &Database,
        settings: &Settings,
        mailbox: &ImapMailbox,
        report: &mut MailboxReport,
    ) -> Result<(), PollError> {
        let lease = lease_length(settings);
        let Some(position) = take_lease(&mut db.get()?, &mailbox.name, &self.owner, lease)? else {
            report.leased_elsewhere = true;
            return Ok(());
        };
        let mut client = ImapClient::connect(mailbox)?;
        let result = self.deliver_new(db, settings, mailbox, position, &mut client, report);
        client.logout();
        result
    }

    fn deliver_new(
        &self,
        db: &Database,
        settings: &Settings,
        mailbox: &ImapMailbox,
        position: ImapPosition,
        client: &mut ImapClient,
        report: &mut MailboxReport,
    ) -> Result<(), PollError> {
        let lease = lease_length(settings);
        if let (ImapAfter::Move, Some(target)) = (mailbox.after, mailbox.move_to.as_deref()) {
            client.ensure_folder(target)?;
        }
        let folder = client.select(&mailbox.folder)?;
        let uid_validity = i64::from(folder.uid_validity);
        let mut last_uid = u32::try_from(position.last_uid).unwrap_or(0);
        if position.uid_validity != uid_validity {
            if position.uid_validity != 0 {
                tracing::warn!(
                    mailbox = %mailbox.name,
                    was = position.uid_validity,
                    now = uid_validity,
                    "UIDVALIDITY changed: reading the folder again from the start; messages already delivered are recognised"
                );
                report.uid_validity_reset = true;
            }
            last_uid = 0;
        }
        // Also renews the lease after the (possibly slow) login.
        save_position(
            &mut db.get()?,
            &mailbox.name,
            &self.owner,
            uid_validity,
            last_uid,
            lease,
        )?;
        report.last_uid = last_uid;

        let source = mailbox.source();
        for listed in client.list_after(last_uid)?.into_iter().take(BATCH) {
            let uid = listed.uid;
            let max = settings.email.max_message_bytes;
            let raw = match listed.size {
                Some(size) if size as usize > max => None,
                _ => client.fetch(uid)?,
            };
            let verdict = match raw {
                None if listed.size.is_some_and(|s| s as usize > max) => {
                    Verdict::Rejected(format!(
                        "{} bytes is over email.max_message_bytes",
                        listed.size.unwrap_or(0)
                    ))
                }
                // Expunged between listing and fetching: nothing to deliver.
                None => Verdict::Gone,
                Some(raw) => {
                    report.fetched += 1;
                    let delivered = ingest(
                        &mut db.get()?,
                        settings,
                        &Delivery {
                            raw: &raw,
                            source: &source,
                            queue_hint: mailbox.queue.as_deref(),
                        },
                    );
                    match delivered {
                        Ok(result) => Verdict::Delivered(result.outcome),
                        // A transient error stops the poll before `last_uid`
                        // moves, so the message is tried again; any other
                        // would fail the same way forever and is set aside.
                        Err(err) if is_transient(&err) => return Err(err.into()),
                        Err(err) => Verdict::Rejected(err.to_string()),
                    }
                }
            };
            // Ingest has committed: the message is safe in Relay.
            save_position(
                &mut db.get()?,
                &mailbox.name,
                &self.owner,
                uid_validity,
                uid,
                lease,
            )?;
            report.last_uid = uid;
            match verdict {
                Verdict::Delivered(outcome) => {
                    match outcome {
                        Outcome::Created => report.created += 1,
                        Outcome::Appended => report.appended += 1,
                        Outcome::Duplicate => report.duplicates += 1,
                        Outcome::Ignored | Outcome::Bounced => report.other += 1,
                    }
                    client.mark_done(uid, mailbox)?;
                }
                Verdict::Rejected(why) => {
                    report.rejected += 1;
                    tracing::warn!(
                        mailbox = %mailbox.name,
                        uid,
                        reason = %why,
                        "IMAP message cannot be taken; it stays in the mailbox, unflagged, and is not fetched again"
                    );
                }
                Verdict::Gone => {}
            }
        }
        Ok(())
    }
}

enum Verdict {
    Delivered(Outcome),
    Rejected(String),
    Gone,
}

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("the lease on the mailbox passed to another poller; it carries on from here")]
    LeaseLost,
}

impl From<diesel::result::Error> for PollError {
    fn from(err: diesel::result::Error) -> Self {
        PollError::App(err.into())
    }
}

impl From<diesel::r2d2::PoolError> for PollError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        PollError::App(err.into())
    }
}

fn lease_until(now: chrono::NaiveDateTime, lease: Duration) -> chrono::NaiveDateTime {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

/// Takes (or renews) the lease on a mailbox's position, creating the row on
/// first use. `None` when another poller holds a lease that has not run out.
pub fn take_lease(
    conn: &mut Conn,
    mailbox: &str,
    owner: &str,
    lease: Duration,
) -> QueryResult<Option<ImapPosition>> {
    write_tx(conn, |conn| {
        let now = conn.now();
        let until = lease_until(now, lease);
        let free = imap_positions::lease_owner
            .is_null()
            .or(imap_positions::lease_until.is_null())
            .or(imap_positions::lease_until.lt(now))
            .or(imap_positions::lease_owner.eq(owner));
        let taken = diesel::update(imap_positions::table.find(mailbox).filter(free))
            .set((
                imap_positions::lease_owner.eq(owner),
                imap_positions::lease_until.eq(until),
                imap_positions::updated_at.eq(now),
            ))
            .execute(&mut **conn)?;
        if taken == 1 {
            return imap_positions::table
                .find(mailbox)
                .first::<ImapPosition>(&mut **conn)
                .map(Some);
        }
        let row = ImapPosition {
            mailbox: mailbox.to_string(),
            uid_validity: 0,
            last_uid: 0,
            lease_owner: Some(owner.to_string()),
            lease_until: Some(until),
            updated_at: now,
        };
        // Nothing inserted: the row exists, leased by another poller (or
        // created by one a moment ago).
        let created = crate::insert_ignoring_conflicts!(conn, imap_positions::table, &row)?;
        Ok((created == 1).then_some(row))
    })
}

/// Records how far the mailbox is done and renews the lease, only while the
/// lease is still this poller's.
fn save_position(
    conn: &mut Conn,
    mailbox: &str,
    owner: &str,
    uid_validity: i64,
    last_uid: u32,
    lease: Duration,
) -> Result<(), PollError> {
    let saved = write_statement(conn, |conn| {
        diesel::update(
            imap_positions::table
                .find(mailbox)
                .filter(imap_positions::lease_owner.eq(owner)),
        )
        .set((
            imap_positions::uid_validity.eq(uid_validity),
            imap_positions::last_uid.eq(i64::from(last_uid)),
            imap_positions::lease_until.eq(lease_until(conn.now(), lease)),
            imap_positions::updated_at.eq(conn.now()),
        ))
        .execute(&mut **conn)
    })?;
    if saved == 1 {
        Ok(())
    } else {
        Err(PollError::LeaseLost)
    }
}

/// Polls once with a poller of its own and lets its leases go afterwards
/// (tests, and a one-off run).
pub fn poll_once(db: &Database, settings: &Settings) -> AppResult<PollReport> {
    let poller = ImapPoller::new();
    let report = poller.poll(db, settings);
    let released = poller.release(db);
    let report = report?;
    released?;
    Ok(report)
}

/// Starts the polling thread when mailboxes are configured. It keeps its
/// leases between polls; if the process dies they run out after
/// `lease_length` and another process takes over.
pub fn start(db: Database, settings: Settings) {
    if settings.imap.mailboxes.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("imap-poller".into())
        .spawn(move || {
            let poller = ImapPoller::new();
            let pause = Duration::from_secs(settings.imap.poll_seconds);
            tracing::info!(
                mailboxes = settings.imap.mailboxes.len(),
                every_seconds = settings.imap.poll_seconds,
                owner = poller.owner(),
                "IMAP polling started"
            );
            loop {
                // A bug in one poll must not end polling for good.
                let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    poller.poll(&db, &settings)
                }));
                match polled {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => tracing::warn!(error = %crate::error::cause_chain(&err), "IMAP poll failed; will retry"),
                    Err(_) => tracing::error!("IMAP poll panicked; will retry"),
                }
                std::thread::sleep(pause);
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %crate::error::cause_chain(&err), "cannot start the IMAP poller thread");
    }
}
