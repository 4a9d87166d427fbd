//! `/api/v1/reports`: what managers and vendor leads read.

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::state::{run_report, AppState};
use super::tickets::comma_list;
use crate::domain::staffing::{Advice, Demand, Goal};
use crate::domain::validate::Errors;
use crate::domain::{Channel, Priority};
use crate::error::AppError;
use crate::reports::backlog::{self, Backlog};
use crate::reports::coverage::{self, AdviceInputs, CoverageGrouping, CoverageReport};
use crate::reports::period::Period;
use crate::reports::sla::{self, SlaGrouping, SlaReport};
use crate::reports::vendors::{self, VendorsReport};
use crate::reports::{csv_record, staffing, CsvColumns, ReportFilter};
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(staffing_calculator)
        .service(backlog_report)
        .service(sla_report)
        .service(vendors_report)
        .service(coverage_report);
}

/// The filters every report takes, read from their query parameters.
fn report_filter(
    errors: &mut Errors,
    vendor_id: Option<String>,
    queue_id: Option<String>,
    priority: &Option<String>,
    channel: &Option<String>,
) -> ReportFilter {
    ReportFilter {
        vendor_id,
        queue_id,
        priorities: comma_list::<Priority>(errors, "priority", priority),
        channels: comma_list::<Channel>(errors, "channel", channel),
    }
}

/// How a report is answered: JSON by default, CSV when asked for with
/// `format=csv` or an `Accept` header that names `text/csv` (an explicit
/// `format` wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

impl Format {
    fn of(request: &HttpRequest, asked: Option<&str>) -> Result<Format, AppError> {
        match asked {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(_) => Err(AppError::invalid("format", "must be json or csv")),
            None => {
                let accept = request
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let wants_csv = accept.split(',').any(|media| {
                    media
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .eq_ignore_ascii_case("text/csv")
                });
                Ok(if wants_csv { Format::Csv } else { Format::Json })
            }
        }
    }
}

