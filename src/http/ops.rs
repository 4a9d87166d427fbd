//! Liveness, readiness and metrics.

use super::problem::{problem_response, ApiError};
use super::state::{run_db, AppState};
use crate::config::MetricsSettings;
use crate::error::AppError;
use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpRequest, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Where the metrics are served (on `metrics.bind` the only path there).
pub const METRICS_PATH: &str = "/metrics";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers: ready for traffic.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200), (status = 503)))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let checked: Result<(), ApiError> =
        run_db(&state, |conn| Ok(conn.batch_execute("SELECT 1")?)).await;
    match checked {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})),
        Err(err) => {
            // The driver's text names hosts, users and files: for the log only.
            tracing::error!(error = %err.0, "readiness check: the database does not answer");
            problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is not reachable".into(),
                Vec::new(),
            )
        }
    }
}

/// Prometheus text format. With `metrics.token`, only for
/// `Authorization: Bearer <token>`.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain"), (status = 401, description = "metrics.token is set and was not sent")),
)]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_metrics_token(&req, &state.settings.metrics)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render(state.db.pool())))
}

fn check_metrics_token(req: &HttpRequest, settings: &MetricsSettings) -> Result<(), AppError> {
    let Some(expected) = &settings.token else {
        return Ok(());
    };
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    // Comparing digests, not the secrets: timing reveals nothing of the token.
    let matches = sent.is_some_and(|token| {
        Sha256::digest(token.as_bytes()) == Sha256::digest(expected.as_bytes())
    });
    if matches {
        Ok(())
    } else {
        Err(AppError::Unauthorized(
            "/metrics needs 'Authorization: Bearer <metrics.token>'".into(),
        ))
    }
}
