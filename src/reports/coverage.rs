//! The 24/7 coverage report (`GET /api/v1/reports/coverage`): the 168
//! local hours of the week, per queue or vendor, with the work that came
//! in, who was on shift, the time the queue should have been staffed and
//! no one was, how first responses and breaches went, and the staffing
//! that hour needs.
//!
//! - Arrivals: tickets created in the period, by the queue holding them,
//!   averaged per occurrence of the hour in the period (an hour skipped
//!   by DST did not occur; a repeated one occurred twice).
//! - On shift: the vendor's active agents by their shift calendars (an
//!   agent without one is always on shift, as routing counts them),
//!   averaged over the hour's occurrences.
//! - Unstaffed: minutes in which the queue's coverage calendar was open
//!   (no calendar: always) and none of the vendor's agents was on shift.
//! - First responses: by the hour the clock started (when the customer
//!   wrote), with the median wall-clock time of those answered; breaches
//!   (any metric) by the hour the time ran out, charged as the SLA report
//!   charges them.
//! - Advice: `domain::staffing` for the hour's average arrivals, the
//!   queue's handle time (or the report's default) and its answer target
//!   (the most common first-response target of its clocks in the period,
//!   unless the caller names one); gap = agents to schedule − on shift.
//!
//! Counts come from grouped statements by local hour of the week; the
//! shift arithmetic is `domain::coverage` over the calendars' intervals.

use super::period::Period;
use super::scope::{Columns, Scope};
use super::{
    check_queue_visible, may_read_reports, queue_labels, vendor_in_scope, CsvColumns, ReportFilter,
};
use crate::auth::Principal;
use crate::db::models::{Agent, Queue};
use crate::db::report_sql::Statement;
use crate::db::schema::{agents, queues, vendors};
use crate::db::DbConnection;
use crate::domain::calendar::{day_name, Calendar};
use crate::domain::coverage::{open_within, seconds_by_hour_of_week, subtract, union, Interval};
use crate::domain::local_time::hours_of_week_in;
use crate::domain::staffing::{self, Demand, Goal};
use crate::error::AppResult;
use crate::routing::compiled::directory;
use chrono::{DateTime, Utc, Weekday};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;
use std::collections::HashMap;

/// The handle time of queues that configure none, in seconds.
pub const DEFAULT_HANDLE_SECONDS: i32 = 600;
/// Claims answered in the period from which a queue's handle time is
/// measured rather than taken from its setting.
pub const MEASURED_FROM: i64 = 30;

crate::domain::text_enum! {
    /// Where the handle time the advice used came from.
    HandleSource {
        Given => "given",
        Measured => "measured",
        Queue => "queue",
        Default => "default",
    }
}

crate::domain::text_enum! {
    /// What the coverage report's groups are.
    CoverageGrouping {
        Queue => "queue",
        Vendor => "vendor",
    }
}

/// What the caller may set for the advice.
#[derive(Debug, Clone, Copy)]
pub struct AdviceInputs {
    pub goal: Goal,
    /// The answer target to plan for, instead of the measured one.
    pub answer_seconds: Option<f64>,
    /// The handle time to plan with, instead of the queues' own.
    pub handle_seconds: Option<f64>,
}

