//! SLA policies and clocks through the API, on the app's pinned clock.

use crate::common::*;
use serde_json::{json, Value};

/// Mon–Fri 09:00–17:00 in New York.
fn new_york_office() -> Value {
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|day| json!({"day": day, "start": "09:00", "end": "17:00"}))
        .collect();
    json!({
        "name": "New York office",
        "timezone": "America/New_York",
        "weekly": weekly,
        "holidays": []
    })
}

impl TestApp {
    pub async fn create_policy(&self, body: Value) -> Value {
        let resp = self
            .post("/api/v1/sla/policies", &self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }

    /// `POST /api/v1/sla/recompute` as admin: its answer.
    pub async fn recompute_sla(&self) -> Value {
        let resp = self
            .post("/api/v1/sla/recompute", &self.admin)
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await
    }

    pub async fn sla_of(&self, ticket: impl std::fmt::Display) -> Value {
        self.read(&format!("/api/v1/tickets/{ticket}/sla")).await
    }

    pub async fn reply(&self, ticket: impl std::fmt::Display, public: bool) {
        let resp = self
            .post(&format!("/api/v1/tickets/{ticket}/messages"), &self.admin)
            .json(&json!({"body": "On it.", "public": public}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await;
    }
}

fn clock<'a>(sla: &'a Value, metric: &str, cycle: i64) -> &'a Value {
    sla["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == metric && c["cycle"] == cycle)
        .unwrap_or_else(|| panic!("no {metric} clock {cycle} in {sla}"))
}

#[actix_web::test]
async fn a_ticket_created_on_friday_evening_is_due_on_monday_morning() {
    let app = TestApp::spawn().await;
    // Friday 4 December 2026, 16:30 in New York.
    app.clock.pin("2026-12-04T21:30:00Z".parse().unwrap());
    let calendar = app.create_calendar(new_york_office()).await;
    let policy = app
        .create_policy(json!({
            "name": "Business hours",
            "position": 1,
            "calendar_id": calendar["id"],
            "targets": {"normal": {"first_response": 60, "resolution": 480}}
        }))
        .await;
    assert_eq!(policy["version"], 1);
    assert_eq!(policy["pause_statuses"], json!(["pending", "on_hold"]));
    assert_eq!(policy["warning_percent"], 80);

    let ticket = app
        .create_ticket(ticket_body("Printer on fire", "ann@example.com"))
        .await;
    // Half an hour on Friday, half an hour on Monday: 09:30 New York.
    assert_eq!(ticket["sla"]["due_at"], "2026-12-07T14:30:00Z");
    assert_eq!(ticket["sla"]["state"], "running");
    let id = ticket["id"].as_str().unwrap();

    let sla = app.sla_of(id).await;
    assert_eq!(sla["policy"]["id"], policy["id"]);
    assert_eq!(sla["policy"]["name"], "Business hours");
    assert_eq!(sla["policy"]["version"], 1);
    assert_eq!(sla["calendar"]["timezone"], "America/New_York");
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["target_seconds"], 3600);
    assert_eq!(first["started_at"], "2026-12-04T21:30:00Z");
    assert_eq!(first["due_at"], "2026-12-07T14:30:00Z");
    assert_eq!(first["state"], "running");
    assert_eq!(first["business_seconds_used"], 0);
    // Resolution: 8 business hours, half an hour on Friday and seven and
    // a half on Monday, so 16:30 Monday.
    assert_eq!(
        clock(&sla, "resolution", 1)["due_at"],
        "2026-12-07T21:30:00Z"
    );

    // Monday 09:10: the used time counts Friday's half hour and ten minutes.
    app.clock.pin("2026-12-07T14:10:00Z".parse().unwrap());
    let sla = app.sla_of(id).await;
    assert_eq!(
        clock(&sla, "first_response", 1)["business_seconds_used"],
        2400
    );

    // An internal note does not answer the customer; a public reply does.
    app.reply(id, false).await;
    assert_eq!(
        clock(&app.sla_of(id).await, "first_response", 1)["state"],
        "running"
    );
    app.reply(id, true).await;
    let sla = app.sla_of(id).await;
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["state"], "met");
    assert_eq!(first["stopped_at"], "2026-12-07T14:10:00Z");
    assert_eq!(first["business_seconds_used"], 2400);
    assert!(!first["events"].as_array().unwrap().is_empty());
    // The list shows what still runs: resolution.
    let listed = app.read("/api/v1/tickets").await;
    assert_eq!(listed["items"][0]["sla"]["due_at"], "2026-12-07T21:30:00Z");
}

