//! Rule evaluation, pure: a rule set is compiled once into matchers, then
//! each ticket is evaluated against it with no I/O.
//!
//! Every condition is an "atom" whose positive result (equals, contains,
//! ...) is computed for all rules at once, per field: one Aho-Corasick pass
//! finds every `contains` keyword, one `RegexSet` pass every `matches`
//! pattern, hash lookups answer `equals`, `in` and `starts_with`. Rules then
//! only combine booleans, so a rule set of 10,000 rules costs a few passes
//! over the text plus 10,000 cheap checks.

use super::rule::{Action, Condition, ConditionInput, Field, Op, Operand, Rule};
use crate::domain::calendar::Calendar;
use crate::domain::{Channel, Priority};
use aho_corasick::AhoCorasick;
use chrono::{DateTime, Utc};
use regex::RegexSet;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use utoipa::ToSchema;

/// What routing knows about a new ticket.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    /// The customer's address.
    pub from: &'a str,
    /// To, Cc and Delivered-To of an email.
    pub recipients: &'a [String],
    /// The door's queue: the IMAP mailbox's or `mailgate --queue`.
    pub intake_hint: Option<&'a str>,
    pub channel: Channel,
    pub priority: Priority,
    pub language: Option<&'a str>,
    pub tags: &'a [String],
    pub organization: Option<&'a str>,
    pub custom_fields: &'a Map<String, Value>,
    pub received_at: DateTime<Utc>,
    /// The holding queue and its vendor: known to SLA policies, not yet to
    /// routing (`None` there).
    pub queue_id: Option<&'a str>,
    pub vendor_id: Option<&'a str>,
}

/// Calendars and queue coverage the rules read, by id.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub calendars: HashMap<String, Calendar>,
    /// Every queue a rule names, with its coverage calendar (`None`: always staffed).
    pub queue_coverage: HashMap<String, Option<Calendar>>,
}

/// What the rules decided for a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Decision {
    /// Ids of the rules that matched, in order.
    pub matched_rules: Vec<String>,
    pub queue_id: Option<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub sla_policy_id: Option<String>,
    pub assignee_id: Option<String>,
}

/// Why one rule matched or not (`POST /routing/rules/test`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RuleTrace {
    pub rule_id: String,
    pub name: String,
    pub position: i32,
    pub enabled: bool,
    /// False for a disabled rule, and for rules after one that stopped.
    pub evaluated: bool,
    pub matched: bool,
    /// The condition that decided: the first `all` condition that failed,
    /// or the first `any` condition that held; none when the groups decided
    /// together (all held and `any` was empty, or no `any` condition held).
    pub deciding_condition: Option<DecidingCondition>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DecidingCondition {
    /// `all` or `any`.
    pub group: &'static str,
    pub index: usize,
    pub condition: ConditionInput,
    pub result: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey<'a> {
    field: &'a Field,
    case_sensitive: bool,
}

type AtomId = usize;

/// The matchers of one field, in one case mode.
#[derive(Debug, Default)]
struct FieldMatchers {
    keywords: Option<AhoCorasick>,
    keyword_atoms: Vec<Vec<AtomId>>,
    regexes: Option<RegexSet>,
    regex_atoms: Vec<Vec<AtomId>>,
    exact: HashMap<String, Vec<AtomId>>,
    prefixes: HashMap<String, Vec<AtomId>>,
    /// Distinct prefix lengths in bytes, to look prefixes up by slicing.
    prefix_lengths: BTreeSet<usize>,
}

#[derive(Debug)]
struct Group {
    field: Field,
    case_sensitive: bool,
    matchers: FieldMatchers,
}

/// Atoms computed one by one, only for rules that need them: comparisons
/// of numbers, priorities, calendars.
#[derive(Debug)]
struct DirectAtom {
    condition: Condition,
    /// For `calendar_open`: the calendar's index in `RuleSet::calendars`.
    calendar: Option<usize>,
}

/// Where an atom's answer comes from.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Marked by the per-field matchers.
    Grouped,
    /// `RuleSet::direct[i]`, computed on first need.
    Direct(usize),
}

#[derive(Debug)]
struct CompiledRule {
    rule: Rule,
    all: Vec<(AtomId, bool)>,
    any: Vec<(AtomId, bool)>,
}

/// A compiled rule set; cheap to evaluate, built once per version.
#[derive(Debug)]
pub struct RuleSet {
    pub version: i64,
    rules: Vec<CompiledRule>,
    groups: Vec<Group>,
    direct: Vec<DirectAtom>,
    slots: Vec<Slot>,
    /// Per atom, the rules that can match only if it holds (it is a
    /// positive matcher atom they require): a ticket is checked against
    /// those its text triggers, plus `always`, not against every rule.
    triggers: Vec<Vec<usize>>,
    /// Rules without such an atom, checked for every ticket (a bitset by
    /// rule index).
    always: Vec<u64>,
    /// Calendar ids the rules name, by index (see `DirectAtom::calendar`).
    calendars: Vec<Option<Calendar>>,
    directory: Directory,
}

