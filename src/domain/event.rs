//! What can happen to a ticket: the typed payload of every event in its
//! history, and the one place their `kind` names and JSON are defined.
//!
//! Events name things by id and keep the facts as they were at that moment
//! (a queue change carries both queues' vendors, an assignment the agent's
//! vendor), because slugs are renamed and queues change hands: SLA clocks,
//! vendor accounting and reports read the history, not today's directory.

use super::sla::clock::Metric;
use super::{Channel, Priority, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A queue as it was when the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueRef {
    pub queue_id: String,
    pub vendor_id: String,
}

/// An agent as they were when the event happened; staff (managers,
/// admins) work for no vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentRef {
    pub agent_id: String,
    pub vendor_id: Option<String>,
}

/// Why an agent let go of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// Someone unassigned the ticket.
    Unassigned,
    /// The ticket moved to a queue of another vendor.
    HandedOff,
    /// The agent gave it back to the queue (`POST /tickets/{id}/release`).
    Released,
    /// The agent was deactivated.
    Deactivated,
}

/// Where a new ticket's queue came from, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueSource {
    /// An authenticated caller named the queue.
    Caller,
    /// A routing rule (`set_queue`, `follow_the_sun`).
    Rules,
    /// The door's hint: the mailbox, `mailgate --queue`, `email.address_queues`.
    Hint,
    /// `routing.default_queue`.
    Default,
    /// None of them: the ticket waits outside every queue.
    None,
    /// Routed again (`POST /tickets/{id}/route`) with no rule naming a
    /// queue: the ticket stayed where it was.
    Kept,
}

/// What a ticket came in with, before the rules ran: what a replay of the
/// rules (simulate) starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeFacts {
    pub priority: Priority,
    pub tags: Vec<String>,
    pub intake_hint: Option<String>,
    pub recipients: Vec<String>,
}

/// Why a ticket moved queue without someone choosing the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueChangeReason {
    /// No one took it within the queue's overflow time.
    Overflow,
    /// `POST /tickets/{id}/route` ran the rules again.
    Rerouted,
}

/// How an agent came to hold a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignedBy {
    /// Someone set the assignee (PATCH, reassign).
    Person,
    /// A routing rule's `assign` action.
    Rule,
    /// The queue's round-robin rotation.
    RoundRobin,
    /// The queue's least-loaded agent.
    LeastLoaded,
    /// The agent claimed it (`POST /queues/{id}/claim`).
    Claim,
}

/// Why the status changed, when it was not someone setting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// The first public reply takes a new ticket to `open`.
    FirstReply,
    /// A customer wrote on a pending or solved ticket.
    CustomerReplied,
    /// A solved ticket closed by itself after days without a reply.
    AutoClosed,
}

/// How an email reply found its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreadRule {
    /// `In-Reply-To`/`References` named a message of the ticket.
    MessageId,
    /// It was sent to the ticket's signed reply address.
    ReplyAddress,
    /// The subject carried the ticket's `[#number]` token.
    SubjectToken,
}

