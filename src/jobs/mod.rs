//! Background workers. Each is safe to run in several Relay processes at
//! once: work that must happen once is claimed through the database.

pub mod dispatcher;
pub mod imap_poller;
pub mod outbox_sender;
pub mod satisfaction;
pub mod sla_scanner;

use crate::config::Settings;
use crate::db::Database;

/// Starts every background worker; they run until the process exits.
pub fn start(db: &Database, settings: &Settings) {
    outbox_sender::start(db.clone(), settings.clone());
    imap_poller::start(db.clone(), settings.clone());
    dispatcher::start(db.clone(), settings.clone());
    sla_scanner::start(db.clone(), settings.clone());
    satisfaction::start(db.clone(), settings.clone());
}
