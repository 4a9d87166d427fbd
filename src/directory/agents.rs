//! Agents: the people who work tickets, and the client's own staff.

use super::{check_vendor_visible, require_fields, vendor_known_to};
use crate::auth::Principal;
use crate::db::models::Agent;
use crate::db::schema::{agents, api_tokens};
use crate::db::{is_unique_violation, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::validate::Errors;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    pub name: Option<String>,
    pub email: Option<String>,
    /// Required for agents and leads; managers and admins may have none.
    pub vendor_id: Option<String>,
    /// `agent` (default), `lead`, `manager` or `admin`.
    pub role: Option<String>,
    /// e.g. languages and products: `["es", "billing"]`.
    pub skills: Option<Vec<String>>,
    /// Most open tickets this agent holds at once.
    pub capacity: Option<i32>,
    pub active: Option<bool>,
    /// The calendar of the agent's shifts (a lead may give only their
    /// vendor's calendars); `null`: always on shift.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub shift_calendar_id: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub vendor_id: Option<String>,
    pub role: Role,
    pub skills: Vec<String>,
    pub capacity: i32,
    pub active: bool,
    pub shift_calendar_id: Option<String>,
    /// Whether the agent takes pushed work now (`PUT /agents/me/availability`).
    pub available: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Agent> for AgentView {
    type Error = AppError;
    fn try_from(a: Agent) -> AppResult<Self> {
        Ok(AgentView {
            role: a.role.parse().map_err(AppError::Internal)?,
            skills: serde_json::from_str(&a.skills)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            id: a.id,
            name: a.name,
            email: a.email,
            vendor_id: a.vendor_id,
            capacity: a.capacity,
            active: a.active,
            shift_calendar_id: a.shift_calendar_id,
            available: a.available,
            created_at: a.created_at.and_utc(),
            updated_at: a.updated_at.and_utc(),
        })
    }
}

/// Leads manage their own vendor's agents and leads; managers manage
/// everyone below admin; only admins create or change admins.
fn may_manage(caller: &Principal, role: Role, vendor_id: Option<&str>) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Manager => role != Role::Admin,
        Role::Lead => {
            role.is_vendor_scoped()
                && vendor_id.is_some()
                && vendor_id == caller.vendor_id.as_deref()
        }
        _ => false,
    }
}

fn apply(
    conn: &mut DbConnection,
    caller: &Principal,
    agent: &mut Agent,
    input: &AgentInput,
) -> AppResult<()> {
    let mut errors = Errors::default();
    if let Some(name) = &input.name {
        agent.name = errors.required_text("name", name, 200);
    }
    if let Some(email) = &input.email {
        agent.email = errors.email("email", email);
    }
    if let Some(role) = &input.role {
        match errors.parse::<Role>("role", role) {
            Some(Role::Intake) => errors.add("role", "intake is for machine tokens, not people"),
            Some(r) => agent.role = r.as_str().into(),
            None => {}
        }
    }
    if let Some(vendor_id) = &input.vendor_id {
        if !vendor_known_to(conn, caller, vendor_id)? {
            errors.add("vendor_id", format!("no vendor '{vendor_id}'"));
        }
        agent.vendor_id = Some(vendor_id.clone());
    }
    if let Some(skills) = &input.skills {
        let skills = crate::domain::validate::normalize_tags(&mut errors, "skills", skills);
        agent.skills = serde_json::to_string(&skills).expect("skills serialise");
    }
    if let Some(capacity) = input.capacity {
        if !(0..=1000).contains(&capacity) {
            errors.add("capacity", "must be between 0 and 1000");
        }
        agent.capacity = capacity;
    }
    if let Some(active) = input.active {
        agent.active = active;
    }
    if let Some(calendar) = &input.shift_calendar_id {
        if let Some(id) = calendar {
            super::calendars::check_attachable(conn, caller, id, &mut errors, "shift_calendar_id")?;
        }
        agent.shift_calendar_id = calendar.clone();
    }
    let role: Option<Role> = agent.role.parse().ok();
    if role.is_some_and(Role::is_vendor_scoped) && agent.vendor_id.is_none() {
        errors.add("vendor_id", "is required for agents and leads");
    }
    errors.finish().map_err(AppError::from)
}

fn duplicate_email(err: diesel::result::Error) -> AppError {
    if is_unique_violation(&err) {
        AppError::invalid("email", "another agent has this email address")
    } else {
        err.into()
    }
}