/// The report as JSON, or its rows as CSV (a header line of the rows'
/// columns, then a line per row), named for download as `name`.csv.
fn answer<R: Serialize + CsvColumns>(
    format: Format,
    report: &impl Serialize,
    rows: &[R],
    name: &str,
) -> Result<HttpResponse, ApiError> {
    match format {
        Format::Json => Ok(HttpResponse::Ok().json(report)),
        Format::Csv => {
            let failed = |e: &dyn std::fmt::Display| AppError::Internal(format!("CSV: {e}"));
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(R::COLUMNS).map_err(|e| failed(&e))?;
            for row in rows {
                let record = csv_record(row).map_err(|e| failed(&e))?;
                writer.write_record(&record).map_err(|e| failed(&e))?;
            }
            let body = writer.into_inner().map_err(|e| failed(&e))?;
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ))
                .body(body))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct BacklogParams {
    /// Only this vendor's queues (a lead: their own vendor only).
    vendor_id: Option<String>,
    /// Only this queue (its id).
    queue_id: Option<String>,
    /// Comma-separated priorities.
    priority: Option<String>,
    /// Comma-separated channels.
    channel: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// Open tickets now by queue and status, counted by age, with how many
/// are at risk (due within the hour) and breached. A lead sees only their
/// vendor's queues. CSV: one line per group.
#[utoipa::path(get, path = "/api/v1/reports/backlog", tag = "reports", params(BacklogParams),
    responses((status = 200, body = Backlog), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/api/v1/reports/backlog")]
async fn backlog_report(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    params: web::Query<BacklogParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let format = Format::of(&request, params.format.as_deref())?;
    let mut errors = Errors::default();
    let filter = report_filter(
        &mut errors,
        params.vendor_id,
        params.queue_id,
        &params.priority,
        &params.channel,
    );
    errors.finish().map_err(AppError::Validation)?;
    let report = run_report(&state, move |conn| {
        let now = conn.now();
        backlog::backlog(conn, &caller.0, &filter, now)
    })
    .await?;
    answer(format, &report, &report.groups, "backlog")
}

/// A period report's query parameters: the period, the filters and the
/// format every such report takes, then the report's own.
macro_rules! period_report_params {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident: $type:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize, IntoParams)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $($(#[$field_meta])* $field: $type,)*
            /// The period's start: an RFC 3339 instant, or a date (its
            /// local start in `tz`). Default: 30 days before `to`.
            from: Option<String>,
            /// The period's end (exclusive): an instant, or a date
            /// (included). Default: now.
            to: Option<String>,
            /// The IANA time zone of local days, weeks and hours (and of
            /// dates); default UTC.
            tz: Option<String>,
            /// Only this vendor's figures (a lead: their own vendor only).
            vendor_id: Option<String>,
            /// Only this queue's figures (its id).
            queue_id: Option<String>,
            /// Comma-separated priorities.
            priority: Option<String>,
            /// Comma-separated channels.
            channel: Option<String>,
            /// `json` (default) or `csv`.
            format: Option<String>,
        }

        impl $name {
            /// The period and filters, every problem recorded in `errors`.
            fn scope(&mut self, errors: &mut Errors, state: &AppState) -> (Option<Period>, ReportFilter) {
                let period = Period::parse(
                    errors,
                    self.from.as_deref(),
                    self.to.as_deref(),
                    self.tz.as_deref(),
                    state.db.clock().now(),
                );
                let filter = report_filter(
                    errors,
                    self.vendor_id.take(),
                    self.queue_id.take(),
                    &self.priority,
                    &self.channel,
                );
                (period, filter)
            }
        }
    };
}

period_report_params!(SlaParams {
    /// `queue`, `vendor`, `agent`, `priority`, `channel`, `day` or `week`.
    group_by: String,
});

period_report_params!(VendorsParams {});

period_report_params!(CoverageParams {
    /// `queue` (default) or `vendor`.
    group_by: Option<String>,
    /// The share to answer within the target; default 0.8.
    service_level: Option<f64>,
    /// The highest average occupancy of agents; default 0.85.
    max_occupancy: Option<f64>,
    /// The share of scheduled time not on the queue; default 0.3.
    shrinkage: Option<f64>,
    /// Plan for this answer target (seconds) instead of the most common
    /// first-response target of the group's clocks.
    answer_seconds: Option<f64>,
    /// Plan with this handle time (seconds) instead of the queues' own.
    handle_seconds: Option<f64>,
});

/// The error of a report whose parameters were all checked, yet one did
/// not come out (a bug, not the caller's).
fn unchecked() -> ApiError {
    AppError::Internal("a report's parameters were not checked".into()).into()
}

/// SLA clocks settled in the period (met at their stop, breached when
/// their time ran out), per group: met and breached per metric,
/// attainment, and the median and 90th percentile (nearest rank) of the
/// business and wall-clock time of the clocks that stopped. A clock is
/// charged to whoever held the ticket when it breached, or when it
/// stopped; a lead sees only clocks charged to their vendor. CSV: one
/// line per group and metric.
#[utoipa::path(get, path = "/api/v1/reports/sla", tag = "reports", params(SlaParams),
    responses((status = 200, body = SlaReport), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/api/v1/reports/sla")]
async fn sla_report(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    params: web::Query<SlaParams>,
) -> Result<HttpResponse, ApiError> {
    let mut params = params.into_inner();
    let format = Format::of(&request, params.format.as_deref())?;
    let mut errors = Errors::default();
    let grouping = params
        .group_by
        .parse::<SlaGrouping>()
        .map_err(|e| errors.add("group_by", e))
        .ok();
    let (period, filter) = params.scope(&mut errors, &state);
    errors.finish().map_err(AppError::Validation)?;
    let (Some(grouping), Some(period)) = (grouping, period) else {
        return Err(unchecked());
    };
    let report = run_report(&state, move |conn| {
        sla::report(conn, &caller.0, grouping, &period, &filter)
    })
    .await?;
    answer(format, &report, &report.csv_rows(), "sla")
}

/// Per vendor over the period: tickets handled (its agents wrote on them)
/// and solved (in its queues), clocks met and breached as charged to it,
/// attainment overall and per metric against the contracted attainment
/// (`contract`: met or missed), and cost (price per ticket × handled, in
/// the vendor's currency, minor units) in all and per solved ticket. A
/// lead gets their own vendor's row only. CSV: one line per vendor.
#[utoipa::path(get, path = "/api/v1/reports/vendors", tag = "reports", params(VendorsParams),
    responses((status = 200, body = VendorsReport), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/api/v1/reports/vendors")]
async fn vendors_report(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    params: web::Query<VendorsParams>,
) -> Result<HttpResponse, ApiError> {
    let mut params = params.into_inner();
    let format = Format::of(&request, params.format.as_deref())?;
    let mut errors = Errors::default();
    let (period, filter) = params.scope(&mut errors, &state);
    errors.finish().map_err(AppError::Validation)?;
    let period = period.ok_or_else(unchecked)?;
    let report = run_report(&state, move |conn| {
        vendors::report(conn, &caller.0, &period, &filter)
    })
    .await?;
    answer(format, &report, &report.vendors, "vendors")
}

/// The 168 local hours of the week per queue (or vendor): average
/// arrivals, agents on shift (shift calendars), minutes the coverage
/// calendar was open with no agent on shift, first responses by the hour
/// the customer wrote and their median wall-clock time, breaches by the
/// hour they happened, and the staffing advice for each hour (agents
/// needed, to schedule, and the gap to those on shift). A lead sees only
/// their vendor's queues. CSV: one line per group and hour.
#[utoipa::path(get, path = "/api/v1/reports/coverage", tag = "reports", params(CoverageParams),
    responses((status = 200, body = CoverageReport), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/api/v1/reports/coverage")]
async fn coverage_report(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    params: web::Query<CoverageParams>,
) -> Result<HttpResponse, ApiError> {
    let mut params = params.into_inner();
    let format = Format::of(&request, params.format.as_deref())?;
    let mut errors = Errors::default();
    let grouping = match params.group_by.as_deref() {
        None => Some(CoverageGrouping::Queue),
        Some(text) => text
            .parse::<CoverageGrouping>()
            .map_err(|e| errors.add("group_by", e))
            .ok(),
    };
    let (period, filter) = params.scope(&mut errors, &state);
    let inputs = AdviceInputs {
        goal: Goal {
            service_level: params.service_level.unwrap_or(0.8),
            max_occupancy: params.max_occupancy.unwrap_or(0.85),
            shrinkage: params.shrinkage.unwrap_or(0.3),
        },
        answer_seconds: params.answer_seconds,
        handle_seconds: params.handle_seconds,
    };
    // The goal and any figures given are checked as the calculator checks
    // them (a stand-in for what the report measures).
    let sample = Demand {
        arrivals_per_hour: 0.0,
        handle_seconds: inputs.handle_seconds.unwrap_or(60.0),
        answer_seconds: inputs.answer_seconds.unwrap_or(60.0),
    };
    if let Err(problems) = crate::domain::staffing::validate(&sample, &inputs.goal) {
        errors.0.extend(problems);
    }
    errors.finish().map_err(AppError::Validation)?;
    let (Some(grouping), Some(period)) = (grouping, period) else {
        return Err(unchecked());
    };
    let report = run_report(&state, move |conn| {
        coverage::report(conn, &caller.0, grouping, &period, &filter, &inputs)
    })
    .await?;
    answer(format, &report, &report.csv_rows(), "coverage")
}

/// The staffing calculator's inputs. A target under an hour is planned by
/// Erlang C, an hour or more by workload (`model` in the answer).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct StaffingParams {
    /// Contacts arriving per hour.
    arrivals_per_hour: f64,
    /// Average handle time of one contact, in seconds.
    handle_seconds: f64,
    /// The answer target, in seconds (first response within this long).
    answer_seconds: f64,
    /// The share to answer within the target; default 0.8.
    service_level: Option<f64>,
    /// The highest average occupancy of agents on the queue; default 0.85.
    max_occupancy: Option<f64>,
    /// The share of scheduled time not on the queue; default 0.3.
    shrinkage: Option<f64>,
}

/// Agents needed on the queue to meet the answer target, agents to
/// schedule, and how that staffing performs (also with one agent fewer).
#[utoipa::path(get, path = "/api/v1/reports/staffing", tag = "reports", params(StaffingParams),
    responses((status = 200, body = Advice), (status = 400, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/api/v1/reports/staffing")]
async fn staffing_calculator(
    caller: Caller,
    params: web::Query<StaffingParams>,
) -> Result<HttpResponse, ApiError> {
    let demand = Demand {
        arrivals_per_hour: params.arrivals_per_hour,
        handle_seconds: params.handle_seconds,
        answer_seconds: params.answer_seconds,
    };
    let goal = Goal {
        service_level: params.service_level.unwrap_or(0.8),
        max_occupancy: params.max_occupancy.unwrap_or(0.85),
        shrinkage: params.shrinkage.unwrap_or(0.3),
    };
    let advice = staffing::advise(&caller.0, &demand, &goal)?;
    Ok(HttpResponse::Ok().json(advice))
}
