//! Manager reports (issue 13): SLA attainment, coverage and staffing,
//! vendor contracts, backlog. Who may read them: leads (of their own
//! vendor's figures) and the client company's staff.

pub mod backlog;
pub mod coverage;
pub mod period;
pub mod scope;
pub mod sla;
pub mod staffing;
pub mod vendors;

use crate::auth::Principal;
use crate::db::schema::queues;
use crate::db::DbConnection;
use crate::directory::check_vendor_visible;
use crate::domain::{Channel, Priority, Role};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;
use std::collections::HashMap;

/// The filters every report takes (all optional).
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub vendor_id: Option<String>,
    pub queue_id: Option<String>,
    pub priorities: Vec<Priority>,
    pub channels: Vec<Channel>,
}

/// Every queue's slug and vendor by id. Queues are few: reports read their
/// labels apart instead of joining them into grouped statements.
pub fn queue_labels(conn: &mut DbConnection) -> AppResult<HashMap<String, (String, String)>> {
    Ok(queues::table
        .select((queues::id, queues::slug, queues::vendor_id))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, slug, vendor)| (id, (slug, vendor)))
        .collect())
}

/// A queue asked for must be one the caller may see, as anywhere else:
/// another vendor's, or none, is 404.
pub fn check_queue_visible(
    caller: &Principal,
    labels: &HashMap<String, (String, String)>,
    queue: Option<&str>,
) -> AppResult<()> {
    let Some(queue) = queue else { return Ok(()) };
    let (_, owner) = labels
        .get(queue)
        .ok_or_else(|| AppError::not_found("queue"))?;
    check_vendor_visible(caller, Some(owner), "queue")
}

/// Leads, managers and admins read reports; agents and machines do not.
pub fn may_read_reports(role: Role) -> bool {
    role == Role::Lead || role.is_manager_or_above()
}

/// The vendor a report is limited to: a lead's own (another vendor is, to
/// them, one that does not exist: 404), or the one a manager asked for.
pub fn vendor_in_scope(caller: &Principal, asked: Option<&str>) -> AppResult<Option<String>> {
    if asked.is_some() {
        check_vendor_visible(caller, asked, "vendor")?;
    }
    Ok(caller.vendor_scope().or(asked).map(str::to_string))
}

/// `part / whole` as a share (attainment, a CSAT score); null when there
/// is nothing to share.
pub fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A report row's columns in CSV order: the names of its JSON fields
/// (nested ones flattened by serde), which a unit test of each row keeps
/// in step with the type.
pub trait CsvColumns {
    const COLUMNS: &'static [&'static str];
}

/// The row's values in [`CsvColumns`] order, as CSV fields: text as it
/// is, numbers as JSON writes them, null as an empty field.
pub fn csv_record<R: serde::Serialize + CsvColumns>(
    row: &R,
) -> Result<Vec<String>, serde_json::Error> {
    let value = serde_json::to_value(row)?;
    Ok(R::COLUMNS
        .iter()
        .map(|column| match &value[*column] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect())
}

#[cfg(test)]
pub fn assert_columns_match<R: serde::Serialize + CsvColumns>(row: &R) {
    let value = serde_json::to_value(row).unwrap();
    let mut fields: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut columns = R::COLUMNS.to_vec();
    fields.sort_unstable();
    columns.sort_unstable();
    assert_eq!(fields, columns, "a row's CSV columns are its JSON fields");
}
