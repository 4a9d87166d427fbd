//! Each process's compiled copy of the stored rule set.
//!
//! Compiling 10,000 rules takes milliseconds, so it happens once per
//! routing version, not per ticket. Whether the stored version moved on is
//! read at most once per [`RECHECK`] per process (one single-row read), so
//! a change made by another Relay process is seen within that time; a
//! change made by this process is seen at once.

use super::engine::{Directory, RuleSet};
use super::rules;
use crate::db::models::{CalendarRow, Queue};
use crate::db::schema::{calendars, queues};
use crate::db::{Caches, DbConnection};
use crate::directory::{calendars as calendar_store, routing_version};
use crate::error::AppResult;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use std::sync::{Arc, RwLock};

/// How long a compiled rule set is used before the stored version is read again.
pub const RECHECK: TimeDelta = TimeDelta::seconds(1);

#[derive(Default)]
pub struct CompiledRules(RwLock<Option<Held>>);

struct Held {
    rules: Arc<RuleSet>,
    /// When the stored version was last read; `None`: read it on next use.
    checked_at: Option<NaiveDateTime>,
}

/// The current compiled rule set, rebuilt when the stored version changed.
pub fn current(
    conn: &mut DbConnection,
    caches: &Caches,
    now: NaiveDateTime,
) -> AppResult<Arc<RuleSet>> {
    let cache = caches.get::<CompiledRules>();
    if let Some(held) = &*cache
        .0
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        if held
            .checked_at
            .is_some_and(|at| now >= at && now - at < RECHECK)
        {
            return Ok(held.rules.clone());
        }
    }
    let version = routing_version::current(conn)?;
    let mut slot = cache
        .0
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(held) = slot.as_mut().filter(|held| held.rules.version == version) {
        held.checked_at = Some(now);
        return Ok(held.rules.clone());
    }
    let rules = Arc::new(compile(conn, version)?);
    *slot = Some(Held {
        rules: rules.clone(),
        checked_at: Some(now),
    });
    Ok(rules)
}

/// Makes the next use read the stored version (after this process changed it).
pub fn invalidate(caches: &Caches) {
    let cache = caches.get::<CompiledRules>();
    let mut slot = cache
        .0
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(held) = slot.as_mut() {
        held.checked_at = None;
    }
}

/// The stored rules, compiled with the calendars and queues they read.
pub fn compile(conn: &mut DbConnection, version: i64) -> AppResult<RuleSet> {
    let rules = rules::load_all(conn)?
        .iter()
        .map(rules::parse)
        .collect::<AppResult<Vec<_>>>()?;
    Ok(RuleSet::compile(version, rules, directory(conn)?))
}

/// Every calendar and every queue's coverage, for the rules to read.
pub fn directory(conn: &mut DbConnection) -> AppResult<Directory> {
    let rows: Vec<CalendarRow> = calendars::table
        .select(CalendarRow::as_select())
        .load(conn)?;
    let mut directory = Directory::default();
    for row in &rows {
        directory
            .calendars
            .insert(row.id.clone(), calendar_store::parse(row)?);
    }
    let queues: Vec<Queue> = queues::table.select(Queue::as_select()).load(conn)?;
    for queue in queues {
        let coverage = queue
            .coverage_calendar_id
            .as_ref()
            .and_then(|id| directory.calendars.get(id).cloned());
        directory.queue_coverage.insert(queue.id, coverage);
    }
    Ok(directory)
}
