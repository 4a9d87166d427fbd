//! `POST /api/v1/routing/rules/test`: what the rules would do with a
//! ticket, rule by rule, storing nothing.

use super::compiled;
use super::engine::{Facts, RuleSet, RuleTrace};
use super::placement::find_queue;
use super::rule::RuleInput;
use super::rules;
use crate::auth::Principal;
use crate::db::Conn;
use crate::domain::event::QueueSource;
use crate::domain::validate::{normalize_tags, Errors};
use crate::domain::{Channel, Role};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A ticket as routing sees it; every field optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketFacts {
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    /// The customer's address.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub recipients: Vec<String>,
    pub intake_hint: Option<String>,
    /// Default `api`.
    pub channel: Option<String>,
    /// Default `normal`.
    pub priority: Option<String>,
    /// Detected from the text when not given.
    pub language: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub organization: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    /// When it arrives (for calendars); default now.
    pub received_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    pub ticket: TicketFacts,
    /// A proposed rule set to try instead of the stored one.
    pub rules: Option<Vec<RuleInput>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestResult {
    /// The stored rule set's version; `null` for a proposed set.
    pub rule_set_version: Option<i64>,
    pub rules: Vec<RuleTrace>,
    pub result: Outcome,
}

/// What the ticket would get.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Outcome {
    /// Ids of the rules that matched, in order.
    pub matched_rules: Vec<String>,
    /// The queue after the precedence: the rules, then the hint, then the
    /// default queue.
    pub queue_id: Option<String>,
    pub queue_source: QueueSource,
    pub priority: crate::domain::Priority,
    pub tags: Vec<String>,
    pub sla_policy_id: Option<String>,
    pub assignee_id: Option<String>,
    pub language: Option<String>,
}

pub fn test(
    conn: &mut Conn,
    caller: &Principal,
    request: &TestRequest,
    default_queue: Option<&str>,
) -> AppResult<TestResult> {
    caller.require(Role::is_manager_or_above)?;
    let t = &request.ticket;
    let mut errors = Errors::default();
    let channel: Channel = t
        .channel
        .as_deref()
        .map_or(Some(Channel::Api), |c| errors.parse("ticket.channel", c))
        .unwrap_or(Channel::Api);
    let priority = t
        .priority
        .as_deref()
        .map_or(Some(crate::domain::Priority::Normal), |p| {
            errors.parse("ticket.priority", p)
        })
        .unwrap_or(crate::domain::Priority::Normal);
    let tags = normalize_tags(&mut errors, "ticket.tags", &t.tags);
    let language = errors.language("ticket.language", t.language.as_deref());
    errors.custom_fields("ticket.custom_fields", &t.custom_fields);
    errors.finish()?;
    let language =
        language.or_else(|| crate::domain::language::detect(&format!("{}\n{}", t.subject, t.body)));
    let (set, version) = match &request.rules {
        Some(proposed) => {
            let checked = rules::check_proposal(conn, proposed)?;
            (
                RuleSet::compile(0, checked, compiled::directory(conn)?),
                None,
            )
        }
        None => {
            let version = crate::directory::routing_version::current(conn)?;
            (compiled::compile(conn, version)?, Some(version))
        }
    };
    let received_at = t.received_at.unwrap_or_else(|| conn.now().and_utc());
    let facts = Facts {
        subject: &t.subject,
        body: &t.body,
        from: &t.from,
        recipients: &t.recipients,
        intake_hint: t.intake_hint.as_deref(),
        channel,
        priority,
        language: language.as_deref(),
        tags: &tags,
        organization: t.organization.as_deref(),
        custom_fields: &t.custom_fields,
        received_at,
        queue_id: None,
        vendor_id: None,
    };
    let (decision, traces) = set.evaluate(&facts, true);
    let mut placed = (None, QueueSource::None);
    for (reference, source) in [
        (decision.queue_id.as_deref(), QueueSource::Rules),
        (t.intake_hint.as_deref(), QueueSource::Hint),
        (default_queue, QueueSource::Default),
    ] {
        if let Some(queue) = reference
            .map(|r| find_queue(conn, r))
            .transpose()?
            .flatten()
        {
            placed = (Some(queue.id), source);
            break;
        }
    }
    Ok(TestResult {
        rule_set_version: version,
        rules: traces,
        result: Outcome {
            matched_rules: decision.matched_rules,
            queue_id: placed.0,
            queue_source: placed.1,
            priority: decision.priority,
            tags: decision.tags,
            sla_policy_id: decision.sla_policy_id,
            assignee_id: decision.assignee_id,
            language,
        },
    })
}
