//! The organisation: vendors, their queues and their agents.

pub mod agents;
pub mod calendars;
pub mod queues;
pub mod routing_version;
pub mod vendors;

use crate::auth::Principal;
use crate::db::schema;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use diesel::prelude::*;

/// Vendor-scoped callers may only read their own vendor's records; a foreign
/// record is reported as missing, like a foreign ticket.
pub fn check_vendor_visible(
    caller: &Principal,
    vendor_id: Option<&str>,
    what: &str,
) -> AppResult<()> {
    match caller.vendor_scope() {
        Some(own) if vendor_id != Some(own) => Err(AppError::not_found(what)),
        _ => Ok(()),
    }
}

/// Whether `vendor_id` names a vendor the caller may refer to. To a
/// vendor-scoped caller another vendor's id is as unknown as a made-up one,
/// so the answer never confirms that it exists.
fn vendor_known_to(
    conn: &mut DbConnection,
    caller: &Principal,
    vendor_id: &str,
) -> AppResult<bool> {
    if caller.vendor_scope().is_some_and(|own| own != vendor_id) {
        return Ok(false);
    }
    let count: i64 = schema::vendors::table
        .filter(schema::vendors::id.eq(vendor_id))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
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
