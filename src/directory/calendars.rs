//! Calendars as stored: CRUD, versions, holiday import, and loading one for
//! arithmetic (`domain::calendar`).

use super::{check_vendor_visible, require_fields, routing_version, vendor_known_to};
use crate::auth::Principal;
use crate::db::models::{CalendarRow, CalendarVersion};
use crate::db::schema::{agents, calendar_versions, calendars, queues};
use crate::db::{write_tx, Conn, DbConnection, WriteConn};
use crate::domain::calendar::{self, Calendar, Definition, WeeklyInterval};
use crate::domain::validate::Errors;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST` and `PATCH /api/v1/calendars` body; a PATCH replaces the fields it sends.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarInput {
    pub name: Option<String>,
    /// An IANA zone such as `Europe/Berlin`.
    pub timezone: Option<String>,
    /// Open intervals; several per day are allowed, none may cross midnight.
    pub weekly: Option<Vec<WeeklyInterval>>,
    /// Closed dates, `YYYY-MM-DD`.
    pub holidays: Option<Vec<String>>,
    /// The vendor whose leads may read it (their shifts, their queues'
    /// coverage); `null` for the client's own calendars.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub vendor_id: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub weekly: Vec<WeeklyInterval>,
    pub holidays: Vec<NaiveDate>,
    pub vendor_id: Option<String>,
    /// Moves on by one with every change.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/v1/calendars/{id}/open` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Openness {
    pub open: bool,
    /// When it next opens (if closed) or closes (if open); `null` when
    /// nothing changes within a year.
    pub next_change: Option<DateTime<Utc>>,
}

/// `POST /api/v1/calendars/{id}/holidays` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HolidayImport {
    /// Dates the file added (those already listed are not repeated).
    pub added: Vec<NaiveDate>,
    /// Events that were not all-day, so not holidays.
    pub skipped_timed_events: usize,
    /// Recurring events, imported as their first date only.
    pub recurring_events: usize,
    pub calendar: CalendarView,
}

fn definition_of(row: &CalendarRow) -> AppResult<Definition> {
    let unreadable = |e| AppError::failed("a stored calendar is unreadable", e);
    Ok(Definition {
        name: row.name.clone(),
        timezone: row.timezone.clone(),
        weekly: serde_json::from_str(&row.weekly).map_err(unreadable)?,
        holidays: serde_json::from_str(&row.holidays).map_err(unreadable)?,
    })
}

