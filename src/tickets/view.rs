//! The shapes tickets, messages and events take in every answer.

use super::redact::{
    for_each_string, mask_address, mask_addresses_in, mask_addresses_in_json, mask_name,
};
use crate::auth::Principal;
use crate::db::models::{Agent, Customer, Message, Queue, Ticket, TicketEvent, TicketSlaRow};
use crate::db::schema::{agents, ticket_sla, vendors};
use crate::db::DbConnection;
use crate::domain::event::EventData;
use crate::domain::{AuthorKind, Channel, Priority, Status};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};
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
    /// Its SLA at a glance; `null` when no policy applies.
    pub sla: Option<SlaSummary>,
    /// The customer's rating; `null` until they rate.
    pub satisfaction: Option<super::satisfaction::Rating>,
}

/// A ticket's SLA at a glance (`GET /tickets/{id}/sla` explains it).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SlaSummary {
    /// The earliest due time of a clock that still counts (not stopped,
    /// not paused); `null` when none does.
    pub due_at: Option<DateTime<Utc>>,
    /// `breached` when a clock that has not stopped ran out (its due time
    /// passed), else `running` or `paused`; once every clock stopped,
    /// `breached` if one did, else `met`.
    pub state: String,
}

impl SlaSummary {
    /// The summary as of `now`: a running clock whose due time passed is
    /// breached even before the scanner has announced it.
    pub fn of(row: &TicketSlaRow, now: NaiveDateTime) -> Option<SlaSummary> {
        Self::from_stored(row.due_at, row.state.clone(), now)
    }

    /// [`SlaSummary::of`] from the stored due time and state alone.
    pub fn from_stored(
        due_at: Option<NaiveDateTime>,
        state: Option<String>,
        now: NaiveDateTime,
    ) -> Option<SlaSummary> {
        let state = state?;
        let overdue = due_at.is_some_and(|due| due < now);
        Some(SlaSummary {
            due_at: due_at.map(|t| t.and_utc()),
            state: if overdue && state != "met" {
                "breached".to_string()
            } else {
                state
            },
        })
    }
}

/// Fills each view's `sla` from the stored summaries, in one query.
pub fn attach_sla(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    views: &mut [TicketView],
) -> AppResult<()> {
    if views.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
    let rows: Vec<TicketSlaRow> = ticket_sla::table
        .filter(ticket_sla::ticket_id.eq_any(ids))
        .select(TicketSlaRow::as_select())
        .load(conn)?;
    for view in views {
        view.sla = rows
            .iter()
            .find(|row| row.ticket_id == view.id)
            .and_then(|row| SlaSummary::of(row, now));
    }
    Ok(())
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
            sla: None,
            satisfaction: None,
        })
    }

    /// The entity tag for conditional requests: the version, which changes
    /// with every change to the ticket.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// This ticket as `caller` is shown it (see [`Disclosure`]), with its
    /// SLA summary as of `now`.
    pub fn as_seen_by(
        mut self,
        conn: &mut DbConnection,
        now: NaiveDateTime,
        caller: &Principal,
    ) -> AppResult<Self> {
        attach_sla(conn, now, std::slice::from_mut(&mut self))?;
        super::satisfaction::attach_ratings(conn, std::slice::from_mut(&mut self))?;
        Ok(Disclosure::load(conn, caller)?.ticket(self))
    }
}

pub use crate::attachments::AttachmentView;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub ticket_id: String,
    pub author_kind: AuthorKind,
    /// Null for an agent of another vendor than the reader's (after a hand-off).
    pub author_agent_id: Option<String>,
    pub author_customer_id: Option<String>,
    /// Public replies reach the customer; internal notes never do.
    pub public: bool,
    pub channel: Channel,
    pub body: String,
    pub body_html: Option<String>,
    pub attachments: Vec<AttachmentView>,
    /// Written by a machine: an out-of-office, an `Auto-Submitted` mail.
    pub automatic: bool,
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
            automatic: m.automatic,
            created_at: m.created_at.and_utc(),
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    /// A stable kind name: the `kind` tag of one `EventData` variant, whose
    /// `data` this event's `data` is (events written by an older version
    /// may carry an older payload).
    pub kind: String,
    /// `agent:{id}`, `token:{id}`, `customer:{id}` or `system`; vendor
    /// readers see another vendor's agents as `agent:other-vendor`.
    pub actor: String,
    /// The payload of `kind`, as `EventData` describes it.
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

