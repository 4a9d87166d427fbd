//! The vendors report (`GET /api/v1/reports/vendors`): per vendor over a
//! period, what it handled and solved, its SLA attainment against the
//! contract, the breaches charged to it, and what it cost.
//!
//! - Handled: tickets on which one of the vendor's agents wrote (a reply
//!   or a note) in the period: the work a per-ticket price pays for.
//! - Solved: tickets solved in the period that the vendor's queues hold.
//! - Attainment: clocks of every metric charged to the vendor that
//!   settled in the period (as the SLA report charges them), met over
//!   met plus breached; the contract is met when that reaches the
//!   vendor's contracted attainment.
//! - Cost: price per ticket × tickets handled, in the vendor's currency
//!   (minor units); per solved ticket, that cost over the tickets solved.
//!
//! Every vendor in the caller's scope has a row, with zeros when it did
//! nothing in the period.

use super::period::Period;
use super::scope::{Columns, Scope};
use super::share;
use super::sla::{vendor_clock_counts, vendor_ratings, SlaMetrics};
use super::{
    check_queue_visible, may_read_reports, queue_labels, vendor_in_scope, CsvColumns, ReportFilter,
};
use crate::auth::Principal;
use crate::db::models::Vendor;
use crate::db::report_sql::Statement;
use crate::db::schema::vendors;
use crate::db::DbConnection;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;
use std::collections::HashMap;

/// One vendor's figures for the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VendorRow {
    pub vendor_id: String,
    pub vendor: String,
    pub tickets_handled: i64,
    pub tickets_solved: i64,
    pub clocks_met: i64,
    /// The breaches charged to the vendor.
    pub clocks_breached: i64,
    /// clocks_met / (clocks_met + clocks_breached); null without clocks.
    pub attainment: Option<f64>,
    pub first_response_attainment: Option<f64>,
    pub next_response_attainment: Option<f64>,
    pub resolution_attainment: Option<f64>,
    pub contracted_attainment: Option<f64>,
    /// `met` or `missed`; null without a contracted attainment or clocks.
    pub contract: Option<&'static str>,
    pub currency: Option<String>,
    pub price_per_ticket_cents: Option<i64>,
    /// price × tickets handled; null without a price.
    pub cost_cents: Option<i64>,
    /// cost / tickets solved, rounded to the cent; null without either.
    pub cost_per_solved_ticket_cents: Option<i64>,
    /// Customers' ratings given in the period of tickets the vendor held
    /// at the solve.
    pub csat_good: i64,
    pub csat_bad: i64,
    /// good / (good + bad); null without ratings.
    pub csat_score: Option<f64>,
}

impl CsvColumns for VendorRow {
    const COLUMNS: &'static [&'static str] = &[
        "vendor_id",
        "vendor",
        "tickets_handled",
        "tickets_solved",
        "clocks_met",
        "clocks_breached",
        "attainment",
        "first_response_attainment",
        "next_response_attainment",
        "resolution_attainment",
        "contracted_attainment",
        "contract",
        "currency",
        "price_per_ticket_cents",
        "cost_cents",
        "cost_per_solved_ticket_cents",
        "csat_good",
        "csat_bad",
        "csat_score",
    ];
}

/// The counts summed over the rows (costs are in each vendor's currency
/// and are not added up).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VendorTotals {
    pub tickets_handled: i64,
    pub tickets_solved: i64,
    pub clocks_met: i64,
    pub clocks_breached: i64,
    pub attainment: Option<f64>,
    pub csat_good: i64,
    pub csat_bad: i64,
    pub csat_score: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VendorsReport {
    #[schema(value_type = String)]
    pub from: DateTime<Utc>,
    #[schema(value_type = String)]
    pub to: DateTime<Utc>,
    pub tz: String,
    /// By vendor name.
    pub vendors: Vec<VendorRow>,
    pub totals: VendorTotals,
}

