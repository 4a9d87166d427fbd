//! Rows as stored. Conversions to API shapes live with the services.

use super::schema::*;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = vendors)]
#[diesel(treat_none_as_default_value = false)]
pub struct Vendor {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub contracted_attainment: Option<f64>,
    pub price_per_ticket_cents: Option<i64>,
    pub currency: Option<String>,
    pub mask_customer_pii: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = queues)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub struct Queue {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub vendor_id: String,
    pub assignment_strategy: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub coverage_calendar_id: Option<String>,
    pub overflow_queue_id: Option<String>,
    pub overflow_minutes: Option<i32>,
    pub skill_matching: bool,
    /// The average time an agent spends on one of its tickets, for
    /// staffing advice; null: the coverage report's default.
    pub handle_seconds: Option<i32>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = agents)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub email: String,
    pub vendor_id: Option<String>,
    pub role: String,
    pub skills: String,
    pub capacity: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub shift_calendar_id: Option<String>,
    pub available: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
#[diesel(treat_none_as_default_value = false)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub agent_id: Option<String>,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customers)]
#[diesel(treat_none_as_default_value = false)]
pub struct Customer {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub organization: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tickets)]
#[diesel(treat_none_as_default_value = false)]
pub struct Ticket {
    pub id: String,
    /// Assigned when the row is inserted: see `db::insert_ticket`.
    #[diesel(skip_insertion)]
    pub number: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub channel: String,
    pub queue_id: Option<String>,
    pub assignee_id: Option<String>,
    pub customer_id: String,
    pub tags: String,
    pub custom_fields: String,
    pub language: Option<String>,
    pub access_token_hash: String,
    pub follow_up_of: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub solved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub sla_policy_id: Option<String>,
    pub queued_at: Option<NaiveDateTime>,
}

/// The mutable part of a ticket, written back as a whole on every change.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = tickets)]
#[diesel(treat_none_as_null = true)]
pub struct TicketChanges {
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub queue_id: Option<String>,
    pub assignee_id: Option<String>,
    pub tags: String,
    pub custom_fields: String,
    pub language: Option<String>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
    pub solved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub sla_policy_id: Option<String>,
    pub queued_at: Option<NaiveDateTime>,
}

impl Ticket {
    pub fn changes(&self) -> TicketChanges {
        TicketChanges {
            subject: self.subject.clone(),
            status: self.status.clone(),
            priority: self.priority.clone(),
            queue_id: self.queue_id.clone(),
            assignee_id: self.assignee_id.clone(),
            tags: self.tags.clone(),
            custom_fields: self.custom_fields.clone(),
            language: self.language.clone(),
            version: self.version,
            updated_at: self.updated_at,
            solved_at: self.solved_at,
            closed_at: self.closed_at,
            sla_policy_id: self.sla_policy_id.clone(),
            queued_at: self.queued_at,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = blobs)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewBlob<'a> {
    pub sha256: &'a str,
    pub size: i64,
    pub content: &'a [u8],
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
#[diesel(treat_none_as_default_value = false)]
pub struct Message {
    pub id: String,
    pub ticket_id: String,
    pub author_kind: String,
    pub author_agent_id: Option<String>,
    pub author_customer_id: Option<String>,
    pub public: bool,
    pub channel: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub email_message_id: Option<String>,
    pub email_in_reply_to: Option<String>,
    pub email_references: Option<String>,
    pub created_at: NaiveDateTime,
    /// Written by a machine (out-of-office, `Auto-Submitted`, a bounce).
    pub automatic: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
#[diesel(treat_none_as_default_value = false)]
pub struct Attachment {
    pub id: String,
    pub message_id: String,
    pub blob_sha256: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_events)]
#[diesel(treat_none_as_default_value = false)]
pub struct TicketEvent {
    pub id: String,
    pub ticket_id: String,
    pub kind: String,
    pub actor: String,
    pub data: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
#[diesel(treat_none_as_default_value = false)]
pub struct IdempotencyKey {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    pub ticket_id: String,
    pub created_at: NaiveDateTime,
    /// The first answer's JSON, replayed as it was; NULL for keys stored
    /// before answers were kept.
    pub answer: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inbound_messages)]
#[diesel(treat_none_as_default_value = false)]
pub struct InboundMessage {
    pub id: String,
    pub dedupe_key: String,
    pub source: String,
    pub raw: Vec<u8>,
    pub size: i64,
    pub outcome: String,
    pub reason: Option<String>,
    pub ticket_id: Option<String>,
    pub received_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_participants)]
#[diesel(treat_none_as_default_value = false)]
pub struct TicketParticipant {
    pub ticket_id: String,
    pub email: String,
    pub added_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
#[diesel(treat_none_as_default_value = false)]
pub struct OutboxMessage {
    pub id: String,
    pub ticket_id: Option<String>,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references_header: Option<String>,
    pub reply_to: Option<String>,
    pub automatic: bool,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    /// The To recipient (the customer); the others are Cc. `None` on mail
    /// queued before this existed: all in To.
    pub to_address: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox_recipients)]
#[diesel(treat_none_as_default_value = false)]
pub struct OutboxRecipient {
    pub outbox_id: String,
    pub email: String,
    /// The mail's kind and time, copied so the hourly acknowledgement count
    /// per address is one index range.
    pub kind: String,
    pub created_at: NaiveDateTime,
    /// `delivered` or `refused` once an attempt settled it for this
    /// recipient alone; NULL before, and for the recipients of a message
    /// that went to all of them at once (its `sent` status says it).
    pub outcome: Option<String>,
    /// The server's answer when refused.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = imap_positions)]
#[diesel(treat_none_as_default_value = false)]
pub struct ImapPosition {
    pub mailbox: String,
    pub uid_validity: i64,
    pub last_uid: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = app_secrets)]
#[diesel(treat_none_as_default_value = false)]
pub struct AppSecret {
    pub name: String,
    pub value: String,
    pub created_at: NaiveDateTime,
}

/// A setting every process must agree on, as JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = app_settings)]
#[diesel(treat_none_as_default_value = false)]
pub struct AppSetting {
    pub name: String,
    pub value: String,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = calendars)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub struct CalendarRow {
    pub id: String,
    pub vendor_id: Option<String>,
    pub name: String,
    pub timezone: String,
    /// JSON list of `{day, start, end}`.
    pub weekly: String,
    /// JSON list of `YYYY-MM-DD`.
    pub holidays: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = calendar_versions)]
