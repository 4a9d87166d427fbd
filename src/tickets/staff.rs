//! Agents as the ticket side sees them: changing or deactivating one also
//! gives their open tickets back to their queues, in the same transaction.

use super::workload::{lock_for_release, release_all_of};
use crate::auth::Principal;
use crate::db::{write_tx, Conn};
use crate::directory::agents::{self, AgentInput, AgentView};
use crate::error::AppResult;

pub use crate::directory::agents::{create, get, list};

pub fn update(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    input: &AgentInput,
) -> AppResult<AgentView> {
    write_tx(conn, |w| {
        // Locked before the agent's row is written (see `lock_for_release`).
        // An agent who is inactive already holds nothing: deactivation
        // released it all, and no one assigns to inactive agents.
        let held = if input.active == Some(false) {
            lock_for_release(w, id)?
        } else {
            Vec::new()
        };
        let view = agents::update_in_transaction(w, caller, id, input)?;
        if !view.active {
            release_all_of(w, &view.id, held)?;
        }
        Ok(view)
    })
}

/// Agents are referenced by tickets and the audit trail, so "deleting" one
/// deactivates it: their tokens are revoked and their open tickets released.
pub fn deactivate(conn: &mut Conn, caller: &Principal, id: &str) -> AppResult<AgentView> {
    update(
        conn,
        caller,
        id,
        &AgentInput {
            active: Some(false),
            ..Default::default()
        },
    )
}
