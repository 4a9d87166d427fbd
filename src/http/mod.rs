//! The HTTP layer: the only module that knows actix-web. Handlers parse,
//! authorise and call a service; they hold no business rules.

pub mod auth;
pub mod body_deadline;
pub mod directory;
pub mod form_body;
pub mod inbound;
pub mod openapi;
pub mod ops;
pub mod outbox;
pub mod problem;
pub mod state;
pub mod support;
pub mod text_guard;
pub mod tickets;

use crate::config::Settings;
use crate::error::AppError;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use problem::{from_extractor, problem_response, ApiError};
use state::AppState;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Parses a JSON body with a message that names the offending field.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let detail = match inner.classify() {
            serde_json::error::Category::Data if path != "." => format!("field `{path}`: {inner}"),
            serde_json::error::Category::Data => {
                format!("the JSON does not fit this endpoint: {inner}")
            }
            _ => format!("the body is not valid JSON: {inner}"),
        };
        ApiError(AppError::BadRequest(detail))
    })?;
    deserializer.end().map_err(|e| {
        ApiError(AppError::BadRequest(format!(
            "the body is not valid JSON: {e}"
        )))
    })?;
    text_guard::refuse_nul_in_json(body)?;
    Ok(parsed)
}

/// The request's media type (`Content-Type` without parameters), lowercased;
/// empty when there is none.
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The client's address for rate limiting; proxy headers only when configured.
pub fn client_ip(req: &HttpRequest, settings: &Settings) -> IpAddr {
    let peer = req.peer_addr().map(|a| a.ip());
    if settings.server.trust_forwarded_for {
        if let Some(ip) = req
            .connection_info()
            .realip_remote_addr()
            .and_then(|s| s.parse().ok())
        {
            return ip;
        }
    }
    peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Request id, metrics, and a problem document for any error actix answers
/// by itself (unknown route, wrong method, body too large).
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());
    // Everything the handler logs carries the request id.
    let mut response = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_body(|_, b| b.boxed());
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let is_problem_or_page = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with(problem::PROBLEM_JSON) || ct.starts_with("text/html"));
        if !is_problem_or_page {
            let detail = match status {
                StatusCode::NOT_FOUND => "no such resource".to_string(),
                StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed here".to_string(),
                StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_string(),
                _ => status.canonical_reason().unwrap_or("error").to_string(),
            };
            let replacement = problem_response(status, "http", detail, Vec::new());
            response = response
                .into_response(replacement)
                .map_body(|_, b| b.boxed());
        }
    }
    let elapsed = started.elapsed();
    crate::metrics::http_request(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    tracing::info!(parent: &span, status = status.as_u16(), route = %route, elapsed_ms = elapsed.as_millis() as u64, "request");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(response.map_into_left_body())
}

/// Registers every route and the shared configuration on an app.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let limit = state.settings.server.json_body_limit;
        cfg.app_data(state)
            .app_data(web::PayloadConfig::new(limit))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                from_extractor(
                    StatusCode::BAD_REQUEST,
                    format!("bad query parameters: {err}"),
                )
            }))
            .app_data(web::FormConfig::default().error_handler(|err, _| {
                from_extractor(StatusCode::BAD_REQUEST, format!("bad form data: {err}"))
            }))
            .configure(ops::routes)
            .configure(tickets::routes)
            .configure(directory::routes)
            .configure(support::routes)
            .configure(inbound::routes)
            .configure(outbox::routes)
            .service(web::redirect("/api/docs", "/api/docs/"))
            .service(
                SwaggerUi::new("/api/docs/{_:.*}")
                    .url("/api/v1/openapi.json", openapi::ApiDoc::openapi()),
            );
    }
}

/// Binds and starts the server; the returned handle runs until stopped.
pub fn start(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let workers = match state.settings.server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let body_read_timeout = Duration::from_secs(state.settings.server.body_read_timeout_seconds);
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(move |req, next| {
                body_deadline::enforce(body_read_timeout, req, next)
            }))
            .wrap(from_fn(text_guard::refuse_nul_in_target))
            .wrap(from_fn(observe))
            .configure(configure(state.clone()))
            .default_service(web::to(|| async {
                problem_response(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "no such resource".into(),
                    Vec::new(),
                )
            }))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Answers for handlers that only need to say "done".
pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