#[actix_web::test]
async fn a_ticket_no_policy_matches_has_no_clocks() {
    let app = TestApp::spawn().await;
    app.create_policy(json!({
        "name": "VIP only",
        "conditions": {"all": [{"field": "tags", "op": "equals", "value": "vip"}]},
        "targets": {"normal": {"first_response": 30}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Hello", "bob@example.com"))
        .await;
    assert_eq!(ticket["sla"], Value::Null);
    let sla = app.sla_of(ticket["id"].as_str().unwrap()).await;
    assert_eq!(sla, json!({"policy": null, "calendar": null, "clocks": []}));
}

#[actix_web::test]
async fn bad_policies_are_refused_with_every_field_named_and_nothing_stored() {
    let app = TestApp::spawn().await;
    let resp = app
        .post("/api/v1/sla/policies", &app.admin)
        .json(&json!({
            "name": "",
            "calendar_id": "no-such-calendar",
            "conditions": {"all": [{"field": "vendor", "op": "equals", "value": "nobody"}]},
            "targets": {"normal": {"first_response": 0}, "someday": {}},
            "pause_statuses": ["closed"],
            "warning_percent": 0,
            "escalations": [{"on": "breach", "actions": [{"type": "move_to_queue", "queue_id": "nowhere"}]}]
        }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(resp, 422).await;
    let fields = problem_fields(&problem);
    for expected in [
        "name",
        "calendar_id",
        "conditions.all[0].value",
        "targets.normal.first_response",
        "targets.someday",
        "pause_statuses[0]",
        "warning_percent",
        "escalations[0].actions[0].queue_id",
    ] {
        assert!(
            fields.contains(&expected.to_string()),
            "{expected} not in {fields:?}"
        );
    }
    assert_eq!(app.read("/api/v1/sla/policies").await, json!([]));
    let unknown = app
        .post("/api/v1/sla/policies", &app.admin)
        .json(&json!({"name": "x", "targets": {"normal": {"first_reply": 5}}}))
        .send()
        .await
        .unwrap();
    expect_problem(unknown, 400).await;
}

#[actix_web::test]
async fn every_policy_change_makes_a_version_and_a_running_clock_takes_the_new_target() {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    let policy = app
        .create_policy(json!({"name": "24/7", "targets": {"normal": {"first_response": 120}}}))
        .await;
    let id = policy["id"].as_str().unwrap();
    let ticket = app
        .create_ticket(ticket_body("Slow", "cy@example.com"))
        .await;
    let ticket_id = ticket["id"].as_str().unwrap();
    assert_eq!(ticket["sla"]["due_at"], "2026-12-07T12:00:00Z");

    let resp = app
        .patch(&format!("/api/v1/sla/policies/{id}"), &app.admin)
        .json(&json!({"targets": {"normal": {"first_response": 60}}}))
        .send()
        .await
        .unwrap();
    let changed = expect_json(resp, 200).await;
    assert_eq!(changed["version"], 2);
    // The next change of the ticket moves its running clock to version 2.
    app.clock.pin("2026-12-07T10:20:00Z".parse().unwrap());
    let changed = app.patch_ticket(ticket_id, json!({"tags": ["x"]})).await;
    assert_eq!(changed["sla"]["due_at"], "2026-12-07T11:00:00Z");
    let sla = app.sla_of(ticket_id).await;
    assert_eq!(sla["policy"]["version"], 2);
    let kinds: Vec<String> = app
        .events(ticket_id)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.contains(&"sla.policy_applied".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"sla.target_changed".to_string()),
        "{kinds:?}"
    );
}

/// The kinds of a ticket's events, in order.
async fn kinds(app: &TestApp, ticket: &str) -> Vec<String> {
    app.events(ticket)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn notifications(app: &TestApp, ticket: &str) -> Vec<String> {
    app.write(|w| {
        use diesel::prelude::*;
        use relay::db::schema::outbox;
        Ok(outbox::table
            .filter(outbox::ticket_id.eq(ticket))
            .filter(outbox::kind.eq("notification"))
            .order(outbox::id.asc())
            .select(outbox::to_address.assume_not_null())
            .load::<String>(&mut **w)?)
    })
}

/// A 24/7 policy: first response in 60 minutes for normal tickets,
/// warning at 80%, escalating its breach to a manager and by priority.
async fn escalating_policy(app: &TestApp) -> Value {
    app.create_policy(json!({
        "name": "Escalating",
        "targets": {"normal": {"first_response": 60}, "high": {"first_response": 60}},
        "escalations": [
            {"on": "warning", "metric": "first_response",
             "actions": [{"type": "notify", "emails": ["duty@client.example"]}]},
            {"on": "breach", "actions": [
                {"type": "notify", "emails": ["boss@client.example"]},
                {"type": "raise_priority"}
            ]}
        ]
    }))
    .await
}

#[actix_web::test]
async fn the_scanner_warns_then_breaches_once_with_the_exact_due_time_and_escalates() {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    escalating_policy(&app).await;
    let ticket = app
        .create_ticket(ticket_body("Down", "dee@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap();
    let version = ticket["version"].as_i64().unwrap();

    // Nothing is due yet.
    assert_eq!(app.run_sla_scanner().tickets, 0);
    // 48 minutes: the warning, once, with the mail, and the ETag holds.
    app.clock.pin("2026-12-07T10:48:00Z".parse().unwrap());
    let report = app.run_sla_scanner();
    assert_eq!(
        (report.warnings, report.breaches, report.escalations),
        (1, 0, 1)
    );
    assert_eq!(app.run_sla_scanner().tickets, 0);
    assert_eq!(notifications(&app, id), ["duty@client.example"]);
    let read = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(read["version"].as_i64().unwrap(), version);

    // The scanner was down for an hour: the breach is recorded at its due
    // time, 11:00, not when the scanner saw it.
    app.clock.pin("2026-12-07T12:00:00Z".parse().unwrap());
    let report = app.run_sla_scanner();
    assert_eq!(
        (report.warnings, report.breaches, report.escalations),
        (0, 1, 1)
    );
    let events = app.events(id).await;
    let breach = events.iter().find(|e| e["kind"] == "sla.breached").unwrap();
    assert_eq!(breach["data"]["breached_at"], "2026-12-07T11:00:00Z");
    assert_eq!(breach["data"]["metric"], "first_response");
    let warning = events.iter().find(|e| e["kind"] == "sla.warning").unwrap();
    assert_eq!(warning["data"]["warning_at"], "2026-12-07T10:48:00Z");
    assert_eq!(
        notifications(&app, id),
        ["duty@client.example", "boss@client.example"]
    );
    // The escalation raised the priority (a real change, with its event).
    let read = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(read["priority"], "high");
    assert_eq!(read["sla"]["state"], "breached");
    let sla = app.sla_of(id).await;
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["state"], "breached");
    assert_eq!(first["breached_at"], "2026-12-07T11:00:00Z");
    // Nothing more happens, however often it runs; a late reply keeps the breach.
    assert_eq!(app.run_sla_scanner(), Default::default());
    app.reply(id, true).await;
    app.clock.pin("2026-12-07T13:00:00Z".parse().unwrap());
    assert_eq!(app.run_sla_scanner(), Default::default());
    let kinds = kinds(&app, id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "sla.breached").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "sla.warning").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "sla.escalated").count(), 2);
    let first = clock(&app.sla_of(id).await, "first_response", 1).clone();
    assert_eq!(first["state"], "breached");
    assert_eq!(first["stopped_at"], "2026-12-07T12:00:00Z");
}

#[actix_web::test]
async fn two_scanners_racing_announce_a_breach_once_and_send_one_mail() {
    let app = TestApp::spawn().await;
    let second = app.another_process().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    escalating_policy(&app).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let ticket = app
            .create_ticket(ticket_body(
                &format!("Race {n}"),
                &format!("r{n}@example.com"),
            ))
            .await;
        ids.push(ticket["id"].as_str().unwrap().to_string());
    }
    let late: chrono::DateTime<chrono::Utc> = "2026-12-07T11:30:00Z".parse().unwrap();
    app.clock.pin(late);
    second.clock.pin(late);
    let (first_report, second_report) = std::thread::scope(|scope| {
        let one = scope.spawn(|| app.run_sla_scanner());
        let two = scope.spawn(|| second.run_sla_scanner());
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(first_report.breaches + second_report.breaches, 20);
    assert_eq!(
        first_report.warnings + second_report.warnings,
        0,
        "a breach comes alone"
    );
    for id in &ids {
        let kinds = kinds(&app, id).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "sla.breached").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(notifications(&app, id), ["boss@client.example"]);
    }
}

#[actix_web::test]
async fn switching_a_policy_off_withdraws_its_warnings_and_stops_its_clocks() {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    let policy = escalating_policy(&app).await;
    let ticket = app
        .create_ticket(ticket_body("Quiet", "eve@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap();
    app.clock.pin("2026-12-07T10:50:00Z".parse().unwrap());
    assert_eq!(app.run_sla_scanner().warnings, 1);

    let resp = app
        .patch(
            &format!("/api/v1/sla/policies/{}", policy["id"].as_str().unwrap()),
            &app.admin,
        )
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    let recomputed = app.recompute_sla().await;
    assert_eq!(recomputed["tickets"], 1);
    let kinds = kinds(&app, id).await;
    assert!(kinds.contains(&"sla.withdrawn".to_string()), "{kinds:?}");
    assert!(
        kinds.contains(&"sla.policy_applied".to_string()),
        "{kinds:?}"
    );
    // Past the old due time nothing is announced: no policy runs the clock.
    app.clock.pin("2026-12-07T12:00:00Z".parse().unwrap());
    assert_eq!(app.run_sla_scanner(), Default::default());
    let read = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(read["sla"], Value::Null);
}

#[actix_web::test]
async fn lists_filter_breached_and_at_risk_tickets_and_sort_by_due_time() {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    app.create_policy(json!({
        "name": "24/7",
        "targets": {"normal": {"first_response": 60}, "high": {"first_response": 30}}
    }))
    .await;
    let number = |t: &Value| t["number"].as_i64().unwrap();
    let normal = app
        .create_ticket(ticket_body("Normal", "n@example.com"))
        .await;
    let mut body = ticket_body("High", "h@example.com");
    body["priority"] = json!("high");
    let high = app.create_ticket(body).await;
    app.clock.pin("2026-12-07T10:05:00Z".parse().unwrap());
    let later = app
        .create_ticket(ticket_body("Later", "l@example.com"))
        .await;
    let answered = app
        .create_ticket(ticket_body("Answered", "a@example.com"))
        .await;
    app.reply(answered["id"].as_str().unwrap(), true).await;

    // 10:40: the high ticket (due 10:30) ran out; the normal one is due at
    // 11:00, within 21 minutes; the later one at 11:05 is not.
    app.clock.pin("2026-12-07T10:40:00Z".parse().unwrap());
    let numbers = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(number)
            .collect()
    };
    let breached = app.read("/api/v1/tickets?sla=breached").await;
    assert_eq!(numbers(&breached), [number(&high)]);
    assert_eq!(breached["items"][0]["sla"]["state"], "breached");
    let at_risk = app
        .read("/api/v1/tickets?sla=at_risk&at_risk_minutes=21")
        .await;
    assert_eq!(numbers(&at_risk), [number(&normal)]);

    // By due time, one per page: high, normal, later, then the answered
    // ticket, which has no running clock.
    let mut seen = Vec::new();
    let mut path = "/api/v1/tickets?sort=due&limit=1".to_string();
    loop {
        let page = app.read(&path).await;
        seen.extend(numbers(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/tickets?sort=due&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            number(&high),
            number(&normal),
            number(&later),
            number(&answered)
        ]
    );

    for bad in [
        "sla=late",
        "sort=oldest",
        "sla=at_risk&at_risk_minutes=0",
        "at_risk_minutes=5",
    ] {
        let resp = app
            .get(&format!("/api/v1/tickets?{bad}"), &app.admin)
            .send()
            .await
            .unwrap();
        expect_problem(resp, 422).await;
    }
    // A cursor of one order is refused by the other.
    let newest = app.read("/api/v1/tickets?limit=1").await;
    let cursor = newest["next_cursor"].as_str().unwrap();
    let resp = app
        .get(
            &format!("/api/v1/tickets?sort=due&cursor={cursor}"),
            &app.admin,
        )
        .send()
        .await
        .unwrap();
    expect_problem(resp, 422).await;
}

#[actix_web::test]
async fn one_pass_announces_every_due_clock_across_batches_and_a_recompute_then_moves_nothing() {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    app.create_policy(json!({
        "name": "24/7 hour",
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    // More tickets than the scanner takes in one transaction (200): 120
    // due at 11:00, 100 more due at 11:30 (warned at 11:18).
    let mut early = Vec::new();
    for n in 0..120 {
        let ticket = app
            .create_ticket(ticket_body(
                &format!("Early {n}"),
                &format!("e{n}@example.com"),
            ))
            .await;
        early.push(ticket["id"].as_str().unwrap().to_string());
    }
    app.clock.pin("2026-12-07T10:30:00Z".parse().unwrap());
    let mut late = Vec::new();
    for n in 0..100 {
        let ticket = app
            .create_ticket(ticket_body(
                &format!("Late {n}"),
                &format!("l{n}@example.com"),
            ))
            .await;
        late.push(ticket["id"].as_str().unwrap().to_string());
    }

    app.clock.pin("2026-12-07T11:20:00Z".parse().unwrap());
    // A clock found already breached is announced as breached, without a
    // warning after the fact; the late ones get their warning.
    let report = app.run_sla_scanner();
    assert_eq!(
        (report.tickets, report.warnings, report.breaches),
        (220, 100, 120)
    );
    assert_eq!(app.run_sla_scanner().tickets, 0);
    for id in [&early[0], &early[119]] {
        let events = app.events(id).await;
        let breaches: Vec<_> = events
            .iter()
            .filter(|e| e["kind"] == "sla.breached")
            .collect();
        assert_eq!(breaches.len(), 1, "{events:?}");
        assert_eq!(breaches[0]["data"]["breached_at"], "2026-12-07T11:00:00Z");
    }
    let read = app.read(&format!("/api/v1/tickets/{}", late[99])).await;
    assert_eq!(read["sla"]["state"], "running");
    assert_eq!(read["sla"]["due_at"], "2026-12-07T11:30:00Z");

    // Recomputing from history gives what the scanner stored: nothing moves.
    let recomputed = app.recompute_sla().await;
    assert_eq!(recomputed, json!({"tickets": 220, "changed": 0}));
    // The late ones breach on the next pass after 11:30, once each.
    app.clock.pin("2026-12-07T11:30:01Z".parse().unwrap());
    let report = app.run_sla_scanner();
    assert_eq!((report.tickets, report.breaches), (100, 100));
    assert_eq!(app.run_sla_scanner().tickets, 0);
}
