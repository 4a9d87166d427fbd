//! Queues: where tickets wait for a vendor's agents.

use super::{check_vendor_visible, require_fields, vendor_known_to};
use crate::auth::Principal;
use crate::db::models::Queue;
use crate::db::schema::{queues, tickets};
use crate::db::{is_unique_violation, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::validate::Errors;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const STRATEGIES: [&str; 3] = ["pull", "round_robin", "least_loaded"];

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueInput {
    /// Lower-case letters, digits and dashes, unique.
    pub slug: Option<String>,
    pub name: Option<String>,
    /// The owning vendor's id.
    pub vendor_id: Option<String>,
    /// `pull` (default), `round_robin` or `least_loaded`.
    pub assignment_strategy: Option<String>,
    /// When the queue is staffed (follow-the-sun, coverage); `null`: always.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub coverage_calendar_id: Option<Option<String>>,
    /// Where tickets no one took within `overflow_minutes` go (id or slug,
    /// possibly another vendor's queue); `null`: they stay.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub overflow_queue: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<i32>)]
    pub overflow_minutes: Option<Option<i32>>,
    /// Push tickets only to agents whose skills include the ticket's
    /// language and tags.
    pub skill_matching: Option<bool>,
    /// Average handle time of one ticket in seconds (1..86400), for the
    /// coverage report's staffing advice; `null`: its default.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<i32>)]
    pub handle_seconds: Option<Option<i32>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub vendor_id: String,
    pub assignment_strategy: String,
    pub coverage_calendar_id: Option<String>,
    pub overflow_queue_id: Option<String>,
    pub overflow_minutes: Option<i32>,
    pub skill_matching: bool,
    pub handle_seconds: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Queue> for QueueView {
    fn from(q: Queue) -> Self {
        QueueView {
            id: q.id,
            slug: q.slug,
            name: q.name,
            vendor_id: q.vendor_id,
            assignment_strategy: q.assignment_strategy,
            coverage_calendar_id: q.coverage_calendar_id,
            overflow_queue_id: q.overflow_queue_id,
            overflow_minutes: q.overflow_minutes,
            skill_matching: q.skill_matching,
            handle_seconds: q.handle_seconds,
            created_at: q.created_at.and_utc(),
            updated_at: q.updated_at.and_utc(),
        }
    }
}

pub fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
}

/// A slug that parses as a UUID could be another queue's id, and every
/// place that takes "a queue id or slug" would then have two answers.
fn looks_like_an_id(slug: &str) -> bool {
    uuid::Uuid::parse_str(slug).is_ok()
}

fn apply(
    conn: &mut DbConnection,
    caller: &Principal,
    queue: &mut Queue,
    input: &QueueInput,
) -> AppResult<()> {
    let mut errors = Errors::default();
    if let Some(slug) = &input.slug {
        if !valid_slug(slug) {
            errors.add("slug", "must be 1-64 lower-case letters, digits and dashes");
        } else if looks_like_an_id(slug) {
            errors.add(
                "slug",
                "must not have the form of a UUID: queue ids are UUIDs, and a queue is named by id or slug",
            );
        }
        queue.slug = slug.clone();
    }
    if let Some(name) = &input.name {
        queue.name = errors.required_text("name", name, 200);
    }
    if let Some(vendor_id) = &input.vendor_id {
        if !vendor_known_to(conn, caller, vendor_id)? {
            errors.add("vendor_id", format!("no vendor '{vendor_id}'"));
        }
        queue.vendor_id = vendor_id.clone();
    }
    if let Some(strategy) = &input.assignment_strategy {
        if !STRATEGIES.contains(&strategy.as_str()) {
            errors.add(
                "assignment_strategy",
                format!("must be one of {}", STRATEGIES.join(", ")),
            );
        }
        queue.assignment_strategy = strategy.clone();
    }
    if let Some(calendar) = &input.coverage_calendar_id {
        if let Some(id) = calendar {
            super::calendars::check_attachable(
                conn,
                caller,
                id,
                &mut errors,
                "coverage_calendar_id",
            )?;
        }
        queue.coverage_calendar_id = calendar.clone();
    }
    if let Some(overflow) = &input.overflow_queue {
        queue.overflow_queue_id = match overflow {
            None => None,
            Some(reference) => match find(conn, reference)? {
                Some(target) if target.id == queue.id => {
                    errors.add("overflow_queue", "a queue cannot overflow into itself");
                    None
                }
                Some(target) => Some(target.id),
                None => {
                    errors.add("overflow_queue", format!("no queue '{reference}'"));
                    None
                }
            },
        };
    }
    if let Some(minutes) = input.overflow_minutes {
        if minutes.is_some_and(|m| !(1..=60 * 24 * 30).contains(&m)) {
            errors.add("overflow_minutes", "must be between 1 and 43200 (30 days)");
        }
        queue.overflow_minutes = minutes;
    }
    if queue.overflow_queue_id.is_some() != queue.overflow_minutes.is_some() {
        errors.add(
            "overflow_minutes",
            "overflow_queue and overflow_minutes are set together",
        );
    }
    if let Some(matching) = input.skill_matching {
        queue.skill_matching = matching;
    }
    if let Some(seconds) = input.handle_seconds {
        if seconds.is_some_and(|s| !(1..=86_400).contains(&s)) {
            errors.add("handle_seconds", "must be between 1 and 86400 (a day)");
        }
        queue.handle_seconds = seconds;
    }
    errors.finish().map_err(AppError::from)
}

fn duplicate_slug(err: diesel::result::Error) -> AppError {
    if is_unique_violation(&err) {
        AppError::invalid("slug", "another queue has this slug")
    } else {
        err.into()
    }
}

pub fn create(
    conn: &mut WriteConn<'_>,
    caller: &Principal,
    input: &QueueInput,
) -> AppResult<QueueView> {
    caller.require(Role::is_manager_or_above)?;
    require_fields(&[
        ("slug", input.slug.is_some()),
        ("name", input.name.is_some()),
        ("vendor_id", input.vendor_id.is_some()),
    ])?;
    {
        let at = conn.now();
        let mut queue = Queue {
            id: conn.new_id(),
            slug: String::new(),
            name: String::new(),
            vendor_id: String::new(),
            assignment_strategy: "pull".into(),
            created_at: at,
            updated_at: at,
            coverage_calendar_id: None,
            overflow_queue_id: None,
            overflow_minutes: None,
            skill_matching: false,
            handle_seconds: None,
        };
        apply(conn, caller, &mut queue, input)?;
        diesel::insert_into(queues::table)
            .values(&queue)
            .execute(&mut **conn)
            .map_err(duplicate_slug)?;
        super::routing_version::bump(conn)?;
        Ok(queue.into())
    }
}

/// By id or slug.
pub fn find(conn: &mut DbConnection, reference: &str) -> AppResult<Option<Queue>> {
    Ok(queues::table
        .filter(queues::id.eq(reference).or(queues::slug.eq(reference)))
        .select(Queue::as_select())
        .first(conn)
        .optional()?)
}

fn load(conn: &mut DbConnection, reference: &str) -> AppResult<Queue> {
    find(conn, reference)?.ok_or_else(|| AppError::not_found("queue"))
}

pub fn get(conn: &mut DbConnection, caller: &Principal, reference: &str) -> AppResult<QueueView> {
    caller.require(Role::works_tickets)?;
    let queue = load(conn, reference)?;
    check_vendor_visible(caller, Some(&queue.vendor_id), "queue")?;
    Ok(queue.into())
}

pub fn list(conn: &mut DbConnection, caller: &Principal) -> AppResult<Vec<QueueView>> {
    caller.require(Role::works_tickets)?;
    let mut query = queues::table
        .order(queues::slug.asc())
        .select(Queue::as_select())
        .into_boxed();
    if let Some(own) = caller.vendor_scope() {
        query = query.filter(queues::vendor_id.eq(own.to_string()));
    }
    Ok(query.load(conn)?.into_iter().map(Into::into).collect())
}

pub fn update(
    conn: &mut Conn,
    caller: &Principal,
    reference: &str,
    input: &QueueInput,
) -> AppResult<QueueView> {
    caller.require(Role::is_manager_or_above)?;
    write_tx(conn, |conn| {
        let mut queue = load(conn, reference)?;
        apply(conn, caller, &mut queue, input)?;
        queue.updated_at = conn.now();
        diesel::update(queues::table.find(&queue.id))
            .set(&queue)
            .execute(&mut **conn)
            .map_err(duplicate_slug)?;
        super::routing_version::bump(conn)?;
        Ok(queue.into())
    })
}

/// Deletes an empty queue; one that still holds tickets is refused.
pub fn delete(conn: &mut Conn, caller: &Principal, reference: &str) -> AppResult<()> {
    caller.require(Role::is_manager_or_above)?;
    write_tx(conn, |conn| {
        let queue = load(conn, reference)?;
        let held: i64 = tickets::table
            .filter(tickets::queue_id.eq(&queue.id))
            .count()
            .get_result(&mut **conn)?;
        if held > 0 {
            return Err(AppError::Conflict(format!(
                "the queue still holds {held} ticket(s); move them to another queue first"
            )));
        }
        diesel::delete(queues::table.find(&queue.id)).execute(&mut **conn)?;
        super::routing_version::bump(conn)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_may_not_be_shaped_like_a_queue_id() {
        let id = crate::clock::Clock::system().new_id();
        assert!(looks_like_an_id(&id.to_string()));
        assert!(looks_like_an_id(&id.simple().to_string()));
        assert!(!looks_like_an_id("billing-en"));
        assert!(!looks_like_an_id("0192d5f0-7a3c-7000-8000"));
    }
}