#[derive(QueryableByName)]
struct VendorCount {
    #[diesel(sql_type = Text)]
    vendor_id: String,
    #[diesel(sql_type = BigInt)]
    tickets: i64,
}

/// Tickets the vendors' agents wrote on in the period, per vendor.
fn handled(conn: &mut DbConnection, scope: &Scope<'_>) -> AppResult<HashMap<String, i64>> {
    let mut s = Statement::for_connection(conn);
    s.sql(
        "SELECT a.vendor_id AS vendor_id, COUNT(DISTINCT m.ticket_id) AS tickets \
         FROM messages m JOIN agents a ON a.id = m.author_agent_id \
         JOIN tickets t ON t.id = m.ticket_id WHERE a.vendor_id IS NOT NULL",
    );
    let columns = Columns {
        time: "m.created_at",
        vendor: "a.vendor_id",
        queue: "t.queue_id",
    };
    scope.conditions(&mut s, columns);
    s.sql(" GROUP BY a.vendor_id");
    count_map(conn, &s)
}

/// Tickets solved in the period, per vendor of the queue holding them.
fn solved(conn: &mut DbConnection, scope: &Scope<'_>) -> AppResult<HashMap<String, i64>> {
    let mut s = Statement::for_connection(conn);
    s.sql(
        "SELECT q.vendor_id AS vendor_id, COUNT(*) AS tickets \
         FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE 1 = 1",
    );
    let columns = Columns {
        time: "t.solved_at",
        vendor: "q.vendor_id",
        queue: "t.queue_id",
    };
    scope.conditions(&mut s, columns);
    s.sql(" GROUP BY q.vendor_id");
    count_map(conn, &s)
}

fn count_map(conn: &mut DbConnection, s: &Statement) -> AppResult<HashMap<String, i64>> {
    Ok(s.load::<VendorCount>(conn)?
        .into_iter()
        .map(|row| (row.vendor_id, row.tickets))
        .collect())
}

pub fn report(
    conn: &mut DbConnection,
    caller: &Principal,
    period: &Period,
    filter: &ReportFilter,
) -> AppResult<VendorsReport> {
    caller.require(may_read_reports)?;
    let vendor = vendor_in_scope(caller, filter.vendor_id.as_deref())?;
    check_queue_visible(caller, &queue_labels(conn)?, filter.queue_id.as_deref())?;
    let mut query = vendors::table
        .order((vendors::name, vendors::id))
        .into_boxed();
    if let Some(vendor) = &vendor {
        query = query.filter(vendors::id.eq(vendor.clone()));
    }
    let in_scope: Vec<Vendor> = query.select(Vendor::as_select()).load(conn)?;
    let scope = Scope {
        period,
        filter,
        vendor: vendor.as_deref(),
    };
    let handled = handled(conn, &scope)?;
    let solved = solved(conn, &scope)?;
    let clocks = vendor_clock_counts(conn, &scope)?;
    let ratings = vendor_ratings(conn, &scope)?;
    let rows: Vec<VendorRow> = in_scope
        .into_iter()
        .map(|v| {
            let metrics = clocks.get(&v.id).cloned().unwrap_or_default();
            let count = |counts: &HashMap<String, i64>| counts.get(&v.id).copied().unwrap_or(0);
            let (handled, solved) = (count(&handled), count(&solved));
            let rated = ratings.get(&v.id).copied().unwrap_or_default();
            row(
                v,
                Work {
                    handled,
                    solved,
                    rated,
                },
                &metrics,
            )
        })
        .collect();
    let totals = totals(&rows);
    Ok(VendorsReport {
        from: period.from,
        to: period.to,
        tz: period.zone.name().to_string(),
        vendors: rows,
        totals,
    })
}

/// What a vendor did in the period, counted.
#[derive(Debug, Clone, Copy, Default)]
struct Work {
    handled: i64,
    solved: i64,
    /// Ratings: (good, bad).
    rated: (i64, i64),
}