/// One local hour of the week for one group.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CoverageHour {
    /// 0 = Monday 00:00–01:00 … 167 = Sunday 23:00–24:00.
    pub hour: u8,
    pub day: &'static str,
    /// The local time the hour starts, `HH:00`.
    pub time: String,
    /// How often the hour occurred in the period.
    pub occurrences: u32,
    pub arrivals_per_hour: f64,
    /// Agents on shift on average in the hour.
    pub agents_on_shift: f64,
    /// Minutes (over the period) the coverage calendar was open.
    pub staffed_calendar_minutes: i64,
    /// Minutes (over the period) it was open and no agent was on shift.
    pub unstaffed_minutes: i64,
    pub first_responses: i64,
    /// Median wall-clock seconds to the first response of tickets that
    /// arrived in this hour and were answered.
    pub median_first_response_seconds: Option<i64>,
    pub breaches: i64,
    /// Agents needed on the queue; null without an answer target.
    pub agents_needed: Option<u32>,
    /// Agents to schedule for that (after shrinkage).
    pub scheduled_agents_needed: Option<u32>,
    /// scheduled_agents_needed − agents_on_shift: positive is short.
    pub gap: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CoverageGroup {
    /// The queue's or vendor's id.
    pub key: String,
    /// The queue's slug or the vendor's name.
    pub label: String,
    pub vendor_id: String,
    /// The handle time the advice used.
    pub handle_seconds: f64,
    /// `given` (the request's), `measured` (the median claim-to-first-reply
    /// time of at least 30 claims in the period), `queue` (its setting) or
    /// `default` (600 s).
    pub handle_source: HandleSource,
    /// The answer target the advice used; null: none known (no advice).
    pub answer_seconds: Option<f64>,
    pub unstaffed_minutes: i64,
    pub breaches: i64,
    /// Always 168, Monday 00:00 first.
    pub hours: Vec<CoverageHour>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoverageReport {
    #[schema(value_type = String)]
    pub from: DateTime<Utc>,
    #[schema(value_type = String)]
    pub to: DateTime<Utc>,
    pub tz: String,
    pub group_by: CoverageGrouping,
    pub groups: Vec<CoverageGroup>,
}

/// A CSV line: one group's one hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageCsvRow {
    pub key: String,
    pub label: String,
    #[serde(flatten)]
    pub hour: CoverageHour,
}

impl CsvColumns for CoverageCsvRow {
    const COLUMNS: &'static [&'static str] = &[
        "key",
        "label",
        "hour",
        "day",
        "time",
        "occurrences",
        "arrivals_per_hour",
        "agents_on_shift",
        "staffed_calendar_minutes",
        "unstaffed_minutes",
        "first_responses",
        "median_first_response_seconds",
        "breaches",
        "agents_needed",
        "scheduled_agents_needed",
        "gap",
    ];
}

impl CoverageReport {
    pub fn csv_rows(&self) -> Vec<CoverageCsvRow> {
        self.groups
            .iter()
            .flat_map(|group| {
                group.hours.iter().map(|hour| CoverageCsvRow {
                    key: group.key.clone(),
                    label: group.label.clone(),
                    hour: hour.clone(),
                })
            })
            .collect()
    }
}

/// A group's figure in one hour of the week.
#[derive(QueryableByName)]
struct HourRow {
    #[diesel(sql_type = Nullable<Text>)]
    group_key: Option<String>,
    #[diesel(sql_type = BigInt)]
    hour: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    median: Option<i64>,
}

/// (group, hour of the week) → (count, median).
type Hourly = HashMap<(String, usize), (i64, Option<i64>)>;

struct Query<'a> {
    scope: Scope<'a>,
    grouping: CoverageGrouping,
}

