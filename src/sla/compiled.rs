//! Each process's compiled copy of the stored SLA policies, with the
//! calendars their clocks count on.
//!
//! Policies are matched with the routing engine (their conditions are the
//! rules' conditions, plus `queue` and `vendor`): each enabled policy is a
//! rule that sets itself and stops, so the first match by position wins.
//! The copy is rebuilt when the routing version moves on (policy, calendar
//! and queue changes all bump it), read at most once per
//! [`routing::compiled::RECHECK`].
//!
//! Clocks count on each calendar's [`BusinessTime`] index over the years
//! around the compile (built on a calendar's first use, since most
//! calendars of a deployment may count no clock), and on [`AlwaysOpen`]
//! arithmetic without a calendar: a ticket's recompute asks the calendar
//! once per counted span, and walking a calendar's days costs milliseconds
//! where the index answers in a binary search. Instants outside the window
//! are answered by the walk, exactly, only slower; a copy older than
//! [`REINDEX_AFTER`] is rebuilt so the window follows the present.

use super::policies;
use super::policy::Definition;
use crate::db::schema::queues;
use crate::db::{Caches, DbConnection};
use crate::directory::routing_version;
use crate::domain::calendar::{AlwaysOpen, BusinessTime, Calendar};
use crate::domain::event::QueueRef;
use crate::domain::sla::clock::{BusinessCalendar, Terms};
use crate::error::AppResult;
use crate::routing::compiled::{directory, RECHECK};
use crate::routing::engine::{Facts, RuleSet};
use crate::routing::rule::{Action, Field, Rule};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// How far before and after the compile a calendar's index reaches.
const INDEX_REACH: TimeDelta = TimeDelta::days(2 * 366);
/// A compiled copy this old is rebuilt (its indexes re-centred on now).
pub const REINDEX_AFTER: TimeDelta = TimeDelta::days(180);

/// One policy as the clocks use it.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub id: String,
    pub version: i32,
    pub definition: Definition,
    pub terms: Terms,
}

/// The policies and calendars of one routing version.
pub struct Policies {
    pub version: i64,
    matcher: RuleSet,
    by_id: HashMap<String, Arc<CompiledPolicy>>,
    /// When it was compiled: the middle of its calendars' index windows.
    compiled_at: NaiveDateTime,
    /// Every calendar by id, and each queue's coverage calendar id.
    calendars: HashMap<String, IndexedCalendar>,
    queue_coverage: HashMap<String, String>,
    /// Whether an enabled policy's conditions read the customer (`from`,
    /// `from_domain`, `organization`) or the first message (`body`).
    reads_customer: bool,
    reads_first_message: bool,
}

/// A calendar and, once a clock has counted on it, its index.
struct IndexedCalendar {
    calendar: Calendar,
    index: OnceLock<BusinessTime>,
}

impl IndexedCalendar {
    fn index(&self, around: NaiveDateTime) -> &BusinessTime {
        self.index.get_or_init(|| {
            let around = around.and_utc();
            self.calendar
                .business_time(around - INDEX_REACH, around + INDEX_REACH)
        })
    }
}

impl Policies {
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The policy a ticket runs under: the one a routing rule chose when it
    /// exists and is enabled, otherwise the first whose conditions match.
    pub fn choose(&self, pinned: Option<&str>, facts: &Facts<'_>) -> Option<Arc<CompiledPolicy>> {
        if let Some(policy) = pinned.and_then(|id| self.by_id.get(id)) {
            if policy.definition.enabled {
                return Some(policy.clone());
            }
        }
        let (decision, _) = self.matcher.evaluate(facts, false);
        decision
            .sla_policy_id
            .and_then(|id| self.by_id.get(&id).cloned())
    }

    pub fn reads_customer(&self) -> bool {
        self.reads_customer
    }

    pub fn reads_first_message(&self) -> bool {
        self.reads_first_message
    }

    pub fn get(&self, id: &str) -> Option<Arc<CompiledPolicy>> {
        self.by_id.get(id).cloned()
    }

