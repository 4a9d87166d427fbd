//! Push assignment: which agent of a queue's vendor gets a waiting ticket.
//!
//! Only agents who are active, on shift now (their shift calendar; none:
//! always), available (`PUT /agents/me/availability`) and below their
//! capacity of open assigned tickets are chosen; with skill matching, only
//! those whose skills include the ticket's language and every tag.
//!
//! The queue's rotation row is locked (by the UPDATE that takes a turn)
//! before anything is read, so concurrent assignments in one queue, from
//! any number of Relay processes, happen one after another: a round-robin
//! turn is never taken twice and an agent's load is counted after the
//! previous assignment committed.

use super::engine::Directory;
use crate::db::models::{Agent, Queue, Ticket};
use crate::db::schema::{agents, queue_rotations};
use crate::db::WriteConn;
use crate::domain::event::AssignedBy;
use crate::domain::{Role, Status};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// Statuses in which an assigned ticket counts against its agent's capacity.
pub const OPEN_STATUSES: [Status; 4] = [Status::New, Status::Open, Status::Pending, Status::OnHold];

/// Statuses in which an unassigned ticket waits to be assigned or claimed.
pub const WAITING_STATUSES: [Status; 2] = [Status::New, Status::Open];

pub fn open_status_names() -> Vec<&'static str> {
    OPEN_STATUSES.iter().map(|s| s.as_str()).collect()
}

/// How a queue hands out tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Pull,
    RoundRobin,
    LeastLoaded,
}

impl Strategy {
    pub fn of(queue: &Queue) -> Strategy {
        match queue.assignment_strategy.as_str() {
            "round_robin" => Strategy::RoundRobin,
            "least_loaded" => Strategy::LeastLoaded,
            _ => Strategy::Pull,
        }
    }
}

/// Why an agent may not take a ticket now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    Inactive,
    OtherVendor,
    OffShift,
    Unavailable,
    AtCapacity,
    LacksSkills,
}

impl Unfit {
    pub fn reason(self) -> &'static str {
        match self {
            Unfit::Inactive => "inactive",
            Unfit::OtherVendor => "other_vendor",
            Unfit::OffShift => "off_shift",
            Unfit::Unavailable => "unavailable",
            Unfit::AtCapacity => "at_capacity",
            Unfit::LacksSkills => "lacks_skills",
        }
    }
}

/// Whether `agent` is on shift at `at`.
pub fn on_shift(agent: &Agent, directory: &Directory, at: DateTime<Utc>) -> bool {
    match &agent.shift_calendar_id {
        None => true,
        Some(id) => directory.calendars.get(id).is_some_and(|c| c.is_open(at)),
    }
}

/// Whether the agent's skills cover the ticket's language and tags.
pub fn has_skills(agent: &Agent, ticket: &Ticket) -> bool {
    let skills: Vec<String> = serde_json::from_str(&agent.skills).unwrap_or_default();
    let tags: Vec<String> = serde_json::from_str(&ticket.tags).unwrap_or_default();
    let language = ticket.language.as_deref().map(|l| l.to_ascii_lowercase());
    let primary = language
        .as_deref()
        .map(|l| l.split('-').next().unwrap_or(l).to_string());
    let knows_language = match (&language, &primary) {
        (Some(full), Some(primary)) => skills.iter().any(|s| s == full || s == primary),
        _ => true,
    };
    knows_language && tags.iter().all(|t| skills.contains(t))
}

/// Why `agent` may not take `ticket` in `queue` now, if anything stops it.
pub fn unfit(
    agent: &Agent,
    queue: &Queue,
    ticket: Option<&Ticket>,
    load: i64,
    directory: &Directory,
    at: DateTime<Utc>,
) -> Option<Unfit> {
    if !agent.active {
        return Some(Unfit::Inactive);
    }
    if agent.vendor_id.as_deref() != Some(queue.vendor_id.as_str()) {
        return Some(Unfit::OtherVendor);
    }
    if !on_shift(agent, directory, at) {
        return Some(Unfit::OffShift);
    }
    if !agent.available {
        return Some(Unfit::Unavailable);
    }
    if load >= i64::from(agent.capacity) {
        return Some(Unfit::AtCapacity);
    }
    if queue.skill_matching && ticket.is_some_and(|t| !has_skills(agent, t)) {
        return Some(Unfit::LacksSkills);
    }
    None
}