/// Checked before a change (may the caller touch this agent at all?) and
/// after it (may the caller make the agent what it has become?).
fn ensure_may_manage(caller: &Principal, agent: &Agent) -> AppResult<()> {
    // An unreadable stored role is treated as the most privileged one.
    let role = agent.role.parse().unwrap_or(Role::Admin);
    if may_manage(caller, role, agent.vendor_id.as_deref()) {
        Ok(())
    } else {
        Err(AppError::Forbidden("you may not manage this agent".into()))
    }
}

/// Open assigned tickets an agent may hold when no one said otherwise.
pub const DEFAULT_CAPACITY: i32 = 10;

pub fn create(
    conn: &mut WriteConn<'_>,
    caller: &Principal,
    input: &AgentInput,
) -> AppResult<AgentView> {
    require_reader(caller)?;
    require_fields(&[
        ("name", input.name.is_some()),
        ("email", input.email.is_some()),
    ])?;
    {
        let at = conn.now();
        let mut agent = Agent {
            id: conn.new_id(),
            name: String::new(),
            email: String::new(),
            vendor_id: None,
            role: Role::Agent.as_str().into(),
            skills: "[]".into(),
            capacity: DEFAULT_CAPACITY,
            active: true,
            created_at: at,
            updated_at: at,
            shift_calendar_id: None,
            available: true,
        };
        apply(conn, caller, &mut agent, input)?;
        ensure_may_manage(caller, &agent)?;
        diesel::insert_into(agents::table)
            .values(&agent)
            .execute(&mut **conn)
            .map_err(duplicate_email)?;
        agent.try_into()
    }
}

fn load(conn: &mut DbConnection, id: &str) -> AppResult<Agent> {
    agents::table
        .find(id)
        .select(Agent::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("agent"))
}

/// Leads, managers and admins read and manage agents; anyone else is
/// refused before any lookup, so the answer confirms nothing (such as
/// whether a vendor id in the body exists).
fn require_reader(caller: &Principal) -> AppResult<()> {
    caller.require(|r| matches!(r, Role::Lead | Role::Manager | Role::Admin))
}

pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> AppResult<AgentView> {
    require_reader(caller)?;
    let agent = load(conn, id)?;
    check_vendor_visible(caller, agent.vendor_id.as_deref(), "agent")?;
    agent.try_into()
}

pub fn list(conn: &mut DbConnection, caller: &Principal) -> AppResult<Vec<AgentView>> {
    require_reader(caller)?;
    let mut query = agents::table
        .order(agents::name.asc())
        .select(Agent::as_select())
        .into_boxed();
    if let Some(own) = caller.vendor_scope() {
        query = query.filter(agents::vendor_id.eq(own.to_string()));
    }
    query
        .load(conn)?
        .into_iter()
        .map(AgentView::try_from)
        .collect()
}

pub fn update(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    input: &AgentInput,
) -> AppResult<AgentView> {
    write_tx(conn, |conn| update_in_transaction(conn, caller, id, input))
}

/// [`update`] inside the caller's transaction.
pub fn update_in_transaction(
    conn: &mut WriteConn<'_>,
    caller: &Principal,
    id: &str,
    input: &AgentInput,
) -> AppResult<AgentView> {
    require_reader(caller)?;
    let before = load(conn, id)?;
    check_vendor_visible(caller, before.vendor_id.as_deref(), "agent")?;
    ensure_may_manage(caller, &before)?;
    let mut agent = before.clone();
    apply(conn, caller, &mut agent, input)?;
    ensure_may_manage(caller, &agent)?;
    agent.updated_at = conn.now();
    diesel::update(agents::table.find(id))
        .set(&agent)
        .execute(&mut **conn)
        .map_err(duplicate_email)?;
    if tokens_lapse(&before, &agent) {
        revoke_tokens(conn, id)?;
    }
    agent.try_into()
}

/// A change after which the agent's tokens must stop for good. A
/// deactivated agent's tokens are revoked, so re-activating never brings
/// them back (an agent re-activated while tokens survive from before this
/// rule loses them too). Tokens were issued for one vendor's work, so a
/// move to another vendor (or into or out of any) ends them as well. A role
/// change needs nothing here: `auth::authenticate` caps every token by its
/// agent's current role.
fn tokens_lapse(before: &Agent, after: &Agent) -> bool {
    !before.active || !after.active || before.vendor_id != after.vendor_id
}

fn revoke_tokens(conn: &mut WriteConn<'_>, agent_id: &str) -> AppResult<()> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::agent_id.eq(agent_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(conn.now()))
    .execute(&mut **conn)?;
    Ok(())
}