    /// The calendar a policy's clocks count on while `queue` holds the
    /// ticket: the queue's coverage calendar when the policy follows the
    /// queue and the queue has one, else the policy's calendar, else 24/7.
    pub fn calendar_for(
        &self,
        definition: &Definition,
        queue: Option<&QueueRef>,
    ) -> &dyn BusinessCalendar {
        match self
            .calendar_id_for(definition, queue.map(|q| q.queue_id.as_str()))
            .and_then(|id| self.calendars.get(id))
        {
            Some(calendar) => calendar.index(self.compiled_at),
            None => &AlwaysOpen,
        }
    }

    /// The id of [`Self::calendar_for`]'s calendar; `None`: 24/7.
    pub fn calendar_id_for<'a>(
        &'a self,
        definition: &'a Definition,
        queue_id: Option<&str>,
    ) -> Option<&'a str> {
        let coverage = queue_id
            .filter(|_| definition.calendar_from_queue)
            .and_then(|id| self.queue_coverage.get(id));
        coverage
            .or(definition.calendar_id.as_ref())
            .map(String::as_str)
    }
}

#[derive(Default)]
pub struct CompiledPolicies(RwLock<Option<Held>>);

struct Held {
    policies: Arc<Policies>,
    checked_at: Option<NaiveDateTime>,
}

/// The current compiled policies, rebuilt when the stored version changed.
pub fn current(
    conn: &mut DbConnection,
    caches: &Caches,
    now: NaiveDateTime,
) -> AppResult<Arc<Policies>> {
    let cache = caches.get::<CompiledPolicies>();
    if let Some(held) = &*cache
        .0
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        if held
            .checked_at
            .is_some_and(|at| now >= at && now - at < RECHECK)
        {
            return Ok(held.policies.clone());
        }
    }
    let version = routing_version::current(conn)?;
    let mut slot = cache
        .0
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(held) = slot.as_mut().filter(|held| {
        held.policies.version == version && now - held.policies.compiled_at < REINDEX_AFTER
    }) {
        held.checked_at = Some(now);
        return Ok(held.policies.clone());
    }
    let policies = Arc::new(compile(conn, version, now)?);
    *slot = Some(Held {
        policies: policies.clone(),
        checked_at: Some(now),
    });
    Ok(policies)
}

/// Makes the next use read the stored version (after this process changed it).
pub fn invalidate(caches: &Caches) {
    let cache = caches.get::<CompiledPolicies>();
    let mut slot = cache
        .0
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(held) = slot.as_mut() {
        held.checked_at = None;
    }
}

fn compile(conn: &mut DbConnection, version: i64, now: NaiveDateTime) -> AppResult<Policies> {
    let mut by_id = HashMap::new();
    let mut rules = Vec::new();
    for row in policies::load_all(conn)? {
        let definition = policies::definition_of(&row)?;
        let (all, any) = super::policy::compiled_conditions(&definition.conditions);
        if definition.enabled {
            rules.push(Rule {
                id: row.id.clone(),
                name: definition.name.clone(),
                position: definition.position,
                enabled: true,
                stop: true,
                all,
                any,
                actions: vec![Action::SetSlaPolicy {
                    policy_id: row.id.clone(),
                }],
            });
        }
        let terms = definition.terms();
        by_id.insert(
            row.id.clone(),
            Arc::new(CompiledPolicy {
                id: row.id,
                version: row.version,
                definition,
                terms,
            }),
        );
    }
    let read = |fields: &[Field]| {
        rules
            .iter()
            .flat_map(|rule| rule.all.iter().chain(&rule.any))
            .any(|condition| fields.contains(&condition.field))
    };
    let reads_customer = read(&[Field::From, Field::FromDomain, Field::Organization]);
    let reads_first_message = read(&[Field::Body]);
    let directory = directory(conn)?;
    let queue_coverage = queues::table
        .filter(queues::coverage_calendar_id.is_not_null())
        .select((queues::id, queues::coverage_calendar_id.assume_not_null()))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let calendars = directory
        .calendars
        .iter()
        .map(|(id, calendar)| {
            let indexed = IndexedCalendar {
                calendar: calendar.clone(),
                index: OnceLock::new(),
            };
            (id.clone(), indexed)
        })
        .collect();
    Ok(Policies {
        version,
        compiled_at: now,
        calendars,
        queue_coverage,
        matcher: RuleSet::compile(version, rules, directory),
        by_id,
        reads_customer,
        reads_first_message,
    })
}
