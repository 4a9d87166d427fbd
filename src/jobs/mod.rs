//! Background workers. Each is safe to run in several Relay processes at
//! once: work that must happen once is claimed through the database.

pub mod imap_poller;
pub mod outbox_sender;

use crate::config::Settings;
use crate::db::DbPool;

/// Starts every background worker; they run until the process exits.
pub fn start(pool: &DbPool, settings: &Settings) {
    outbox_sender::start(pool.clone(), settings.clone());
    imap_poller::start(pool.clone(), settings.clone());
}
