//! The backlog report (`GET /api/v1/reports/backlog`): open tickets now, by
//! queue and status, counted by age, with how many are at risk (the
//! earliest running due time within the hour) and breached.
//!
//! Counted by the database (one grouped statement, whatever the number of
//! tickets); the caller's vendor scope is a filter of that statement, so a
//! lead's totals hold only their vendor's tickets.

use super::{
    check_queue_visible, may_read_reports, queue_labels, vendor_in_scope, CsvColumns, ReportFilter,
};
use crate::auth::Principal;
use crate::db::schema::{queues, ticket_sla, tickets};
use crate::db::DbConnection;
use crate::domain::Status;
use crate::error::AppResult;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::dsl::{case_when, count_star, sum};
use diesel::prelude::*;
use diesel::sql_types::Integer;
use serde::Serialize;

/// The upper ends of the age buckets but the last, in hours.
const AGE_LIMITS_HOURS: [i64; 5] = [1, 4, 24, 72, 168];

/// Open tickets counted: in all, by age (time since the ticket was
/// created), at risk and breached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BacklogCounts {
    pub tickets: i64,
    pub under_1h: i64,
    pub from_1h_to_4h: i64,
    pub from_4h_to_24h: i64,
    pub from_1d_to_3d: i64,
    pub from_3d_to_7d: i64,
    pub over_7d: i64,
    /// Earliest running due time within the next hour.
    pub at_risk: i64,
    /// A clock that has not stopped ran out.
    pub breached: i64,
}

impl BacklogCounts {
    fn add(mut self, g: &BacklogGroup) -> Self {
        let more = &g.counts;
        self.tickets += more.tickets;
        self.under_1h += more.under_1h;
        self.from_1h_to_4h += more.from_1h_to_4h;
        self.from_4h_to_24h += more.from_4h_to_24h;
        self.from_1d_to_3d += more.from_1d_to_3d;
        self.from_3d_to_7d += more.from_3d_to_7d;
        self.over_7d += more.over_7d;
        self.at_risk += more.at_risk;
        self.breached += more.breached;
        self
    }
}

/// A queue's open tickets in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BacklogGroup {
    /// `null` for tickets that no queue holds (managers only).
    pub queue_id: Option<String>,
    pub queue: Option<String>,
    pub vendor_id: Option<String>,
    pub status: String,
    #[serde(flatten)]
    pub counts: BacklogCounts,
}

impl CsvColumns for BacklogGroup {
    const COLUMNS: &'static [&'static str] = &[
        "queue_id",
        "queue",
        "vendor_id",
        "status",
        "tickets",
        "under_1h",
        "from_1h_to_4h",
        "from_4h_to_24h",
        "from_1d_to_3d",
        "from_3d_to_7d",
        "over_7d",
        "at_risk",
        "breached",
    ];
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Backlog {
    /// The instant the ages and due times were measured at.
    #[schema(value_type = String)]
    pub as_of: DateTime<Utc>,
    /// By queue, then status; an empty list when nothing is open.
    pub groups: Vec<BacklogGroup>,
    pub totals: BacklogCounts,
}

/// Counted columns of one group: its tickets, how many are younger than
/// each of [`AGE_LIMITS_HOURS`], at risk, breached.
type Counts = (i64, [Option<i64>; 5], Option<i64>, Option<i64>);