impl Query<'_> {
    /// `((local epoch seconds / 3600) + 72) % 168` of a column.
    fn hour_of_week(&self, s: &mut Statement, column: &str) {
        s.sql("((");
        s.local_epoch_seconds(column, &self.scope.period.pieces);
        s.sql(" / 3600 + 72) % 168)");
    }

    /// A clock's scope, with the period on the instant `time`.
    fn clock_columns(time: &str) -> Columns<'_> {
        Columns {
            time,
            vendor: "c.vendor_id",
            queue: "c.queue_id",
        }
    }

    fn load(&self, conn: &mut DbConnection, s: &Statement) -> AppResult<Hourly> {
        Ok(s.load::<HourRow>(conn)?
            .into_iter()
            .filter_map(|row| {
                let hour = usize::try_from(row.hour).ok().filter(|h| *h < 168)?;
                Some(((row.group_key?, hour), (row.n, row.median)))
            })
            .collect())
    }

    /// Tickets created, by the queue (or its vendor) holding them.
    fn arrivals(&self, conn: &mut DbConnection) -> AppResult<Hourly> {
        let key = match self.grouping {
            CoverageGrouping::Queue => "t.queue_id",
            CoverageGrouping::Vendor => "q.vendor_id",
        };
        let mut s = Statement::for_connection(conn);
        s.sql(&format!("SELECT {key} AS group_key, "));
        self.hour_of_week(&mut s, "t.created_at");
        s.sql(
            " AS hour, COUNT(*) AS n, CAST(NULL AS BIGINT) AS median \
             FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE 1 = 1",
        );
        self.scope.conditions(
            &mut s,
            Columns {
                time: "t.created_at",
                vendor: "q.vendor_id",
                queue: "t.queue_id",
            },
        );
        s.sql(" GROUP BY 1, 2");
        self.load(conn, &s)
    }

    fn clock_key(&self) -> &'static str {
        match self.grouping {
            CoverageGrouping::Queue => "c.queue_id",
            CoverageGrouping::Vendor => "c.vendor_id",
        }
    }

    /// Answered first responses by the hour their clock started, with
    /// the median wall-clock time (nearest rank).
    fn first_responses(&self, conn: &mut DbConnection) -> AppResult<Hourly> {
        let mut s = Statement::for_connection(conn);
        s.sql(&format!(
            "WITH answered AS (SELECT {} AS group_key, ",
            self.clock_key()
        ));
        self.hour_of_week(&mut s, "c.started_at");
        s.sql(" AS hour, ");
        s.epoch_seconds("c.stopped_at")
            .sql(" - ")
            .epoch_seconds("c.started_at");
        s.sql(
            " AS wall FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id \
             WHERE c.metric = 'first_response' AND c.stopped_at IS NOT NULL",
        );
        self.scope
            .conditions(&mut s, Self::clock_columns("c.started_at"));
        s.sql(
            "), ranked AS (SELECT group_key, hour, wall, \
             ROW_NUMBER() OVER (PARTITION BY group_key, hour ORDER BY wall) AS rank, \
             COUNT(*) OVER (PARTITION BY group_key, hour) AS answered FROM answered) \
             SELECT group_key, hour, COUNT(*) AS n, \
             MIN(CASE WHEN rank * 2 >= answered THEN wall END) AS median \
             FROM ranked GROUP BY group_key, hour",
        );
        self.load(conn, &s)
    }

    /// Breaches (every metric) by the hour the time ran out.
    fn breaches(&self, conn: &mut DbConnection) -> AppResult<Hourly> {
        let mut s = Statement::for_connection(conn);
        s.sql(&format!("SELECT {} AS group_key, ", self.clock_key()));
        self.hour_of_week(&mut s, "c.settled_at");
        s.sql(
            " AS hour, COUNT(*) AS n, CAST(NULL AS BIGINT) AS median \
             FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id WHERE c.state = 'breached'",
        );
        self.scope
            .conditions(&mut s, Self::clock_columns("c.settled_at"));
        s.sql(" GROUP BY 1, 2");
        self.load(conn, &s)
    }

    /// Per queue: claims in the period answered by a public agent reply,
    /// and the median time from the claim to that reply (nearest rank).
    fn claim_to_reply(&self, conn: &mut DbConnection) -> AppResult<HashMap<String, (i64, i64)>> {
        let mut s = Statement::for_connection(conn);
        s.sql(
            "WITH claims AS (SELECT e.ticket_id AS ticket_id, MIN(e.created_at) AS claimed_at \
             FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id \
             JOIN queues q ON q.id = t.queue_id WHERE e.kind = 'assigned'",
        );
        self.scope.conditions(
            &mut s,
            Columns {
                time: "e.created_at",
                vendor: "q.vendor_id",
                queue: "t.queue_id",
            },
        );
        s.sql(" GROUP BY e.ticket_id), answered AS (SELECT t.queue_id AS group_key, ");
        s.epoch_seconds("MIN(m.created_at)")
            .sql(" - ")
            .epoch_seconds("c.claimed_at");
        s.sql(
            " AS handle FROM claims c JOIN tickets t ON t.id = c.ticket_id \
             JOIN messages m ON m.ticket_id = c.ticket_id AND m.author_kind = 'agent' \
             AND m.public = TRUE AND m.created_at >= c.claimed_at \
             GROUP BY t.queue_id, c.ticket_id, c.claimed_at), \
             ranked AS (SELECT group_key, handle, \
             ROW_NUMBER() OVER (PARTITION BY group_key ORDER BY handle) AS rank, \
             COUNT(*) OVER (PARTITION BY group_key) AS claims FROM answered) \
             SELECT group_key, CAST(0 AS BIGINT) AS hour, COUNT(*) AS n, \
             MIN(CASE WHEN rank * 2 >= claims THEN handle END) AS median \
             FROM ranked GROUP BY group_key",
        );
        Ok(s.load::<HourRow>(conn)?
            .into_iter()
            .filter_map(|row| Some((row.group_key?, (row.n, row.median?))))
            .collect())
    }

    /// Each group's most common first-response target in the period.
    fn answer_targets(&self, conn: &mut DbConnection) -> AppResult<HashMap<String, i64>> {
        let mut s = Statement::for_connection(conn);
        s.sql(&format!(
            "SELECT {} AS group_key, c.target_seconds AS hour, COUNT(*) AS n, \
             CAST(NULL AS BIGINT) AS median FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id \
             WHERE c.metric = 'first_response'",
            self.clock_key()
        ));
        self.scope
            .conditions(&mut s, Self::clock_columns("c.started_at"));
        s.sql(" GROUP BY 1, 2");
        let mut best: HashMap<String, (i64, i64)> = HashMap::new();
        for row in s.load::<HourRow>(conn)? {
            let Some(key) = row.group_key else { continue };
            let (target, n) = (row.hour, row.n);
            let entry = best.entry(key).or_insert((target, n));
            // The most clocks; among equals, the shortest target.
            if n > entry.1 || (n == entry.1 && target < entry.0) {
                *entry = (target, n);
            }
        }
        Ok(best
            .into_iter()
            .map(|(k, (target, _))| (k, target))
            .collect())
    }
}

