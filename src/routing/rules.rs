//! Routing rules as stored: `/api/v1/routing/rules` CRUD for managers and
//! admins. Every change bumps the routing version in its transaction.

use super::rule::{self, Action, ConditionsInput, References, Rule, RuleInput, MAX_RULES};
use crate::auth::Principal;
use crate::db::models::RoutingRuleRow;
use crate::db::schema::{agents, calendars, queues, routing_rules, sla_policies, vendors};
use crate::db::{write_tx, Conn, DbConnection, WriteConn};
use crate::directory::routing_version;
use crate::domain::validate::Errors;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use utoipa::ToSchema;

/// A rule as clients read it: the JSON they wrote, with its id and times.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    pub position: i32,
    pub enabled: bool,
    pub stop: bool,
    pub conditions: ConditionsInput,
    pub actions: Vec<Action>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored rule, checked again as it is read (rules are validated when
/// written, so a failure here is an internal error).
pub fn parse(row: &RoutingRuleRow) -> AppResult<Rule> {
    let unreadable =
        |e| AppError::failed(format!("stored routing rule {} is unreadable", row.id), e);
    let input = RuleInput {
        name: Some(row.name.clone()),
        position: Some(row.position),
        enabled: Some(row.enabled),
        stop: Some(row.stop),
        conditions: Some(serde_json::from_str(&row.conditions).map_err(unreadable)?),
        actions: Some(serde_json::from_str(&row.actions).map_err(unreadable)?),
    };
    let mut errors = Errors::default();
    rule::validate(
        row.id.clone(),
        &input,
        None,
        &mut errors,
        &mut References::default(),
    )
    .ok_or_else(|| {
        AppError::Internal(format!(
            "stored routing rule {} no longer validates: {:?}",
            row.id, errors.0
        ))
    })
}

fn view(row: RoutingRuleRow) -> AppResult<RuleView> {
    let rule = parse(&row)?;
    Ok(RuleView {
        conditions: rule.conditions_input(),
        actions: rule.actions,
        id: row.id,
        name: row.name,
        position: row.position,
        enabled: row.enabled,
        stop: row.stop,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// All stored rules, in evaluation order.
pub fn load_all(conn: &mut DbConnection) -> AppResult<Vec<RoutingRuleRow>> {
    Ok(routing_rules::table
        .order((
            routing_rules::position.asc(),
            routing_rules::created_at.asc(),
            routing_rules::id.asc(),
        ))
        .select(RoutingRuleRow::as_select())
        .load(conn)?)
}

/// Checks that what rules and SLA policies name exists: queues, vendors,
/// active agents, calendars, SLA policies.
pub fn check_references(
    conn: &mut DbConnection,
    refs: &References<'_>,
    errors: &mut Errors,
) -> AppResult<()> {
    fn ids(list: &[(String, &str)]) -> Vec<String> {
        list.iter().map(|(_, id)| id.to_string()).collect()
    }
    let lookups: [(&[(String, &str)], &str); 5] = [
        (&refs.queues, "queue"),
        (&refs.vendors, "vendor"),
        (&refs.agents, "active agent"),
        (&refs.calendars, "calendar"),
        (&refs.sla_policies, "SLA policy"),
    ];
    for (wanted, what) in lookups {
        if wanted.is_empty() {
            continue;
        }
        let found: HashSet<String> = match what {
            "queue" => queues::table
                .filter(queues::id.eq_any(ids(wanted)))
                .select(queues::id)
                .load(conn)?,
            "vendor" => vendors::table
                .filter(vendors::id.eq_any(ids(wanted)))
                .select(vendors::id)
                .load(conn)?,
            "active agent" => agents::table
                .filter(agents::id.eq_any(ids(wanted)))
                .filter(agents::active.eq(true))
                .select(agents::id)
                .load(conn)?,
            "calendar" => calendars::table
                .filter(calendars::id.eq_any(ids(wanted)))
                .select(calendars::id)
                .load(conn)?,
            _ => sla_policies::table
                .filter(sla_policies::id.eq_any(ids(wanted)))
                .select(sla_policies::id)
                .load(conn)?,
        }
        .into_iter()
        .collect();
        for (field, id) in wanted {
            if !found.contains(*id) {
                errors.add(field, format!("no {what} '{id}'"));
            }
        }
    }
    Ok(())
}

/// Validates `input` (over `base` for a PATCH), references included.
fn checked(
    conn: &mut DbConnection,
    id: String,
    input: &RuleInput,
    base: Option<&Rule>,
) -> AppResult<Rule> {
    let mut errors = Errors::default();
    let mut refs = References::default();
    let rule = rule::validate(id, input, base, &mut errors, &mut refs);
    check_references(conn, &refs, &mut errors)?;
    errors.finish()?;
    Ok(rule.expect("no errors: validated"))
}

fn row_of(
    rule: &Rule,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
) -> AppResult<RoutingRuleRow> {
    let encode = |e| AppError::failed("a routing rule did not serialise", e);
    Ok(RoutingRuleRow {
        id: rule.id.clone(),
        name: rule.name.clone(),
        position: rule.position,
        enabled: rule.enabled,
        stop: rule.stop,
        conditions: serde_json::to_string(&rule.conditions_input()).map_err(encode)?,
        actions: serde_json::to_string(&rule.actions).map_err(encode)?,
        created_at,
        updated_at,
    })
}

/// Runs a rule change in a write transaction, then makes this process's
/// compiled rules look at the new version on their next use.
fn changing<T>(
    conn: &mut Conn,
    caller: &Principal,
    work: impl FnOnce(&mut WriteConn<'_>) -> AppResult<T>,
) -> AppResult<T> {
    caller.require(Role::is_manager_or_above)?;
    let caches = conn.caches().clone();
    let done = write_tx(conn, |w| -> AppResult<T> {
        let done = work(w)?;
        routing_version::bump(w)?;
        Ok(done)
    })?;
    super::compiled::invalidate(&caches);
    Ok(done)
}

pub fn create(conn: &mut Conn, caller: &Principal, input: &RuleInput) -> AppResult<RuleView> {
    changing(conn, caller, |w| {
        let count: i64 = routing_rules::table.count().get_result(&mut **w)?;
        if count >= MAX_RULES as i64 {
            return Err(AppError::Conflict(format!(
                "a rule set holds at most {MAX_RULES} rules"
            )));
        }
        let id = w.new_id();
        let rule = checked(w, id, input, None)?;
        let row = row_of(&rule, w.now(), w.now())?;
        diesel::insert_into(routing_rules::table)
            .values(&row)
            .execute(&mut **w)?;
        view(row)
    })
}

fn load(conn: &mut DbConnection, id: &str) -> AppResult<RoutingRuleRow> {
    routing_rules::table
        .find(id)
        .select(RoutingRuleRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("routing rule"))
}

pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> AppResult<RuleView> {
    caller.require(Role::is_manager_or_above)?;
    view(load(conn, id)?)
}

pub fn list(conn: &mut DbConnection, caller: &Principal) -> AppResult<Vec<RuleView>> {
    caller.require(Role::is_manager_or_above)?;
    load_all(conn)?.into_iter().map(view).collect()
}

pub fn update(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    input: &RuleInput,
) -> AppResult<RuleView> {
    changing(conn, caller, |w| {
        let before = load(w, id)?;
        let base = parse(&before)?;
        let rule = checked(w, base.id.clone(), input, Some(&base))?;
        let row = row_of(&rule, before.created_at, w.now())?;
        diesel::update(routing_rules::table.find(id))
            .set(&row)
            .execute(&mut **w)?;
        view(row)
    })
}

pub fn delete(conn: &mut Conn, caller: &Principal, id: &str) -> AppResult<()> {
    changing(conn, caller, |w| {
        let deleted = diesel::delete(routing_rules::table.find(id)).execute(&mut **w)?;
        if deleted == 0 {
            return Err(AppError::not_found("routing rule"));
        }
        Ok(())
    })
}

/// Validates a proposed rule set (the test and simulate endpoints): each
/// rule's problems are named under `rules[i]`.
pub fn check_proposal(conn: &mut DbConnection, inputs: &[RuleInput]) -> AppResult<Vec<Rule>> {
    if inputs.len() > MAX_RULES {
        return Err(AppError::invalid(
            "rules",
            format!("at most {MAX_RULES} rules"),
        ));
    }
    let mut all_errors = Errors::default();
    let mut rules = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        let mut errors = Errors::default();
        let mut refs = References::default();
        let rule = rule::validate(
            format!("proposed-{index}"),
            input,
            None,
            &mut errors,
            &mut refs,
        );
        check_references(conn, &refs, &mut errors)?;
        for error in errors.0 {
            all_errors.add(&format!("rules[{index}].{}", error.field), error.message);
        }
        rules.extend(rule);
    }
    all_errors.finish()?;
    Ok(rules)
}