fn view(row: CalendarRow) -> AppResult<CalendarView> {
    let definition = definition_of(&row)?;
    Ok(CalendarView {
        id: row.id,
        name: definition.name,
        timezone: definition.timezone,
        weekly: definition.weekly,
        holidays: definition.holidays,
        vendor_id: row.vendor_id,
        version: row.version,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// The calendar for arithmetic. Stored definitions were validated when
/// written, so one that no longer validates (a zone dropped from the
/// database) is an internal error.
pub fn parse(row: &CalendarRow) -> AppResult<Calendar> {
    let mut errors = Errors::default();
    definition_of(row)?.validate(&mut errors).ok_or_else(|| {
        AppError::Internal(format!(
            "stored calendar {} does not validate: {:?}",
            row.id, errors.0
        ))
    })
}

/// Applies `input` to `definition` and the row, naming every bad field.
fn apply(
    conn: &mut DbConnection,
    caller: &Principal,
    row: &mut CalendarRow,
    definition: &mut Definition,
    input: &CalendarInput,
) -> AppResult<()> {
    let mut errors = Errors::default();
    if let Some(name) = &input.name {
        definition.name = errors.required_text("name", name, 200);
    }
    if let Some(zone) = &input.timezone {
        definition.timezone = zone.trim().to_string();
    }
    if let Some(weekly) = &input.weekly {
        definition.weekly = weekly.clone();
    }
    if let Some(holidays) = &input.holidays {
        definition.holidays = holidays
            .iter()
            .enumerate()
            .filter_map(|(index, text)| match text.parse::<NaiveDate>() {
                Ok(date) => Some(date),
                Err(_) => {
                    errors.add(&format!("holidays[{index}]"), "must be a date YYYY-MM-DD");
                    None
                }
            })
            .collect();
        definition.holidays.sort();
        definition.holidays.dedup();
    }
    if let Some(vendor) = &input.vendor_id {
        if let Some(id) = vendor {
            if !vendor_known_to(conn, caller, id)? {
                errors.add("vendor_id", format!("no vendor '{id}'"));
            }
        }
        row.vendor_id = vendor.clone();
    }
    definition.validate(&mut errors);
    errors.finish()?;
    Ok(())
}

/// Writes the row and its next version from `definition`.
fn save(
    conn: &mut WriteConn<'_>,
    row: &mut CalendarRow,
    definition: &Definition,
    new: bool,
) -> AppResult<()> {
    let encode = |e| AppError::failed("a calendar did not serialise", e);
    row.name = definition.name.clone();
    row.timezone = definition.timezone.clone();
    row.weekly = serde_json::to_string(&definition.weekly).map_err(encode)?;
    row.holidays = serde_json::to_string(&definition.holidays).map_err(encode)?;
    row.updated_at = conn.now();
    if new {
        diesel::insert_into(calendars::table)
            .values(&*row)
            .execute(&mut **conn)?;
    } else {
        row.version += 1;
        diesel::update(calendars::table.find(&row.id))
            .set(&*row)
            .execute(&mut **conn)?;
    }
    diesel::insert_into(calendar_versions::table)
        .values(CalendarVersion {
            calendar_id: row.id.clone(),
            version: row.version,
            definition: serde_json::to_string(definition).map_err(encode)?,
            created_at: conn.now(),
        })
        .execute(&mut **conn)?;
    // Routing reads calendars (follow-the-sun, `calendar_open`): its
    // compiled rule sets must see the change.
    routing_version::bump(conn)
}

pub fn create(
    conn: &mut WriteConn<'_>,
    caller: &Principal,
    input: &CalendarInput,
) -> AppResult<CalendarView> {
    caller.require(Role::is_manager_or_above)?;
    require_fields(&[
        ("name", input.name.is_some()),
        ("timezone", input.timezone.is_some()),
    ])?;
    let at = conn.now();
    let mut row = CalendarRow {
        id: conn.new_id(),
        vendor_id: None,
        name: String::new(),
        timezone: String::new(),
        weekly: String::new(),
        holidays: String::new(),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let mut definition = Definition {
        name: String::new(),
        timezone: String::new(),
        weekly: Vec::new(),
        holidays: Vec::new(),
    };
    apply(conn, caller, &mut row, &mut definition, input)?;
    save(conn, &mut row, &definition, true)?;
    view(row)
}

pub fn load(conn: &mut DbConnection, id: &str) -> AppResult<CalendarRow> {
    calendars::table
        .find(id)
        .select(CalendarRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("calendar"))
}

/// Managers and admins read every calendar; leads their vendor's.
fn load_readable(conn: &mut DbConnection, caller: &Principal, id: &str) -> AppResult<CalendarRow> {
    caller.require(|r| r == Role::Lead || r.is_manager_or_above())?;
    let row = load(conn, id)?;
    check_vendor_visible(caller, row.vendor_id.as_deref(), "calendar")?;
    Ok(row)
}

pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> AppResult<CalendarView> {
    view(load_readable(conn, caller, id)?)
}

pub fn list(conn: &mut DbConnection, caller: &Principal) -> AppResult<Vec<CalendarView>> {
    caller.require(|r| r == Role::Lead || r.is_manager_or_above())?;
    let mut query = calendars::table
        .order((calendars::name.asc(), calendars::id.asc()))
        .select(CalendarRow::as_select())
        .into_boxed();
    if let Some(own) = caller.vendor_scope() {
        query = query.filter(calendars::vendor_id.eq(own.to_string()));
    }
    query.load(conn)?.into_iter().map(view).collect()
}

pub fn update(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    input: &CalendarInput,
) -> AppResult<CalendarView> {
    caller.require(Role::is_manager_or_above)?;
    write_tx(conn, |conn| {
        let mut row = load(conn, id)?;
        let mut definition = definition_of(&row)?;
        apply(conn, caller, &mut row, &mut definition, input)?;
        save(conn, &mut row, &definition, false)?;
        view(row)
    })
}

/// Deletes a calendar nothing uses; one that a queue or an agent uses is refused.
pub fn delete(conn: &mut Conn, caller: &Principal, id: &str) -> AppResult<()> {
    caller.require(Role::is_manager_or_above)?;
    write_tx(conn, |conn| {
        let row = load(conn, id)?;
        let by_queues: i64 = queues::table
            .filter(queues::coverage_calendar_id.eq(&row.id))
            .count()
            .get_result(&mut **conn)?;
        let by_agents: i64 = agents::table
            .filter(agents::shift_calendar_id.eq(&row.id))
            .count()
            .get_result(&mut **conn)?;
        if by_queues + by_agents > 0 {
            return Err(AppError::Conflict(format!(
                "the calendar is used by {by_queues} queue(s) and {by_agents} agent(s); give them another first"
            )));
        }
        diesel::delete(calendar_versions::table.filter(calendar_versions::calendar_id.eq(&row.id)))
            .execute(&mut **conn)?;
        diesel::delete(calendars::table.find(&row.id)).execute(&mut **conn)?;
        routing_version::bump(conn)
    })
}

/// Adds the all-day events of an iCalendar file as holidays.
pub fn import_holidays(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    ics: &str,
) -> AppResult<HolidayImport> {
    caller.require(Role::is_manager_or_above)?;
    let feed = calendar::holidays_from_icalendar(ics)
        .map_err(|reason| AppError::invalid("body", reason))?;
    write_tx(conn, |conn| {
        let mut row = load(conn, id)?;
        let mut definition = definition_of(&row)?;
        let known: std::collections::BTreeSet<NaiveDate> =
            definition.holidays.iter().copied().collect();
        let added: Vec<NaiveDate> = feed.dates.difference(&known).copied().collect();
        definition.holidays = known.union(&feed.dates).copied().collect();
        let mut errors = Errors::default();
        definition.validate(&mut errors);
        errors.finish()?;
        if !added.is_empty() {
            save(conn, &mut row, &definition, false)?;
        }
        Ok(HolidayImport {
            added,
            skipped_timed_events: feed.timed_events,
            recurring_events: feed.recurring_events,
            calendar: view(row)?,
        })
    })
}

/// Whether the calendar is open at `at` (default: now), and when that next changes.
pub fn openness(
    conn: &mut Conn,
    caller: &Principal,
    id: &str,
    at: Option<DateTime<Utc>>,
) -> AppResult<Openness> {
    let at = at.unwrap_or_else(|| conn.now().and_utc());
    let calendar = parse(&load_readable(conn, caller, id)?)?;
    Ok(Openness {
        open: calendar.is_open(at),
        next_change: calendar.next_change(at),
    })
}

/// Checks that `id` names a calendar the caller may attach (to a queue, to
/// an agent): a vendor's leads only their vendor's.
pub fn check_attachable(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
    errors: &mut Errors,
    field: &str,
) -> AppResult<()> {
    let found = calendars::table
        .find(id)
        .select(calendars::vendor_id)
        .first::<Option<String>>(conn)
        .optional()?;
    let visible = match (found, caller.vendor_scope()) {
        (None, _) => false,
        (Some(owner), Some(own)) => owner.as_deref() == Some(own),
        (Some(_), None) => true,
    };
    if !visible {
        errors.add(field, format!("no calendar '{id}'"));
    }
    Ok(())
}
