//! An SLA policy as clients write it (the JSON is a contract), and its
//! validation into checked terms. References (queues, vendors, calendars)
//! are returned for the caller to check against what exists.

use crate::domain::event::SlaThreshold;
use crate::domain::sla::clock::{Metric, PriorityTargets, Targets, Terms};
use crate::domain::validate::{normalize_email, Errors};
use crate::domain::{Priority, Status};
use crate::routing::rule::{self, Condition, ConditionsInput, References, Scope};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The longest target: a year, in minutes.
pub const MAX_TARGET_MINUTES: i64 = 366 * 24 * 60;
pub const MAX_ESCALATIONS: usize = 20;
pub const MAX_NOTIFY_EMAILS: usize = 50;
pub const DEFAULT_WARNING_PERCENT: u8 = 80;

/// Minutes per metric; a metric left out has no clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricTargets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_response: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<i64>,
}

impl MetricTargets {
    fn minutes(&self, metric: Metric) -> Option<i64> {
        match metric {
            Metric::FirstResponse => self.first_response,
            Metric::NextResponse => self.next_response,
            Metric::Resolution => self.resolution,
        }
    }
}

/// What an escalation does, once per clock, cycle and threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EscalationAction {
    /// Mail these addresses.
    Notify { emails: Vec<String> },
    /// Mail the active leads of the vendor whose queue holds the ticket.
    NotifyVendorLeads,
    /// Mail every active manager.
    NotifyManagers,
    /// One step up (low → normal → high → urgent), or to `to` when given
    /// and higher than the ticket's priority.
    RaisePriority {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Priority>,
    },
    /// Move the ticket to this queue.
    MoveToQueue { queue_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// `warning` or `breach`.
    pub on: SlaThreshold,
    /// `first_response`, `next_response` or `resolution`; absent: every metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    pub actions: Vec<EscalationAction>,
}

/// `POST` and `PATCH /api/v1/sla/policies` body; a PATCH replaces the fields it sends.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub name: Option<String>,
    /// Policies are tried in ascending position (ties in creation order);
    /// the first whose conditions match applies.
    pub position: Option<i32>,
    pub enabled: Option<bool>,
    /// The routing rules' fields and operators, plus `queue` and `vendor`.
    pub conditions: Option<ConditionsInput>,
    /// The business hours the clocks count; `null`: 24/7.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub calendar_id: Option<Option<String>>,
    /// Count on the coverage calendar of the queue that holds the ticket
    /// (follow-the-sun: the receiving team's hours); a queue without one
    /// uses `calendar_id`.
    pub calendar_from_queue: Option<bool>,
    /// Minutes per priority (`urgent`, `high`, `normal`, `low`) and metric.
    pub targets: Option<BTreeMap<String, MetricTargets>>,
    /// Statuses that pause every clock; default `pending` and `on_hold`.
    pub pause_statuses: Option<Vec<String>>,
    /// Percent of a target at which the clock warns; default 80.
    pub warning_percent: Option<u8>,
    pub escalations: Option<Vec<Escalation>>,
    /// The vendor whose leads may read the policy; `null`: managers only.
    #[serde(default, deserialize_with = "crate::domain::validate::present")]
    #[schema(value_type = Option<String>)]
    pub vendor_id: Option<Option<String>>,
}

/// What is stored as the policy's definition and in each version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Definition {
    pub name: String,
    pub position: i32,
    pub enabled: bool,
    pub conditions: ConditionsInput,
    pub calendar_id: Option<String>,
    pub calendar_from_queue: bool,
    pub targets: BTreeMap<String, MetricTargets>,
    pub pause_statuses: Vec<Status>,
    pub warning_percent: u8,
    pub escalations: Vec<Escalation>,
    pub vendor_id: Option<String>,
}

impl Default for Definition {
    fn default() -> Self {
        Definition {
            name: String::new(),
            position: 0,
            enabled: true,
            conditions: ConditionsInput::default(),
            calendar_id: None,
            calendar_from_queue: false,
            targets: BTreeMap::new(),
            pause_statuses: vec![Status::Pending, Status::OnHold],
            warning_percent: DEFAULT_WARNING_PERCENT,
            escalations: Vec::new(),
            vendor_id: None,
        }
    }
}

/// A definition that validated, with its compiled conditions.
#[derive(Debug, Clone)]
pub struct Checked {
    pub definition: Definition,
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
}

impl Definition {
    /// The clock terms for the clock computation.
    pub fn terms(&self) -> Terms {
        let targets = |priority: Priority| {
            let minutes = self.targets.get(priority.as_str());
            let seconds = |metric| minutes.and_then(|m| m.minutes(metric)).map(|m| m * 60);
            Targets {
                first_response: seconds(Metric::FirstResponse),
                next_response: seconds(Metric::NextResponse),
                resolution: seconds(Metric::Resolution),
            }
        };
        Terms {
            targets: PriorityTargets {
                low: targets(Priority::Low),
                normal: targets(Priority::Normal),
                high: targets(Priority::High),
                urgent: targets(Priority::Urgent),
            },
            pause_statuses: self.pause_statuses.clone(),
            warning_percent: self.warning_percent,
        }
    }
}

