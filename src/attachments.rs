//! Attachments: content stored once per SHA-256, described per message.

use crate::auth::hash_secret;
use crate::db::models::{Attachment, NewBlob};
use crate::db::schema::{attachments, blobs, messages, tickets};
use crate::db::{insert_blob_if_absent, DbConnection, WriteConn};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use utoipa::ToSchema;

/// An attachment as messages list it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

/// A file a customer or agent sent, not yet stored.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_count: usize,
}

/// Refuses uploads over the configured limits with a message a person can act on.
pub fn check_limits(uploads: &[Upload], limits: UploadLimits) -> AppResult<()> {
    if uploads.len() > limits.max_count {
        return Err(AppError::invalid(
            "attachments",
            format!("at most {} attachments per message", limits.max_count),
        ));
    }
    if let Some(big) = uploads.iter().find(|u| u.bytes.len() > limits.max_bytes) {
        return Err(AppError::PayloadTooLarge(format!(
            "attachment '{}' is {} and the limit is {}",
            big.filename,
            human_size(big.bytes.len()),
            human_size(limits.max_bytes)
        )));
    }
    Ok(())
}

pub fn human_size(bytes: usize) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= MIB {
        format!("{:.1} MB", bytes as f64 / MIB)
    } else {
        format!("{:.0} KB", (bytes as f64 / 1024.0).ceil())
    }
}

/// Keeps only a file name's last path component and printable characters.
fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

pub fn store(conn: &mut WriteConn<'_>, message_id: &str, uploads: &[Upload]) -> AppResult<()> {
    let now = conn.now();
    for upload in uploads {
        let sha256 = hex::encode(Sha256::digest(&upload.bytes));
        insert_blob_if_absent(
            conn,
            &NewBlob {
                sha256: &sha256,
                size: upload.bytes.len() as i64,
                content: &upload.bytes,
                created_at: now,
            },
        )?;
        diesel::insert_into(attachments::table)
            .values(Attachment {
                id: conn.new_id(),
                message_id: message_id.to_string(),
                blob_sha256: sha256,
                filename: clean_filename(&upload.filename),
                content_type: upload.content_type.clone(),
                size: upload.bytes.len() as i64,
                created_at: now,
            })
            .execute(&mut **conn)?;
    }
    Ok(())
}

/// Attachments of the given messages, grouped by message id.
pub fn for_messages(
    conn: &mut DbConnection,
    message_ids: &[String],
) -> AppResult<HashMap<String, Vec<AttachmentView>>> {
    let rows: Vec<Attachment> = attachments::table
        .filter(attachments::message_id.eq_any(message_ids))
        .order(attachments::id.asc())
        .select(Attachment::as_select())
        .load(conn)?;
    let mut grouped: HashMap<String, Vec<AttachmentView>> = HashMap::new();
    for a in rows {
        grouped
            .entry(a.message_id)
            .or_default()
            .push(AttachmentView {
                id: a.id,
                filename: a.filename,
                content_type: a.content_type,
                size: a.size,
                sha256: a.blob_sha256,
            });
    }
    Ok(grouped)
}

/// A stored file on its way out, with the name and type it was sent with.
#[derive(Debug, Clone)]
pub struct Download {
    pub filename: String,
    /// As claimed by whoever sent the file: never trusted for rendering.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// An attachment for the customer holding `access_token`: only of that
/// ticket's public messages; internal notes' files are staff-only.
pub fn download_for_customer(
    conn: &mut DbConnection,
    access_token: &str,
    attachment_id: &str,
) -> AppResult<Download> {
    let id = canonical_id(attachment_id)?;
    let attachment: Attachment = attachments::table
        .inner_join(messages::table.inner_join(tickets::table))
        .filter(attachments::id.eq(id))
        .filter(messages::public.eq(true))
        .filter(tickets::access_token_hash.eq(hash_secret(access_token)))
        .select(Attachment::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(not_found)?;
    with_content(conn, attachment)
}

pub fn not_found() -> AppError {
    AppError::not_found("attachment")
}

/// Attachment ids are UUIDs; anything else (a NUL byte, a file name) names
/// nothing and never reaches the database.
fn canonical_id(raw: &str) -> AppResult<String> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| not_found())
}

/// The attachment and the id of the ticket it belongs to (who may read it
/// is the caller's business).
pub fn with_ticket_id(
    conn: &mut DbConnection,
    attachment_id: &str,
) -> AppResult<(Attachment, String)> {
    let id = canonical_id(attachment_id)?;
    attachments::table
        .inner_join(messages::table)
        .filter(attachments::id.eq(id))
        .select((Attachment::as_select(), messages::ticket_id))
        .first(conn)
        .optional()?
        .ok_or_else(not_found)
}

pub fn with_content(conn: &mut DbConnection, attachment: Attachment) -> AppResult<Download> {
    let bytes: Vec<u8> = blobs::table
        .find(&attachment.blob_sha256)
        .select(blobs::content)
        .first(conn)?;
    Ok(Download {
        filename: attachment.filename,
        content_type: attachment.content_type,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_paths_and_control_characters() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\Users\\x\\invoice.pdf"), "invoice.pdf");
        assert_eq!(clean_filename("a\u{0}b.txt"), "ab.txt");
        assert_eq!(clean_filename(""), "attachment");
    }

    #[test]
    fn oversized_uploads_are_refused_with_sizes_named() {
        let limits = UploadLimits {
            max_bytes: 1024,
            max_count: 2,
        };
        let big = Upload {
            filename: "scan.png".into(),
            content_type: "image/png".into(),
            bytes: vec![0; 2048],
        };
        let err = check_limits(&[big], limits).unwrap_err().to_string();
        assert!(err.contains("scan.png") && err.contains("limit"), "{err}");
        let small = Upload {
            filename: "a".into(),
            content_type: "text/plain".into(),
            bytes: vec![1],
        };
        assert!(check_limits(&[small.clone(), small.clone()], limits).is_ok());
        assert!(check_limits(&[small.clone(), small.clone(), small], limits).is_err());
    }
}