fn fold(text: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        text.to_string()
    } else {
        text.to_lowercase()
    }
}

/// Positive atoms are answered by per-field matchers; the rest directly.
fn is_grouped(condition: &Condition) -> bool {
    !matches!(condition.op, Op::Gt | Op::Lt)
        && !matches!(condition.field, Field::CalendarOpen | Field::Priority)
}

#[derive(Default)]
struct GroupBuilder {
    keywords: Vec<String>,
    keyword_index: HashMap<String, usize>,
    keyword_atoms: Vec<Vec<AtomId>>,
    regexes: Vec<String>,
    regex_atoms: Vec<Vec<AtomId>>,
    exact: HashMap<String, Vec<AtomId>>,
    prefixes: HashMap<String, Vec<AtomId>>,
}

impl GroupBuilder {
    fn add(&mut self, atom: AtomId, condition: &Condition) {
        let case = condition.case_sensitive;
        match (&condition.op, &condition.value) {
            (Op::Contains, Operand::Text(text)) => {
                let pattern = fold(text, case);
                let index = *self
                    .keyword_index
                    .entry(pattern.clone())
                    .or_insert_with(|| {
                        self.keywords.push(pattern);
                        self.keyword_atoms.push(Vec::new());
                        self.keywords.len() - 1
                    });
                self.keyword_atoms[index].push(atom);
            }
            (Op::Matches, Operand::Text(pattern)) => {
                self.regexes.push(pattern.clone());
                self.regex_atoms.push(vec![atom]);
            }
            (Op::Equals, Operand::Text(text)) => {
                self.exact.entry(fold(text, case)).or_default().push(atom)
            }
            (Op::In, Operand::List(items)) => {
                for item in items {
                    let atoms = self.exact.entry(fold(item, case)).or_default();
                    if atoms.last() != Some(&atom) {
                        atoms.push(atom);
                    }
                }
            }
            (Op::StartsWith, Operand::Text(text)) => self
                .prefixes
                .entry(fold(text, case))
                .or_default()
                .push(atom),
            _ => unreachable!("validated conditions pair operators with operands"),
        }
    }

    fn build(self, case_sensitive: bool) -> FieldMatchers {
        let keywords = (!self.keywords.is_empty()).then(|| {
            AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(&self.keywords)
                .or_else(|_| AhoCorasick::new(&self.keywords))
                .expect("keyword automaton builds")
        });
        let regexes = (!self.regexes.is_empty()).then(|| {
            regex::RegexSetBuilder::new(&self.regexes)
                .case_insensitive(!case_sensitive)
                .size_limit(
                    super::rule::MAX_REGEX_BYTES
                        .saturating_mul(self.regexes.len())
                        .min(512 << 20),
                )
                .dfa_size_limit(64 << 20)
                .build()
                .expect("each regex compiled alone when validated")
        });
        FieldMatchers {
            keywords,
            keyword_atoms: self.keyword_atoms,
            regexes,
            regex_atoms: self.regex_atoms,
            prefix_lengths: self.prefixes.keys().map(String::len).collect(),
            exact: self.exact,
            prefixes: self.prefixes,
        }
    }
}

