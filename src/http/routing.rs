//! `/api/v1/routing/rules`: CRUD, the dry-run trace and simulation.

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use super::{no_content, parse_json};
use crate::routing::dry_run::{self, TestRequest, TestResult};
use crate::routing::replay::{self, SimulateRequest, Simulation};
use crate::routing::rule::RuleInput;
use crate::routing::rules::{self, RuleView};
use crate::tickets::reroute::{self, RouteRequest};
use crate::tickets::view::TicketView;
use crate::tickets::TicketRef;
use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The fixed paths first: `/test` is not a rule id.
    cfg.service(test_rules)
        .service(simulate_rules)
        .service(route_ticket)
        .service(create_rule)
        .service(list_rules)
        .service(get_rule)
        .service(update_rule)
        .service(delete_rule);
}

/// Add a rule; the routing version moves on.
#[utoipa::path(post, path = "/api/v1/routing/rules", tag = "routing", request_body = RuleInput,
    responses((status = 201, body = RuleView), (status = 422, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/routing/rules")]
async fn create_rule(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input: RuleInput = parse_json(&body)?;
    let view = run_db(&state, move |conn| rules::create(conn, &caller.0, &input)).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Every rule, in evaluation order (position, then creation).
#[utoipa::path(get, path = "/api/v1/routing/rules", tag = "routing",
    responses((status = 200, body = [RuleView])), security(("bearer" = [])))]
#[get("/api/v1/routing/rules")]
async fn list_rules(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let views = run_db(&state, move |conn| rules::list(conn, &caller.0)).await?;
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(get, path = "/api/v1/routing/rules/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 200, body = RuleView), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/api/v1/routing/rules/{id}")]
async fn get_rule(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = run_db(&state, move |conn| rules::get(conn, &caller.0, &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Change a rule; fields left out keep their value.
#[utoipa::path(patch, path = "/api/v1/routing/rules/{id}", tag = "routing", params(("id" = String, Path)), request_body = RuleInput,
    responses((status = 200, body = RuleView), (status = 404, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
#[patch("/api/v1/routing/rules/{id}")]
async fn update_rule(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input: RuleInput = parse_json(&body)?;
    let view = run_db(&state, move |conn| {
        rules::update(conn, &caller.0, &id, &input)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = "/api/v1/routing/rules/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
#[delete("/api/v1/routing/rules/{id}")]
async fn delete_rule(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    run_db(&state, move |conn| rules::delete(conn, &caller.0, &id)).await?;
    Ok(no_content())
}

/// What the stored rules (or a proposed set) would do with a ticket, rule
/// by rule, with the condition that decided each; nothing is stored.
#[utoipa::path(post, path = "/api/v1/routing/rules/test", tag = "routing", request_body = TestRequest,
    responses((status = 200, body = TestResult), (status = 422, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/routing/rules/test")]
async fn test_rules(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: TestRequest = parse_json(&body)?;
    let default_queue = state.settings.routing.default_queue.clone();
    let result = run_db(&state, move |conn| {
        dry_run::test(conn, &caller.0, &request, default_queue.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Replay a period's tickets (their first message and intake facts) under
/// the stored rules and under a proposed rule set: tickets per queue and
/// vendor under each, and up to 50 tickets that would move. Nothing is stored.
#[utoipa::path(post, path = "/api/v1/routing/rules/simulate", tag = "routing", request_body = SimulateRequest,
    responses((status = 200, body = Simulation), (status = 422, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/routing/rules/simulate")]
async fn simulate_rules(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: SimulateRequest = parse_json(&body)?;
    let default_queue = state.settings.routing.default_queue.clone();
    let result = run_db(&state, move |conn| {
        replay::simulate(conn, &caller.0, &request, default_queue.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Run the current rules on a ticket again. A queue they name replaces the
/// ticket's (a hand-off, with the optional note, when the vendor changes),
/// and the ticket goes through assignment there.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/route", tag = "routing", params(("id" = String, Path, description = "Ticket id or number")),
    request_body = RouteRequest,
    responses((status = 200, body = TicketView), (status = 404, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/tickets/{id}/route")]
async fn route_ticket(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let reference = TicketRef::parse(&id).map_err(ApiError)?;
    let request: RouteRequest = if body.is_empty() {
        RouteRequest::default()
    } else {
        parse_json(&body)?
    };
    let ticket = run_db(&state, move |conn| {
        reroute::reroute(conn, &caller.0, &reference, &request)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, ticket.etag()))
        .json(ticket))
}
