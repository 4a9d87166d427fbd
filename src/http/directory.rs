//! CRUD for `/api/v1/vendors`, `/api/v1/queues`, `/api/v1/agents` and
//! `/api/v1/tokens`. Each handler parses, calls the service, and answers.

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::state::{run_db, run_write, AppState};
use super::{no_content, parse_json};
use crate::auth::{self, IssuedToken, TokenView};
use crate::config::Settings;
use crate::directory::agents::{AgentInput, AgentView};
use crate::directory::queues::{self, QueueInput, QueueView};
use crate::directory::vendors::{self, VendorInput, VendorView};
use crate::domain::Role;
use crate::error::AppError;
use crate::tickets::staff;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_vendor)
        .service(list_vendors)
        .service(get_vendor)
        .service(update_vendor)
        .service(delete_vendor)
        .service(create_queue)
        .service(list_queues)
        .service(get_queue)
        .service(update_queue)
        .service(delete_queue)
        .service(create_agent)
        .service(list_agents)
        .service(get_agent)
        .service(update_agent)
        .service(deactivate_agent)
        .service(create_token)
        .service(list_tokens)
        .service(revoke_token);
}

crud_handlers!(
    "vendors",
    "/api/v1/vendors",
    "/api/v1/vendors/{id}",
    vendors,
    VendorInput,
    VendorView,
    create_vendor,
    list_vendors,
    get_vendor,
    update_vendor,
    delete_vendor,
    delete
);
crud_handlers!(
    "queues",
    "/api/v1/queues",
    "/api/v1/queues/{id}",
    queues,
    QueueInput,
    QueueView,
    create_queue,
    list_queues,
    get_queue,
    update_queue,
    delete_queue,
    delete
);
crud_handlers!(
    "agents",
    "/api/v1/agents",
    "/api/v1/agents/{id}",
    staff,
    AgentInput,
    AgentView,
    create_agent,
    list_agents,
    get_agent,
    update_agent,
    deactivate_agent,
    deactivate,
    prepare = agent_defaults
);

/// A new agent's capacity, unless the request names one: `routing.default_capacity`.
fn agent_defaults(input: &mut AgentInput, settings: &Settings) {
    input
        .capacity
        .get_or_insert(settings.routing.default_capacity);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    /// `intake`, `agent`, `lead`, `manager` or `admin`.
    pub role: String,
    /// Id or email of the agent the token acts for (required for agent and lead).
    pub agent: Option<String>,
}

/// Issue a token; the secret is shown only in this answer.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = IssuedToken), (status = 403, body = Problem)), security(("bearer" = [])))]
#[post("/api/v1/tokens")]
async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.0.require(|r| r == Role::Admin)?;
    let request: CreateTokenRequest = parse_json(&body)?;
    let role: Role = request
        .role
        .parse()
        .map_err(|m: String| AppError::invalid("role", m))?;
    let issued = run_write(&state, move |conn| {
        auth::issue_token(conn, role, &request.name, request.agent.as_deref())
    })
    .await?;
    Ok(HttpResponse::Created().json(issued))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = [TokenView])), security(("bearer" = [])))]
#[get("/api/v1/tokens")]
async fn list_tokens(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.0.require(|r| r == Role::Admin)?;
    let tokens = run_db(&state, |conn| auth::list_tokens(conn)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Revoke a token at once; it stops working on the next request.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
#[delete("/api/v1/tokens/{id}")]
async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.0.require(|r| r == Role::Admin)?;
    run_db(&state, move |conn| auth::revoke_token(conn, &id).map(drop)).await?;
    Ok(no_content())
}
