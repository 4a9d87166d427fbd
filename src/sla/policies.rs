//! SLA policies as stored: `/api/v1/sla/policies` CRUD for managers and
//! admins (leads read their vendor's), a numbered version per change.
//! Every change bumps the routing version in its transaction, because each
//! process compiles policies with the rules (`sla::compiled`).

use super::compiled;
use super::policy::{self, Definition, PolicyInput};
use crate::auth::Principal;
use crate::db::models::{SlaPolicyRow, SlaPolicyVersion};
use crate::db::schema::{sla_policies, sla_policy_versions};
use crate::db::{write_tx, Conn, DbConnection, WriteConn};
use crate::directory::routing_version;
use crate::domain::validate::Errors;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::routing::rule::References;
use crate::routing::rules::check_references;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// Policies a deployment may hold.
pub const MAX_POLICIES: i64 = 1_000;

/// A policy as clients read it: what they wrote, with its id, version and times.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    #[serde(flatten)]
    pub definition: Definition,
    /// Moves on by one with every change; clocks name the version they ran under.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored definition (validated when written, so failing to read it is
/// an internal error).
pub fn definition_of(row: &SlaPolicyRow) -> AppResult<Definition> {
    serde_json::from_str(&row.definition)
        .map_err(|e| AppError::failed(format!("stored SLA policy {} is unreadable", row.id), e))
}

fn view(row: SlaPolicyRow) -> AppResult<PolicyView> {
    Ok(PolicyView {
        definition: definition_of(&row)?,
        id: row.id,
        version: row.version,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// Every stored policy, in the order they are tried.
pub fn load_all(conn: &mut DbConnection) -> AppResult<Vec<SlaPolicyRow>> {
    Ok(sla_policies::table
        .order((
            sla_policies::position.asc(),
            sla_policies::created_at.asc(),
            sla_policies::id.asc(),
        ))
        .select(SlaPolicyRow::as_select())
        .load(conn)?)
}

/// The definition a policy had at `version` (what a finished clock was
/// measured against), whether or not the policy still exists.
pub fn version_of(
    conn: &mut DbConnection,
    policy_id: &str,
    version: i32,
) -> AppResult<Option<Definition>> {
    let stored: Option<String> = sla_policy_versions::table
        .find((policy_id, version))
        .select(sla_policy_versions::definition)
        .first(conn)
        .optional()?;
    stored
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                AppError::failed(format!("SLA policy version {policy_id}/{version}"), e)
            })
        })
        .transpose()
}

fn load(conn: &mut DbConnection, id: &str) -> AppResult<SlaPolicyRow> {
    sla_policies::table
        .find(id)
        .select(SlaPolicyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("SLA policy"))
}

/// Managers and admins read every policy; leads those of their vendor.
fn may_read(caller: &Principal, row: &SlaPolicyRow) -> bool {
    match caller.vendor_scope() {
        Some(own) => row.vendor_id.as_deref() == Some(own),
        None => true,
    }
}

fn require_reader(caller: &Principal) -> AppResult<()> {
    caller.require(|r| r == Role::Lead || r.is_manager_or_above())
}

pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> AppResult<PolicyView> {
    require_reader(caller)?;
    let row = load(conn, id)?;
    if !may_read(caller, &row) {
        return Err(AppError::not_found("SLA policy"));
    }
    view(row)
}

pub fn list(conn: &mut DbConnection, caller: &Principal) -> AppResult<Vec<PolicyView>> {
    require_reader(caller)?;
    load_all(conn)?
        .into_iter()
        .filter(|row| may_read(caller, row))
        .map(view)
        .collect()
}

/// Validates `input` over `base`, references included.
fn checked(
    conn: &mut DbConnection,
    input: &PolicyInput,
    base: &Definition,
) -> AppResult<Definition> {
    let (mut errors, mut refs) = (Errors::default(), References::default());
    let checked = policy::validate(input, base, &mut errors, &mut refs);
    check_references(conn, &refs, &mut errors)?;
    errors.finish()?;
    Ok(checked.expect("no errors: validated").definition)
}

/// Writes the row and its next version from `definition`.
fn save(
    conn: &mut WriteConn<'_>,
    row: &mut SlaPolicyRow,
    definition: &Definition,
    new: bool,
) -> AppResult<()> {
    let encode = |e| AppError::failed("an SLA policy did not serialise", e);
    row.name = definition.name.clone();
    row.position = definition.position;
    row.enabled = definition.enabled;
    row.vendor_id = definition.vendor_id.clone();
    row.definition = serde_json::to_string(definition).map_err(encode)?;
    row.updated_at = conn.now();
    if new {
        diesel::insert_into(sla_policies::table)
            .values(&*row)
            .execute(&mut **conn)?;
    } else {
        row.version += 1;
        diesel::update(sla_policies::table.find(&row.id))
            .set(&*row)
            .execute(&mut **conn)?;
    }
    diesel::insert_into(sla_policy_versions::table)
        .values(SlaPolicyVersion {
            policy_id: row.id.clone(),
            version: row.version,
            definition: row.definition.clone(),
            created_at: conn.now(),
        })
        .execute(&mut **conn)?;
    routing_version::bump(conn)
}

/// Runs a policy change in a write transaction, then makes this process's
/// compiled policies look at the new version on their next use.
fn changing<T>(
    conn: &mut Conn,
    caller: &Principal,
    work: impl FnOnce(&mut WriteConn<'_>) -> AppResult<T>,
) -> AppResult<T> {
    caller.require(Role::is_manager_or_above)?;
    let caches = conn.caches().clone();
    let done = write_tx(conn, work)?;
    compiled::invalidate(&caches);
    Ok(done)
}

pub fn create(conn: &mut Conn, caller: &Principal, input: &PolicyInput) -> AppResult<PolicyView> {
    changing(conn, caller, |w| {
        let count: i64 = sla_policies::table.count().get_result(&mut **w)?;
        if count >= MAX_POLICIES {
            return Err(AppError::Conflict(format!(
                "a deployment holds at most {MAX_POLICIES} SLA policies"
            )));
        }
        let definition = checked(w, input, &Definition::default())?;
        let at = w.now();
        let mut row = SlaPolicyRow {
            id: w.new_id(),
            name: String::new(),
            position: 0,
            enabled: true,
            vendor_id: None,
            definition: String::new(),
            version: 1,
            created_at: at,
            updated_at: at,
        };
        save(w, &mut row, &definition, true)?;
        view(row)
    })
}

pub fn update(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    input: &PolicyInput,
) -> AppResult<PolicyView> {
    changing(conn, caller, |w| {
        let mut row = load(w, id)?;
        let base = definition_of(&row)?;
        let definition = checked(w, input, &base)?;
        if definition != base {
            save(w, &mut row, &definition, false)?;
        }
        view(row)
    })
}

/// Removes the policy; its versions stay, because finished clocks name
/// them. Tickets running under it move to whatever matches on their next
/// change or recompute.
pub fn delete(conn: &mut Conn, caller: &Principal, id: &str) -> AppResult<()> {
    changing(conn, caller, |w| {
        let deleted = diesel::delete(sla_policies::table.find(id)).execute(&mut **w)?;
        if deleted == 0 {
            return Err(AppError::not_found("SLA policy"));
        }
        routing_version::bump(w)
    })
}
