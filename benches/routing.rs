//! Rule evaluation: one ~2 KB ticket against realistic rule sets of 100,
//! 1,000 and 10,000 rules (keyword lists, regexes, sender domains, calendar
//! windows, custom fields).
//!
//!   cargo bench --bench routing
//!
//! Besides criterion's estimates it prints p50/p99 of single evaluations
//! timed one by one, and the 10,000/1,000 ratio measured in the same run.
//! Targets (issue 11): p99 <= 30 µs at 1,000 rules; 10,000 rules at most 5x.

use criterion::{black_box, Criterion};
use relay::domain::calendar::{Definition, WeeklyInterval};
use relay::domain::validate::Errors;
use relay::domain::{Channel, Priority};
use relay::routing::engine::{Directory, Facts, RuleSet};
use relay::routing::rule::{validate, References, Rule, RuleInput};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

const WORDS: &[&str] = &[
    "refund",
    "invoice",
    "password",
    "delivery",
    "parcel",
    "broken",
    "warranty",
    "login",
    "subscription",
    "cancel",
    "upgrade",
    "billing",
    "crash",
    "payment",
    "address",
    "shipping",
];

fn rule(index: usize, body: Value) -> Rule {
    let input: RuleInput = serde_json::from_value(body).expect("rule JSON");
    let (mut errors, mut refs) = (Errors::default(), References::default());
    let rule = validate(format!("r{index}"), &input, None, &mut errors, &mut refs);
    assert!(errors.is_empty(), "{:?}", errors.0);
    rule.expect("valid rule")
}

/// Rule `i` of a mixed, realistic set: mostly keyword and domain rules, a
/// few regexes, calendar windows and custom-field thresholds.
fn realistic(i: usize) -> Rule {
    let word = WORDS[i % WORDS.len()];
    let queue = json!([{"type": "set_queue", "queue_id": format!("q{}", i % 40)}]);
    let body = match i % 20 {
        0..=6 => json!({"name": "kw", "position": i, "conditions": {"any": [
            {"field": "subject", "op": "contains", "value": format!("{word} {i}")},
            {"field": "body", "op": "contains", "value": format!("{word}-{i}")}
        ]}, "actions": queue}),
        7..=9 => json!({"name": "list", "position": i, "conditions": {"all": [
            {"field": "tags", "op": "in", "value": [format!("tag{i}"), format!("vip{i}")]},
            {"field": "body", "op": "not_contains", "value": format!("spam{i}")}
        ]}, "actions": queue}),
        10..=13 => json!({"name": "domain", "position": i, "conditions": {"all": [
            {"field": "from_domain", "op": "in", "value": [format!("customer{i}.example"), format!("c{i}.example.org")]}
        ]}, "actions": queue}),
        14 => json!({"name": "regex", "position": i, "conditions": {"all": [
            {"field": "subject", "op": "matches", "value": format!(r"\b(INV|ORD)-{i}-\d{{4}}\b")}
        ]}, "actions": queue}),
        // "While Berlin is open, urgent-ish refunds of brand N go to ...":
        // a time window narrows a rule, it rarely is one alone.
        15..=16 => json!({"name": "calendar", "position": i, "conditions": {"all": [
            {"field": "calendar_open", "op": "equals", "value": format!("cal{}", i % 5)},
            {"field": "priority", "op": "gt", "value": "low"},
            {"field": "body", "op": "contains", "value": format!("brand{}", i % 300)}
        ]}, "actions": [{"type": "add_tags", "tags": [format!("hours{}", i % 5)]}]}),
        17..=18 => json!({"name": "custom", "position": i, "conditions": {"all": [
            {"field": "custom_fields.order_total", "op": "gt", "value": (i * 7) % 1000},
            {"field": "custom_fields.plan", "op": "equals", "value": format!("plan{}", i % 9)}
        ]}, "actions": [{"type": "set_priority", "priority": "high"}]}),
        _ => json!({"name": "prefix", "position": i, "conditions": {"all": [
            {"field": "recipient", "op": "starts_with", "value": format!("{word}{i}@")}
        ]}, "actions": queue}),
    };
    rule(i, body)
}

