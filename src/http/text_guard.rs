//! Text from a request never holds NUL. PostgreSQL refuses it in every text
//! value (each one was a 500) and SQLite cuts strings at it (`q=%00` became
//! "match everything"), so it is refused where text enters: the request
//! target here, JSON bodies in `parse_json`, form fields in `form_body`.

use super::problem::ApiError;
use crate::domain::validate::FieldError;
use crate::error::AppError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use serde_json::Value;

/// The refusal for one field; a name that itself holds NUL is shown escaped.
pub fn nul_in(field: &str) -> FieldError {
    FieldError::new(
        field.escape_debug().to_string(),
        "must not contain NUL characters",
    )
}

/// Middleware: a path with an encoded NUL names no resource (404, as for any
/// unknown path); a query parameter with one is a 422 naming the parameter.
pub async fn refuse_nul_in_target(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match nul_in_target(req.uri().path(), req.query_string()) {
        Some(refusal) => Ok(req.error_response(ApiError(refusal)).map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// NUL can only arrive percent-encoded (the HTTP parser refuses raw control
/// bytes), so the common case costs one substring search per part.
fn nul_in_target(path: &str, query: &str) -> Option<AppError> {
    if path.contains("%00") {
        return Some(AppError::NotFound("no such resource".into()));
    }
    if !query.contains("%00") {
        return None;
    }
    let errors: Vec<FieldError> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| nul_in(&name))
        .collect();
    (!errors.is_empty()).then_some(AppError::Validation(errors))
}

/// Refuses a JSON body with NUL in any string (value or key), naming each
/// such field by its path. The body is only walked when its raw bytes hold
/// the `\u0000` escape (a raw NUL is not valid JSON), so well-formed
/// requests pay one scan of the bytes.
pub fn refuse_nul_in_json(body: &[u8]) -> Result<(), AppError> {
    if !body.windows(6).any(|w| w == br"\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let mut fields = Vec::new();
    collect_nul_fields(&value, "", &mut fields);
    if fields.is_empty() {
        return Ok(());
    }
    Err(AppError::Validation(
        fields.iter().map(|field| nul_in(field)).collect(),
    ))
}

/// Paths as serde_path_to_error writes them (`customer.name`, `tags[1]`); a
/// key with NUL is reported at the object that holds it.
fn collect_nul_fields(value: &Value, path: &str, out: &mut Vec<String>) {
    let here = || {
        if path.is_empty() {
            ".".to_string()
        } else {
            path.to_string()
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => out.push(here()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_nul_fields(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                out.push(here());
            }
            for (key, item) in map.iter().filter(|(k, _)| !k.contains('\0')) {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect_nul_fields(item, &child, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: AppError) -> Vec<String> {
        match err {
            AppError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn json_without_the_escape_is_not_walked() {
        assert!(refuse_nul_in_json(br#"{"subject":"a\\u0000b"}"#).is_ok());
        assert!(refuse_nul_in_json(br#"{"subject":"plain"}"#).is_ok());
    }

    #[test]
    fn json_nul_is_named_by_path() {
        let body = br#"{"subject":"a\u0000b","customer":{"name":"x\u0000"},"tags":["ok","n\u0000"],
                        "custom_fields":{"k\u0000":"v"}}"#;
        let mut named = fields(refuse_nul_in_json(body).unwrap_err());
        named.sort();
        assert_eq!(
            named,
            ["custom_fields", "customer.name", "subject", "tags[1]"]
        );
    }

    #[test]
    fn target_nul_is_refused_by_part() {
        assert!(nul_in_target("/api/v1/tickets", "q=a%2500b").is_none());
        assert!(matches!(
            nul_in_target("/api/v1/vendors/a%00b", ""),
            Some(AppError::NotFound(_))
        ));
        assert_eq!(
            fields(nul_in_target("/api/v1/tickets", "limit=5&q=%00&customer=x%00").unwrap()),
            ["q", "customer"]
        );
    }
}
