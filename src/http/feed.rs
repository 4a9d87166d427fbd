//! `GET /api/v1/events`: the change feed, long-polling when there is
//! nothing new.

use super::auth::Worker;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use crate::error::AppError;
use crate::tickets::feed::{self, FeedPage, MAX_PAGE};
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use std::time::{Duration, Instant};
use utoipa::IntoParams;

/// The longest a request may wait for news.
pub const MAX_WAIT_SECONDS: u64 = 60;
/// How often a waiting request looks again. Events of other Relay
/// processes arrive only through the database, so it is read, not notified.
const POLL_EVERY: Duration = Duration::from_millis(200);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_feed);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct FeedParams {
    /// A cursor from an earlier page (`next_cursor`, or an event's
    /// `cursor`); absent: from the first event.
    after: Option<String>,
    /// Seconds (0–60, default 0) to wait for an event when there is none yet.
    wait: Option<u64>,
    /// Events per page (1–500, default 100).
    limit: Option<i64>,
}

/// Ticket events the caller may see (vendor-scoped like tickets), in feed
/// order: the order their transactions took ids, then written. A cursor never
/// skips an event, also one a concurrent transaction commits late.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(FeedParams),
    responses((status = 200, body = FeedPage), (status = 422, body = Problem)), security(("bearer" = [])))]
#[get("/api/v1/events")]
async fn list_feed(
    state: web::Data<AppState>,
    caller: Worker,
    params: web::Query<FeedParams>,
) -> Result<HttpResponse, ApiError> {
    let after = feed::parse_cursor(params.after.as_deref())?;
    let wait = params.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError(AppError::invalid(
            "wait",
            format!("at most {MAX_WAIT_SECONDS} seconds"),
        )));
    }
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError(AppError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let principal = caller.0.clone();
        let page = run_db(&state, move |conn| {
            feed::page(conn, &principal, after, limit)
        })
        .await?;
        if !page.events.is_empty() || Instant::now() + POLL_EVERY > deadline {
            return Ok(HttpResponse::Ok().json(page));
        }
        actix_web::rt::time::sleep(POLL_EVERY).await;
    }
}
