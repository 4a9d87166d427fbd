//! The HTTP layer: the only module that knows actix-web. Handlers parse,
//! authorise and call a service; they hold no business rules.

#[macro_use]
mod crud;

pub mod attachments;
pub mod auth;
pub mod body_deadline;
pub mod calendars;
pub mod client_address;
pub mod directory;
pub mod feed;
pub mod form_body;
pub mod import;
pub mod inbound;
pub mod intake_settings;
pub mod openapi;
pub mod ops;
pub mod outbox;
pub mod problem;
pub mod rating;
pub mod reports;
pub mod routing;
pub mod sla;
pub mod state;
pub mod support;
pub mod text_guard;
pub mod tickets;
pub mod workload;

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

/// The client's address: the peer, or with `server.trust_forwarded_for` /
/// `server.trust_forwarded_header` the address our outermost proxy saw
/// (`server.trusted_proxy_hops` entries from the right of its header).
pub fn client_ip(req: &HttpRequest, settings: &Settings) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    // Lossy, so bytes a client put in its part of a line the proxy
    // appended to cannot hide the proxy's entry.
    let lines = |name: &str| -> Vec<String> {
        req.headers()
            .get_all(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    let (forwarded, x_forwarded_for) = (lines("forwarded"), lines("x-forwarded-for"));
    let headers = client_address::ProxyHeaders {
        forwarded: forwarded.iter().map(String::as_str).collect(),
        x_forwarded_for: x_forwarded_for.iter().map(String::as_str).collect(),
    };
    client_address::resolve(
        peer,
        &headers,
        client_address::ProxyTrust::of(&settings.server),
    )
}

/// The key of the client's public budget: its address, IPv6 by its /64.
pub fn client_key(req: &HttpRequest, settings: &Settings) -> IpAddr {
    client_address::rate_limit_key(client_ip(req, settings))
}

/// The longest `X-Request-Id` taken from a client.
const MAX_REQUEST_ID_CHARS: usize = 64;

/// The client's `X-Request-Id` when it is a plain token (letters, digits,
/// `.`, `_`, `-`, at most 64), so it can never break a log line; otherwise a
/// fresh id.
fn request_id(sent: Option<&str>) -> String {
    sent.filter(|id| {
        !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_CHARS
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
    .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

/// With `metrics.bind`, that listener serves only `/metrics`, and the
/// public one everything but `/metrics`.
fn wrong_listener(req: &ServiceRequest) -> bool {
    let metrics_addr = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.settings.metrics.bind);
    let Some(metrics_addr) = metrics_addr else {
        return false;
    };
    let on_metrics_listener = req.app_config().local_addr() == metrics_addr;
    on_metrics_listener != (req.path() == ops::METRICS_PATH)
}

/// Request id, metrics, and a problem document for any error actix answers
/// by itself (unknown route, wrong method, body too large).
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request_id(
        req.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
    );
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());
    let mut response = if wrong_listener(&req) {
        req.into_response(problem_response(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such resource".into(),
            Vec::new(),
        ))
    } else {
        // Everything the handler logs carries the request id.
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_body(|_, b| b.boxed())
    };
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
            .configure(calendars::routes)
            .configure(routing::routes)
            .configure(sla::routes)
            .configure(reports::routes)
            .configure(workload::routes)
            .configure(feed::routes)
            .configure(support::routes)
            .configure(rating::routes)
            .configure(inbound::routes)
            .configure(import::routes)
            .configure(outbox::routes)
            .configure(intake_settings::routes)
            .configure(attachments::routes)
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
    let metrics_addr = state.settings.metrics.bind;
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
    .listen(listener)?;
    let server = match metrics_addr {
        Some(addr) => server.bind(addr).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr} (setting `metrics.bind`): {e}"),
            )
        })?,
        None => server,
    };
    Ok(server.run())
}

/// Answers for handlers that only need to say "done".
pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[cfg(test)]
mod tests {
    use super::request_id;

    #[test]
    fn plain_request_ids_are_kept() {
        assert_eq!(request_id(Some("trace-123")), "trace-123");
        assert_eq!(request_id(Some("a.B_9-z")), "a.B_9-z");
        let longest = "x".repeat(64);
        assert_eq!(request_id(Some(&longest)), longest);
    }

    #[test]
    fn anything_else_gets_a_fresh_id() {
        let forged = "x\n2026-01-01 INFO admin logged in";
        for sent in [
            None,
            Some(""),
            Some(forged),
            Some("a b"),
            Some("ü"),
            Some("a\"b"),
        ] {
            let id = request_id(sent);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{sent:?} -> {id}");
        }
        let too_long = "x".repeat(65);
        assert_ne!(request_id(Some(&too_long)), too_long);
    }
}
