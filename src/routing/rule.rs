//! A routing rule as clients write it (the JSON is a contract), and its
//! validation into checked types. Pure: references to queues, agents and
//! calendars are checked by the caller against what exists.

use crate::domain::validate::{normalize_tags, Errors};
use crate::domain::Priority;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Rules a rule set may hold.
pub const MAX_RULES: usize = 20_000;
/// Conditions one rule may have (both groups together).
pub const MAX_CONDITIONS: usize = 50;
pub const MAX_ACTIONS: usize = 20;
/// The longest text value or regex a condition may compare with.
pub const MAX_VALUE_CHARS: usize = 1_000;
/// Items an `in` list may have.
pub const MAX_LIST_ITEMS: usize = 1_000;
/// Compiled size one regex may take, in bytes: enough for any sensible
/// pattern, small enough that no rule can make routing slow or huge.
pub const MAX_REGEX_BYTES: usize = 256 * 1024;

/// One condition: `{"field": "subject", "op": "contains", "value": "refund"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionInput {
    /// `subject`, `body`, `from`, `from_domain`, `recipient`,
    /// `intake_hint`, `channel`, `priority`, `language`, `tags`,
    /// `organization`, `custom_fields.NAME` or `calendar_open`.
    pub field: String,
    /// `equals`, `not_equals`, `contains`, `not_contains`, `starts_with`,
    /// `matches`, `in`, `gt` or `lt`.
    pub op: String,
    /// Text, a list of texts (`in`), a number (`gt`/`lt`), a priority, or a
    /// calendar id (`calendar_open`).
    #[schema(value_type = Object)]
    pub value: Value,
    /// Text comparisons ignore case unless this is `true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub case_sensitive: bool,
}

/// `{"all": [...], "any": [...]}`: every `all` condition and, when `any` is
/// not empty, at least one `any` condition. No conditions: always matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionsInput {
    #[serde(default)]
    pub all: Vec<ConditionInput>,
    #[serde(default)]
    pub any: Vec<ConditionInput>,
}

/// What a matching rule does, applied in rule order (a later rule's
/// `set_queue` replaces an earlier one's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    SetQueue {
        queue_id: String,
    },
    SetPriority {
        priority: Priority,
    },
    AddTags {
        tags: Vec<String>,
    },
    RemoveTags {
        tags: Vec<String>,
    },
    /// Stored on the ticket for the SLA engine.
    SetSlaPolicy {
        policy_id: String,
    },
    Assign {
        agent_id: String,
    },
    /// The first queue whose coverage calendar is open when the ticket
    /// arrives; when none is, the one that opens soonest.
    FollowTheSun {
        queue_ids: Vec<String>,
    },
}

/// `POST /api/v1/routing/rules` body (and each rule of a proposed set).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: Option<String>,
    /// Rules run in ascending position; ties in creation order.
    pub position: Option<i32>,
    pub enabled: Option<bool>,
    /// Stop evaluating later rules when this one matches.
    pub stop: Option<bool>,
    pub conditions: Option<ConditionsInput>,
    pub actions: Option<Vec<Action>>,
}

/// A field a condition reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Subject,
    Body,
    From,
    FromDomain,
    Recipient,
    IntakeHint,
    Channel,
    Priority,
    Language,
    Tags,
    Organization,
    CustomField(String),
    CalendarOpen,
    /// The queue that holds the ticket (SLA policies only: routing decides it).
    Queue,
    /// The vendor that owns the holding queue (SLA policies only).
    Vendor,
}

/// Who the conditions are for: routing rules run before the ticket has a
/// queue, SLA policies after, so only policies may read `queue` and `vendor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Routing,
    SlaPolicy,
}

impl Field {
    fn parse(name: &str, scope: Scope) -> Option<Field> {
        Some(match name {
            "queue" if scope == Scope::SlaPolicy => Field::Queue,
            "vendor" if scope == Scope::SlaPolicy => Field::Vendor,
            "subject" => Field::Subject,
            "body" => Field::Body,
            "from" => Field::From,
            "from_domain" => Field::FromDomain,
            "recipient" => Field::Recipient,
            "intake_hint" => Field::IntakeHint,
            "channel" => Field::Channel,
            "priority" => Field::Priority,
            "language" => Field::Language,
            "tags" => Field::Tags,
            "organization" => Field::Organization,
            "calendar_open" => Field::CalendarOpen,
            other => {
                let name = other.strip_prefix("custom_fields.")?;
                if name.is_empty() || name.len() > 64 {
                    return None;
                }
                Field::CustomField(name.to_string())
            }
        })
    }