/// Applies `input` over `base` (a new policy's defaults, or the stored
/// definition for a PATCH), naming every problem by its JSON path.
pub fn validate<'a>(
    input: &'a PolicyInput,
    base: &Definition,
    errors: &mut Errors,
    refs: &mut References<'a>,
) -> Option<Checked> {
    let mut definition = base.clone();
    if let Some(name) = &input.name {
        definition.name = errors.required_text("name", name, 200);
    }
    if let Some(position) = input.position {
        if !(0..=1_000_000).contains(&position) {
            errors.add("position", "must be between 0 and 1000000");
        }
        definition.position = position;
    }
    if let Some(enabled) = input.enabled {
        definition.enabled = enabled;
    }
    if let Some(conditions) = &input.conditions {
        definition.conditions = conditions.clone();
    }
    let (all, any) = match &input.conditions {
        Some(conditions) => rule::check_conditions(conditions, Scope::SlaPolicy, errors, refs),
        None => compiled_conditions(&definition.conditions),
    };
    if let Some(calendar) = &input.calendar_id {
        if let Some(id) = calendar {
            refs.calendars.push(("calendar_id".into(), id.as_str()));
        }
        definition.calendar_id = calendar.clone();
    }
    if let Some(from_queue) = input.calendar_from_queue {
        definition.calendar_from_queue = from_queue;
    }
    if let Some(targets) = &input.targets {
        definition.targets = check_targets(targets, errors);
    }
    if let Some(statuses) = &input.pause_statuses {
        definition.pause_statuses = check_pause_statuses(statuses, errors);
    }
    if let Some(percent) = input.warning_percent {
        if !(1..=99).contains(&percent) {
            errors.add("warning_percent", "must be between 1 and 99");
        }
        definition.warning_percent = percent;
    }
    if let Some(escalations) = &input.escalations {
        definition.escalations = check_escalations(escalations, errors, refs);
    }
    if let Some(vendor) = &input.vendor_id {
        if let Some(id) = vendor {
            refs.vendors.push(("vendor_id".into(), id.as_str()));
        }
        definition.vendor_id = vendor.clone();
    }
    if definition.name.is_empty() && input.name.is_none() {
        errors.add("name", "is required");
    }
    errors.is_empty().then_some(Checked {
        definition,
        all,
        any,
    })
}

/// The compiled form of conditions that validated when they were written.
pub fn compiled_conditions(conditions: &ConditionsInput) -> (Vec<Condition>, Vec<Condition>) {
    let (mut ignored, mut refs) = (Errors::default(), References::default());
    rule::check_conditions(conditions, Scope::SlaPolicy, &mut ignored, &mut refs)
}

fn check_targets(
    targets: &BTreeMap<String, MetricTargets>,
    errors: &mut Errors,
) -> BTreeMap<String, MetricTargets> {
    for (priority, metrics) in targets {
        let at = format!("targets.{priority}");
        if priority.parse::<Priority>().is_err() {
            errors.add(&at, "must be a priority: urgent, high, normal or low");
            continue;
        }
        for (name, minutes) in [
            ("first_response", metrics.first_response),
            ("next_response", metrics.next_response),
            ("resolution", metrics.resolution),
        ] {
            if minutes.is_some_and(|m| !(1..=MAX_TARGET_MINUTES).contains(&m)) {
                errors.add(
                    &format!("{at}.{name}"),
                    format!("must be 1 to {MAX_TARGET_MINUTES} minutes"),
                );
            }
        }
    }
    targets.clone()
}

fn check_pause_statuses(statuses: &[String], errors: &mut Errors) -> Vec<Status> {
    let mut checked = Vec::new();
    for (index, text) in statuses.iter().enumerate() {
        let at = format!("pause_statuses[{index}]");
        match text.parse::<Status>() {
            // Solved and closed stop clocks; they cannot also pause them.
            Ok(Status::Solved | Status::Closed) => {
                errors.add(&at, "solved and closed stop clocks; they cannot pause them")
            }
            Ok(status) if !checked.contains(&status) => checked.push(status),
            Ok(_) => {}
            Err(reason) => errors.add(&at, reason),
        }
    }
    checked
}