fn directory() -> Directory {
    let mut directory = Directory::default();
    for (n, zone) in [
        "Asia/Manila",
        "Europe/Berlin",
        "America/New_York",
        "UTC",
        "Australia/Sydney",
    ]
    .iter()
    .enumerate()
    {
        let weekly = ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| WeeklyInterval {
                day: d.to_string(),
                start: "08:00".into(),
                end: "18:00".into(),
            })
            .collect();
        let definition = Definition {
            name: zone.to_string(),
            timezone: zone.to_string(),
            weekly,
            holidays: vec![],
        };
        let calendar = definition
            .validate(&mut Errors::default())
            .expect("calendar");
        directory.calendars.insert(format!("cal{n}"), calendar);
    }
    directory
}

struct Ticket {
    subject: String,
    body: String,
    recipients: Vec<String>,
    tags: Vec<String>,
    fields: Map<String, Value>,
}

fn ticket() -> Ticket {
    let mut body = String::new();
    let mut n = 0;
    while body.len() < 2048 {
        body.push_str(WORDS[n % WORDS.len()]);
        body.push_str(if n % 11 == 0 { ". " } else { " " });
        body.push_str(["the", "my", "order", "was", "not", "and", "please", "help"][n % 8]);
        body.push(' ');
        n += 1;
    }
    body.push_str("Order ORD-777-2026 refund-42 from brand17, thanks");
    Ticket {
        subject: "Refund 42 for order ORD-777-2026 not received".into(),
        body,
        recipients: vec![
            "billing@support.example".into(),
            "refund42@support.example".into(),
        ],
        tags: vec!["tag7".into(), "emea".into()],
        fields: json!({"order_total": 420, "plan": "plan3"})
            .as_object()
            .unwrap()
            .clone(),
    }
}

fn facts(t: &Ticket) -> Facts<'_> {
    Facts {
        subject: &t.subject,
        body: &t.body,
        from: "ana@customer12.example",
        recipients: &t.recipients,
        intake_hint: Some("billing"),
        channel: Channel::Email,
        priority: Priority::Normal,
        language: Some("en"),
        tags: &t.tags,
        organization: Some("Customer 12"),
        custom_fields: &t.fields,
        received_at: "2026-12-07T10:00:00Z".parse().unwrap(),
        queue_id: None,
        vendor_id: None,
    }
}

fn percentiles(set: &RuleSet, t: &Ticket, runs: usize) -> (Duration, Duration) {
    let f = facts(t);
    for _ in 0..runs / 10 {
        black_box(set.evaluate(&f, false));
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            black_box(set.evaluate(black_box(&f), false));
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[runs / 2], times[runs * 99 / 100])
}

fn main() {
    let t = ticket();
    let sizes = [100, 1_000, 10_000];
    let sets: Vec<(usize, RuleSet)> = sizes
        .iter()
        .map(|&n| {
            let started = Instant::now();
            let set = RuleSet::compile(1, (0..n).map(realistic).collect(), directory());
            println!(
                "routing/{n} rules: compiled in {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            );
            (n, set)
        })
        .collect();
    for (n, set) in &sets {
        let matched = set.evaluate(&facts(&t), false).0.matched_rules.len();
        println!("routing/{n} rules: the ticket matches {matched} rules");
    }
    let mut p99s = Vec::new();
    for (n, set) in &sets {
        let (p50, p99) = percentiles(set, &t, 20_000);
        println!(
            "routing/{n} rules: p50 {:.1} µs, p99 {:.1} µs (20,000 single evaluations)",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
        p99s.push(p99);
    }
    let (p50_1k, _) = percentiles(&sets[1].1, &t, 20_000);
    let (p50_10k, _) = percentiles(&sets[2].1, &t, 20_000);
    println!(
        "routing: 10,000 rules cost {:.2}x 1,000 rules at p50 (target <= 5x); 1,000-rule p99 {:.1} µs (target <= 30 µs)",
        p50_10k.as_secs_f64() / p50_1k.as_secs_f64(),
        p99s[1].as_secs_f64() * 1e6
    );

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (n, set) in &sets {
        let f = facts(&t);
        criterion.bench_function(&format!("evaluate/{n}_rules"), |b| {
            b.iter(|| set.evaluate(black_box(&f), false))
        });
    }
    criterion.final_summary();
}
