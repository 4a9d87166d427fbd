//! Mails satisfaction surveys for newly solved tickets
//! (`email::satisfaction`). Safe in several processes at once: a ticket's
//! survey is written under its lock, keyed by the ticket.

use crate::config::Settings;
use crate::db::Database;
use crate::email::satisfaction;
use crate::error::AppResult;
use std::time::Duration;

/// One pass; how many surveys were mailed.
pub fn run_once(db: &Database, settings: &Settings) -> AppResult<usize> {
    let mut conn = db.get()?;
    satisfaction::request_due(&mut conn, settings)
}

pub fn start(db: Database, settings: Settings) {
    if !settings.satisfaction.enabled {
        return;
    }
    let pause = Duration::from_secs(settings.satisfaction.request_seconds.max(1));
    let spawned = std::thread::Builder::new()
        .name("satisfaction".into())
        .spawn(move || loop {
            match run_once(&db, &settings) {
                Ok(0) => {}
                Ok(mailed) => tracing::info!(mailed, "satisfaction surveys mailed"),
                Err(err) => tracing::warn!(error = %crate::error::cause_chain(&err), "satisfaction surveys failed; will retry"),
            }
            std::thread::sleep(pause);
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "could not start the satisfaction surveys");
    }
}