    /// Whether the field holds several values (a condition matches when one does).
    pub fn is_list(&self) -> bool {
        matches!(self, Field::Recipient | Field::Tags)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Equals,
    Contains,
    StartsWith,
    Matches,
    In,
    Gt,
    Lt,
}

/// A checked condition. Negative operators (`not_equals`, `not_contains`)
/// are the negation of their positive one: on a list field, "no element
/// equals"; on an absent value, true.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub negated: bool,
    pub case_sensitive: bool,
    pub value: Operand,
    /// As written, for traces.
    pub written: ConditionInput,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Text(String),
    List(Vec<String>),
    Number(f64),
    Priority(Priority),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub position: i32,
    pub enabled: bool,
    pub stop: bool,
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
    pub actions: Vec<Action>,
}

/// What a rule names that must exist; the caller checks them.
#[derive(Debug, Default)]
pub struct References<'a> {
    /// `(field, queue id)`
    pub queues: Vec<(String, &'a str)>,
    pub agents: Vec<(String, &'a str)>,
    pub calendars: Vec<(String, &'a str)>,
    pub vendors: Vec<(String, &'a str)>,
    pub sla_policies: Vec<(String, &'a str)>,
}

fn parse_op(op: &str) -> Option<(Op, bool)> {
    Some(match op {
        "equals" => (Op::Equals, false),
        "not_equals" => (Op::Equals, true),
        "contains" => (Op::Contains, false),
        "not_contains" => (Op::Contains, true),
        "starts_with" => (Op::StartsWith, false),
        "matches" => (Op::Matches, false),
        "in" => (Op::In, false),
        "gt" => (Op::Gt, false),
        "lt" => (Op::Lt, false),
        _ => return None,
    })
}

fn text_value(value: &Value, errors: &mut Errors, field: &str) -> Option<String> {
    match value {
        Value::String(text) if text.chars().count() <= MAX_VALUE_CHARS => Some(text.clone()),
        Value::String(_) => {
            errors.add(
                field,
                format!("must be at most {MAX_VALUE_CHARS} characters"),
            );
            None
        }
        Value::Number(n) => Some(n.to_string()),
        _ => {
            errors.add(field, "must be a text");
            None
        }
    }
}

/// Compiles a regex the way the engine will, within the size limit.
pub fn build_regex(pattern: &str, case_sensitive: bool) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
}

fn check_condition<'a>(
    input: &'a ConditionInput,
    at: &str,
    scope: Scope,
    errors: &mut Errors,
    refs: &mut References<'a>,
) -> Option<Condition> {
    let field = Field::parse(&input.field, scope);
    if field.is_none() {
        let policy_fields = match scope {
            Scope::Routing => "",
            Scope::SlaPolicy => ", queue, vendor",
        };
        errors.add(
            &format!("{at}.field"),
            format!(
                "unknown field '{}' (expected subject, body, from, from_domain, recipient, intake_hint, channel, priority, language, tags, organization, custom_fields.NAME, calendar_open{policy_fields})",
                input.field
            ),
        );
    }
    let op = parse_op(&input.op);
    if op.is_none() {
        errors.add(
            &format!("{at}.op"),
            format!(
                "unknown operator '{}' (expected equals, not_equals, contains, not_contains, starts_with, matches, in, gt or lt)",
                input.op
            ),
        );
    }
    let (field, (op, negated)) = (field?, op?);
    let value_at = format!("{at}.value");
    let value = match (&field, op) {
        (Field::CalendarOpen, Op::Equals) => {
            let id = text_value(&input.value, errors, &value_at)?;
            refs.calendars
                .push((value_at.clone(), input.value.as_str()?));
            Operand::Text(id)
        }
        (Field::CalendarOpen, _) => {
            errors.add(
                &format!("{at}.op"),
                "calendar_open takes equals or not_equals and a calendar id",
            );
            return None;
        }
        (Field::Queue | Field::Vendor, Op::Equals | Op::In) => {
            let ids: Option<Vec<&'a str>> = match (&input.value, op) {
                (Value::String(id), Op::Equals) => Some(vec![id.as_str()]),
                (Value::Array(items), Op::In) if (1..=MAX_LIST_ITEMS).contains(&items.len()) => {
                    items.iter().map(Value::as_str).collect()
                }
                _ => None,
            };
            let Some(ids) = ids else {
                errors.add(
                    &value_at,
                    match op {
                        Op::In => format!("must be a list of 1 to {MAX_LIST_ITEMS} ids"),
                        _ => "must be an id".to_string(),
                    },
                );
                return None;
            };
            let list = if field == Field::Queue {
                &mut refs.queues
            } else {
                &mut refs.vendors
            };
            list.extend(ids.iter().map(|id| (value_at.clone(), *id)));
            match op {
                Op::In => Operand::List(ids.iter().map(|id| id.to_string()).collect()),
                _ => Operand::Text(ids[0].to_string()),
            }
        }
        (Field::Queue | Field::Vendor, _) => {
            errors.add(
                &format!("{at}.op"),
                "queue and vendor take equals, not_equals or in, with ids",
            );
            return None;
        }
        (Field::Priority, Op::Gt | Op::Lt | Op::Equals) => {
            match input.value.as_str().map(str::parse::<Priority>) {
                Some(Ok(priority)) => Operand::Priority(priority),
                _ => {
                    errors.add(&value_at, "must be a priority: low, normal, high or urgent");
                    return None;
                }
            }
        }
        (Field::CustomField(_), Op::Gt | Op::Lt) => match input.value.as_f64() {
            Some(number) => Operand::Number(number),
            None => {
                errors.add(&value_at, "must be a number");
                return None;
            }
        },
        (_, Op::Gt | Op::Lt) => {
            errors.add(
                &format!("{at}.op"),
                "gt and lt compare priorities and custom fields only",
            );
            return None;
        }
        (_, Op::In) => {
            let Some(items) = input.value.as_array() else {
                errors.add(&value_at, "must be a list of texts");
                return None;
            };
            if items.len() > MAX_LIST_ITEMS {
                errors.add(&value_at, format!("at most {MAX_LIST_ITEMS} items"));
                return None;
            }
            let texts: Option<Vec<String>> = items
                .iter()
                .map(|item| text_value(item, errors, &value_at))
                .collect();
            Operand::List(texts?)
        }
        (_, Op::Matches) => {
            let pattern = text_value(&input.value, errors, &value_at)?;
            if let Err(e) = build_regex(&pattern, input.case_sensitive) {
                let reason = match e {
                    regex::Error::CompiledTooBig(_) => {
                        "the regex is too large or complex".to_string()
                    }
                    other => format!("not a valid regex: {other}"),
                };
                errors.add(&value_at, reason);
                return None;
            }
            Operand::Text(pattern)
        }
        (_, _) => Operand::Text(text_value(&input.value, errors, &value_at)?),
    };
    Some(Condition {
        field,
        op,
        negated,
        case_sensitive: input.case_sensitive,
        value,
        written: input.clone(),
    })
}

fn check_action<'a>(
    action: &'a Action,
    at: &str,
    errors: &mut Errors,
    refs: &mut References<'a>,
) -> Action {
    match action {
        Action::SetQueue { queue_id } => refs.queues.push((format!("{at}.queue_id"), queue_id)),
        Action::Assign { agent_id } => refs.agents.push((format!("{at}.agent_id"), agent_id)),
        Action::FollowTheSun { queue_ids } => {
            if queue_ids.is_empty() || queue_ids.len() > 50 {
                errors.add(&format!("{at}.queue_ids"), "must list 1 to 50 queues");
            }
            for (index, id) in queue_ids.iter().enumerate() {
                refs.queues.push((format!("{at}.queue_ids[{index}]"), id));
            }
        }
        Action::SetSlaPolicy { policy_id } => refs
            .sla_policies
            .push((format!("{at}.policy_id"), policy_id)),
        Action::AddTags { tags } | Action::RemoveTags { tags } => {
            let normalized = normalize_tags(errors, &format!("{at}.tags"), tags);
            return match action {
                Action::AddTags { .. } => Action::AddTags { tags: normalized },
                _ => Action::RemoveTags { tags: normalized },
            };
        }
        Action::SetPriority { .. } => {}
    }
    action.clone()
}

