//! The SLA report (`GET /api/v1/reports/sla`): clocks settled in a period
//! (met at their stop, breached at their due time), per group, with
//! attainment and exact percentiles of the time they took.
//!
//! One statement per answer part (the groups, the totals), counted and
//! ranked by the database: each group's clocks are ordered by a window
//! function and the median and 90th percentile are the values at ranks
//! ⌈n/2⌉ and ⌈9n/10⌉ (nearest rank, PostgreSQL's `percentile_disc`), so
//! nothing but the answer's rows reaches Relay. A clock is charged to the
//! queue and vendor stored with it (the breach's holder, or the holder at
//! the stop); a lead's report holds only clocks charged to their vendor.

use super::period::Period;
use super::scope::{Columns, Scope};
use super::share;
use super::{
    check_queue_visible, may_read_reports, queue_labels, vendor_in_scope, CsvColumns, ReportFilter,
};
use crate::auth::Principal;
use crate::db::report_sql::Statement;
use crate::db::schema::{agents, vendors};
use crate::db::DbConnection;
use crate::domain::local_time::{date_of_day, monday_of_week, start_of_day};
use crate::domain::sla::clock::Metric;
use crate::error::AppResult;
use crate::sla::tracking::metric_name;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;
use std::collections::HashMap;

crate::domain::text_enum! {
    /// What the SLA report's groups are.
    SlaGrouping {
        Queue => "queue",
        Vendor => "vendor",
        Agent => "agent",
        Priority => "priority",
        Channel => "channel",
        Day => "day",
        Week => "week",
    }
}

/// The median and 90th percentile of some clocks' times, in seconds
/// (nearest rank); null without a stopped clock to measure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

/// One metric's clocks in a group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MetricFigures {
    pub met: i64,
    pub breached: i64,
    /// met / (met + breached); null when no clock settled.
    pub attainment: Option<f64>,
    /// Business time each stopped clock counted (what its target measures).
    pub business_seconds: Percentiles,
    /// Wall-clock time from each stopped clock's start to its stop.
    pub wall_seconds: Percentiles,
}

/// Customers' ratings given in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SatisfactionFigures {
    pub good: i64,
    pub bad: i64,
    /// good / (good + bad); null without ratings.
    pub score: Option<f64>,
}

