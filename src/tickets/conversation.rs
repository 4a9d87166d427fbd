//! A ticket's conversation: agent replies and notes, customer replies, and
//! reading messages and events.

use super::change::{self};
use super::events;
use super::query::{find_row, TicketRef, Visibility};
use super::view::{Disclosure, EventView, MessageView, TicketRow, TicketView};
use crate::attachments::{self};
use crate::auth::{hash_secret, Principal};
use crate::db::models::{Customer, Message, Ticket};
use crate::db::schema::{messages, tickets};
use crate::db::{lock_ticket, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::event::{EventData, StatusReason};
use crate::domain::validate::Errors;
use crate::domain::validate::MAX_BODY;
use crate::domain::{AuthorKind, Channel, Status};
use crate::error::{AppError, AppResult};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /api/v1/tickets/{id}/messages` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessageRequest {
    pub body: String,
    /// `true` (default): a public reply to the customer; `false`: an internal note.
    #[serde(default = "default_public")]
    pub public: bool,
}

fn default_public() -> bool {
    true
}

/// A new message of the ticket, written now by `author`.
pub fn new_message(
    conn: &WriteConn<'_>,
    ticket_id: &str,
    author: AuthorKind,
    public: bool,
    channel: Channel,
    body: &str,
) -> Message {
    Message {
        id: conn.new_id(),
        ticket_id: ticket_id.to_string(),
        author_kind: author.as_str().into(),
        author_agent_id: None,
        author_customer_id: None,
        public,
        channel: channel.as_str().into(),
        body_text: body.to_string(),
        body_html: None,
        email_message_id: None,
        email_in_reply_to: None,
        email_references: None,
        created_at: conn.now(),
        automatic: false,
    }
}

/// Queues the email that carries an agent's public reply to the customer
/// and participants; the Message-ID it will carry, or `None` when there is
/// nobody to send it to. The HTTP layer hands in the mail channel's, so
/// tickets know no mail.
pub type ReplyMailer<'a> = dyn Fn(&mut WriteConn<'_>, &Ticket, &Customer, &str) -> AppResult<Option<String>>
    + Send
    + Sync
    + 'a;

/// An agent's public reply or internal note. A first public reply takes a
/// new ticket to `open`, and every public reply is emailed to the customer
/// and the ticket's participants (queued in the same transaction).
pub fn add_agent_message(
    conn: &mut Conn,
    mail_reply: &ReplyMailer<'_>,
    caller: &Principal,
    reference: &TicketRef,
    request: &NewMessageRequest,
) -> AppResult<(MessageView, TicketView)> {
    let mut errors = Errors::default();
    let body = errors.required_text("body", &request.body, MAX_BODY);
    errors.finish()?;
    let (message, ticket) = write_tx(conn, |conn| {
        let (visible, ..) = find_row(conn, &Visibility::of(caller), reference)?;
        // Lock before reading what we change: another reply may be landing.
        lock_ticket(conn, &visible.id)?;
        let (mut ticket, customer, queue, assignee) =
            find_row(conn, &Visibility::All, &TicketRef::Id(visible.id))?;
        let status: Status = ticket.status.parse().map_err(AppError::Internal)?;
        if status.is_final() {
            return Err(AppError::Conflict(
                "the ticket is closed; a customer reply starts a follow-up ticket".into(),
            ));
        }
        let mut message = new_message(
            conn,
            &ticket.id,
            AuthorKind::Agent,
            request.public,
            Channel::Api,
            &body,
        );
        message.author_agent_id = caller.agent_id.clone();
        if request.public {
            message.email_message_id = mail_reply(conn, &ticket, &customer, &body)?;
        }
        let written = if request.public {
            EventData::Replied {
                message_id: message.id.clone(),
                channel: Channel::Api,
            }
        } else {
            EventData::NoteAdded {
                message_id: message.id.clone(),
            }
        };
        let mut events = vec![written];
        if request.public && status == Status::New {
            let now = conn.now();
            events.push(change::reopen(
                &mut ticket,
                status,
                StatusReason::FirstReply,
                now,
            ));
        }
        change::add_message(conn, &mut ticket, &caller.actor(), message.clone(), events)?;
        Ok((
            MessageView::from_row(message, Vec::new())?,
            TicketView::from_row((ticket, customer, queue, assignee))?,
        ))
    })?;
    let shown = Disclosure::load(conn, caller)?;
    Ok((shown.own_message(message), shown.ticket(ticket)))
}

/// Messages of a ticket the caller may see, oldest first, as it is shown
/// them (internal notes included, even a previous vendor's). A vendor
/// agent's read is recorded.
pub fn list_messages(
    conn: &mut Conn,
    caller: &Principal,
    reference: &TicketRef,
) -> AppResult<Vec<MessageView>> {
    let (ticket, ..) = find_row(conn, &Visibility::of(caller), reference)?;
    let messages = load_messages(conn, &ticket.id, false)?;
    let shown = Disclosure::load(conn, caller)?.messages(conn, messages)?;
    events::record_view(conn, caller, &ticket.id)?;
    Ok(shown)
}

fn load_messages(
    conn: &mut DbConnection,
    ticket_id: &str,
    public_only: bool,
) -> AppResult<Vec<MessageView>> {
    let mut query = messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .order((messages::created_at.asc(), messages::id.asc()))
        .select(Message::as_select())
        .into_boxed();
    if public_only {
        query = query.filter(messages::public.eq(true));
    }
    let rows: Vec<Message> = query.load(conn)?;
    let ids: Vec<String> = rows.iter().map(|m| m.id.clone()).collect();
    let mut files = attachments::for_messages(conn, &ids)?;
    rows.into_iter()
        .map(|m| {
            let own = files.remove(&m.id).unwrap_or_default();
            MessageView::from_row(m, own)
        })
        .collect()
}

/// The audit trail as the caller is shown it. Events name recipients and
/// senders, so a vendor agent's read is recorded like a read of messages.
pub fn list_events(
    conn: &mut Conn,
    caller: &Principal,
    reference: &TicketRef,
) -> AppResult<Vec<EventView>> {
    let (ticket, ..) = find_row(conn, &Visibility::of(caller), reference)?;
    let trail = events::for_ticket(conn, &ticket.id)?
        .into_iter()
        .map(EventView::from_row)
        .collect();
    let shown = Disclosure::load(conn, caller)?.events(conn, trail)?;
    events::record_view(conn, caller, &ticket.id)?;
    Ok(shown)
}

/// What the customer sees on their private page.
pub struct CustomerTicket {
    pub ticket: TicketView,
    pub messages: Vec<MessageView>,
}

/// The ticket whose customer link carries `access_token`.
pub fn find_by_access_token(conn: &mut DbConnection, access_token: &str) -> AppResult<TicketRow> {
    let id: String = tickets::table
        .filter(tickets::access_token_hash.eq(hash_secret(access_token)))
        .select(tickets::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("ticket"))?;
    find_row(conn, &Visibility::All, &TicketRef::Id(id))
}

pub fn customer_view(conn: &mut DbConnection, access_token: &str) -> AppResult<CustomerTicket> {
    let row = find_by_access_token(conn, access_token)?;
    let ticket = TicketView::from_row(row)?;
    let messages = load_messages(conn, &ticket.id, true)?;
    Ok(CustomerTicket { ticket, messages })
}
