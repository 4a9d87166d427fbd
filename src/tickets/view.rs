//! The shapes tickets, messages and events take in every answer.

use crate::db::models::{Agent, Customer, Message, Queue, Ticket, TicketEvent};
use crate::domain::{AuthorKind, Channel, Priority, Status};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueRef {
    pub id: String,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerRef {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketView {
    pub id: String,
    pub number: i64,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    pub queue: Option<QueueRef>,
    pub assignee: Option<AgentRef>,
    pub customer: CustomerRef,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    pub language: Option<String>,
    /// The ticket this one follows up on (a reply to a closed ticket).
    pub follow_up_of: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A ticket row with the rows it refers to, as loaded by one joined query.
pub type TicketRow = (Ticket, Customer, Option<Queue>, Option<Agent>);

fn corrupt(what: &str, err: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("stored {what} is unreadable: {err}"))
}

impl TicketView {
    pub fn from_row((ticket, customer, queue, assignee): TicketRow) -> Result<Self, AppError> {
        Ok(TicketView {
            status: ticket.status.parse().map_err(|e| corrupt("status", e))?,
            priority: ticket
                .priority
                .parse()
                .map_err(|e| corrupt("priority", e))?,
            channel: ticket.channel.parse().map_err(|e| corrupt("channel", e))?,
            tags: serde_json::from_str(&ticket.tags).map_err(|e| corrupt("tags", e))?,
            custom_fields: serde_json::from_str(&ticket.custom_fields)
                .map_err(|e| corrupt("custom fields", e))?,
            queue: queue.map(|q| QueueRef {
                id: q.id,
                slug: q.slug,
                name: q.name,
            }),
            assignee: assignee.map(|a| AgentRef {
                id: a.id,
                name: a.name,
            }),
            customer: CustomerRef {
                id: customer.id,
                email: customer.email,
                name: customer.name,
            },
            id: ticket.id,
            number: ticket.number,
            subject: ticket.subject,
            language: ticket.language,
            follow_up_of: ticket.follow_up_of,
            version: ticket.version,
            created_at: ticket.created_at.and_utc(),
            updated_at: ticket.updated_at.and_utc(),
            solved_at: ticket.solved_at.map(|t| t.and_utc()),
            closed_at: ticket.closed_at.map(|t| t.and_utc()),
        })
    }

    /// The entity tag for conditional requests: the version, which changes
    /// with every change to the ticket.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub ticket_id: String,
    pub author_kind: AuthorKind,
    pub author_agent_id: Option<String>,
    pub author_customer_id: Option<String>,
    /// Public replies reach the customer; internal notes never do.
    pub public: bool,
    pub channel: Channel,
    pub body: String,
    pub body_html: Option<String>,
    pub attachments: Vec<AttachmentView>,
    pub created_at: DateTime<Utc>,
}

impl MessageView {
    pub fn from_row(m: Message, attachments: Vec<AttachmentView>) -> Result<Self, AppError> {
        Ok(MessageView {
            author_kind: m
                .author_kind
                .parse()
                .map_err(|e| corrupt("author kind", e))?,
            channel: m.channel.parse().map_err(|e| corrupt("channel", e))?,
            id: m.id,
            ticket_id: m.ticket_id,
            author_agent_id: m.author_agent_id,
            author_customer_id: m.author_customer_id,
            public: m.public,
            body: m.body_text,
            body_html: m.body_html,
            attachments,
            created_at: m.created_at.and_utc(),
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub kind: String,
    /// `agent:{id}`, `token:{id}`, `customer:{id}` or `system`.
    pub actor: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

impl EventView {
    pub fn from_row(e: TicketEvent) -> Self {
        EventView {
            data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
            id: e.id,
            kind: e.kind,
            actor: e.actor,
            created_at: e.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub items: Vec<TicketView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}
