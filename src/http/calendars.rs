//! `/api/v1/calendars`: CRUD, holiday import and "is it open now".

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::state::{run_db, run_write, AppState};
use super::{no_content, parse_json};
use crate::directory::calendars::{self, CalendarInput, CalendarView, HolidayImport, Openness};
use crate::error::AppError;
use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_calendar)
        .service(list_calendars)
        .service(get_calendar)
        .service(update_calendar)
        .service(delete_calendar)
        .service(import_holidays)
        .service(calendar_open);
}

crud_handlers!(
    "calendars",
    "/api/v1/calendars",
    "/api/v1/calendars/{id}",
    calendars,
    CalendarInput,
    CalendarView,
    create_calendar,
    list_calendars,
    get_calendar,
    update_calendar,
    delete_calendar,
    delete
);

/// Add the all-day events of an iCalendar file (`text/calendar`, e.g. a
/// national holiday feed) to the calendar's holidays.
#[utoipa::path(post, path = "/api/v1/calendars/{id}/holidays", tag = "calendars", params(("id" = String, Path)),
    request_body(content = String, content_type = "text/calendar"),
    responses((status = 200, body = HolidayImport), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/api/v1/calendars/{id}/holidays")]
async fn import_holidays(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("text/calendar")
    {
        return Err(ApiError(AppError::UnsupportedMediaType(
            "send the holidays as an iCalendar file with Content-Type: text/calendar".into(),
        )));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| AppError::invalid("body", "an iCalendar file is UTF-8 text"))?;
    let imported = run_db(&state, move |conn| {
        calendars::import_holidays(conn, &caller.0, &id, &text)
    })
    .await?;
    Ok(HttpResponse::Ok().json(imported))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct OpenParams {
    /// An RFC 3339 instant; default now.
    at: Option<String>,
}

/// Whether the calendar is open at an instant, and when that next changes.
#[utoipa::path(get, path = "/api/v1/calendars/{id}/open", tag = "calendars", params(("id" = String, Path), OpenParams),
    responses((status = 200, body = Openness), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[get("/api/v1/calendars/{id}/open")]
async fn calendar_open(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<OpenParams>,
) -> Result<HttpResponse, ApiError> {
    let at = params
        .at
        .as_deref()
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| {
                    AppError::invalid(
                        "at",
                        "must be an RFC 3339 instant such as 2026-12-07T09:00:00Z",
                    )
                })
        })
        .transpose()?;
    let openness = run_db(&state, move |conn| {
        calendars::openness(conn, &caller.0, &id, at)
    })
    .await?;
    Ok(HttpResponse::Ok().json(openness))
}
