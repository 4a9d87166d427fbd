//! `POST /api/v1/inbound/email`: the HTTP door for raw mail (inbound-mail
//! webhooks, `relay mailgate`). Every door shares `email::ingest`.

use super::auth::Caller;
use super::form_body::FormBody;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use crate::domain::Role;
use crate::email::ingest::{ingest, Delivery, IngestResult, Outcome};
use crate::error::AppError;
use actix_web::{post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(inbound_email);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboundParams {
    /// Queue (id or slug) for tickets this message opens.
    queue: Option<String>,
    /// Where the message came from, kept with it (default `http`).
    source: Option<String>,
}

/// Deliver one raw RFC 5322 message: the body itself (`message/rfc822`), or
/// the multipart form field `email`. Duplicates are recognised and stored once.
#[utoipa::path(
    post, path = "/api/v1/inbound/email", tag = "email", params(InboundParams),
    request_body(content = String, content_type = "message/rfc822", description = "The raw message"),
    responses(
        (status = 201, description = "A ticket was created", body = IngestResult),
        (status = 200, description = "Appended, duplicate, ignored or bounced", body = IngestResult),
        (status = 413, description = "The message is over the size limit", body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/inbound/email")]
async fn inbound_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    params: web::Query<InboundParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller
        .0
        .require(|r| matches!(r, Role::Intake | Role::Admin))?;
    let max = state.settings.email.max_message_bytes;
    let raw = read_message(&req, payload, max).await?;
    let InboundParams { queue, source } = params.into_inner();
    let source = match source {
        Some(s)
            if s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c)) =>
        {
            s
        }
        Some(_) => {
            return Err(
                AppError::invalid("source", "must be up to 64 letters, digits and - _ : .").into(),
            )
        }
        None => "http".to_string(),
    };
    let shared = state.clone();
    let result = run_db(&state, move |conn| {
        ingest(
            conn,
            &shared.settings,
            &Delivery {
                raw: &raw,
                source: &source,
                queue_hint: queue.as_deref(),
            },
        )
    })
    .await?;
    let mut response = if result.outcome == Outcome::Created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(result))
}

async fn read_message(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<Vec<u8>, AppError> {
    let media_type = super::media_type(req);
    if media_type == "multipart/form-data" {
        let mut form = FormBody::read(req, payload, max).await?;
        let raw = match form.take_files("email").into_iter().next() {
            Some(file) => file.bytes,
            None => form.text("email").as_bytes().to_vec(),
        };
        if raw.is_empty() {
            return Err(AppError::invalid(
                "email",
                "the form field `email` must hold the raw message",
            ));
        }
        return Ok(raw);
    }
    if !matches!(
        media_type.as_str(),
        "message/rfc822" | "text/plain" | "application/octet-stream" | ""
    ) {
        return Err(AppError::BadRequest(format!(
            "send the raw message as message/rfc822, or a multipart form with the field `email` (got {media_type})"
        )));
    }
    let mut raw = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("the body could not be read: {e}")))?;
        if raw.len() + chunk.len() > max {
            return Err(AppError::PayloadTooLarge(format!(
                "the message is larger than the limit of {}",
                crate::attachments::human_size(max)
            )));
        }
        raw.extend_from_slice(&chunk);
    }
    if raw.is_empty() {
        return Err(AppError::BadRequest(
            "the body is empty; send the raw message".into(),
        ));
    }
    Ok(raw)
}