/// One event's kind and payload. Serialized adjacently tagged: `kind` is the
/// stable name (stored in its own column, shown in `GET
/// /tickets/{id}/events`), `data` the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventData {
    /// The ticket was opened.
    Created {
        channel: Channel,
        priority: Priority,
        queue: Option<QueueRef>,
        /// The closed ticket a customer's reply followed up.
        follow_up_of: Option<String>,
    },
    /// The ticket moved between queues; `handed_off` when the vendor changed.
    QueueChanged {
        from: Option<QueueRef>,
        to: Option<QueueRef>,
        handed_off: bool,
        /// Why, when it was not someone moving it: `overflow`, `rerouted`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<QueueChangeReason>,
        /// The mover's word to the receiving team.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Routing placed a new ticket (or placed it again, `POST
    /// /tickets/{id}/route`): the rules that matched, under which version
    /// of the routing configuration, and where the queue came from.
    Routed {
        rule_set_version: i64,
        rules: Vec<String>,
        queue: Option<QueueRef>,
        queue_source: QueueSource,
        sla_policy_id: Option<String>,
        intake: IntakeFacts,
        /// What routing could not do (an `assign` action naming an agent
        /// of another vendor or one who left).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// An agent took the ticket (`from`: who held it before).
    Assigned {
        from: Option<AgentRef>,
        to: AgentRef,
        #[serde(default)]
        by: Option<AssignedBy>,
    },
    /// The agent holding the ticket let go of it.
    Unassigned {
        from: AgentRef,
        reason: ReleaseReason,
    },
    StatusChanged {
        from: Status,
        to: Status,
        reason: Option<StatusReason>,
    },
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
    SubjectChanged {
        from: String,
        to: String,
    },
    TagsChanged {
        from: Vec<String>,
        to: Vec<String>,
    },
    /// The fields sent (a `null` value removed that field).
    CustomFieldsChanged {
        #[schema(value_type = Object)]
        changed: Map<String, Value>,
    },
    LanguageChanged {
        from: Option<String>,
        to: Option<String>,
    },
    /// An agent's public reply to the customer.
    Replied {
        message_id: String,
        /// How it came in: the API or the agent's own email.
        channel: Channel,
    },
    /// An agent's internal note.
    NoteAdded {
        message_id: String,
    },
    /// The customer (or a participant) wrote.
    CustomerReplied {
        message_id: String,
        channel: Channel,
        /// An out-of-office, bounce or other machine-written mail.
        automatic: bool,
        /// How an email reply found its ticket.
        threaded_by: Option<ThreadRule>,
        /// Attachments refused for their size or number.
        #[serde(default)]
        refused_attachments: Vec<String>,
    },
    /// A new ticket's mail, as it came in.
    EmailReceived {
        /// The door: `http`, `mailgate` or `imap:<mailbox>`.
        source: String,
        recipients: Vec<String>,
        automatic: bool,
        refused_attachments: Vec<String>,
        /// Addresses in To/Cc beyond `email.max_participants`.
        participants_not_added: usize,
    },
    /// The customer was sent the acknowledgement of their new ticket.
    AcknowledgementSent {
        outbox_id: String,
        to: String,
    },
    /// No acknowledgement: the address got too many this hour.
    AcknowledgementSuppressed {
        to: String,
        reason: String,
    },
    /// Mail about the ticket could not be delivered to some recipients
    /// (`outbox_id` for mail Relay gave up on, `original_message_id` for a
    /// bounce that came back).
    DeliveryFailed {
        failed_recipients: Vec<String>,
        outbox_id: Option<String>,
        mail_kind: Option<String>,
        attempts: Option<i32>,
        error: Option<String>,
        original_message_id: Option<String>,
        diagnostic: Option<String>,
    },
    /// A vendor's agent or lead read the ticket's customer data (reads in a
    /// burst make one event).
    Viewed {},
    /// The ticket's clocks now run under another policy or version
    /// (`null`: no policy matches any more).
    #[serde(rename = "sla.policy_applied")]
    SlaPolicyApplied {
        from: Option<SlaPolicyRef>,
        to: Option<SlaPolicyRef>,
    },
    /// A running clock's target changed (a priority change, a policy
    /// edit); it keeps its start and the time it used.
    #[serde(rename = "sla.target_changed")]
    SlaTargetChanged {
        metric: Metric,
        cycle: u32,
        from_seconds: i64,
        to_seconds: i64,
    },
    /// A clock used its policy's warning share of its target.
    #[serde(rename = "sla.warning")]
    SlaWarning {
        metric: Metric,
        cycle: u32,
        warning_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
    },
    /// A clock ran out; `breached_at` is the exact due time, however late
    /// the scanner saw it, charged to the queue that held the ticket then.
    #[serde(rename = "sla.breached")]
    SlaBreached {
        metric: Metric,
        cycle: u32,
        breached_at: DateTime<Utc>,
        charged_to: Option<QueueRef>,
    },
    /// A policy's escalation ran (what it did, in order).
    #[serde(rename = "sla.escalated")]
    SlaEscalated {
        metric: Metric,
        cycle: u32,
        on: SlaThreshold,
        actions: Vec<String>,
    },
    /// The customer was mailed a link to rate the solved ticket, valid
    /// until `expires_at`.
    #[serde(rename = "satisfaction.requested")]
    SatisfactionRequested {
        outbox_id: String,
        to: String,
        expires_at: DateTime<Utc>,
    },
    /// The customer rated the ticket (a later rating replaces this one).
    #[serde(rename = "satisfaction.rated")]
    SatisfactionRated {
        rating: Satisfaction,
        comment: Option<String>,
    },
    /// A warning or breach no longer applies (the policy changed or was
    /// switched off), so its notice is withdrawn.
    #[serde(rename = "sla.withdrawn")]
    SlaWithdrawn {
        metric: Metric,
        cycle: u32,
        on: SlaThreshold,
    },
}

text_enum!(
    /// A customer's rating of a solved ticket.
    Satisfaction {
        Good => "good",
        Bad => "bad",
    }
);

/// A policy version a ticket's clocks ran under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaPolicyRef {
    pub policy_id: String,
    pub version: i32,
}

