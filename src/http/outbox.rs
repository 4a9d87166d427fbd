//! `/api/v1/outbox`: what Relay sent, is sending or gave up on, and putting a
//! failed message back in line. Admins only.

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use crate::domain::Role;
use crate::email::outbox::{self, OutboxStatus, OutboxView};
use crate::error::AppError;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

/// Messages listed at most.
const LIST_LIMIT: i64 = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_outbox).service(retry_outbox);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxParams {
    /// `pending`, `sending`, `sent` or `failed`; all when absent.
    status: Option<String>,
}

/// The newest outgoing messages (at most 100), optionally of one status.
#[utoipa::path(
    get, path = "/api/v1/outbox", tag = "email", params(OutboxParams),
    responses(
        (status = 200, body = [OutboxView]),
        (status = 403, description = "Not an admin", body = Problem),
        (status = 422, description = "Unknown status", body = Problem),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/outbox")]
async fn list_outbox(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<OutboxParams>,
) -> Result<HttpResponse, ApiError> {
    caller.0.require(|r| r == Role::Admin)?;
    let status = params
        .into_inner()
        .status
        .map(|s| s.parse::<OutboxStatus>())
        .transpose()
        .map_err(|m| AppError::invalid("status", m))?;
    let views = run_db(&state, move |conn| outbox::list(conn, status, LIST_LIMIT)).await?;
    Ok(HttpResponse::Ok().json(views))
}

/// Put a failed message back in line: pending, attempts reset, due now.
#[utoipa::path(
    post, path = "/api/v1/outbox/{id}/retry", tag = "email", params(("id" = String, Path)),
    responses(
        (status = 200, body = OutboxView),
        (status = 403, description = "Not an admin", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "The message is not failed", body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/outbox/{id}/retry")]
async fn retry_outbox(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.0.require(|r| r == Role::Admin)?;
    let view = run_db(&state, move |conn| outbox::retry(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}
