//! What recomputing a ticket's clocks reads: its history, its stored clocks
//! and summary, the notices in force, and what its arrival told the rules.
//!
//! Read for many tickets at once (a statement per table for the whole
//! batch, not per ticket), so recomputing every ticket and a scanner pass
//! cost a few round trips per batch; the seam reads a batch of one. The
//! customer is read only when an enabled policy's conditions look at it
//! (`from`, `from_domain`, `organization`), the first message only for
//! `body`: a batch's message bodies are the largest thing it could read.

use super::compiled::Policies;
use super::notices::Notices;
use super::tracking::{entries, Stored};
use crate::db::models::{Customer, SlaClockRow, SlaNotice, Ticket, TicketEvent, TicketSlaRow};
use crate::db::schema::{customers, messages, sla_clocks, sla_notices, ticket_events, ticket_sla};
use crate::db::DbConnection;
use crate::domain::event::EventData;
use crate::domain::sla::clock::Entry;
use crate::error::AppResult;
use crate::routing::placement::Arrival;
use diesel::prelude::*;
use std::collections::HashMap;

/// One ticket's reading.
pub struct Reading {
    pub history: Vec<Entry>,
    pub stored: Stored,
    pub given: Notices,
    pub arrival: ArrivalFacts,
}

/// What the rules read about a ticket that its row does not hold: the
/// first message, the customer, and what the door said (from `routed`).
#[derive(Default)]
pub struct ArrivalFacts {
    body: String,
    from: String,
    organization: Option<String>,
    hint: Option<String>,
    recipients: Vec<String>,
}

impl ArrivalFacts {
    pub fn arrival(&self) -> Arrival<'_> {
        Arrival {
            body: &self.body,
            from: &self.from,
            organization: self.organization.as_deref(),
            hint: self.hint.as_deref(),
            recipients: &self.recipients,
            explicit_queue: false,
            default_queue: None,
        }
    }
}

/// The readings of `tickets`, in their order.
pub fn read(
    conn: &mut DbConnection,
    policies: &Policies,
    tickets: &[Ticket],
) -> AppResult<Vec<Reading>> {
    let ids: Vec<&str> = tickets.iter().map(|t| t.id.as_str()).collect();
    let mut histories = group(
        ticket_events::table
            .filter(ticket_events::ticket_id.eq_any(&ids))
            .order((
                ticket_events::ticket_id.asc(),
                ticket_events::created_at.asc(),
                ticket_events::id.asc(),
            ))
            .select(TicketEvent::as_select())
            .load(conn)?,
        |row: &TicketEvent| row.ticket_id.clone(),
    );
    let mut summaries: HashMap<String, TicketSlaRow> = ticket_sla::table
        .filter(ticket_sla::ticket_id.eq_any(&ids))
        .select(TicketSlaRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row: TicketSlaRow| (row.ticket_id.clone(), row))
        .collect();
    let mut clocks = group(
        sla_clocks::table
            .filter(sla_clocks::ticket_id.eq_any(&ids))
            .order((
                sla_clocks::ticket_id.asc(),
                sla_clocks::metric.asc(),
                sla_clocks::cycle.asc(),
            ))
            .select(SlaClockRow::as_select())
            .load(conn)?,
        |row: &SlaClockRow| row.ticket_id.clone(),
    );
    let mut notices = group(
        sla_notices::table
            .filter(sla_notices::ticket_id.eq_any(&ids))
            .select(SlaNotice::as_select())
            .load(conn)?,
        |row: &SlaNotice| row.ticket_id.clone(),
    );
    let mut people = People::read(conn, policies, tickets)?;
    Ok(tickets
        .iter()
        .map(|ticket| {
            let history = entries(&histories.remove(&ticket.id).unwrap_or_default());
            let arrival = people.facts(ticket, &history);
            Reading {
                stored: Stored {
                    summary: summaries.remove(&ticket.id),
                    clocks: clocks.remove(&ticket.id).unwrap_or_default(),
                },
                given: Notices::from_rows(notices.remove(&ticket.id).unwrap_or_default()),
                arrival,
                history,
            }
        })
        .collect())
}

/// Rows by ticket, each ticket's in the order loaded.
fn group<R>(rows: Vec<R>, key: impl Fn(&R) -> String) -> HashMap<String, Vec<R>> {
    let mut grouped: HashMap<String, Vec<R>> = HashMap::new();
    for row in rows {
        grouped.entry(key(&row)).or_default().push(row);
    }
    grouped
}

/// The customers and first messages of a batch, for policies that read them.
#[derive(Default)]
struct People {
    customers: HashMap<String, Customer>,
    first_bodies: HashMap<String, String>,
}

impl People {
    fn read(conn: &mut DbConnection, policies: &Policies, tickets: &[Ticket]) -> AppResult<People> {
        let mut people = People::default();
        if policies.reads_customer() {
            let ids: Vec<&str> = tickets.iter().map(|t| t.customer_id.as_str()).collect();
            people.customers = customers::table
                .filter(customers::id.eq_any(&ids))
                .select(Customer::as_select())
                .load(conn)?
                .into_iter()
                .map(|c: Customer| (c.id.clone(), c))
                .collect();
        }
        if !policies.reads_first_message() {
            return Ok(people);
        }
        // Each ticket's messages in order; the first of each is kept.
        let ids: Vec<&str> = tickets.iter().map(|t| t.id.as_str()).collect();
        let rows: Vec<(String, String)> = messages::table
            .filter(messages::ticket_id.eq_any(&ids))
            .order((
                messages::ticket_id.asc(),
                messages::created_at.asc(),
                messages::id.asc(),
            ))
            .select((messages::ticket_id, messages::body_text))
            .load(conn)?;
        for (ticket_id, body) in rows {
            people.first_bodies.entry(ticket_id).or_insert(body);
        }
        Ok(people)
    }

    fn facts(&mut self, ticket: &Ticket, history: &[Entry]) -> ArrivalFacts {
        let customer = self.customers.get(&ticket.customer_id);
        let intake = history.iter().find_map(|entry| match &entry.data {
            EventData::Routed { intake, .. } => Some(intake.clone()),
            _ => None,
        });
        ArrivalFacts {
            body: self.first_bodies.remove(&ticket.id).unwrap_or_default(),
            from: customer.map(|c| c.email.clone()).unwrap_or_default(),
            organization: customer.and_then(|c| c.organization.clone()),
            hint: intake.as_ref().and_then(|i| i.intake_hint.clone()),
            recipients: intake.map(|i| i.recipients).unwrap_or_default(),
        }
    }
}
