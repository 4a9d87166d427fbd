//! `/api/v1/reports`: what managers and vendor leads read.

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use crate::domain::staffing::{Advice, Demand, Goal};
use crate::reports::staffing;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(staffing_calculator);
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