pub struct CalendarVersion {
    pub calendar_id: String,
    pub version: i32,
    /// JSON of `domain::calendar::Definition`.
    pub definition: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = routing_rules)]
#[diesel(treat_none_as_default_value = false)]
pub struct RoutingRuleRow {
    pub id: String,
    pub name: String,
    pub position: i32,
    pub enabled: bool,
    pub stop: bool,
    /// JSON `{"all": [...], "any": [...]}`.
    pub conditions: String,
    /// JSON list of actions.
    pub actions: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sla_policies)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub struct SlaPolicyRow {
    pub id: String,
    pub name: String,
    pub position: i32,
    pub enabled: bool,
    pub vendor_id: Option<String>,
    /// JSON of `sla::policy::Definition`.
    pub definition: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sla_policy_versions)]
pub struct SlaPolicyVersion {
    pub policy_id: String,
    pub version: i32,
    /// JSON of `sla::policy::Definition`.
    pub definition: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = ticket_sla)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub struct TicketSlaRow {
    pub ticket_id: String,
    pub policy_id: Option<String>,
    pub policy_version: Option<i32>,
    pub due_at: Option<NaiveDateTime>,
    pub state: Option<String>,
    pub attention_at: Option<NaiveDateTime>,
    pub computed_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sla_clocks)]
#[diesel(treat_none_as_default_value = false)]
pub struct SlaClockRow {
    pub ticket_id: String,
    pub metric: String,
    pub cycle: i32,
    pub policy_id: String,
    pub policy_version: i32,
    pub target_seconds: i64,
    pub started_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub warning_at: Option<NaiveDateTime>,
    pub state: String,
    pub breached_at: Option<NaiveDateTime>,
    pub business_seconds_used: i64,
    /// JSON: pauses, by_vendor, events, breached_by.
    pub detail: String,
    /// Met: its stop; breached: its due time; otherwise null.
    pub settled_at: Option<NaiveDateTime>,
    /// The queue and vendor the clock is charged to: a breach to whoever
    /// held the ticket when the time ran out, anything else to whoever
    /// held it at the stop (or holds it now).
    pub queue_id: Option<String>,
    pub vendor_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = csat_surveys)]
#[diesel(treat_none_as_default_value = false)]
pub struct CsatSurvey {
    pub ticket_id: String,
    pub token_hash: String,
    pub requested_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Who is rated, as at the solve.
    pub agent_id: Option<String>,
    pub queue_id: Option<String>,
    pub vendor_id: Option<String>,
    /// `good` or `bad`; null until the customer rates.
    pub rating: Option<String>,
    pub comment: Option<String>,
    pub rated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sla_notices)]
#[diesel(treat_none_as_default_value = false)]
pub struct SlaNotice {
    pub ticket_id: String,
    pub metric: String,
    pub cycle: i32,
    pub threshold: String,
    pub due_at: NaiveDateTime,
    pub noticed_at: NaiveDateTime,
    pub withdrawn_at: Option<NaiveDateTime>,
}
