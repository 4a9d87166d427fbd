//! `/api/v1/intake/public-fields`: which ticket fields anonymous callers may
//! set, read and changed by managers and admins.

use super::auth::Caller;
use super::parse_json;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use crate::intake::public_fields::{self, PublicFields};
use actix_web::{get, put, web, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_public_fields).service(put_public_fields);
}

/// What anonymous `POST /api/v1/tickets` may set beyond subject, body and
/// customer. Nothing until a manager opens it.
#[utoipa::path(
    get, path = "/api/v1/intake/public-fields", tag = "intake",
    responses((status = 200, body = PublicFields), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/intake/public-fields")]
async fn get_public_fields(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let setting = run_db(&state, move |conn| public_fields::get(conn, &caller.0)).await?;
    Ok(HttpResponse::Ok().json(setting))
}

/// Replace the setting; every Relay process applies it to the next request.
/// An anonymous create that sets a field not opened here answers 422 naming
/// it (`priority`, `tags`, `custom_fields.{name}`) and creates nothing.
#[utoipa::path(
    put, path = "/api/v1/intake/public-fields", tag = "intake",
    request_body = PublicFields,
    responses((status = 200, body = PublicFields), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[put("/api/v1/intake/public-fields")]
async fn put_public_fields(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input: PublicFields = parse_json(&body)?;
    let setting = run_db(&state, move |conn| {
        public_fields::put(conn, &caller.0, input)
    })
    .await?;
    Ok(HttpResponse::Ok().json(setting))
}