/// How an agent of another vendor appears to a vendor's people: in event
/// actors (`agent:other-vendor`) and wherever event data names an agent.
pub const OTHER_VENDOR: &str = "other-vendor";

/// What a caller is shown of the tickets it may read. Which tickets those
/// are is [`super::Visibility`]'s business; this decides what of them shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disclosure {
    /// Managers, admins and intake tokens: everything as stored.
    Everything,
    /// A vendor's agents and leads. They never see who worked a ticket at
    /// another vendor (after a hand-off the notes stay, their authors do
    /// not); with `mask_customer_pii` customers' names and addresses show
    /// masked wherever they appear.
    Vendor {
        vendor_id: String,
        mask_customer_pii: bool,
    },
}

impl Disclosure {
    /// One read of the caller's vendor, once per request (none for staff).
    pub fn load(conn: &mut DbConnection, caller: &Principal) -> AppResult<Self> {
        let Some(vendor_id) = caller.vendor_scope() else {
            return Ok(Disclosure::Everything);
        };
        let mask: Option<bool> = vendors::table
            .find(vendor_id)
            .select(vendors::mask_customer_pii)
            .first(conn)
            .optional()?;
        // A vendor that is gone cannot have said its agents may see more.
        Ok(Self::with_vendor_setting(caller, mask.unwrap_or(true)))
    }

    /// For `caller`, whose vendor's `mask_customer_pii` was read along with
    /// other work (staff see everything whatever it says).
    pub fn with_vendor_setting(caller: &Principal, mask_customer_pii: bool) -> Self {
        match caller.vendor_scope() {
            None => Disclosure::Everything,
            Some(vendor_id) => Disclosure::Vendor {
                vendor_id: vendor_id.to_string(),
                mask_customer_pii,
            },
        }
    }

    pub fn masks_customers(&self) -> bool {
        matches!(
            self,
            Disclosure::Vendor {
                mask_customer_pii: true,
                ..
            }
        )
    }

    pub fn ticket(&self, mut ticket: TicketView) -> TicketView {
        if self.masks_customers() {
            ticket.customer.email = mask_address(&ticket.customer.email);
            ticket.customer.name = ticket.customer.name.as_deref().map(mask_name);
            ticket.subject = mask_addresses_in(&ticket.subject).into_owned();
            let mut fields = Value::Object(std::mem::take(&mut ticket.custom_fields));
            mask_addresses_in_json(&mut fields);
            if let Value::Object(fields) = fields {
                ticket.custom_fields = fields;
            }
        }
        ticket
    }

    pub fn page(&self, mut page: TicketPage) -> TicketPage {
        page.items = page.items.into_iter().map(|t| self.ticket(t)).collect();
        page
    }

    /// A message the caller has just written: only customer masking applies
    /// (its author is the caller).
    pub fn own_message(&self, message: MessageView) -> MessageView {
        self.mask_message(message)
    }

    /// Messages as shown: authors at other vendors unnamed, customers masked.
    pub fn messages(
        &self,
        conn: &mut DbConnection,
        messages: Vec<MessageView>,
    ) -> AppResult<Vec<MessageView>> {
        let authors = messages
            .iter()
            .filter_map(|m| m.author_agent_id.as_deref())
            .collect();
        let foreign = self.foreign_agents(conn, authors)?;
        Ok(messages
            .into_iter()
            .map(|mut m| {
                if m.author_agent_id
                    .as_ref()
                    .is_some_and(|a| foreign.contains(a))
                {
                    m.author_agent_id = None;
                }
                self.mask_message(m)
            })
            .collect())
    }