/// A group as planned: its queues' coverage and its vendor's agents.
struct Plan<'a> {
    key: String,
    label: String,
    vendor_id: String,
    coverage: Vec<Option<&'a Calendar>>,
    /// The handle time to plan with, and where it came from.
    handle: (f64, HandleSource),
}

pub fn report(
    conn: &mut DbConnection,
    caller: &Principal,
    grouping: CoverageGrouping,
    period: &Period,
    filter: &ReportFilter,
    inputs: &AdviceInputs,
) -> AppResult<CoverageReport> {
    caller.require(may_read_reports)?;
    let vendor = vendor_in_scope(caller, filter.vendor_id.as_deref())?;
    check_queue_visible(caller, &queue_labels(conn)?, filter.queue_id.as_deref())?;
    let calendars = directory(conn)?;
    let mut queue_query = queues::table.order((queues::slug, queues::id)).into_boxed();
    if let Some(vendor) = &vendor {
        queue_query = queue_query.filter(queues::vendor_id.eq(vendor.clone()));
    }
    if let Some(queue) = &filter.queue_id {
        queue_query = queue_query.filter(queues::id.eq(queue.clone()));
    }
    let in_scope: Vec<Queue> = queue_query.select(Queue::as_select()).load(conn)?;
    let vendor_names: HashMap<String, String> = vendors::table
        .select((vendors::id, vendors::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let coverage_of = |queue: &Queue| {
        queue
            .coverage_calendar_id
            .as_ref()
            .and_then(|id| calendars.calendars.get(id))
    };
    let query = Query {
        scope: Scope {
            period,
            filter,
            vendor: vendor.as_deref(),
        },
        grouping,
    };
    let measured = match inputs.handle_seconds {
        Some(_) => HashMap::new(),
        None => query.claim_to_reply(conn)?,
    };
    let handle_of = |queue: &Queue| match (inputs.handle_seconds, measured.get(&queue.id)) {
        (Some(given), _) => (given, HandleSource::Given),
        (None, Some(&(claims, median))) if claims >= MEASURED_FROM => {
            (median as f64, HandleSource::Measured)
        }
        (None, _) => match queue.handle_seconds {
            Some(seconds) => (f64::from(seconds), HandleSource::Queue),
            None => (f64::from(DEFAULT_HANDLE_SECONDS), HandleSource::Default),
        },
    };
    let plans: Vec<Plan<'_>> = match grouping {
        CoverageGrouping::Queue => in_scope
            .iter()
            .map(|queue| Plan {
                key: queue.id.clone(),
                label: queue.slug.clone(),
                vendor_id: queue.vendor_id.clone(),
                coverage: vec![coverage_of(queue)],
                handle: handle_of(queue),
            })
            .collect(),
        CoverageGrouping::Vendor => {
            let mut plans: Vec<Plan<'_>> = Vec::new();
            for queue in &in_scope {
                match plans.iter_mut().find(|p| p.key == queue.vendor_id) {
                    Some(plan) => {
                        plan.coverage.push(coverage_of(queue));
                        // The vendor's queues share its people: plan with
                        // the longest handle time among them.
                        let handle = handle_of(queue);
                        if handle.0 > plan.handle.0 {
                            plan.handle = handle;
                        }
                    }
                    None => plans.push(Plan {
                        key: queue.vendor_id.clone(),
                        label: vendor_names
                            .get(&queue.vendor_id)
                            .cloned()
                            .unwrap_or_default(),
                        vendor_id: queue.vendor_id.clone(),
                        coverage: vec![coverage_of(queue)],
                        handle: handle_of(queue),
                    }),
                }
            }
            plans.sort_by(|a, b| (&a.label, &a.key).cmp(&(&b.label, &b.key)));
            plans
        }
    };
    let arrivals = query.arrivals(conn)?;
    let answered = query.first_responses(conn)?;
    let breaches = query.breaches(conn)?;
    let targets = query.answer_targets(conn)?;
    let staff: Vec<Agent> = agents::table
        .filter(agents::active.eq(true))
        .filter(agents::vendor_id.is_not_null())
        .select(Agent::as_select())
        .load(conn)?;
    let occurrences = hours_of_week_in(period.zone, period.from, period.to);
    let mut shifts_by_vendor: HashMap<&str, (Vec<Interval>, [i64; 168])> = HashMap::new();
    let mut groups = Vec::with_capacity(plans.len());
    for plan in &plans {
        let (on_shift, agent_seconds) = shifts_by_vendor
            .entry(plan.vendor_id.as_str())
            .or_insert_with(|| shifts(&staff, &plan.vendor_id, &calendars.calendars, period));
        let should_be_staffed = union(
            plan.coverage
                .iter()
                .flat_map(|calendar| open_within(*calendar, period.from, period.to))
                .collect(),
        );
        let unstaffed = subtract(&should_be_staffed, on_shift);
        let staffed_seconds = seconds_by_hour_of_week(&should_be_staffed, &period.pieces);
        let unstaffed_seconds = seconds_by_hour_of_week(&unstaffed, &period.pieces);
        let answer_seconds = inputs
            .answer_seconds
            .or_else(|| targets.get(&plan.key).map(|t| *t as f64));
        let hours: Vec<CoverageHour> = (0..168)
            .map(|hour| {
                let figure = |hourly: &Hourly| hourly.get(&(plan.key.clone(), hour)).copied();
                let count = |hourly: &Hourly| figure(hourly).map_or(0, |(n, _)| n);
                let times = f64::from(occurrences[hour].max(1));
                let arrivals_per_hour = count(&arrivals) as f64 / times;
                let agents_on_shift = agent_seconds[hour] as f64 / 3600.0 / times;
                let advice = answer_seconds.and_then(|answer_seconds| {
                    let demand = Demand {
                        arrivals_per_hour,
                        handle_seconds: plan.handle.0,
                        answer_seconds,
                    };
                    staffing::advise(&demand, &inputs.goal).ok()
                });
                CoverageHour {
                    hour: hour as u8,
                    day: day_name(weekday(hour)),
                    time: format!("{:02}:00", hour % 24),
                    occurrences: occurrences[hour],
                    arrivals_per_hour: round2(arrivals_per_hour),
                    agents_on_shift: round2(agents_on_shift),
                    staffed_calendar_minutes: staffed_seconds[hour] / 60,
                    unstaffed_minutes: unstaffed_seconds[hour] / 60,
                    first_responses: count(&answered),
                    median_first_response_seconds: figure(&answered).and_then(|(_, m)| m),
                    breaches: count(&breaches),
                    agents_needed: advice.as_ref().map(|a| a.agents),
                    scheduled_agents_needed: advice.as_ref().map(|a| a.scheduled_agents),
                    gap: advice.map(|a| round2(f64::from(a.scheduled_agents) - agents_on_shift)),
                }
            })
            .collect();
        groups.push(CoverageGroup {
            key: plan.key.clone(),
            label: plan.label.clone(),
            vendor_id: plan.vendor_id.clone(),
            handle_seconds: plan.handle.0,
            handle_source: plan.handle.1,
            answer_seconds,
            unstaffed_minutes: unstaffed_seconds.iter().sum::<i64>() / 60,
            breaches: hours.iter().map(|h| h.breaches).sum(),
            hours,
        });
    }
    Ok(CoverageReport {
        from: period.from,
        to: period.to,
        tz: period.zone.name().to_string(),
        group_by: grouping,
        groups,
    })
}

/// When any of the vendor's agents was on shift, and the agent-seconds on
/// shift in each hour of the week.
fn shifts(
    staff: &[Agent],
    vendor: &str,
    calendars: &HashMap<String, Calendar>,
    period: &Period,
) -> (Vec<Interval>, [i64; 168]) {
    let mut all = Vec::new();
    let mut agent_seconds = [0i64; 168];
    for agent in staff
        .iter()
        .filter(|a| a.vendor_id.as_deref() == Some(vendor))
    {
        // An agent without a shift calendar is always on shift; one whose
        // calendar is gone never is (as routing treats them).
        let calendar = match &agent.shift_calendar_id {
            None => None,
            Some(id) => match calendars.get(id) {
                Some(calendar) => Some(calendar),
                None => continue,
            },
        };
        let open = open_within(calendar, period.from, period.to);
        for (hour, seconds) in seconds_by_hour_of_week(&open, &period.pieces)
            .iter()
            .enumerate()
        {
            agent_seconds[hour] += seconds;
        }
        all.extend(open);
    }
    (union(all), agent_seconds)
}

fn weekday(hour_of_week: usize) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][hour_of_week / 24]
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_columns_are_the_json_row_s_fields() {
        let row = CoverageCsvRow {
            key: "q".into(),
            label: "acme".into(),
            hour: CoverageHour {
                hour: 0,
                day: "mon",
                time: "00:00".into(),
                occurrences: 1,
                arrivals_per_hour: 0.0,
                agents_on_shift: 0.0,
                staffed_calendar_minutes: 0,
                unstaffed_minutes: 0,
                first_responses: 0,
                median_first_response_seconds: None,
                breaches: 0,
                agents_needed: None,
                scheduled_agents_needed: None,
                gap: None,
            },
        };
        super::super::assert_columns_match(&row);
    }
}