pub fn backlog(
    conn: &mut DbConnection,
    caller: &Principal,
    filter: &ReportFilter,
    now: NaiveDateTime,
) -> AppResult<Backlog> {
    caller.require(may_read_reports)?;
    let vendor = vendor_in_scope(caller, filter.vendor_id.as_deref())?;
    let labels = queue_labels(conn)?;
    check_queue_visible(caller, &labels, filter.queue_id.as_deref())?;
    let limits = AGE_LIMITS_HOURS.map(|hours| now - TimeDelta::hours(hours));
    let soon = now + TimeDelta::hours(1);
    let settled = [Status::Solved.as_str(), Status::Closed.as_str()];
    // How many of a group's tickets meet a condition.
    macro_rules! count_if {
        ($condition:expr) => {
            sum(case_when::<_, _, Integer>($condition, 1).otherwise(0))
        };
    }
    // An age bucket's count: tickets created after its upper limit.
    macro_rules! younger_than {
        ($limit:expr) => {
            count_if!(tickets::created_at.gt($limit))
        };
    }
    // The summary's columns through the left join (null without one).
    let (due_at, state) = (ticket_sla::due_at.nullable(), ticket_sla::state.nullable());
    let mut query = tickets::table
        .left_join(ticket_sla::table)
        .filter(tickets::status.ne_all(settled))
        .order((tickets::queue_id, tickets::status))
        .group_by((tickets::queue_id, tickets::status))
        .select((
            tickets::queue_id,
            tickets::status,
            count_star(),
            younger_than!(limits[0]),
            younger_than!(limits[1]),
            younger_than!(limits[2]),
            younger_than!(limits[3]),
            younger_than!(limits[4]),
            count_if!(due_at.ge(now).and(due_at.le(soon))),
            count_if!(due_at.lt(now).or(state.eq("breached"))),
        ))
        .into_boxed();
    if let Some(vendor) = &vendor {
        let vendor_queues = queues::table
            .filter(queues::vendor_id.eq(vendor.clone()))
            .select(queues::id.nullable());
        query = query.filter(tickets::queue_id.eq_any(vendor_queues));
    }
    if let Some(queue) = &filter.queue_id {
        query = query.filter(tickets::queue_id.eq(queue.clone()));
    }
    if !filter.priorities.is_empty() {
        query =
            query.filter(tickets::priority.eq_any(filter.priorities.iter().map(|p| p.as_str())));
    }
    if !filter.channels.is_empty() {
        query = query.filter(tickets::channel.eq_any(filter.channels.iter().map(|c| c.as_str())));
    }
    type Row = (
        Option<String>,
        String,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = query.load(conn)?;
    let groups: Vec<BacklogGroup> = rows
        .into_iter()
        .map(
            |(queue_id, status, n, a1, a4, a24, a72, a168, risk, breached)| {
                let (queue, vendor_id) = queue_id
                    .as_ref()
                    .and_then(|id| labels.get(id).cloned())
                    .unzip();
                group(
                    queue_id,
                    queue,
                    vendor_id,
                    status,
                    (n, [a1, a4, a24, a72, a168], risk, breached),
                )
            },
        )
        .collect();
    let totals = groups
        .iter()
        .fold(BacklogCounts::default(), BacklogCounts::add);
    Ok(Backlog {
        as_of: now.and_utc(),
        groups,
        totals,
    })
}

fn group(
    queue_id: Option<String>,
    queue: Option<String>,
    vendor_id: Option<String>,
    status: String,
    (tickets, younger, at_risk, breached): Counts,
) -> BacklogGroup {
    // Counts of tickets younger than each limit, smallest first: a bucket
    // is the difference between its limit's count and the one before.
    let younger = younger.map(Option::unwrap_or_default);
    BacklogGroup {
        queue_id,
        queue,
        vendor_id,
        status,
        counts: BacklogCounts {
            tickets,
            under_1h: younger[0],
            from_1h_to_4h: younger[1] - younger[0],
            from_4h_to_24h: younger[2] - younger[1],
            from_1d_to_3d: younger[3] - younger[2],
            from_3d_to_7d: younger[4] - younger[3],
            over_7d: tickets - younger[4],
            at_risk: at_risk.unwrap_or_default(),
            breached: breached.unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_columns_are_the_json_row_s_fields() {
        let row = group(
            Some("q".into()),
            Some("slug".into()),
            Some("v".into()),
            "new".into(),
            (1, [None; 5], None, None),
        );
        super::super::assert_columns_match(&row);
    }
}
