//! `POST /api/v1/import/tickets`: another help desk's tickets with their
//! history (`intake::import`).

use super::auth::Caller;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use super::{media_type, parse_json};
use crate::error::AppError;
use crate::intake::import::{self, ImportAnswer, ImportRequest, MAX_REQUEST_BYTES};
use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(import_tickets);
}

/// Import tickets from another help desk with their history (admins). The
/// history is applied in time order and the clocks computed as for a live
/// ticket; nothing is mailed. Records are known by `external_id`: one
/// imported before answers its ticket with `created: false`. One bad record
/// refuses the batch (422, every bad field named as `tickets[i].field`) and
/// nothing is stored. The body may be up to 32 MiB (`server.json_body_limit`
/// does not apply) and at most 1,000 tickets.
#[utoipa::path(post, path = "/api/v1/import/tickets", tag = "import", request_body = ImportRequest,
    responses((status = 200, body = ImportAnswer), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/api/v1/import/tickets")]
async fn import_tickets(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Before reading up to 32 MiB from someone who may not import.
    import::may_import(&caller.0)?;
    let media_type = media_type(&request);
    if !is_json(&media_type) {
        return Err(ApiError(AppError::UnsupportedMediaType(format!(
            "send the tickets as JSON with Content-Type: application/json (got {})",
            if media_type.is_empty() {
                "none"
            } else {
                &media_type
            }
        ))));
    }
    let body = read_body(&request, payload, MAX_REQUEST_BYTES).await?;
    let value: serde_json::Value = parse_json(&body)?;
    drop(body);
    let batch = import::read(value);
    let answer = run_db(&state, move |conn| import::import(conn, &caller.0, batch)).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `application/json`, or a `+json` type.
fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
        || media_type
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// The body, up to `max` bytes (this route's own limit, larger than the
/// `web::PayloadConfig` every other route reads with).
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<Vec<u8>, AppError> {
    let too_large = || {
        AppError::PayloadTooLarge(format!(
            "the import is larger than the limit of {}; send it in smaller batches",
            crate::attachments::human_size(max)
        ))
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced.map_or(0, |n| n as usize));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/vnd.relay+json"));
        for other in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/json+xml",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }
}
