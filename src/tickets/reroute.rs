//! `POST /api/v1/tickets/{id}/route`: run the current rules on a ticket again.

use super::change;
use super::query::{self, TicketRef, Visibility};
use super::view::TicketView;
use crate::auth::Principal;
use crate::db::{lock_ticket, write_tx, Conn};
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::routing::placement::{self, Arrival};
use crate::routing::replay::{arrival_of, Arrived};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    /// A word for the receiving team when the ticket moves (a hand-off note).
    pub note: Option<String>,
}

pub fn reroute(
    conn: &mut Conn,
    caller: &Principal,
    reference: &TicketRef,
    request: &RouteRequest,
) -> AppResult<TicketView> {
    caller.require(Role::is_manager_or_above)?;
    let note = request
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(AppError::invalid("note", "at most 2000 characters"));
    }
    let id = write_tx(conn, |w| -> AppResult<String> {
        let (visible, ..) = query::find_row(w, &Visibility::All, reference)?;
        lock_ticket(w, &visible.id)?;
        let (mut ticket, customer, ..) =
            query::find_row(w, &Visibility::All, &TicketRef::Id(visible.id))?;
        let Arrived { body, intake, .. } =
            arrival_of(w, &ticket.id, &ticket.priority, &ticket.tags)?;
        let arrival = Arrival {
            body: &body,
            from: &customer.email,
            organization: customer.organization.as_deref(),
            hint: intake.intake_hint.as_deref(),
            recipients: &intake.recipients,
            explicit_queue: false,
            default_queue: None,
        };
        let events = placement::reroute(w, &mut ticket, &arrival, intake.clone(), note.clone())?;
        change::update(w, &mut ticket, &caller.actor(), events)?;
        Ok(ticket.id)
    })?;
    query::load_by_id(conn, &id)
}
