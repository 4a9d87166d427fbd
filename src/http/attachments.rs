//! Downloading attachments: `GET /api/v1/attachments/{id}` for staff, and
//! the answer shared with the customer's `/t/{token}/attachments/{id}`.
//!
//! A stored file's name and type are whatever its sender claimed, so the
//! answer is always a download (`Content-Disposition: attachment`), never
//! sniffed, and only a few types a browser does not run are kept as such.

use super::auth::Worker;
use super::problem::{ApiError, Problem};
use super::state::{run_db, AppState};
use crate::attachments::Download;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{get, web, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(download_attachment);
}

/// Download an attachment of a ticket you may read (internal notes'
/// included). Always sent as a download, with a content type that no
/// browser renders as a page.
#[utoipa::path(
    get, path = "/api/v1/attachments/{id}", tag = "tickets",
    params(("id" = String, Path, description = "Attachment id (from a message's `attachments`)")),
    responses(
        (status = 200, description = "The file, as `Content-Disposition: attachment`", content_type = "application/octet-stream"),
        (status = 404, description = "No such attachment, or its ticket is not yours", body = Problem),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/attachments/{id}")]
async fn download_attachment(
    state: web::Data<AppState>,
    caller: Worker,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let id = id.into_inner();
    let download = run_db(&state, move |conn| {
        crate::tickets::files::download_for_staff(conn, &principal, &id)
    })
    .await?;
    Ok(file_response(download))
}

/// The file as a download: never cached (it is someone's private data),
/// never sniffed, never framed or run as a page.
pub fn file_response(download: Download) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(safe_content_type(&download.content_type))
        .insert_header(content_disposition(&download.filename))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(download.bytes)
}

/// Types kept as claimed: ones browsers show as inert images or documents,
/// or hand to another program. Everything else (HTML, SVG, XML, scripts,
/// anything unknown) goes out as opaque bytes.
const KEPT_TYPES: [&str; 7] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/zip",
    "text/plain",
];

fn safe_content_type(claimed: &str) -> &'static str {
    let essence = claimed
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    KEPT_TYPES
        .into_iter()
        .find(|kept| *kept == essence)
        .unwrap_or("application/octet-stream")
}

/// `attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded`
/// (RFC 6266): the exact name for browsers that read `filename*`, a plain
/// one that cannot break the header for those that do not.
fn content_disposition(filename: &str) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii_fallback(filename)),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: filename.as_bytes().to_vec(),
            }),
        ],
    }
}

/// Printable ASCII without quotes, backslashes or `%` (which some browsers
/// decode); anything else becomes `_`.
fn ascii_fallback(filename: &str) -> String {
    filename
        .chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '%') => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_content_is_served_as_opaque_bytes() {
        for claimed in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/javascript",
            "text/javascript",
            "multipart/x-mixed-replace; boundary=x",
            "",
            "nonsense",
        ] {
            assert_eq!(
                safe_content_type(claimed),
                "application/octet-stream",
                "{claimed}"
            );
        }
    }

    #[test]
    fn inert_types_keep_their_type() {
        assert_eq!(safe_content_type("image/PNG"), "image/png");
        assert_eq!(safe_content_type("application/pdf"), "application/pdf");
        assert_eq!(safe_content_type("text/plain; charset=utf-8"), "text/plain");
    }

    #[test]
    fn file_names_are_encoded_so_they_cannot_break_the_header() {
        let header = content_disposition("Rechnung \"März\" 100%.pdf").to_string();
        assert_eq!(
            header,
            "attachment; filename=\"Rechnung _M_rz_ 100_.pdf\"; \
             filename*=UTF-8''Rechnung%20%22M%C3%A4rz%22%20100%25.pdf"
        );
        let header = content_disposition("a\r\nSet-Cookie: x=1;.txt").to_string();
        assert!(
            header.is_ascii() && !header.contains(['\r', '\n']),
            "{header}"
        );
        assert!(header::HeaderValue::from_str(&header).is_ok());
    }
}
