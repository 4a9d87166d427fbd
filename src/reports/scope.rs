//! What a period report's statements read: the period, the filters and the
//! vendor the caller is limited to, written as one statement's conditions
//! on the columns that statement names for them.

use super::period::Period;
use super::ReportFilter;
use crate::db::report_sql::Statement;

pub struct Scope<'a> {
    pub period: &'a Period,
    pub filter: &'a ReportFilter,
    /// The vendor rows must belong to (a lead's, or asked for).
    pub vendor: Option<&'a str>,
}

/// The columns a statement's scope is tested on. The ticket's own columns
/// (`priority`, `channel`) are always those of `t`.
#[derive(Clone, Copy)]
pub struct Columns<'c> {
    /// The instant that puts a row in the period.
    pub time: &'c str,
    pub vendor: &'c str,
    pub queue: &'c str,
}

impl Scope<'_> {
    /// ` AND …` for the period, the vendor, the queue and the ticket
    /// filters (the statement joins the ticket as `t` when they are set).
    pub fn conditions(&self, s: &mut Statement, columns: Columns<'_>) {
        s.sql(&format!(" AND {} >= ", columns.time))
            .instant(self.period.from.naive_utc())
            .sql(&format!(" AND {} < ", columns.time))
            .instant(self.period.to.naive_utc());
        if let Some(vendor) = self.vendor {
            s.sql(&format!(" AND {} = ", columns.vendor)).text(vendor);
        }
        if let Some(queue) = &self.filter.queue_id {
            s.sql(&format!(" AND {} = ", columns.queue)).text(queue);
        }
        if !self.filter.priorities.is_empty() {
            s.sql(" AND t.priority IN ")
                .text_list(self.filter.priorities.iter().map(|p| p.as_str()));
        }
        if !self.filter.channels.is_empty() {
            s.sql(" AND t.channel IN ")
                .text_list(self.filter.channels.iter().map(|c| c.as_str()));
        }
    }

    /// Whether a ticket filter needs the ticket joined.
    pub fn filters_tickets(&self) -> bool {
        !self.filter.priorities.is_empty() || !self.filter.channels.is_empty()
    }
}