impl SatisfactionFigures {
    fn of(good: i64, bad: i64) -> SatisfactionFigures {
        SatisfactionFigures {
            good,
            bad,
            score: share(good, good + bad),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SlaMetrics {
    pub first_response: MetricFigures,
    pub next_response: MetricFigures,
    pub resolution: MetricFigures,
}

impl SlaMetrics {
    fn of_mut(&mut self, metric: &str) -> Option<&mut MetricFigures> {
        match metric {
            m if m == metric_name(Metric::FirstResponse) => Some(&mut self.first_response),
            m if m == metric_name(Metric::NextResponse) => Some(&mut self.next_response),
            m if m == metric_name(Metric::Resolution) => Some(&mut self.resolution),
            _ => None,
        }
    }

    pub fn each(&self) -> [(Metric, &MetricFigures); 3] {
        [
            (Metric::FirstResponse, &self.first_response),
            (Metric::NextResponse, &self.next_response),
            (Metric::Resolution, &self.resolution),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SlaGroup {
    /// The queue, vendor or agent id, the priority or channel, or the
    /// local date a day or week (Monday) starts; null for clocks no queue
    /// (or no agent, or none of a lead's agents) held.
    pub key: Option<String>,
    /// The queue's slug, the vendor's or agent's name, else the key.
    pub label: Option<String>,
    /// For days and weeks: the bucket's bounds (a local day of 23 or 25
    /// hours across a DST change).
    #[schema(value_type = Option<String>)]
    pub starts_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>)]
    pub ends_at: Option<DateTime<Utc>>,
    pub metrics: SlaMetrics,
    /// Ratings of the group's tickets (by agent, queue and vendor: of
    /// whoever held the ticket at the solve; by day or week: when given).
    pub satisfaction: SatisfactionFigures,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaReport {
    #[schema(value_type = String)]
    pub from: DateTime<Utc>,
    #[schema(value_type = String)]
    pub to: DateTime<Utc>,
    pub tz: String,
    pub group_by: SlaGrouping,
    /// Groups with settled clocks, in label (or date) order; empty when
    /// nothing settled in the period.
    pub groups: Vec<SlaGroup>,
    pub totals: SlaMetrics,
    pub satisfaction: SatisfactionFigures,
}

/// A CSV line: one group's one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaCsvRow {
    pub key: Option<String>,
    pub label: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub metric: &'static str,
    pub met: i64,
    pub breached: i64,
    pub attainment: Option<f64>,
    pub business_median_seconds: Option<i64>,
    pub business_p90_seconds: Option<i64>,
    pub wall_median_seconds: Option<i64>,
    pub wall_p90_seconds: Option<i64>,
    /// The group's ratings (the same on its three lines).
    pub csat_good: i64,
    pub csat_bad: i64,
    pub csat_score: Option<f64>,
}

impl CsvColumns for SlaCsvRow {
    const COLUMNS: &'static [&'static str] = &[
        "key",
        "label",
        "starts_at",
        "ends_at",
        "metric",
        "met",
        "breached",
        "attainment",
        "business_median_seconds",
        "business_p90_seconds",
        "wall_median_seconds",
        "wall_p90_seconds",
        "csat_good",
        "csat_bad",
        "csat_score",
    ];
}

impl SlaReport {
    /// The CSV lines: every group's three metrics, in order.
    pub fn csv_rows(&self) -> Vec<SlaCsvRow> {
        self.groups
            .iter()
            .flat_map(|group| {
                group.metrics.each().map(|(metric, figures)| SlaCsvRow {
                    key: group.key.clone(),
                    label: group.label.clone(),
                    starts_at: group.starts_at,
                    ends_at: group.ends_at,
                    metric: metric_name(metric),
                    met: figures.met,
                    breached: figures.breached,
                    attainment: figures.attainment,
                    business_median_seconds: figures.business_seconds.median,
                    business_p90_seconds: figures.business_seconds.p90,
                    wall_median_seconds: figures.wall_seconds.median,
                    wall_p90_seconds: figures.wall_seconds.p90,
                    csat_good: group.satisfaction.good,
                    csat_bad: group.satisfaction.bad,
                    csat_score: group.satisfaction.score,
                })
            })
            .collect()
    }
}

/// One group's one metric as the statement counts it.
#[derive(Debug, QueryableByName)]
struct FigureRow {
    #[diesel(sql_type = Nullable<Text>)]
    group_key: Option<String>,
    #[diesel(sql_type = Text)]
    metric: String,
    #[diesel(sql_type = BigInt)]
    met: i64,
    #[diesel(sql_type = BigInt)]
    breached: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    business_median: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    business_p90: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    wall_median: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    wall_p90: Option<i64>,
}

impl FigureRow {
    fn figures(&self) -> MetricFigures {
        MetricFigures {
            met: self.met,
            breached: self.breached,
            attainment: share(self.met, self.met + self.breached),
            business_seconds: Percentiles {
                median: self.business_median,
                p90: self.business_p90,
            },
            wall_seconds: Percentiles {
                median: self.wall_median,
                p90: self.wall_p90,
            },
        }
    }
}

/// Whether grouping by `grouping` reads the ticket's own columns.
fn groups_tickets(grouping: Option<SlaGrouping>) -> bool {
    matches!(
        grouping,
        Some(SlaGrouping::Agent | SlaGrouping::Priority | SlaGrouping::Channel)
    )
}

/// What a statement groups: its rows' scope columns and whose they are.
struct Source {
    columns: Columns<'static>,
    /// The agent a row is credited to.
    agent: &'static str,
}

/// Clocks (`c`): settled in the period, charged to the vendor and queue,
/// credited to the ticket's assignee.
const CLOCKS: Source = Source {
    columns: Columns {
        time: "c.settled_at",
        vendor: "c.vendor_id",
        queue: "c.queue_id",
    },
    agent: "t.assignee_id",
};

/// Ratings (`r`): given in the period, of whoever held the ticket at the
/// solve.
const RATINGS: Source = Source {
    columns: Columns {
        time: "r.rated_at",
        vendor: "r.vendor_id",
        queue: "r.queue_id",
    },
    agent: "r.agent_id",
};

/// Writes the group key of a row of `source` (`None`: one group of all,
/// the totals).
fn group_key(
    statement: &mut Statement,
    scope: &Scope<'_>,
    source: &Source,
    grouping: Option<SlaGrouping>,
) {
    let local_day = |statement: &mut Statement| {
        statement.sql("(");
        statement.local_epoch_seconds(source.columns.time, &scope.period.pieces);
        statement.sql(" / 86400)");
    };
    match grouping {
        None => {
            statement.sql("CAST(NULL AS TEXT)");
        }
        Some(SlaGrouping::Queue) => {
            statement.sql(source.columns.queue);
        }
        Some(SlaGrouping::Vendor) => {
            statement.sql(source.columns.vendor);
        }
        Some(SlaGrouping::Agent) => match scope.vendor {
            // Only the vendor's own agents are named to it: a ticket later
            // handed to another vendor is assigned to someone it must not
            // learn of.
            Some(vendor) => {
                let agent = source.agent;
                statement
                    .sql(&format!(
                        "CASE WHEN {agent} IN (SELECT id FROM agents WHERE vendor_id = "
                    ))
                    .text(vendor)
                    .sql(&format!(") THEN {agent} END"));
            }
            None => {
                statement.sql(source.agent);
            }
        },
        Some(SlaGrouping::Priority) => {
            statement.sql("t.priority");
        }
        Some(SlaGrouping::Channel) => {
            statement.sql("t.channel");
        }
        Some(SlaGrouping::Day) => {
            statement.sql("CAST(");
            local_day(statement);
            statement.sql(" AS TEXT)");
        }
        Some(SlaGrouping::Week) => {
            statement.sql("CAST((");
            local_day(statement);
            statement.sql(" + 3) / 7 AS TEXT)");
        }
    }
}

/// Whether a statement ranks the clocks for percentiles or only counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    Percentiles,
    Counts,
}

/// The figures of every group (or, for `None`, of all the clocks).
fn figure_rows(
    conn: &mut DbConnection,
    scope: &Scope<'_>,
    grouping: Option<SlaGrouping>,
    measure: Measure,
) -> AppResult<Vec<FigureRow>> {
    let mut s = Statement::for_connection(conn);
    s.sql("WITH clocks AS (SELECT ");
    group_key(&mut s, scope, &CLOCKS, grouping);
    s.sql(
        " AS group_key, c.metric AS metric, c.state AS state, \
         CASE WHEN c.stopped_at IS NOT NULL THEN c.business_seconds_used END AS business, \
         CASE WHEN c.stopped_at IS NOT NULL THEN ",
    );
    s.epoch_seconds("c.stopped_at")
        .sql(" - ")
        .epoch_seconds("c.started_at");
    s.sql(" END AS wall FROM sla_clocks c");
    if groups_tickets(grouping) || scope.filters_tickets() {
        s.sql(" JOIN tickets t ON t.id = c.ticket_id");
    }
    s.sql(" WHERE 1 = 1");
    scope.conditions(&mut s, CLOCKS.columns);
    s.sql(")");
    let counts = "SELECT group_key, metric, \
         SUM(CASE WHEN state = 'met' THEN 1 ELSE 0 END) AS met, \
         SUM(CASE WHEN state = 'breached' THEN 1 ELSE 0 END) AS breached, ";
    match measure {
        // Unstopped (breached, still running) clocks have no time yet:
        // their nulls rank last and `measured` does not count them.
        Measure::Percentiles => s.sql(
            ", ranked AS (SELECT group_key, metric, state, business, wall, \
             ROW_NUMBER() OVER (PARTITION BY group_key, metric ORDER BY business IS NULL, business) AS business_rank, \
             ROW_NUMBER() OVER (PARTITION BY group_key, metric ORDER BY wall IS NULL, wall) AS wall_rank, \
             COUNT(wall) OVER (PARTITION BY group_key, metric) AS measured FROM clocks) ",
        )
        .sql(counts)
        .sql(
            "MIN(CASE WHEN business_rank * 2 >= measured THEN business END) AS business_median, \
             MIN(CASE WHEN business_rank * 10 >= measured * 9 THEN business END) AS business_p90, \
             MIN(CASE WHEN wall_rank * 2 >= measured THEN wall END) AS wall_median, \
             MIN(CASE WHEN wall_rank * 10 >= measured * 9 THEN wall END) AS wall_p90 \
             FROM ranked GROUP BY group_key, metric",
        ),
        Measure::Counts => s.sql(counts).sql(
            "CAST(NULL AS BIGINT) AS business_median, CAST(NULL AS BIGINT) AS business_p90, \
             CAST(NULL AS BIGINT) AS wall_median, CAST(NULL AS BIGINT) AS wall_p90 \
             FROM clocks GROUP BY group_key, metric",
        ),
    };
    Ok(s.load(conn)?)
}

/// Met and breached clocks (every metric) charged to each vendor over the
/// period, by vendor and metric, for the vendors report.
pub(super) fn vendor_clock_counts(
    conn: &mut DbConnection,
    scope: &Scope<'_>,
) -> AppResult<HashMap<String, SlaMetrics>> {
    let mut by_vendor: HashMap<String, SlaMetrics> = HashMap::new();
    for row in figure_rows(conn, scope, Some(SlaGrouping::Vendor), Measure::Counts)? {
        let Some(vendor) = row.group_key.clone() else {
            continue;
        };
        if let Some(figures) = by_vendor.entry(vendor).or_default().of_mut(&row.metric) {
            *figures = row.figures();
        }
    }
    Ok(by_vendor)
}

pub fn report(
    conn: &mut DbConnection,
    caller: &Principal,
    grouping: SlaGrouping,
    period: &Period,
    filter: &ReportFilter,
) -> AppResult<SlaReport> {
    caller.require(may_read_reports)?;
    let vendor = vendor_in_scope(caller, filter.vendor_id.as_deref())?;
    let queues = queue_labels(conn)?;
    check_queue_visible(caller, &queues, filter.queue_id.as_deref())?;
    let scope = Scope {
        period,
        filter,
        vendor: vendor.as_deref(),
    };
    let mut groups: Vec<Figures> = Vec::new();
    for row in figure_rows(conn, &scope, Some(grouping), Measure::Percentiles)? {
        if let Some(figures) = Figures::find(&mut groups, &row.group_key)
            .metrics
            .of_mut(&row.metric)
        {
            *figures = row.figures();
        }
    }
    for row in rating_rows(conn, &scope, Some(grouping))? {
        Figures::find(&mut groups, &row.group_key).satisfaction =
            SatisfactionFigures::of(row.good, row.bad);
    }
    let mut totals = SlaMetrics::default();
    for row in figure_rows(conn, &scope, None, Measure::Percentiles)? {
        if let Some(figures) = totals.of_mut(&row.metric) {
            *figures = row.figures();
        }
    }
    let satisfaction = rating_rows(conn, &scope, None)?
        .first()
        .map(|row| SatisfactionFigures::of(row.good, row.bad))
        .unwrap_or_default();
    let labels = Labels::read(conn, grouping, &queues)?;
    let mut groups: Vec<SlaGroup> = groups
        .into_iter()
        .map(|figures| labels.group(grouping, period, figures))
        .collect();
    groups.sort_by(|a, b| {
        let order = |g: &SlaGroup| (g.key.is_none(), g.starts_at, g.label.clone(), g.key.clone());
        order(a).cmp(&order(b))
    });
    Ok(SlaReport {
        from: period.from,
        to: period.to,
        tz: period.zone.name().to_string(),
        group_by: grouping,
        groups,
        totals,
        satisfaction,
    })
}

/// A group's figures as its statements' rows come in.
struct Figures {
    key: Option<String>,
    metrics: SlaMetrics,
    satisfaction: SatisfactionFigures,
}

impl Figures {
    fn find<'g>(groups: &'g mut Vec<Figures>, key: &Option<String>) -> &'g mut Figures {
        let at = match groups.iter().position(|g| g.key == *key) {
            Some(at) => at,
            None => {
                groups.push(Figures {
                    key: key.clone(),
                    metrics: SlaMetrics::default(),
                    satisfaction: SatisfactionFigures::default(),
                });
                groups.len() - 1
            }
        };
        &mut groups[at]
    }
}