/// The two moments a clock is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaThreshold {
    Warning,
    Breach,
}

impl SlaThreshold {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaThreshold::Warning => "warning",
            SlaThreshold::Breach => "breach",
        }
    }
}

impl EventData {
    /// The stable `kind` name, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::Created { .. } => "created",
            EventData::Routed { .. } => "routed",
            EventData::QueueChanged { .. } => "queue_changed",
            EventData::Assigned { .. } => "assigned",
            EventData::Unassigned { .. } => "unassigned",
            EventData::StatusChanged { .. } => "status_changed",
            EventData::PriorityChanged { .. } => "priority_changed",
            EventData::SubjectChanged { .. } => "subject_changed",
            EventData::TagsChanged { .. } => "tags_changed",
            EventData::CustomFieldsChanged { .. } => "custom_fields_changed",
            EventData::LanguageChanged { .. } => "language_changed",
            EventData::Replied { .. } => "replied",
            EventData::NoteAdded { .. } => "note_added",
            EventData::CustomerReplied { .. } => "customer_replied",
            EventData::EmailReceived { .. } => "email_received",
            EventData::AcknowledgementSent { .. } => "acknowledgement_sent",
            EventData::AcknowledgementSuppressed { .. } => "acknowledgement_suppressed",
            EventData::DeliveryFailed { .. } => "delivery_failed",
            EventData::Viewed {} => "viewed",
            EventData::SlaPolicyApplied { .. } => "sla.policy_applied",
            EventData::SlaTargetChanged { .. } => "sla.target_changed",
            EventData::SlaWarning { .. } => "sla.warning",
            EventData::SlaBreached { .. } => "sla.breached",
            EventData::SlaEscalated { .. } => "sla.escalated",
            EventData::SlaWithdrawn { .. } => "sla.withdrawn",
            EventData::SatisfactionRequested { .. } => "satisfaction.requested",
            EventData::SatisfactionRated { .. } => "satisfaction.rated",
        }
    }

    /// The payload as stored in the `data` column.
    pub fn payload(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut tagged)) => tagged.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// An event read back from its two columns; `None` for a payload this
    /// version does not know (shown as stored, never dropped).
    pub fn parse(kind: &str, payload: &Value) -> Option<EventData> {
        let mut tagged = Map::new();
        tagged.insert("kind".into(), Value::from(kind));
        tagged.insert("data".into(), payload.clone());
        serde_json::from_value(Value::Object(tagged)).ok()
    }

    /// The queues this event names.
    pub fn queues_mut(&mut self) -> Vec<&mut QueueRef> {
        match self {
            EventData::Created { queue, .. } | EventData::Routed { queue, .. } => {
                queue.iter_mut().collect()
            }
            EventData::QueueChanged { from, to, .. } => {
                from.iter_mut().chain(to.iter_mut()).collect()
            }
            EventData::SlaBreached { charged_to, .. } => charged_to.iter_mut().collect(),
            _ => Vec::new(),
        }
    }

    /// The agents this event names.
    pub fn agents_mut(&mut self) -> Vec<&mut AgentRef> {
        match self {
            EventData::Assigned { from, to, .. } => from.iter_mut().chain(Some(to)).collect(),
            EventData::Unassigned { from, .. } => vec![from],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn samples() -> Vec<EventData> {
        let queue = |q: &str, v: &str| QueueRef {
            queue_id: q.into(),
            vendor_id: v.into(),
        };
        let agent = |a: &str| AgentRef {
            agent_id: a.into(),
            vendor_id: Some("v1".into()),
        };
        vec![
            EventData::Created {
                channel: Channel::Email,
                priority: Priority::High,
                queue: Some(queue("q1", "v1")),
                follow_up_of: None,
            },
            EventData::QueueChanged {
                reason: Some(QueueChangeReason::Overflow),
                note: Some("Spanish speakers there".into()),
                from: Some(queue("q1", "v1")),
                to: Some(queue("q2", "v2")),
                handed_off: true,
            },
            EventData::Assigned {
                from: None,
                to: agent("a1"),
                by: Some(AssignedBy::RoundRobin),
            },
            EventData::Routed {
                rule_set_version: 3,
                rules: vec!["r1".into()],
                queue: Some(queue("q1", "v1")),
                queue_source: QueueSource::Rules,
                sla_policy_id: None,
                intake: IntakeFacts {
                    priority: Priority::Normal,
                    tags: vec![],
                    intake_hint: Some("billing".into()),
                    recipients: vec!["billing@example.com".into()],
                },
                notes: vec![],
            },
            EventData::Unassigned {
                from: agent("a1"),
                reason: ReleaseReason::HandedOff,
            },
            EventData::StatusChanged {
                from: Status::New,
                to: Status::Open,
                reason: Some(StatusReason::FirstReply),
            },
            EventData::PriorityChanged {
                from: Priority::Low,
                to: Priority::Urgent,
            },
            EventData::SubjectChanged {
                from: "a".into(),
                to: "b".into(),
            },
            EventData::TagsChanged {
                from: vec![],
                to: vec!["vip".into()],
            },
            EventData::CustomFieldsChanged {
                changed: json!({"order": "A-1", "gone": null})
                    .as_object()
                    .unwrap()
                    .clone(),
            },
            EventData::LanguageChanged {
                from: None,
                to: Some("de".into()),
            },
            EventData::Replied {
                message_id: "m1".into(),
                channel: Channel::Email,
            },
            EventData::NoteAdded {
                message_id: "m2".into(),
            },
            EventData::CustomerReplied {
                message_id: "m3".into(),
                channel: Channel::Web,
                automatic: true,
                threaded_by: Some(ThreadRule::MessageId),
                refused_attachments: vec!["big.iso".into()],
            },
            EventData::EmailReceived {
                source: "imap:INBOX".into(),
                recipients: vec!["support@example.com".into()],
                automatic: false,
                refused_attachments: vec![],
                participants_not_added: 2,
            },
            EventData::AcknowledgementSent {
                outbox_id: "o1".into(),
                to: "c@example.com".into(),
            },
            EventData::AcknowledgementSuppressed {
                to: "c@example.com".into(),
                reason: "hourly limit reached".into(),
            },
            EventData::DeliveryFailed {
                failed_recipients: vec!["c@example.com".into()],
                outbox_id: Some("o1".into()),
                mail_kind: Some("reply".into()),
                attempts: Some(3),
                error: Some("550".into()),
                original_message_id: None,
                diagnostic: None,
            },
            EventData::Viewed {},
            EventData::SlaPolicyApplied {
                from: None,
                to: Some(SlaPolicyRef {
                    policy_id: "p1".into(),
                    version: 2,
                }),
            },
            EventData::SlaTargetChanged {
                metric: Metric::FirstResponse,
                cycle: 1,
                from_seconds: 28_800,
                to_seconds: 3_600,
            },
            EventData::SlaWarning {
                metric: Metric::Resolution,
                cycle: 1,
                warning_at: "2026-12-07T10:00:00Z".parse().unwrap(),
                due_at: "2026-12-07T11:00:00Z".parse().unwrap(),
            },
            EventData::SlaBreached {
                metric: Metric::NextResponse,
                cycle: 2,
                breached_at: "2026-12-07T11:00:00Z".parse().unwrap(),
                charged_to: Some(queue("q2", "v2")),
            },
            EventData::SlaEscalated {
                metric: Metric::NextResponse,
                cycle: 2,
                on: SlaThreshold::Breach,
                actions: vec!["raise_priority".into()],
            },
            EventData::SlaWithdrawn {
                metric: Metric::FirstResponse,
                cycle: 1,
                on: SlaThreshold::Warning,
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_through_its_two_columns() {
        for event in samples() {
            let (kind, payload) = (event.kind(), event.payload());
            assert!(payload.is_object(), "{kind}: {payload}");
            assert_eq!(EventData::parse(kind, &payload), Some(event.clone()));
            // The serde tag and kind() agree.
            assert_eq!(serde_json::to_value(&event).unwrap()["kind"], kind);
        }
    }

    #[test]
    fn unknown_kinds_and_old_payloads_are_not_parsed() {
        assert_eq!(EventData::parse("teleported", &json!({})), None);
        assert_eq!(
            EventData::parse("queue_changed", &json!({"from": "billing", "to": "tech"})),
            None
        );
    }

    #[test]
    fn named_queues_and_agents_are_reachable_for_masking() {
        let mut events = samples();
        let queues: usize = events.iter_mut().map(|e| e.queues_mut().len()).sum();
        let agents: usize = events.iter_mut().map(|e| e.agents_mut().len()).sum();
        assert_eq!((queues, agents), (5, 2));
    }
}
