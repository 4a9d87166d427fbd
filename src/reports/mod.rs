//! Manager reports (issue 13): SLA attainment, coverage and staffing,
//! vendor contracts, backlog. Who may read them: leads (of their own
//! vendor's figures) and the client company's staff.

pub mod backlog;
pub mod staffing;

use crate::domain::Role;

/// Leads, managers and admins read reports; agents and machines do not.
pub fn may_read_reports(role: Role) -> bool {
    role == Role::Lead || role.is_manager_or_above()
}