fn row(vendor: Vendor, work: Work, metrics: &SlaMetrics) -> VendorRow {
    let Work {
        handled,
        solved,
        rated: (good, bad),
    } = work;
    let (met, breached) = metrics
        .each()
        .iter()
        .fold((0, 0), |(m, b), (_, f)| (m + f.met, b + f.breached));
    let attainment = share(met, met + breached);
    let contract = match (vendor.contracted_attainment, attainment) {
        (Some(promised), Some(delivered)) => Some(if delivered >= promised {
            "met"
        } else {
            "missed"
        }),
        _ => None,
    };
    let cost = vendor.price_per_ticket_cents.map(|price| price * handled);
    VendorRow {
        vendor_id: vendor.id,
        vendor: vendor.name,
        tickets_handled: handled,
        tickets_solved: solved,
        clocks_met: met,
        clocks_breached: breached,
        attainment,
        first_response_attainment: metrics.first_response.attainment,
        next_response_attainment: metrics.next_response.attainment,
        resolution_attainment: metrics.resolution.attainment,
        contracted_attainment: vendor.contracted_attainment,
        contract,
        currency: vendor.currency,
        price_per_ticket_cents: vendor.price_per_ticket_cents,
        cost_cents: cost,
        cost_per_solved_ticket_cents: cost
            .filter(|_| solved > 0)
            .map(|cost| (cost as f64 / solved as f64).round() as i64),
        csat_good: good,
        csat_bad: bad,
        csat_score: share(good, good + bad),
    }
}

fn totals(rows: &[VendorRow]) -> VendorTotals {
    let mut totals = rows.iter().fold(VendorTotals::default(), |mut t, r| {
        t.tickets_handled += r.tickets_handled;
        t.tickets_solved += r.tickets_solved;
        t.clocks_met += r.clocks_met;
        t.clocks_breached += r.clocks_breached;
        t.csat_good += r.csat_good;
        t.csat_bad += r.csat_bad;
        t
    });
    totals.attainment = share(
        totals.clocks_met,
        totals.clocks_met + totals.clocks_breached,
    );
    totals.csat_score = share(totals.csat_good, totals.csat_good + totals.csat_bad);
    totals
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn vendor(attainment: Option<f64>, price: Option<i64>) -> Vendor {
        let at = NaiveDateTime::default();
        Vendor {
            id: "v".into(),
            name: "Acme".into(),
            timezone: "UTC".into(),
            contracted_attainment: attainment,
            price_per_ticket_cents: price,
            currency: Some("USD".into()),
            mask_customer_pii: false,
            created_at: at,
            updated_at: at,
        }
    }

    fn metrics(met: i64, breached: i64) -> SlaMetrics {
        let mut metrics = SlaMetrics::default();
        metrics.first_response.met = met;
        metrics.first_response.breached = breached;
        metrics
    }

    #[test]
    fn the_contract_is_met_at_the_promised_share_and_costs_follow_the_price() {
        let work = |handled, solved| Work {
            handled,
            solved,
            rated: (3, 1),
        };
        let row = row(vendor(Some(0.9), Some(250)), work(3, 2), &metrics(9, 1));
        assert_eq!(row.csat_score, Some(0.75));
        assert_eq!(row.contract, Some("met"));
        assert_eq!(row.cost_cents, Some(750));
        assert_eq!(row.cost_per_solved_ticket_cents, Some(375));
        let missed = super::row(vendor(Some(0.95), None), work(3, 0), &metrics(9, 1));
        assert_eq!(missed.contract, Some("missed"));
        assert_eq!(
            (missed.cost_cents, missed.cost_per_solved_ticket_cents),
            (None, None)
        );
        let idle = super::row(
            vendor(Some(0.95), Some(100)),
            Work::default(),
            &SlaMetrics::default(),
        );
        assert_eq!(idle.csat_score, None);
        assert_eq!(
            (idle.contract, idle.attainment, idle.cost_cents),
            (None, None, Some(0))
        );
        assert_eq!(idle.cost_per_solved_ticket_cents, None);
        crate::reports::assert_columns_match(&row);
    }
}
