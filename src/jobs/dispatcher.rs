//! The dispatcher: moves tickets no one took in time to their queue's
//! overflow queue, and offers waiting tickets of push queues to agents who
//! came on shift or have room again. Safe in several processes at once:
//! each ticket is locked before it is moved or assigned, and each push
//! queue's rotation is locked while it assigns.

use crate::config::Settings;
use crate::db::Database;
use crate::error::AppResult;
use crate::tickets::workload;
use std::time::Duration;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub overflowed: usize,
    pub assigned: usize,
}

/// One pass: overflow first (so moved tickets are offered in their new
/// queue in the same pass), then assignment.
pub fn run_once(db: &Database) -> AppResult<DispatchReport> {
    let mut conn = db.get()?;
    let overflowed = workload::overflow_due(&mut conn)?;
    let assigned = workload::assign_waiting(&mut conn, None)?;
    Ok(DispatchReport {
        overflowed,
        assigned,
    })
}

pub fn start(db: Database, settings: Settings) {
    let pause = Duration::from_secs(settings.routing.dispatch_seconds.max(1));
    let spawned = std::thread::Builder::new()
        .name("dispatcher".into())
        .spawn(move || loop {
            match run_once(&db) {
                Ok(report) if report != DispatchReport::default() => tracing::info!(
                    overflowed = report.overflowed,
                    assigned = report.assigned,
                    "dispatcher moved and assigned waiting tickets"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %crate::error::cause_chain(&err), "dispatcher run failed; will retry"),
            }
            std::thread::sleep(pause);
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "could not start the dispatcher");
    }
}
