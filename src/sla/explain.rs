//! `GET /tickets/{id}/sla`: why a ticket is due when it is. The clocks are
//! computed from the history as of the request (so the used time is exact
//! now, not as of the last change), settled clocks as they were measured.

use super::compiled::{self, Policies};
use super::tracking::{self, ClockDetail};
use crate::db::models::{SlaClockRow, Ticket};
use crate::db::schema::{calendars, sla_policies};
use crate::db::Conn;
use crate::domain::event::QueueRef;
use crate::domain::sla::clock::{ClockState, Metric, PauseSpan, VendorSeconds};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// What vendor-scoped readers see in place of another vendor's queue or id.
pub const OTHER_VENDOR: &str = "other-vendor";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyRef {
    pub id: String,
    pub name: String,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarRef {
    pub id: String,
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockView {
    pub metric: Metric,
    pub cycle: i32,
    pub target_seconds: i64,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// `null` while paused: the due time is then the resume instant plus
    /// the time left (`target_seconds - business_seconds_used`).
    pub due_at: Option<DateTime<Utc>>,
    pub state: ClockState,
    pub breached_at: Option<DateTime<Utc>>,
    pub business_seconds_used: i64,
    pub pauses: Vec<PauseSpan>,
    pub by_vendor: Vec<VendorSeconds>,
    /// Ids of the events that moved the clock (`GET /tickets/{id}/events`).
    pub events: Vec<String>,
    /// The policy version the clock was measured against.
    pub policy_version: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Explanation {
    pub policy: Option<PolicyRef>,
    /// The calendar the clocks count on now; `null`: 24/7.
    pub calendar: Option<CalendarRef>,
    pub clocks: Vec<ClockView>,
}

/// The explanation of `ticket`'s clocks; `vendor_scope` masks the other
/// vendors that held it.
pub fn explain(
    conn: &mut Conn,
    ticket: &Ticket,
    vendor_scope: Option<&str>,
) -> AppResult<Explanation> {
    let (caches, now) = (conn.caches().clone(), conn.now());
    let policies = compiled::current(conn, &caches, now)?;
    let Some(outcome) = tracking::evaluate(conn, &policies, ticket, now)? else {
        return Ok(Explanation {
            policy: None,
            calendar: None,
            clocks: Vec::new(),
        });
    };
    let policy = match kept_policy(conn, &outcome)? {
        Some(kept) => Some(kept),
        None => outcome.policy.as_ref().map(|policy| PolicyRef {
            id: policy.id.clone(),
            name: policy.definition.name.clone(),
            version: policy.version,
        }),
    };
    let calendar = match &outcome.policy {
        Some(policy) => calendar_now(conn, &policies, &policy.definition, outcome.holder.as_ref())?,
        None => None,
    };
    let clocks = outcome
        .rows
        .iter()
        .map(|row| clock_view(row, vendor_scope))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Explanation {
        policy,
        calendar,
        clocks,
    })
}

/// The policy version a finished ticket keeps (its clocks were measured
/// against it; `tracking::Outcome::finished`), under the policy's name
/// now; `None` when the ticket runs on the current policy.
fn kept_policy(conn: &mut Conn, outcome: &tracking::Outcome) -> AppResult<Option<PolicyRef>> {
    if !outcome.finished {
        return Ok(None);
    }
    let stored = outcome.stored.summary.as_ref();
    let (Some(id), Some(version)) = (
        stored.and_then(|s| s.policy_id.clone()),
        stored.and_then(|s| s.policy_version),
    ) else {
        return Ok(None);
    };
    // Usually the policy is still the one in force: its name is at hand.
    let name = match &outcome.policy {
        Some(current) if current.id == id => Some(current.definition.name.clone()),
        _ => sla_policies::table
            .find(&id)
            .select(sla_policies::name)
            .first(&mut **conn)
            .optional()?,
    };
    Ok(Some(PolicyRef {
        id,
        name: name.unwrap_or_default(),
        version,
    }))
}

/// The calendar the clocks count on while the current holder holds the
/// ticket (the holding queue's, for a policy that follows the queue).
fn calendar_now(
    conn: &mut Conn,
    policies: &Policies,
    definition: &super::policy::Definition,
    holder: Option<&QueueRef>,
) -> AppResult<Option<CalendarRef>> {
    let id = policies.calendar_id_for(definition, holder.map(|q| q.queue_id.as_str()));
    let Some(id) = id.map(str::to_string) else {
        return Ok(None);
    };
    let timezone: Option<String> = calendars::table
        .find(&id)
        .select(calendars::timezone)
        .first(&mut **conn)
        .optional()?;
    Ok(timezone.map(|timezone| CalendarRef { id, timezone }))
}

fn clock_view(row: &SlaClockRow, vendor_scope: Option<&str>) -> AppResult<ClockView> {
    let unreadable = |e| AppError::failed("a stored SLA clock is unreadable", e);
    let mut detail: ClockDetail = serde_json::from_str(&row.detail).map_err(unreadable)?;
    if let Some(own) = vendor_scope {
        for share in &mut detail.by_vendor {
            if share.vendor_id.as_deref() != Some(own) {
                share.vendor_id = share.vendor_id.as_ref().map(|_| OTHER_VENDOR.to_string());
                share.queue_id = share.queue_id.as_ref().map(|_| OTHER_VENDOR.to_string());
            }
        }
    }
    Ok(ClockView {
        metric: tracking::parse_metric(&row.metric).map_err(AppError::Internal)?,
        cycle: row.cycle,
        target_seconds: row.target_seconds,
        started_at: row.started_at.and_utc(),
        stopped_at: row.stopped_at.map(|t| t.and_utc()),
        due_at: row.due_at.map(|t| t.and_utc()),
        state: serde_json::from_value(serde_json::Value::from(row.state.as_str()))
            .map_err(unreadable)?,
        breached_at: row.breached_at.map(|t| t.and_utc()),
        business_seconds_used: row.business_seconds_used,
        pauses: detail.pauses,
        by_vendor: detail.by_vendor,
        events: detail.events,
        policy_version: row.policy_version,
    })
}