/// Takes the queue's rotation lock for this transaction and returns the
/// agent who had the last turn.
pub fn lock_rotation(conn: &mut WriteConn<'_>, queue_id: &str) -> AppResult<Option<String>> {
    crate::insert_ignoring_conflicts!(
        conn,
        queue_rotations::table,
        (
            queue_rotations::queue_id.eq(queue_id),
            queue_rotations::last_agent_id.eq(None::<String>),
            queue_rotations::turns.eq(0_i64),
        )
    )?;
    diesel::update(queue_rotations::table.find(queue_id))
        .set(queue_rotations::turns.eq(queue_rotations::turns + 1))
        .execute(&mut **conn)?;
    Ok(queue_rotations::table
        .find(queue_id)
        .select(queue_rotations::last_agent_id)
        .first(&mut **conn)?)
}

/// The first of `agents` (in id order) after the one who had the last
/// turn, wrapping round.
fn next_turn<'a>(agents: Vec<&'a Agent>, last: Option<&str>) -> Option<&'a Agent> {
    agents
        .iter()
        .find(|a| last.is_some_and(|last| a.id.as_str() > last))
        .or(agents.first())
        .copied()
}

/// The agent a push queue gives `ticket` to now, if any can take it;
/// never `excluded` (the agent who just let go of it).
pub fn choose(
    conn: &mut WriteConn<'_>,
    queue: &Queue,
    ticket: &Ticket,
    directory: &Directory,
    excluded: Option<&str>,
) -> AppResult<Option<(Agent, AssignedBy)>> {
    let strategy = Strategy::of(queue);
    if strategy == Strategy::Pull {
        return Ok(None);
    }
    let last = lock_rotation(conn, &queue.id)?;
    let at = conn.now().and_utc();
    let candidates: Vec<(Agent, i32)> = agents::table
        .filter(agents::vendor_id.eq(&queue.vendor_id))
        .filter(agents::active.eq(true))
        .filter(agents::available.eq(true))
        .filter(agents::role.eq_any([Role::Agent.as_str(), Role::Lead.as_str()]))
        .order(agents::id.asc())
        .select((Agent::as_select(), agents::open_tickets))
        .load(&mut **conn)?;
    let fit: Vec<(&Agent, i64)> = candidates
        .iter()
        .map(|(agent, open)| (agent, i64::from(*open)))
        .filter(|(agent, _)| Some(agent.id.as_str()) != excluded)
        .filter(|(agent, load)| unfit(agent, queue, Some(ticket), *load, directory, at).is_none())
        .collect();
    let last = last.as_deref();
    let chosen = match strategy {
        Strategy::RoundRobin => next_turn(fit.iter().map(|(agent, _)| *agent).collect(), last),
        // Fewest open tickets; on a tie, the one after the last turn, so
        // equally loaded agents take turns too.
        Strategy::LeastLoaded => {
            let fewest = fit.iter().map(|(_, load)| *load).min();
            next_turn(
                fit.iter()
                    .filter(|(_, load)| Some(*load) == fewest)
                    .map(|(agent, _)| *agent)
                    .collect(),
                last,
            )
        }
        Strategy::Pull => None,
    };
    let Some(agent) = chosen else { return Ok(None) };
    diesel::update(queue_rotations::table.find(&queue.id))
        .set(queue_rotations::last_agent_id.eq(&agent.id))
        .execute(&mut **conn)?;
    let by = match strategy {
        Strategy::LeastLoaded => AssignedBy::LeastLoaded,
        _ => AssignedBy::RoundRobin,
    };
    Ok(Some((agent.clone(), by)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_statement_waits_on_the_same_statuses() {
        let listed: Vec<String> = WAITING_STATUSES
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(
            crate::db::ticket_claim::waiting_statuses_sql(),
            format!("status IN ({})", listed.join(", "))
        );
    }
}
