//! `/api/v1/reports`: what managers and vendor leads read.

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use super::tickets::comma_list;
use crate::domain::staffing::{Advice, Demand, Goal};
use crate::domain::validate::Errors;
use crate::domain::{Channel, Priority};
use crate::error::AppError;
use crate::reports::backlog::{self, Backlog};
use crate::reports::period::Period;
use crate::reports::sla::{self, SlaGrouping, SlaReport};
use crate::reports::{csv_record, staffing, CsvColumns, ReportFilter};
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(staffing_calculator)
        .service(backlog_report)
        .service(sla_report);
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
    let report = run_db(&state, move |conn| {
        let now = conn.now();
        backlog::backlog(conn, &caller.0, &filter, now)
    })
    .await?;
    answer(format, &report, &report.groups, "backlog")
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct SlaParams {
    /// `queue`, `vendor`, `agent`, `priority`, `channel`, `day` or `week`.
    group_by: String,
    /// The period's start: an RFC 3339 instant, or a date (its local
    /// start in `tz`). Default: 30 days before `to`.
    from: Option<String>,
    /// The period's end (exclusive): an instant, or a date (included).
    /// Default: now.
    to: Option<String>,
    /// The IANA time zone of days and weeks (and of dates); default UTC.
    tz: Option<String>,
    /// Only clocks charged to this vendor (a lead: their own vendor only).
    vendor_id: Option<String>,
    /// Only clocks charged to this queue (its id).
    queue_id: Option<String>,
    /// Comma-separated priorities.
    priority: Option<String>,
    /// Comma-separated channels.
    channel: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
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
    let params = params.into_inner();
    let format = Format::of(&request, params.format.as_deref())?;
    let mut errors = Errors::default();
    let grouping = params
        .group_by
        .parse::<SlaGrouping>()
        .map_err(|e| errors.add("group_by", e))
        .ok();
    let period = Period::parse(
        &mut errors,
        params.from.as_deref(),
        params.to.as_deref(),
        params.tz.as_deref(),
        state.db.clock().now(),
    );
    let filter = report_filter(
        &mut errors,
        params.vendor_id,
        params.queue_id,
        &params.priority,
        &params.channel,
    );
    errors.finish().map_err(AppError::Validation)?;
    let (Some(grouping), Some(period)) = (grouping, period) else {
        return Err(AppError::Internal("a report's parameters were not checked".into()).into());
    };
    let report = run_db(&state, move |conn| {
        sla::report(conn, &caller.0, grouping, &period, &filter)
    })
    .await?;
    answer(format, &report, &report.csv_rows(), "sla")
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
