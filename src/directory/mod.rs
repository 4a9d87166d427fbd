//! The organisation: vendors, their queues and their agents.

pub mod agents;
pub mod queues;
pub mod vendors;

use crate::auth::Principal;
use crate::error::{AppError, AppResult};

/// Vendor-scoped callers may only read their own vendor's records; a foreign
/// record is reported as missing, like a foreign ticket.
fn check_vendor_visible(caller: &Principal, vendor_id: Option<&str>, what: &str) -> AppResult<()> {
    match caller.vendor_scope() {
        Some(own) if vendor_id != Some(own) => Err(AppError::not_found(what)),
        _ => Ok(()),
    }
}

/// Refuses a create request that lacks required fields, naming all of them.
fn require_fields(fields: &[(&str, bool)]) -> AppResult<()> {
    let missing: Vec<_> = fields
        .iter()
        .filter(|(_, present)| !present)
        .map(|(field, _)| crate::domain::validate::FieldError::new(*field, "is required"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(missing))
    }
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
