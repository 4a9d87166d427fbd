//! Downloading the files of a ticket's messages as staff.

use super::events;
use super::query::{self, TicketRef, Visibility};
use crate::attachments::{not_found, with_content, with_ticket_id, Download};
use crate::auth::Principal;
use crate::db::Conn;
use crate::error::{AppError, AppResult};

/// An attachment for staff: any message of a ticket the caller may see,
/// internal notes included (404 otherwise, as for the ticket itself). A
/// vendor agent's download counts as reading the ticket.
pub fn download_for_staff(
    conn: &mut Conn,
    caller: &Principal,
    attachment_id: &str,
) -> AppResult<Download> {
    let (attachment, ticket_id) = with_ticket_id(conn, attachment_id)?;
    // Only its visibility matters: a ticket the caller may not see hides
    // its files as an unknown id would.
    query::find_row(
        conn,
        &Visibility::of(caller),
        &TicketRef::Id(ticket_id.clone()),
    )
    .map_err(|err| match err {
        AppError::NotFound(_) => not_found(),
        other => other,
    })?;
    events::record_view(conn, caller, &ticket_id)?;
    with_content(conn, attachment)
}
