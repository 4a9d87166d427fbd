//! RFC 9457 problem documents for every error answer.

use crate::domain::validate::FieldError;
use crate::error::AppError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The error type of every handler: an `AppError` on its way out.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        ApiError(err)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn classify(err: &AppError) -> (StatusCode, &'static str) {
    use AppError::*;
    match err {
        NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
        Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
        Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
        Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        PreconditionRequired(_) => (StatusCode::PRECONDITION_REQUIRED, "precondition-required"),
        PreconditionFailed(_) => (StatusCode::PRECONDITION_FAILED, "precondition-failed"),
        PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
        UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type"),
        TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
        Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::SerializationFailure,
            _,
        )) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Database(_) | Internal(_) | Failed { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

pub fn problem_response(
    status: StatusCode,
    kind: &str,
    detail: String,
    errors: Vec<FieldError>,
) -> HttpResponse {
    let body = Problem {
        kind: format!("/problems/{kind}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let mut response = HttpResponse::build(status);
    response.content_type(PROBLEM_JSON);
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"relay\""));
    }
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response.insert_header((header::RETRY_AFTER, "5"));
    }
    response.json(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        classify(&self.0).0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, kind) = classify(&self.0);
        let detail = if status.is_server_error() {
            // The cause goes to the log, not to the client.
            tracing::error!(error = %crate::error::cause_chain(&self.0), "request failed");
            if status == StatusCode::SERVICE_UNAVAILABLE {
                "the service is temporarily unavailable; retry shortly".to_string()
            } else {
                "an internal error occurred; it has been logged".to_string()
            }
        } else {
            self.0.to_string()
        };
        let errors = match &self.0 {
            AppError::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        };
        problem_response(status, kind, detail, errors)
    }
}

/// Turns actix's own extractor errors (bad JSON, bad query, too large) into
/// problem documents.
pub fn from_extractor(status: StatusCode, detail: String) -> actix_web::Error {
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        _ => "bad-request",
    };
    actix_web::error::InternalError::from_response(
        detail.clone(),
        problem_response(status, kind, detail, Vec::new()),
    )
    .into()
}