#[derive(QueryableByName)]
struct RatingRow {
    #[diesel(sql_type = Nullable<Text>)]
    group_key: Option<String>,
    #[diesel(sql_type = BigInt)]
    good: i64,
    #[diesel(sql_type = BigInt)]
    bad: i64,
}

/// Ratings given in the period per vendor rated, `(good, bad)`, for the
/// vendors report.
pub(super) fn vendor_ratings(
    conn: &mut DbConnection,
    scope: &Scope<'_>,
) -> AppResult<HashMap<String, (i64, i64)>> {
    Ok(rating_rows(conn, scope, Some(SlaGrouping::Vendor))?
        .into_iter()
        .filter_map(|row| Some((row.group_key?, (row.good, row.bad))))
        .collect())
}

/// Ratings given in the period per group (or, for `None`, all of them).
fn rating_rows(
    conn: &mut DbConnection,
    scope: &Scope<'_>,
    grouping: Option<SlaGrouping>,
) -> AppResult<Vec<RatingRow>> {
    let mut s = Statement::for_connection(conn);
    s.sql("SELECT ");
    group_key(&mut s, scope, &RATINGS, grouping);
    s.sql(
        " AS group_key, SUM(CASE WHEN r.rating = 'good' THEN 1 ELSE 0 END) AS good, \
         SUM(CASE WHEN r.rating = 'bad' THEN 1 ELSE 0 END) AS bad \
         FROM csat_surveys r JOIN tickets t ON t.id = r.ticket_id WHERE r.rated_at IS NOT NULL",
    );
    scope.conditions(&mut s, RATINGS.columns);
    s.sql(" GROUP BY 1");
    Ok(s.load(conn)?)
}

