//! `/api/v1/sla`: policies, and a ticket's clocks.

use super::auth::{Caller, Worker};
use super::problem::{ApiError, Problem};
use super::state::{run_db, run_on_database, AppState};
use super::{no_content, parse_json};
use crate::sla::explain::Explanation;
use crate::sla::policies::{self, PolicyView};
use crate::sla::policy::PolicyInput;
use crate::tickets::recompute::{self, RecomputeReport, RecomputeRequest};
use crate::tickets::{query, TicketRef};
use actix_web::{delete, get, patch, post, web, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_policy)
        .service(list_policies)
        .service(get_policy)
        .service(update_policy)
        .service(delete_policy)
        .service(ticket_sla)
        .service(recompute_clocks);
}

/// Compute every ticket's clocks again from its history under the current
/// policies: running clocks move to new versions, warnings that no longer
/// apply are withdrawn; settled clocks keep what they were measured against.
#[utoipa::path(post, path = "/api/v1/sla/recompute", tag = "sla", request_body = Option<RecomputeRequest>,
    responses((status = 200, body = RecomputeReport), (status = 403, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/sla/recompute")]
async fn recompute_clocks(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: RecomputeRequest = if body.is_empty() {
        RecomputeRequest::default()
    } else {
        parse_json(&body)?
    };
    let report = run_on_database(&state, move |db| {
        recompute::recompute_all(db, &caller.0, &request)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Why a ticket is due when it is: its policy, calendar and every clock,
/// with the pauses, the time each vendor used and the events that moved it.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/sla", tag = "sla",
    params(("id" = String, Path, description = "Ticket id or number")),
    responses((status = 200, body = Explanation), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/api/v1/tickets/{id}/sla")]
async fn ticket_sla(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let reference = TicketRef::parse(&id).map_err(ApiError)?;
    let explanation = run_db(&state, move |conn| {
        query::explain_sla(conn, &caller.0, &reference)
    })
    .await?;
    Ok(HttpResponse::Ok().json(explanation))
}

crud_handlers!(
    "sla",
    "/api/v1/sla/policies",
    "/api/v1/sla/policies/{id}",
    policies,
    PolicyInput,
    PolicyView,
    create_policy,
    list_policies,
    get_policy,
    update_policy,
    delete_policy,
    delete,
    create_runner = run_db
);