    fn mask_message(&self, mut message: MessageView) -> MessageView {
        if self.masks_customers() {
            message.body = mask_addresses_in(&message.body).into_owned();
            message.body_html = message
                .body_html
                .as_deref()
                .map(|html| mask_addresses_in(html).into_owned());
        }
        message
    }

    /// Events as shown: agents of other vendors, as actors or named in the
    /// data (`assigned` from/to...), and other vendors' queues (where a
    /// ticket came from before a hand-off) become [`OTHER_VENDOR`]; with
    /// masking, every address in the data is masked (recipients, bounces).
    pub fn events(
        &self,
        conn: &mut DbConnection,
        mut events: Vec<EventView>,
    ) -> AppResult<Vec<EventView>> {
        if *self == Disclosure::Everything {
            return Ok(events);
        }
        self.hide_foreign_agents(conn, &mut events)?;
        self.hide_foreign_queues(&mut events);
        if self.masks_customers() {
            for event in &mut events {
                mask_addresses_in_json(&mut event.data);
            }
        }
        Ok(events)
    }

    fn hide_foreign_agents(
        &self,
        conn: &mut DbConnection,
        events: &mut [EventView],
    ) -> AppResult<()> {
        let mut named = BTreeSet::new();
        for event in events.iter_mut() {
            if let Some(agent) = event.actor.strip_prefix("agent:") {
                named.insert(agent.to_string());
            }
            // Agent ids are UUIDs; other strings cannot name one.
            for_each_string(&mut event.data, &mut |text| {
                if uuid::Uuid::parse_str(text).is_ok() {
                    named.insert(text.clone());
                }
            });
        }
        let foreign = self.foreign_agents(conn, named.iter().map(String::as_str).collect())?;
        for event in events.iter_mut() {
            if event
                .actor
                .strip_prefix("agent:")
                .is_some_and(|agent| foreign.contains(agent))
            {
                event.actor = format!("agent:{OTHER_VENDOR}");
            }
            for_each_string(&mut event.data, &mut |text| {
                if foreign.contains(text.as_str()) {
                    *text = OTHER_VENDOR.to_string();
                }
            });
        }
        Ok(())
    }

    /// Queues and agents of another vendor named in events show as
    /// `other-vendor`: events carry the vendor each belonged to at the time,
    /// so this needs no look-up. (An event this version cannot read is
    /// left to [`Self::hide_foreign_agents`]' walk over its strings.)
    fn hide_foreign_queues(&self, events: &mut [EventView]) {
        let Disclosure::Vendor { vendor_id, .. } = self else {
            return;
        };
        for event in events.iter_mut() {
            let Some(mut typed) = EventData::parse(&event.kind, &event.data) else {
                continue;
            };
            for queue in typed.queues_mut() {
                if queue.vendor_id != *vendor_id {
                    queue.queue_id = OTHER_VENDOR.into();
                    queue.vendor_id = OTHER_VENDOR.into();
                }
            }
            for agent in typed.agents_mut() {
                if agent.vendor_id.as_ref().is_some_and(|v| v != vendor_id) {
                    agent.agent_id = OTHER_VENDOR.into();
                    agent.vendor_id = Some(OTHER_VENDOR.into());
                }
            }
            event.data = typed.payload();
        }
    }

    /// Which of `candidates` are agents of a vendor other than the viewer's,
    /// in one query. Agents without a vendor (managers, admins) are staff of
    /// the installation, not another vendor's people, and stay named.
    fn foreign_agents(
        &self,
        conn: &mut DbConnection,
        candidates: BTreeSet<&str>,
    ) -> AppResult<HashSet<String>> {
        let Disclosure::Vendor { vendor_id, .. } = self else {
            return Ok(HashSet::new());
        };
        if candidates.is_empty() {
            return Ok(HashSet::new());
        }
        let foreign: Vec<String> = agents::table
            .filter(agents::id.eq_any(candidates))
            .filter(agents::vendor_id.ne(vendor_id))
            .select(agents::id)
            .load(conn)?;
        Ok(foreign.into_iter().collect())
    }
}