/// Names of the groups' queues, vendors or agents.
struct Labels(HashMap<String, String>);

impl Labels {
    fn read(
        conn: &mut DbConnection,
        grouping: SlaGrouping,
        queues: &HashMap<String, (String, String)>,
    ) -> AppResult<Labels> {
        let names: HashMap<String, String> = match grouping {
            SlaGrouping::Queue => queues
                .iter()
                .map(|(id, (slug, _))| (id.clone(), slug.clone()))
                .collect(),
            SlaGrouping::Vendor => vendors::table
                .select((vendors::id, vendors::name))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect(),
            SlaGrouping::Agent => agents::table
                .select((agents::id, agents::name))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect(),
            _ => HashMap::new(),
        };
        Ok(Labels(names))
    }

    fn group(&self, grouping: SlaGrouping, period: &Period, figures: Figures) -> SlaGroup {
        let Figures {
            key,
            metrics,
            satisfaction,
        } = figures;
        let number = key.as_deref().and_then(|k| k.parse::<i64>().ok());
        let bucket = match (grouping, number) {
            (SlaGrouping::Day, Some(day)) => {
                let date = date_of_day(day);
                Some((date, date + Duration::days(1)))
            }
            (SlaGrouping::Week, Some(week)) => {
                let monday = monday_of_week(week);
                Some((monday, monday + Duration::days(7)))
            }
            _ => None,
        };
        match bucket {
            Some((first, next)) => {
                let text = first.format("%Y-%m-%d").to_string();
                SlaGroup {
                    key: Some(text.clone()),
                    label: Some(text),
                    starts_at: Some(start_of_day(period.zone, first)),
                    ends_at: Some(start_of_day(period.zone, next)),
                    metrics,
                    satisfaction,
                }
            }
            None => SlaGroup {
                label: key
                    .as_ref()
                    .map(|k| self.0.get(k).cloned().unwrap_or_else(|| k.clone())),
                key,
                starts_at: None,
                ends_at: None,
                metrics,
                satisfaction,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_columns_are_the_json_row_s_fields() {
        let at: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let report = SlaReport {
            from: at,
            to: at,
            tz: "UTC".into(),
            group_by: SlaGrouping::Queue,
            groups: vec![SlaGroup {
                key: None,
                label: None,
                starts_at: None,
                ends_at: None,
                metrics: SlaMetrics::default(),
                satisfaction: SatisfactionFigures::default(),
            }],
            totals: SlaMetrics::default(),
            satisfaction: SatisfactionFigures::default(),
        };
        let rows = report.csv_rows();
        assert_eq!(rows.len(), 3);
        super::super::assert_columns_match(&rows[0]);
    }
}