/// The checked `all` and `any` groups of `conditions`, every problem named
/// by its JSON path under `conditions`.
pub fn check_conditions<'a>(
    conditions: &'a ConditionsInput,
    scope: Scope,
    errors: &mut Errors,
    refs: &mut References<'a>,
) -> (Vec<Condition>, Vec<Condition>) {
    if conditions.all.len() + conditions.any.len() > MAX_CONDITIONS {
        errors.add("conditions", format!("at most {MAX_CONDITIONS} conditions"));
    }
    let mut check = |group: &str, inputs: &'a [ConditionInput]| -> Vec<Condition> {
        inputs
            .iter()
            .enumerate()
            .filter_map(|(index, condition)| {
                let at = format!("conditions.{group}[{index}]");
                check_condition(condition, &at, scope, errors, refs)
            })
            .collect()
    };
    let all = check("all", &conditions.all);
    let any = check("any", &conditions.any);
    (all, any)
}

/// The rule `input` describes, with every problem named by its JSON path
/// (`conditions.all[0].op`, `actions[1].queue_id`). `base` fills what a
/// PATCH leaves out. References are returned for the caller to check.
pub fn validate<'a>(
    id: String,
    input: &'a RuleInput,
    base: Option<&'a Rule>,
    errors: &mut Errors,
    refs: &mut References<'a>,
) -> Option<Rule> {
    let name = match (&input.name, base) {
        (Some(name), _) => errors.required_text("name", name, 200),
        (None, Some(rule)) => rule.name.clone(),
        (None, None) => {
            errors.add("name", "is required");
            String::new()
        }
    };
    let position = input.position.or(base.map(|r| r.position)).unwrap_or(0);
    if !(0..=1_000_000).contains(&position) {
        errors.add("position", "must be between 0 and 1000000");
    }
    let (all, any) = match (&input.conditions, base) {
        (Some(conditions), _) => check_conditions(conditions, Scope::Routing, errors, refs),
        (None, Some(rule)) => (rule.all.clone(), rule.any.clone()),
        (None, None) => (Vec::new(), Vec::new()),
    };
    let actions = match (&input.actions, base) {
        (Some(actions), _) => {
            if actions.is_empty() || actions.len() > MAX_ACTIONS {
                errors.add("actions", format!("must have 1 to {MAX_ACTIONS} actions"));
            }
            actions
                .iter()
                .enumerate()
                .map(|(index, action)| {
                    check_action(action, &format!("actions[{index}]"), errors, refs)
                })
                .collect()
        }
        (None, Some(rule)) => rule.actions.clone(),
        (None, None) => {
            errors.add("actions", "is required");
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return None;
    }
    Some(Rule {
        id,
        name,
        position,
        enabled: input.enabled.or(base.map(|r| r.enabled)).unwrap_or(true),
        stop: input.stop.or(base.map(|r| r.stop)).unwrap_or(false),
        all,
        any,
        actions,
    })
}

impl Rule {
    /// The conditions as clients write them.
    pub fn conditions_input(&self) -> ConditionsInput {
        ConditionsInput {
            all: self.all.iter().map(|c| c.written.clone()).collect(),
            any: self.any.iter().map(|c| c.written.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: serde_json::Value) -> Result<Rule, Vec<String>> {
        let input: RuleInput = serde_json::from_value(input).unwrap();
        let mut errors = Errors::default();
        let mut refs = References::default();
        validate("r1".into(), &input, None, &mut errors, &mut refs)
            .ok_or_else(|| errors.0.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn the_contract_shape_validates() {
        let rule = check(json!({
            "name": "Refunds", "position": 10, "enabled": true, "stop": false,
            "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"}], "any": []},
            "actions": [{"type": "set_queue", "queue_id": "q1"}]
        }))
        .unwrap();
        assert_eq!(rule.all[0].op, Op::Contains);
        assert_eq!(
            rule.actions,
            [Action::SetQueue {
                queue_id: "q1".into()
            }]
        );
        assert_eq!(
            serde_json::to_value(rule.conditions_input()).unwrap()["all"][0],
            json!({"field": "subject", "op": "contains", "value": "refund"})
        );
    }

    #[test]
    fn every_problem_is_named_by_its_path() {
        let fields = check(json!({
            "name": " ",
            "conditions": {
                "all": [
                    {"field": "mood", "op": "contains", "value": "x"},
                    {"field": "subject", "op": "resembles", "value": "x"},
                    {"field": "subject", "op": "matches", "value": "(unclosed"},
                    {"field": "subject", "op": "gt", "value": 3},
                    {"field": "priority", "op": "gt", "value": "extreme"}
                ],
                "any": [
                    {"field": "subject", "op": "matches", "value": "\\w{1000}\\w{1000}\\w{1000}"},
                    {"field": "custom_fields.amount", "op": "lt", "value": "lots"},
                    {"field": "tags", "op": "in", "value": "vip"}
                ]
            },
            "actions": []
        }))
        .unwrap_err();
        assert_eq!(
            fields,
            [
                "name",
                "conditions.all[0].field",
                "conditions.all[1].op",
                "conditions.all[2].value",
                "conditions.all[3].op",
                "conditions.all[4].value",
                "conditions.any[0].value",
                "conditions.any[1].value",
                "conditions.any[2].value",
                "actions"
            ]
        );
    }

    #[test]
    fn references_are_collected_for_the_caller() {
        let input: RuleInput = serde_json::from_value(json!({
            "name": "Sun",
            "conditions": {"all": [{"field": "calendar_open", "op": "equals", "value": "cal"}]},
            "actions": [{"type": "follow_the_sun", "queue_ids": ["a", "b"]}, {"type": "assign", "agent_id": "ag"}]
        }))
        .unwrap();
        let (mut errors, mut refs) = (Errors::default(), References::default());
        validate("r".into(), &input, None, &mut errors, &mut refs).unwrap();
        assert_eq!(
            refs.queues,
            [
                ("actions[0].queue_ids[0]".to_string(), "a"),
                ("actions[0].queue_ids[1]".to_string(), "b")
            ]
        );
        assert_eq!(refs.agents, [("actions[1].agent_id".to_string(), "ag")]);
        assert_eq!(
            refs.calendars,
            [("conditions.all[0].value".to_string(), "cal")]
        );
    }
}
