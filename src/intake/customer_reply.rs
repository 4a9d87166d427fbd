//! A customer's reply on their private page: appended to the ticket, or,
//! when it is closed, a follow-up ticket.

use super::{create_in_transaction, IntakeContext, RoutingHints, Submission, MAX_BODY};
use crate::attachments::{self, Upload};
use crate::db::models::{Customer, Ticket};
use crate::db::{lock_ticket, write_tx, Conn, WriteConn};
use crate::domain::event::{EventData, StatusReason};
use crate::domain::validate::Errors;
use crate::domain::{AuthorKind, Channel, Status};
use crate::error::{AppError, AppResult};
use crate::tickets::change::{self};
use crate::tickets::conversation::{find_by_access_token, new_message};
use crate::tickets::query::{find_row, TicketRef, Visibility};

/// Where a customer's reply landed.
pub enum CustomerReply {
    /// Added to the ticket (re-opening it if it was pending or solved).
    Appended,
    /// The ticket was closed: a follow-up ticket was opened; here is its link token.
    FollowUp { number: i64, access_token: String },
}

/// A customer's reply on their private page. It re-opens a pending or
/// solved ticket; on a closed one (decided in the transaction, so a ticket
/// being closed at this moment is either replied to or followed up, never
/// neither) it opens a follow-up ticket.
pub fn add_customer_reply(
    conn: &mut Conn,
    access_token: &str,
    body: &str,
    uploads: &[Upload],
    channel: Channel,
) -> AppResult<CustomerReply> {
    let mut errors = Errors::default();
    let body = errors.required_text("body", body, MAX_BODY);
    errors.finish()?;
    let (found, ..) = find_by_access_token(conn, access_token)?;
    let reply = write_tx(conn, |conn| {
        // Lock, then re-read: the status may have moved on.
        lock_ticket(conn, &found.id)?;
        let (mut ticket, customer, ..) =
            find_row(conn, &Visibility::All, &TicketRef::Id(found.id.clone()))?;
        let status: Status = ticket.status.parse().map_err(AppError::Internal)?;
        if status.is_final() {
            return open_follow_up(conn, &ticket, &customer, &body, uploads, channel);
        }
        let mut message = new_message(conn, &ticket.id, AuthorKind::Customer, true, channel, &body);
        message.author_customer_id = Some(customer.id.clone());
        let mut events = vec![EventData::CustomerReplied {
            message_id: message.id.clone(),
            channel,
            automatic: false,
            threaded_by: None,
            refused_attachments: Vec::new(),
        }];
        if status.reopens_on_customer_reply() {
            let now = conn.now();
            events.push(change::reopen(
                &mut ticket,
                status,
                StatusReason::CustomerReplied,
                now,
            ));
        }
        let message_id = message.id.clone();
        let actor = format!("customer:{}", customer.id);
        change::add_message(conn, &mut ticket, &actor, message, events)?;
        attachments::store(conn, &message_id, uploads)?;
        Ok(CustomerReply::Appended)
    })?;
    if matches!(reply, CustomerReply::FollowUp { .. }) {
        crate::metrics::ticket_created(channel);
    }
    Ok(reply)
}

fn open_follow_up(
    conn: &mut WriteConn<'_>,
    closed: &Ticket,
    customer: &Customer,
    body: &str,
    uploads: &[Upload],
    channel: Channel,
) -> AppResult<CustomerReply> {
    let subject = closed.subject.clone();
    let submission = Submission {
        subject: if subject.to_lowercase().starts_with("follow-up:") {
            subject
        } else {
            format!("Follow-up: {subject}")
        },
        body: body.to_string(),
        customer_email: customer.email.clone(),
        customer_name: customer.name.clone(),
        priority: closed
            .priority
            .parse()
            .unwrap_or(crate::domain::Priority::Normal),
        tags: serde_json::from_str(&closed.tags).unwrap_or_default(),
        custom_fields: Default::default(),
        queue: None,
        language: closed.language.clone(),
    };
    let created = create_in_transaction(
        conn,
        &submission,
        uploads,
        &IntakeContext {
            channel,
            caller: None,
            idempotency: None,
            follow_up_of: Some(closed.id.clone()),
            mail: None,
            more_events: Vec::new(),
            after_create: None,
            // The closed ticket's queue, unless the rules place it elsewhere.
            routing: RoutingHints {
                hint: closed.queue_id.clone(),
                ..Default::default()
            },
        },
    )?;
    Ok(CustomerReply::FollowUp {
        number: created.ticket.number,
        access_token: created.access_token.expect("a new ticket has a fresh link"),
    })
}