fn check_escalations<'a>(
    escalations: &'a [Escalation],
    errors: &mut Errors,
    refs: &mut References<'a>,
) -> Vec<Escalation> {
    if escalations.len() > MAX_ESCALATIONS {
        errors.add(
            "escalations",
            format!("at most {MAX_ESCALATIONS} escalations"),
        );
    }
    let mut checked = Vec::new();
    for (index, escalation) in escalations.iter().enumerate() {
        let at = format!("escalations[{index}]");
        if escalation.actions.is_empty() || escalation.actions.len() > 10 {
            errors.add(&format!("{at}.actions"), "must have 1 to 10 actions");
        }
        let mut actions = Vec::new();
        for (number, action) in escalation.actions.iter().enumerate() {
            let action_at = format!("{at}.actions[{number}]");
            actions.push(match action {
                EscalationAction::Notify { emails } => {
                    if emails.is_empty() || emails.len() > MAX_NOTIFY_EMAILS {
                        errors.add(
                            &format!("{action_at}.emails"),
                            format!("must list 1 to {MAX_NOTIFY_EMAILS} addresses"),
                        );
                    }
                    let mut normalized = Vec::new();
                    for (i, email) in emails.iter().enumerate() {
                        match normalize_email(email) {
                            Some(address) => normalized.push(address),
                            None => errors.add(
                                &format!("{action_at}.emails[{i}]"),
                                "must be an email address",
                            ),
                        }
                    }
                    EscalationAction::Notify { emails: normalized }
                }
                EscalationAction::MoveToQueue { queue_id } => {
                    refs.queues
                        .push((format!("{action_at}.queue_id"), queue_id.as_str()));
                    action.clone()
                }
                other => other.clone(),
            });
        }
        checked.push(Escalation {
            on: escalation.on,
            metric: escalation.metric,
            actions,
        });
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(body: serde_json::Value) -> Vec<String> {
        let input: PolicyInput = serde_json::from_value(body).unwrap();
        let (mut errors, mut refs) = (Errors::default(), References::default());
        validate(&input, &Definition::default(), &mut errors, &mut refs);
        errors.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_whole_policy_validates_into_terms_in_seconds() {
        let input: PolicyInput = serde_json::from_value(json!({
            "name": "Gold", "position": 1,
            "conditions": {"all": [{"field": "vendor", "op": "equals", "value": "v1"}]},
            "calendar_id": "cal", "targets": {"urgent": {"first_response": 30, "resolution": 240}},
            "pause_statuses": ["pending"], "warning_percent": 75,
            "escalations": [{"on": "breach", "metric": "first_response",
                "actions": [{"type": "notify", "emails": ["Boss@Example.com"]}, {"type": "raise_priority"}]}]
        }))
        .unwrap();
        let (mut errors, mut refs) = (Errors::default(), References::default());
        let checked = validate(&input, &Definition::default(), &mut errors, &mut refs).unwrap();
        assert_eq!(refs.vendors.len(), 1);
        assert_eq!(refs.calendars.len(), 1);
        let terms = checked.definition.terms();
        assert_eq!(terms.targets.urgent.first_response, Some(1800));
        assert_eq!(terms.targets.urgent.next_response, None);
        assert_eq!(terms.targets.normal.first_response, None);
        assert_eq!(terms.pause_statuses, vec![Status::Pending]);
        assert_eq!(
            checked.definition.escalations[0].actions[0],
            EscalationAction::Notify {
                emails: vec!["boss@example.com".into()]
            }
        );
    }

    #[test]
    fn each_bad_field_is_named_by_its_path() {
        let fields = errors_of(json!({
            "name": "",
            "conditions": {"all": [{"field": "queue", "op": "contains", "value": "x"}]},
            "targets": {"soon": {"first_response": 5}, "high": {"resolution": 0}},
            "pause_statuses": ["solved", "later"],
            "warning_percent": 100,
            "escalations": [{"on": "warning", "actions": []},
                            {"on": "breach", "actions": [{"type": "notify", "emails": ["nope"]}]}]
        }));
        for expected in [
            "name",
            "conditions.all[0].op",
            "targets.soon",
            "targets.high.resolution",
            "pause_statuses[0]",
            "pause_statuses[1]",
            "warning_percent",
            "escalations[0].actions",
            "escalations[1].actions[0].emails[0]",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn routing_rules_may_not_read_the_queue_a_policy_reads() {
        let conditions: ConditionsInput = serde_json::from_value(json!({
            "all": [{"field": "queue", "op": "equals", "value": "q1"}]
        }))
        .unwrap();
        let (mut errors, mut refs) = (Errors::default(), References::default());
        rule::check_conditions(&conditions, Scope::Routing, &mut errors, &mut refs);
        assert_eq!(errors.0[0].field, "conditions.all[0].field");
        let (mut errors, mut refs) = (Errors::default(), References::default());
        rule::check_conditions(&conditions, Scope::SlaPolicy, &mut errors, &mut refs);
        assert!(errors.is_empty());
        assert_eq!(
            refs.queues,
            vec![("conditions.all[0].value".to_string(), "q1")]
        );
    }
}
