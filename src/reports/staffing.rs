//! The staffing calculator on its own (`GET /api/v1/reports/staffing`):
//! the coverage report's advice for figures the caller gives.

use super::may_read_reports;
use crate::auth::Principal;
use crate::domain::staffing::{self, Advice, Demand, Goal};
use crate::error::{AppError, AppResult};

pub fn advise(caller: &Principal, demand: &Demand, goal: &Goal) -> AppResult<Advice> {
    caller.require(may_read_reports)?;
    staffing::advise(demand, goal).map_err(AppError::Validation)
}