impl RuleSet {
    /// Compiles `rules` (any order; evaluated by position, then as given).
    pub fn compile(version: i64, mut rules: Vec<Rule>, directory: Directory) -> RuleSet {
        rules.sort_by_key(|r| r.position);
        let mut builders: Vec<(Field, bool, GroupBuilder)> = Vec::new();
        let mut direct = Vec::new();
        let mut slots = Vec::new();
        let mut calendar_ids: Vec<String> = Vec::new();
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            let mut atom_of = |condition: &Condition| {
                let atom = slots.len();
                if is_grouped(condition) {
                    let key = GroupKey {
                        field: &condition.field,
                        case_sensitive: condition.case_sensitive,
                    };
                    let builder = match builders.iter_mut().position(|(f, c, _)| {
                        GroupKey {
                            field: f,
                            case_sensitive: *c,
                        } == key
                    }) {
                        Some(index) => &mut builders[index].2,
                        None => {
                            builders.push((
                                condition.field.clone(),
                                condition.case_sensitive,
                                GroupBuilder::default(),
                            ));
                            &mut builders.last_mut().expect("just pushed").2
                        }
                    };
                    builder.add(atom, condition);
                    slots.push(Slot::Grouped);
                } else {
                    let calendar = match (&condition.field, &condition.value) {
                        (Field::CalendarOpen, Operand::Text(id)) => Some(
                            calendar_ids
                                .iter()
                                .position(|known| known == id)
                                .unwrap_or_else(|| {
                                    calendar_ids.push(id.clone());
                                    calendar_ids.len() - 1
                                }),
                        ),
                        _ => None,
                    };
                    slots.push(Slot::Direct(direct.len()));
                    direct.push(DirectAtom {
                        condition: condition.clone(),
                        calendar,
                    });
                }
                (atom, condition.negated)
            };
            let all = rule.all.iter().map(&mut atom_of).collect();
            let any = rule.any.iter().map(&mut atom_of).collect();
            compiled.push(CompiledRule { rule, all, any });
        }
        let (triggers, always) = index_triggers(&compiled, &slots);
        let groups = builders
            .into_iter()
            .map(|(field, case_sensitive, builder)| Group {
                matchers: builder.build(case_sensitive),
                field,
                case_sensitive,
            })
            .collect();
        RuleSet {
            version,
            rules: compiled,
            groups,
            direct,
            slots,
            triggers,
            always,
            calendars: calendar_ids
                .iter()
                .map(|id| directory.calendars.get(id).cloned())
                .collect(),
            directory,
        }
    }

    /// The calendars and queue coverage the rules were compiled with.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates the rules against a ticket: the decision, and with
    /// `explain`, why each rule matched or not.
    pub fn evaluate(&self, facts: &Facts<'_>, explain: bool) -> (Decision, Vec<RuleTrace>) {
        let hits = self.atom_hits(facts);
        let direct: Vec<std::cell::Cell<Option<bool>>> =
            vec![Default::default(); self.direct.len()];
        let open: Vec<std::cell::Cell<Option<bool>>> =
            vec![Default::default(); self.calendars.len()];
        let value = |atom: AtomId| match self.slots[atom] {
            Slot::Grouped => hits[atom],
            Slot::Direct(index) => direct[index].get().unwrap_or_else(|| {
                let answer = self.direct_hit(&self.direct[index], facts, &open);
                direct[index].set(Some(answer));
                answer
            }),
        };
        let holds = |(atom, negated): &(AtomId, bool)| value(*atom) != *negated;
        // With a trace every rule is shown; otherwise only the rules that
        // can match are looked at (in order, so `stop` keeps its meaning).
        let candidates: Vec<usize> = if explain {
            (0..self.rules.len()).collect()
        } else {
            // A bitset in rule order: no sorting, no duplicates.
            let mut marked = self.always.clone();
            for (atom, hit) in hits.iter().enumerate() {
                if *hit {
                    for &rule in &self.triggers[atom] {
                        marked[rule / 64] |= 1 << (rule % 64);
                    }
                }
            }
            marked
                .iter()
                .enumerate()
                .flat_map(|(word, bits)| {
                    (0..64)
                        .filter(move |bit| bits & (1 << bit) != 0)
                        .map(move |bit| word * 64 + bit)
                })
                .collect()
        };
        let mut decision = Decision {
            matched_rules: Vec::new(),
            queue_id: None,
            priority: facts.priority,
            tags: facts.tags.to_vec(),
            sla_policy_id: None,
            assignee_id: None,
        };
        let mut traces = Vec::new();
        let mut stopped = false;
        for compiled in candidates.iter().map(|&index| &self.rules[index]) {
            let rule = &compiled.rule;
            if stopped || !rule.enabled {
                if explain {
                    traces.push(trace_of(
                        rule,
                        false,
                        false,
                        None,
                        if stopped {
                            "an earlier rule stopped evaluation"
                        } else {
                            "disabled"
                        },
                    ));
                }
                continue;
            }
            let failed_all = compiled.all.iter().position(|a| !holds(a));
            let held_any = compiled.any.iter().position(holds);
            let matched = failed_all.is_none() && (compiled.any.is_empty() || held_any.is_some());
            if explain {
                let (deciding, reason) = match (failed_all, held_any) {
                    (Some(index), _) => (
                        Some(("all", index, false)),
                        "an `all` condition did not hold",
                    ),
                    (None, Some(index)) => (
                        Some(("any", index, true)),
                        "every `all` condition held, and this `any` condition",
                    ),
                    (None, None) if compiled.any.is_empty() => (None, "every `all` condition held"),
                    (None, None) => (None, "no `any` condition held"),
                };
                let deciding = deciding.map(|(group, index, result)| DecidingCondition {
                    group,
                    index,
                    condition: if group == "all" { &rule.all } else { &rule.any }[index]
                        .written
                        .clone(),
                    result,
                });
                traces.push(trace_of(rule, true, matched, deciding, reason));
            }
            if !matched {
                continue;
            }
            decision.matched_rules.push(rule.id.clone());
            for action in &rule.actions {
                self.apply(action, facts, &mut decision);
            }
            stopped = rule.stop;
        }
        (decision, traces)
    }

    fn apply(&self, action: &Action, facts: &Facts<'_>, decision: &mut Decision) {
        match action {
            Action::SetQueue { queue_id } => decision.queue_id = Some(queue_id.clone()),
            Action::SetPriority { priority } => decision.priority = *priority,
            Action::AddTags { tags } => {
                for tag in tags {
                    if !decision.tags.contains(tag) {
                        decision.tags.push(tag.clone());
                    }
                }
            }
            Action::RemoveTags { tags } => decision.tags.retain(|t| !tags.contains(t)),
            Action::SetSlaPolicy { policy_id } => decision.sla_policy_id = Some(policy_id.clone()),
            Action::Assign { agent_id } => decision.assignee_id = Some(agent_id.clone()),
            Action::FollowTheSun { queue_ids } => {
                decision.queue_id = self
                    .on_shift(queue_ids, facts.received_at)
                    .or(decision.queue_id.take());
            }
        }
    }

    /// The first queue staffed at `at`; when none is, the one whose
    /// coverage opens soonest (first in the list on a tie).
    fn on_shift(&self, queue_ids: &[String], at: DateTime<Utc>) -> Option<String> {
        let coverage = |id: &String| self.directory.queue_coverage.get(id);
        if let Some(open) = queue_ids.iter().find(|id| {
            coverage(id).is_some_and(|c| c.as_ref().is_none_or(|calendar| calendar.is_open(at)))
        }) {
            return Some(open.clone());
        }
        queue_ids
            .iter()
            .filter_map(|id| {
                let opens = coverage(id)?.as_ref()?.next_change(at)?;
                Some((opens, id))
            })
            .min_by_key(|(opens, _)| *opens)
            .map(|(_, id)| id.clone())
    }

    fn atom_hits(&self, facts: &Facts<'_>) -> Vec<bool> {
        let mut hits = vec![false; self.slots.len()];
        let from_domain = facts.from.rsplit_once('@').map(|(_, d)| d);
        for group in &self.groups {
            let values = field_values(&group.field, facts, from_domain);
            for value in values {
                let folded;
                let text: &str = if group.case_sensitive {
                    &value
                } else {
                    folded = value.to_lowercase();
                    &folded
                };
                group.matchers.mark(text, &value, &mut hits);
            }
        }
        hits
    }

    /// A direct atom's positive answer; each calendar is asked once per
    /// ticket (`open`), however many rules read it.
    fn direct_hit(
        &self,
        atom: &DirectAtom,
        facts: &Facts<'_>,
        open: &[std::cell::Cell<Option<bool>>],
    ) -> bool {
        let condition = &atom.condition;
        if let Some(index) = atom.calendar {
            return open[index].get().unwrap_or_else(|| {
                let answer = self.calendars[index]
                    .as_ref()
                    .is_some_and(|calendar| calendar.is_open(facts.received_at));
                open[index].set(Some(answer));
                answer
            });
        }
        match (&condition.field, condition.op, &condition.value) {
            (Field::Priority, Op::Equals, Operand::Priority(p)) => facts.priority == *p,
            (Field::Priority, Op::Gt, Operand::Priority(p)) => rank(facts.priority) > rank(*p),
            (Field::Priority, Op::Lt, Operand::Priority(p)) => rank(facts.priority) < rank(*p),
            (Field::Priority, _, _) => {
                // Text operators on the priority's name.
                let name = facts.priority.as_str();
                match (&condition.op, &condition.value) {
                    (Op::In, Operand::List(items)) => {
                        items.iter().any(|i| i.eq_ignore_ascii_case(name))
                    }
                    (Op::Contains, Operand::Text(t)) => name.contains(&t.to_lowercase()),
                    (Op::StartsWith, Operand::Text(t)) => name.starts_with(&t.to_lowercase()),
                    (Op::Matches, Operand::Text(t)) => {
                        super::rule::build_regex(t, condition.case_sensitive)
                            .is_ok_and(|r| r.is_match(name))
                    }
                    _ => false,
                }
            }
            (Field::CustomField(name), Op::Gt | Op::Lt, Operand::Number(limit)) => {
                let value = facts.custom_fields.get(name).and_then(|v| match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                });
                match (value, condition.op) {
                    (Some(v), Op::Gt) => v > *limit,
                    (Some(v), Op::Lt) => v < *limit,
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// Per atom, the rules it triggers, and the rules no atom triggers.
fn index_triggers(rules: &[CompiledRule], slots: &[Slot]) -> (Vec<Vec<usize>>, Vec<u64>) {
    let mut triggers = vec![Vec::new(); slots.len()];
    let mut always = vec![0u64; rules.len().div_ceil(64)];
    let positive_grouped =
        |(atom, negated): &(AtomId, bool)| !negated && matches!(slots[*atom], Slot::Grouped);
    for (index, rule) in rules.iter().enumerate() {
        if let Some((atom, _)) = rule.all.iter().find(|a| positive_grouped(a)) {
            // Required: the rule cannot match without it.
            triggers[*atom].push(index);
        } else if rule.all.is_empty()
            && !rule.any.is_empty()
            && rule.any.iter().all(positive_grouped)
        {
            // One of them is required.
            for (atom, _) in &rule.any {
                triggers[*atom].push(index);
            }
        } else {
            always[index / 64] |= 1 << (index % 64);
        }
    }
    (triggers, always)
}

fn trace_of(
    rule: &Rule,
    evaluated: bool,
    matched: bool,
    deciding: Option<DecidingCondition>,
    reason: &str,
) -> RuleTrace {
    RuleTrace {
        rule_id: rule.id.clone(),
        name: rule.name.clone(),
        position: rule.position,
        enabled: rule.enabled,
        evaluated,
        matched,
        deciding_condition: deciding,
        reason: reason.to_string(),
    }
}

/// Urgency order: low < normal < high < urgent.
pub fn rank(priority: Priority) -> u8 {
    match priority {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

/// The texts a field holds for a ticket (none when it is absent).
fn field_values<'a>(
    field: &Field,
    facts: &Facts<'a>,
    from_domain: Option<&'a str>,
) -> Vec<std::borrow::Cow<'a, str>> {
    use std::borrow::Cow::{Borrowed, Owned};
    match field {
        Field::Subject => vec![Borrowed(facts.subject)],
        Field::Body => vec![Borrowed(facts.body)],
        Field::From => vec![Borrowed(facts.from)],
        Field::FromDomain => from_domain.map(Borrowed).into_iter().collect(),
        Field::Recipient => facts
            .recipients
            .iter()
            .map(|r| Borrowed(r.as_str()))
            .collect(),
        Field::IntakeHint => facts.intake_hint.map(Borrowed).into_iter().collect(),
        Field::Channel => vec![Borrowed(facts.channel.as_str())],
        Field::Language => facts.language.map(Borrowed).into_iter().collect(),
        Field::Tags => facts.tags.iter().map(|t| Borrowed(t.as_str())).collect(),
        Field::Organization => facts.organization.map(Borrowed).into_iter().collect(),
        Field::Queue => facts.queue_id.map(Borrowed).into_iter().collect(),
        Field::Vendor => facts.vendor_id.map(Borrowed).into_iter().collect(),
        Field::CustomField(name) => match facts.custom_fields.get(name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => vec![Borrowed(text.as_str())],
            Some(Value::Array(items)) => items.iter().map(|i| Owned(text_of(i))).collect(),
            Some(other) => vec![Owned(text_of(other))],
        },
        Field::Priority | Field::CalendarOpen => Vec::new(),
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl FieldMatchers {
    /// Marks the atoms `text` (folded to the group's case) satisfies;
    /// regexes run on `original`, as they fold case themselves.
    fn mark(&self, text: &str, original: &str, hits: &mut [bool]) {
        if let Some(keywords) = &self.keywords {
            for found in keywords.find_overlapping_iter(text) {
                for &atom in &self.keyword_atoms[found.pattern().as_usize()] {
                    hits[atom] = true;
                }
            }
        }
        if let Some(regexes) = &self.regexes {
            for index in regexes.matches(original).iter() {
                for &atom in &self.regex_atoms[index] {
                    hits[atom] = true;
                }
            }
        }
        if let Some(atoms) = self.exact.get(text) {
            for &atom in atoms {
                hits[atom] = true;
            }
        }
        for &length in &self.prefix_lengths {
            let Some(prefix) = text.get(..length) else {
                continue;
            };
            if let Some(atoms) = self.prefixes.get(prefix) {
                for &atom in atoms {
                    hits[atom] = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rule::{validate, References, RuleInput};
    use super::*;
    use crate::domain::calendar::{Definition, WeeklyInterval};
    use crate::domain::validate::Errors;
    use serde_json::json;

    fn rule(id: &str, body: serde_json::Value) -> Rule {
        let input: RuleInput = serde_json::from_value(body).unwrap();
        let (mut errors, mut refs) = (Errors::default(), References::default());
        let rule = validate(id.into(), &input, None, &mut errors, &mut refs);
        assert!(errors.is_empty(), "{:?}", errors.0);
        rule.unwrap()
    }

    fn cond(field: &str, op: &str, value: serde_json::Value) -> serde_json::Value {
        json!({"field": field, "op": op, "value": value})
    }

    fn queue_rule(id: &str, position: i32, conditions: serde_json::Value) -> Rule {
        rule(
            id,
            json!({"name": id, "position": position, "conditions": conditions, "actions": [{"type": "set_queue", "queue_id": id}]}),
        )
    }

    struct Ticket {
        subject: String,
        body: String,
        from: String,
        recipients: Vec<String>,
        tags: Vec<String>,
        fields: Map<String, Value>,
        priority: Priority,
        language: Option<String>,
        at: DateTime<Utc>,
    }

    fn ticket(subject: &str, body: &str) -> Ticket {
        Ticket {
            subject: subject.into(),
            body: body.into(),
            from: "Ana@Example.COM".into(),
            recipients: vec!["billing@support.example".into()],
            tags: vec!["vip".into()],
            fields: json!({"order_total": 250, "plan": "Gold"})
                .as_object()
                .unwrap()
                .clone(),
            priority: Priority::Normal,
            language: Some("es".into()),
            at: "2026-12-07T01:00:00Z".parse().unwrap(),
        }
    }

    impl Ticket {
        fn facts(&self) -> Facts<'_> {
            Facts {
                subject: &self.subject,
                body: &self.body,
                from: &self.from,
                recipients: &self.recipients,
                intake_hint: Some("billing"),
                channel: Channel::Email,
                priority: self.priority,
                language: self.language.as_deref(),
                tags: &self.tags,
                organization: None,
                custom_fields: &self.fields,
                received_at: self.at,
                queue_id: None,
                vendor_id: None,
            }
        }
    }

    fn decide(rules: Vec<Rule>, ticket: &Ticket) -> Decision {
        RuleSet::compile(1, rules, Directory::default())
            .evaluate(&ticket.facts(), false)
            .0
    }

    #[test]
    fn each_operator_on_each_kind_of_field() {
        let t = ticket(
            "Refund for order INV-2026-0042",
            "Hola, quiero un REEMBOLSO.",
        );
        let cases = [
            (cond("subject", "contains", json!("refund")), true),
            (cond("subject", "not_contains", json!("refund")), false),
            (cond("body", "contains", json!("reembolso")), true),
            (
                json!({"field": "body", "op": "contains", "value": "reembolso", "case_sensitive": true}),
                false,
            ),
            (cond("from", "equals", json!("ana@example.com")), true),
            (cond("from_domain", "equals", json!("example.com")), true),
            (
                cond("from_domain", "not_equals", json!("example.com")),
                false,
            ),
            (cond("recipient", "starts_with", json!("billing@")), true),
            (cond("intake_hint", "in", json!(["sales", "billing"])), true),
            (cond("channel", "equals", json!("email")), true),
            (cond("language", "equals", json!("es")), true),
            (cond("organization", "equals", json!("acme")), false),
            (cond("organization", "not_equals", json!("acme")), true),
            (cond("tags", "in", json!(["vip", "gold"])), true),
            (cond("tags", "not_equals", json!("vip")), false),
            (cond("subject", "matches", json!(r"INV-\d{4}-\d{4}")), true),
            (cond("subject", "matches", json!(r"^inv")), false),
            (cond("priority", "gt", json!("low")), true),
            (cond("priority", "lt", json!("normal")), false),
            (cond("priority", "equals", json!("normal")), true),
            (cond("custom_fields.order_total", "gt", json!(100)), true),
            (cond("custom_fields.order_total", "lt", json!(100)), false),
            (cond("custom_fields.plan", "equals", json!("gold")), true),
            (
                cond("custom_fields.missing", "not_equals", json!("x")),
                true,
            ),
        ];
        for (index, (condition, expected)) in cases.iter().enumerate() {
            let rules = vec![queue_rule("q", 0, json!({"all": [condition]}))];
            let matched = decide(rules, &t).queue_id.is_some();
            assert_eq!(matched, *expected, "case {index}: {condition}");
        }
    }

    #[test]
    fn any_needs_one_all_needs_every_and_none_always_matches() {
        let t = ticket("Refund", "body");
        let any = queue_rule(
            "any",
            0,
            json!({"any": [cond("subject", "contains", json!("nope")), cond("subject", "contains", json!("fund"))]}),
        );
        assert_eq!(decide(vec![any], &t).queue_id.as_deref(), Some("any"));
        let both = queue_rule(
            "both",
            0,
            json!({"all": [cond("subject", "contains", json!("refund"))], "any": [cond("body", "contains", json!("x"))]}),
        );
        assert_eq!(decide(vec![both], &t).queue_id, None);
        let none = queue_rule("none", 0, json!({}));
        assert_eq!(decide(vec![none], &t).queue_id.as_deref(), Some("none"));
    }

    #[test]
    fn later_rules_win_until_one_stops() {
        let t = ticket("Refund", "body");
        let mut first = queue_rule("first", 1, json!({}));
        let second = queue_rule("second", 2, json!({}));
        assert_eq!(
            decide(vec![second.clone(), first.clone()], &t)
                .queue_id
                .as_deref(),
            Some("second")
        );
        first.stop = true;
        let decision = decide(vec![second, first], &t);
        assert_eq!(decision.queue_id.as_deref(), Some("first"));
        assert_eq!(decision.matched_rules, ["first"]);
    }

    #[test]
    fn actions_set_priority_tags_policy_and_assignee() {
        let t = ticket("Refund", "body");
        let r = rule(
            "r",
            json!({"name": "r", "actions": [
                {"type": "set_priority", "priority": "urgent"},
                {"type": "add_tags", "tags": ["Refund", "vip"]},
                {"type": "remove_tags", "tags": ["vip"]},
                {"type": "set_sla_policy", "policy_id": "gold"},
                {"type": "assign", "agent_id": "a1"}
            ]}),
        );
        let decision = decide(vec![r], &t);
        assert_eq!(decision.priority, Priority::Urgent);
        assert_eq!(decision.tags, ["refund"]);
        assert_eq!(decision.sla_policy_id.as_deref(), Some("gold"));
        assert_eq!(decision.assignee_id.as_deref(), Some("a1"));
    }

    fn weekday_calendar(zone: &str) -> Calendar {
        let definition = Definition {
            name: "c".into(),
            timezone: zone.into(),
            weekly: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| WeeklyInterval {
                    day: d.to_string(),
                    start: "09:00".into(),
                    end: "17:00".into(),
                })
                .collect(),
            holidays: vec![],
        };
        definition.validate(&mut Errors::default()).unwrap()
    }

    #[test]
    fn follow_the_sun_picks_the_first_staffed_queue_or_the_next_to_open() {
        let mut directory = Directory::default();
        directory
            .queue_coverage
            .insert("manila".into(), Some(weekday_calendar("Asia/Manila")));
        directory
            .queue_coverage
            .insert("berlin".into(), Some(weekday_calendar("Europe/Berlin")));
        directory
            .queue_coverage
            .insert("austin".into(), Some(weekday_calendar("America/Chicago")));
        directory
            .calendars
            .insert("berlin-hours".into(), weekday_calendar("Europe/Berlin"));
        let sun = rule(
            "sun",
            json!({"name": "sun", "actions": [{"type": "follow_the_sun", "queue_ids": ["manila", "berlin", "austin"]}]}),
        );
        let set = RuleSet::compile(1, vec![sun], directory);
        let mut t = ticket("x", "y");
        // Monday 2026-12-07: 01:00 UTC is 09:00 in Manila.
        t.at = "2026-12-07T01:00:00Z".parse().unwrap();
        assert_eq!(
            set.evaluate(&t.facts(), false).0.queue_id.as_deref(),
            Some("manila")
        );
        // 10:00 UTC is 11:00 in Berlin.
        t.at = "2026-12-07T10:00:00Z".parse().unwrap();
        assert_eq!(
            set.evaluate(&t.facts(), false).0.queue_id.as_deref(),
            Some("berlin")
        );
        // 20:00 UTC is 14:00 in Chicago.
        t.at = "2026-12-07T20:00:00Z".parse().unwrap();
        assert_eq!(
            set.evaluate(&t.facts(), false).0.queue_id.as_deref(),
            Some("austin")
        );
        // Saturday: no one; Manila opens first on Monday.
        t.at = "2026-12-12T12:00:00Z".parse().unwrap();
        assert_eq!(
            set.evaluate(&t.facts(), false).0.queue_id.as_deref(),
            Some("manila")
        );
        let open = rule(
            "open",
            json!({"name": "open", "conditions": {"all": [cond("calendar_open", "equals", json!("berlin-hours"))]}, "actions": [{"type": "set_queue", "queue_id": "berlin"}]}),
        );
        let mut directory = Directory::default();
        directory
            .calendars
            .insert("berlin-hours".into(), weekday_calendar("Europe/Berlin"));
        let set = RuleSet::compile(1, vec![open], directory);
        t.at = "2026-12-07T10:00:00Z".parse().unwrap();
        assert!(set.evaluate(&t.facts(), false).0.queue_id.is_some());
        t.at = "2026-12-07T20:00:00Z".parse().unwrap();
        assert!(set.evaluate(&t.facts(), false).0.queue_id.is_none());
    }

    #[test]
    fn the_trace_names_the_deciding_condition_of_every_rule() {
        let t = ticket("Refund", "body");
        let failing = queue_rule(
            "failing",
            1,
            json!({"all": [cond("subject", "contains", json!("refund")), cond("body", "contains", json!("missing"))]}),
        );
        let mut disabled = queue_rule("disabled", 2, json!({}));
        disabled.enabled = false;
        let mut stopper = queue_rule(
            "stopper",
            3,
            json!({"any": [cond("subject", "equals", json!("nope")), cond("subject", "equals", json!("refund"))]}),
        );
        stopper.stop = true;
        let after = queue_rule("after", 4, json!({}));
        let set = RuleSet::compile(
            1,
            vec![failing, disabled, stopper, after],
            Directory::default(),
        );
        let (decision, traces) = set.evaluate(&t.facts(), true);
        assert_eq!(decision.queue_id.as_deref(), Some("stopper"));
        let summary: Vec<(&str, bool, bool)> = traces
            .iter()
            .map(|t| (t.rule_id.as_str(), t.evaluated, t.matched))
            .collect();
        assert_eq!(
            summary,
            [
                ("failing", true, false),
                ("disabled", false, false),
                ("stopper", true, true),
                ("after", false, false)
            ]
        );
        let deciding = traces[0].deciding_condition.as_ref().unwrap();
        assert_eq!(
            (deciding.group, deciding.index, deciding.result),
            ("all", 1, false)
        );
        let deciding = traces[2].deciding_condition.as_ref().unwrap();
        assert_eq!(
            (deciding.group, deciding.index, deciding.result),
            ("any", 1, true)
        );
    }

    /// The compiled matchers agree with evaluating each condition alone.
    mod reference {
        use super::*;
        use proptest::prelude::*;

        fn naive(condition: &Condition, facts: &Facts<'_>) -> bool {
            let domain = facts.from.rsplit_once('@').map(|(_, d)| d);
            let values = field_values(&condition.field, facts, domain);
            let fold = |s: &str| {
                if condition.case_sensitive {
                    s.to_string()
                } else {
                    s.to_lowercase()
                }
            };
            let positive = values
                .iter()
                .any(|v| match (&condition.op, &condition.value) {
                    (Op::Contains, Operand::Text(t)) => fold(v).contains(&fold(t)),
                    (Op::Equals, Operand::Text(t)) => fold(v) == fold(t),
                    (Op::StartsWith, Operand::Text(t)) => fold(v).starts_with(&fold(t)),
                    (Op::In, Operand::List(items)) => items.iter().any(|i| fold(i) == fold(v)),
                    (Op::Matches, Operand::Text(p)) => {
                        super::super::super::rule::build_regex(p, condition.case_sensitive)
                            .unwrap()
                            .is_match(v)
                    }
                    _ => unreachable!(),
                });
            positive != condition.negated
        }

        fn words() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                "refund", "Refund", "INV-1", "straße", "STRASSE", "order", "ab", "b", "",
            ])
            .prop_map(String::from)
        }

        proptest! {
            #[test]
            fn compiled_rules_match_like_conditions_one_by_one(
                specs in prop::collection::vec((0usize..4, 0usize..7, words(), any::<bool>()), 1..30),
                subject in prop::collection::vec(words(), 0..6),
                tags in prop::collection::vec(words(), 0..3),
            ) {
                let fields = ["subject", "body", "tags", "recipient"];
                let ops = ["contains", "not_contains", "equals", "not_equals", "starts_with", "in", "matches"];
                let rules: Vec<Rule> = specs.iter().enumerate().map(|(i, (f, o, w, case))| {
                    let value = match ops[*o] { "in" => json!([w, "order"]), "matches" => json!(regex::escape(w)), _ => json!(w) };
                    rule(&format!("r{i}"), json!({"name": "r", "position": i, "conditions": {"all": [{"field": fields[*f], "op": ops[*o], "value": value, "case_sensitive": case}]}, "actions": [{"type": "add_tags", "tags": [format!("hit-{i}")]}]}))
                }).collect();
                let mut t = ticket(&subject.join(" "), &subject.concat());
                t.tags = tags.into_iter().filter(|t| !t.is_empty()).collect();
                t.recipients = subject.clone();
                let facts = t.facts();
                let expected: Vec<String> = rules.iter().filter(|r| naive(&r.all[0], &facts)).map(|r| r.id.clone()).collect();
                let set = RuleSet::compile(1, rules, Directory::default());
                prop_assert_eq!(set.evaluate(&facts, false).0.matched_rules, expected);
            }
        }
    }
}
