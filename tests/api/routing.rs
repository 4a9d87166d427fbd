//! Routing rules: CRUD, the one queue precedence, the routed event, the
//! dry-run trace, follow-the-sun, and rule changes seen by other processes.

use crate::common::*;
use relay::domain::Role;
use serde_json::{json, Value};

impl TestApp {
    pub async fn create_rule(&self, body: Value) -> Value {
        let resp = self
            .post("/api/v1/routing/rules", &self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }

    /// The `routed` event of a ticket.
    pub async fn routed(&self, ticket: impl std::fmt::Display) -> Value {
        let events = self.events(ticket).await;
        events
            .into_iter()
            .find(|e| e["kind"] == "routed")
            .expect("a routed event")["data"]
            .clone()
    }
}

fn to_queue(name: &str, queue_id: &str, conditions: Value) -> Value {
    json!({"name": name, "conditions": conditions, "actions": [{"type": "set_queue", "queue_id": queue_id}]})
}

fn subject_contains(word: &str) -> Value {
    json!({"all": [{"field": "subject", "op": "contains", "value": word}], "any": []})
}

fn mail(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@example.com>\r\n\r\nPlease help with my order, it has not arrived yet and I am worried.\r\n",
        uuid::Uuid::new_v4()
    )
    .into_bytes()
}

#[actix_web::test]
async fn a_rule_round_trips_in_the_contract_shape() {
    let app = TestApp::spawn().await;
    let billing = app.vendor_with_agent("Billing Co", Role::Agent).await;
    let body = json!({
        "name": "Refunds", "position": 10, "enabled": true, "stop": false,
        "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"}], "any": []},
        "actions": [{"type": "set_queue", "queue_id": billing.queue_id}]
    });
    let rule = app.create_rule(body.clone()).await;
    for field in [
        "name",
        "position",
        "enabled",
        "stop",
        "conditions",
        "actions",
    ] {
        assert_eq!(rule[field], body[field], "{field}");
    }
    let id = rule["id"].as_str().unwrap();
    let changed = app
        .patch(&format!("/api/v1/routing/rules/{id}"), &app.admin)
        .json(&json!({"enabled": false, "position": 5}))
        .send()
        .await
        .unwrap();
    let changed = expect_json(changed, 200).await;
    assert_eq!(
        (changed["enabled"].clone(), changed["position"].clone()),
        (json!(false), json!(5))
    );
    assert_eq!(changed["conditions"], body["conditions"]);
    assert_eq!(
        app.read("/api/v1/routing/rules")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Vendor staff do not see the client's rules.
    let denied = app
        .get("/api/v1/routing/rules", &billing.token)
        .send()
        .await
        .unwrap();
    expect_problem(denied, 403).await;
    let gone = app
        .delete(&format!("/api/v1/routing/rules/{id}"), &app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let again = app
        .delete(&format!("/api/v1/routing/rules/{id}"), &app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(again, 404).await;
}

#[actix_web::test]
async fn bad_rules_name_every_problem_and_change_nothing() {
    let app = TestApp::spawn().await;
    let resp = app
        .post("/api/v1/routing/rules", &app.admin)
        .json(&json!({
            "name": "Bad",
            "conditions": {"all": [
                {"field": "shoe_size", "op": "equals", "value": "9"},
                {"field": "subject", "op": "matches", "value": "(refund"},
                {"field": "calendar_open", "op": "equals", "value": "no-such-calendar"}
            ]},
            "actions": [{"type": "set_queue", "queue_id": "no-such-queue"}, {"type": "assign", "agent_id": "nobody"}]
        }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(resp, 422).await;
    assert_eq!(
        problem_fields(&problem),
        [
            "conditions.all[0].field",
            "conditions.all[1].value",
            "actions[0].queue_id",
            "actions[1].agent_id",
            "conditions.all[2].value"
        ]
    );
    let unknown_action = app
        .post("/api/v1/routing/rules", &app.admin)
        .json(&json!({"name": "x", "actions": [{"type": "teleport"}]}))
        .send()
        .await
        .unwrap();
    expect_problem(unknown_action, 400).await;
    assert!(app
        .read("/api/v1/routing/rules")
        .await
        .as_array()
        .unwrap()
        .is_empty());
}

#[actix_web::test]
async fn the_queue_follows_one_precedence_caller_rules_hint_default() {
    let fallback_slug = "fallback";
    let app = TestApp::spawn_with(|s| {
        s.routing.default_queue = Some(fallback_slug.into());
        s.email
            .address_queues
            .insert("sales@relay.localhost".into(), "hinted".into());
    })
    .await;
    let vendor = app.create_vendor("Routing Co", "UTC").await;
    let vendor_id = vendor["id"].as_str().unwrap();
    let ruled = app.create_queue("ruled", vendor_id).await;
    let hinted = app.create_queue("hinted", vendor_id).await;
    let chosen = app.create_queue("chosen", vendor_id).await;
    let fallback = app.create_queue(fallback_slug, vendor_id).await;
    let id = |q: &Value| q["id"].as_str().unwrap().to_string();
    let rule = app
        .create_rule(to_queue("Refunds", &id(&ruled), subject_contains("refund")))
        .await;

    // The caller's explicit queue beats the rules (whose other actions still run).
    let explicit = app
        .create_ticket(json!({"subject": "Refund please", "body": "x", "customer": {"email": "a@example.com"}, "queue": "chosen"}))
        .await;
    assert_eq!(explicit["queue"]["id"], id(&chosen));
    let routed = app.routed(explicit["id"].as_str().unwrap()).await;
    assert_eq!(routed["queue_source"], "caller");
    assert_eq!(routed["rules"], json!([rule["id"]]));

    // The rules beat the door's hint.
    let (_, by_rule) = app
        .deliver_mail(mail(
            "b@example.com",
            "sales@relay.localhost",
            "Refund for order 7",
        ))
        .await;
    let ticket = app
        .read(&format!(
            "/api/v1/tickets/{}",
            by_rule["ticket"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ticket["queue"]["id"], id(&ruled));
    let routed = app.routed(ticket["id"].as_str().unwrap()).await;
    assert_eq!(routed["queue_source"], "rules");
    assert_eq!(routed["intake"]["intake_hint"], "hinted");
    assert!(routed["rule_set_version"].as_i64().unwrap() > 0);

    // The hint beats the default queue.
    let (_, by_hint) = app
        .deliver_mail(mail(
            "c@example.com",
            "sales@relay.localhost",
            "Where is my parcel",
        ))
        .await;
    let ticket = app
        .read(&format!(
            "/api/v1/tickets/{}",
            by_hint["ticket"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ticket["queue"]["id"], id(&hinted));
    assert_eq!(
        app.routed(ticket["id"].as_str().unwrap()).await["queue_source"],
        "hint"
    );

    // Nothing else: the default queue, for the web form and the API alike.
    let plain = app
        .create_ticket(ticket_body("Question", "d@example.com"))
        .await;
    assert_eq!(plain["queue"]["id"], id(&fallback));
    assert_eq!(
        app.routed(plain["id"].as_str().unwrap()).await["queue_source"],
        "default"
    );
    let public = app
        .create_public_ticket(ticket_body("A refund?", "e@example.com"))
        .await;
    let public = app
        .read(&format!(
            "/api/v1/tickets/{}",
            public["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(public["queue"]["id"], id(&ruled));
}

#[actix_web::test]
async fn rule_actions_set_priority_tags_and_assignee_and_the_language_is_detected() {
    let app = TestApp::spawn().await;
    let team = app.vendor_with_agent("Spanish Desk", Role::Agent).await;
    // A policy no ticket matches by itself: only the rule puts tickets under it.
    let gold = app
        .create_policy(json!({
            "name": "Gold",
            "conditions": {"all": [{"field": "tags", "op": "equals", "value": "never"}]},
            "targets": {"high": {"first_response": 30}}
        }))
        .await;
    app.create_rule(json!({
        "name": "Spanish", "position": 1,
        "conditions": {"all": [{"field": "language", "op": "equals", "value": "es"}]},
        "actions": [
            {"type": "set_queue", "queue_id": team.queue_id},
            {"type": "add_tags", "tags": ["espanol"]},
            {"type": "set_priority", "priority": "high"},
            {"type": "set_sla_policy", "policy_id": gold["id"]},
            {"type": "assign", "agent_id": team.agent_id}
        ]
    }))
    .await;
    let ticket = app
        .create_ticket(json!({
            "subject": "Pedido roto",
            "body": "Hola, mi pedido llegó roto y nadie me responde desde hace una semana. ¿Me pueden ayudar?",
            "customer": {"email": "f@example.com"}
        }))
        .await;
    assert_eq!(ticket["language"], "es");
    assert_eq!(ticket["queue"]["id"], team.queue_id);
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["tags"], json!(["espanol"]));
    assert_eq!(ticket["assignee"]["id"], team.agent_id);
    let events = app.events(ticket["id"].as_str().unwrap()).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(&kinds[..3], ["created", "routed", "assigned"]);
    assert_eq!(events[0]["data"]["priority"], "high");
    assert_eq!(events[1]["data"]["intake"]["priority"], "normal");
    assert_eq!(events[1]["data"]["sla_policy_id"], gold["id"]);
    let sla = app.sla_of(ticket["id"].as_str().unwrap()).await;
    assert_eq!(sla["policy"]["id"], gold["id"]);
    assert_eq!(sla["clocks"][0]["target_seconds"], 1800);
    assert_eq!(events[2]["data"]["by"], "rule");
}

#[actix_web::test]
async fn an_assign_action_never_gives_a_ticket_to_another_vendors_agent() {
    let app = TestApp::spawn().await;
    let own = app.vendor_with_agent("Own Desk", Role::Agent).await;
    let other = app.vendor_with_agent("Other Desk", Role::Agent).await;
    app.create_rule(json!({"name": "Mixed", "actions": [
        {"type": "set_queue", "queue_id": own.queue_id},
        {"type": "assign", "agent_id": other.agent_id}
    ]}))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Hello", "g@example.com"))
        .await;
    assert_eq!(ticket["queue"]["id"], own.queue_id);
    assert!(ticket["assignee"].is_null());
    let routed = app.routed(ticket["id"].as_str().unwrap()).await;
    assert!(
        routed["notes"][0]
            .as_str()
            .unwrap()
            .contains("does not work for the vendor"),
        "{routed}"
    );
}

#[actix_web::test]
async fn the_dry_run_explains_every_rule_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let team = app.vendor_with_agent("Trace Co", Role::Agent).await;
    let refunds = app
        .create_rule(to_queue(
            "Refunds",
            &team.queue_id,
            subject_contains("refund"),
        ))
        .await;
    let vip = app
        .create_rule(json!({"name": "VIP", "position": 1, "conditions": {"any": [
            {"field": "from_domain", "op": "equals", "value": "bigcorp.example"},
            {"field": "tags", "op": "in", "value": ["vip"]}
        ]}, "actions": [{"type": "set_priority", "priority": "urgent"}], "stop": true}))
        .await;
    let before = app.ticket_count();
    let resp = app
        .post("/api/v1/routing/rules/test", &app.admin)
        .json(&json!({"ticket": {"subject": "Refund", "body": "…", "from": "ceo@BigCorp.example"}}))
        .send()
        .await
        .unwrap();
    let result = expect_json(resp, 200).await;
    assert_eq!(result["result"]["priority"], "urgent");
    assert_eq!(
        result["result"]["matched_rules"],
        json!([refunds["id"], vip["id"]])
    );
    let traces = result["rules"].as_array().unwrap();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0]["matched"], true);
    assert_eq!(traces[1]["deciding_condition"]["group"], "any");
    assert_eq!(traces[1]["deciding_condition"]["index"], 0);
    assert_eq!(result["result"]["queue_id"], team.queue_id);

    // A proposed rule set instead of the stored one.
    let resp = app
        .post("/api/v1/routing/rules/test", &app.admin)
        .json(&json!({"ticket": {"subject": "Refund"}, "rules": [{"name": "None", "conditions": subject_contains("invoice"), "actions": [{"type": "add_tags", "tags": ["x"]}]}]}))
        .send()
        .await
        .unwrap();
    let proposed = expect_json(resp, 200).await;
    assert_eq!(proposed["rule_set_version"], Value::Null);
    assert_eq!(proposed["rules"][0]["matched"], false);
    assert_eq!(
        proposed["rules"][0]["deciding_condition"]["condition"]["value"],
        "invoice"
    );
    let bad = app
        .post("/api/v1/routing/rules/test", &app.admin)
        .json(&json!({"ticket": {"priority": "sky-high"}, "rules": [{"name": "x", "actions": [{"type": "set_queue", "queue_id": "nope"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(bad, 422).await),
        ["ticket.priority"]
    );
    assert_eq!(app.ticket_count(), before);
}

#[actix_web::test]
async fn follow_the_sun_sends_each_ticket_to_the_team_on_shift() {
    let app = TestApp::spawn().await;
    let manila = app.vendor_with_agent("Manila Team", Role::Agent).await;
    let berlin = app.vendor_with_agent("Berlin Team", Role::Agent).await;
    let weekdays: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "start": "09:00", "end": "17:00"}))
        .collect();
    for (team, zone) in [(&manila, "Asia/Manila"), (&berlin, "Europe/Berlin")] {
        let resp = app
            .post("/api/v1/calendars", &app.admin)
            .json(&json!({"name": zone, "timezone": zone, "weekly": weekdays}))
            .send()
            .await
            .unwrap();
        let calendar = expect_json(resp, 201).await;
        let resp = app
            .patch(&format!("/api/v1/queues/{}", team.queue_id), &app.admin)
            .json(&json!({"coverage_calendar_id": calendar["id"]}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await;
    }
    app.create_rule(json!({"name": "Sun", "actions": [{"type": "follow_the_sun", "queue_ids": [manila.queue_id, berlin.queue_id]}]})).await;
    // Monday 2026-12-07 01:00 UTC: 09:00 in Manila.
    app.clock.pin("2026-12-07T01:00:00Z".parse().unwrap());
    let early = app
        .create_ticket(ticket_body("Early", "h@example.com"))
        .await;
    assert_eq!(early["queue"]["id"], manila.queue_id);
    // 10:00 UTC: Manila has gone home, Berlin works.
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    let late = app
        .create_ticket(ticket_body("Late", "i@example.com"))
        .await;
    assert_eq!(late["queue"]["id"], berlin.queue_id);
    // Saturday: nobody; the team that opens first (Manila, Monday 09:00 +08).
    app.clock.pin("2026-12-12T12:00:00Z".parse().unwrap());
    let weekend = app
        .create_ticket(ticket_body("Weekend", "j@example.com"))
        .await;
    assert_eq!(weekend["queue"]["id"], manila.queue_id);
}

#[actix_web::test]
async fn another_process_sees_a_rule_change_within_the_recheck_interval() {
    let app = TestApp::spawn().await;
    let team = app.vendor_with_agent("Shared Co", Role::Agent).await;
    let second = app.another_process().await;
    // The second process compiles the (empty) rule set.
    let before = second
        .create_ticket(ticket_body("Refund one", "k@example.com"))
        .await;
    assert!(before["queue"].is_null());
    app.create_rule(to_queue(
        "Refunds",
        &team.queue_id,
        subject_contains("refund"),
    ))
    .await;
    second.clock.advance(chrono::TimeDelta::seconds(2));
    let after = second
        .create_ticket(ticket_body("Refund two", "l@example.com"))
        .await;
    assert_eq!(after["queue"]["id"], team.queue_id);
    // And this process saw its own change at once.
    let here = app
        .create_ticket(ticket_body("Refund three", "m@example.com"))
        .await;
    assert_eq!(here["queue"]["id"], team.queue_id);
}

#[actix_web::test]
async fn rerouting_moves_a_ticket_with_a_hand_off_note_and_assigns_it_there() {
    let app = TestApp::spawn().await;
    let first = app.vendor_with_agent("First Line", Role::Agent).await;
    let second = app.vendor_with_agent("Second Line", Role::Agent).await;
    let resp = app
        .patch(&format!("/api/v1/queues/{}", second.queue_id), &app.admin)
        .json(&json!({"assignment_strategy": "round_robin"}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    let ticket = app
        .create_ticket(json!({"subject": "Refund", "body": "x", "customer": {"email": "n@example.com"}, "queue": first.queue_id}))
        .await;
    let id = ticket["id"].as_str().unwrap();
    app.patch_ticket(id, json!({"assignee": first.agent_id}))
        .await;
    app.create_rule(to_queue(
        "Refunds",
        &second.queue_id,
        subject_contains("refund"),
    ))
    .await;
    let resp = app
        .post(&format!("/api/v1/tickets/{id}/route"), &app.admin)
        .json(&json!({"note": "Refunds belong to Second Line"}))
        .send()
        .await
        .unwrap();
    let routed = expect_json(resp, 200).await;
    assert_eq!(routed["queue"]["id"], second.queue_id);
    assert_eq!(routed["assignee"]["id"], second.agent_id);
    let events = app.events(id).await;
    let tail: Vec<&str> = events
        .iter()
        .rev()
        .take(4)
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(tail, ["assigned", "routed", "unassigned", "queue_changed"]);
    let moved = events
        .iter()
        .find(|e| e["kind"] == "queue_changed")
        .unwrap();
    assert_eq!(moved["data"]["handed_off"], true);
    assert_eq!(moved["data"]["reason"], "rerouted");
    assert_eq!(moved["data"]["note"], "Refunds belong to Second Line");
    // Only managers and admins re-route.
    let denied = app
        .post(&format!("/api/v1/tickets/{id}/route"), &second.token)
        .send()
        .await
        .unwrap();
    expect_problem(denied, 403).await;
    // A PATCH hand-off carries its note too; a note without a queue is refused.
    let back = app
        .patch_ticket(
            id,
            json!({"queue": first.queue_id, "handoff_note": "Back to you"}),
        )
        .await;
    assert_eq!(back["queue"]["id"], first.queue_id);
    let last_move = app
        .events(id)
        .await
        .into_iter()
        .rev()
        .find(|e| e["kind"] == "queue_changed")
        .unwrap();
    assert_eq!(last_move["data"]["note"], "Back to you");
    let current = app.read(&format!("/api/v1/tickets/{id}")).await;
    let resp = app
        .patch(&format!("/api/v1/tickets/{id}"), &app.admin)
        .header("if-match", format!("\"{}\"", current["version"]))
        .json(&json!({"handoff_note": "alone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(resp, 422).await),
        ["handoff_note"]
    );
}

#[actix_web::test]
async fn simulation_compares_the_stored_rules_with_a_proposal() {
    let app = TestApp::spawn().await;
    let billing = app.vendor_with_agent("Sim Billing", Role::Agent).await;
    let tech = app.vendor_with_agent("Sim Tech", Role::Agent).await;
    app.create_rule(to_queue(
        "Refunds",
        &billing.queue_id,
        subject_contains("refund"),
    ))
    .await;
    app.clock.pin("2026-11-10T10:00:00Z".parse().unwrap());
    for subject in ["Refund A", "Refund B", "Password reset", "Crash on login"] {
        app.create_ticket(ticket_body(subject, "o@example.com"))
            .await;
    }
    let chosen = app
        .create_ticket(json!({"subject": "Refund chosen", "body": "x", "customer": {"email": "p@example.com"}, "queue": tech.queue_id}))
        .await;
    let before = app.ticket_count();
    let resp = app
        .post("/api/v1/routing/rules/simulate", &app.admin)
        .json(&json!({
            "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z",
            "rules": [
                {"name": "Refunds", "conditions": subject_contains("refund"), "actions": [{"type": "set_queue", "queue_id": billing.queue_id}]},
                {"name": "Tech", "conditions": {"any": [{"field": "subject", "op": "contains", "value": "crash"}, {"field": "subject", "op": "contains", "value": "password"}]}, "actions": [{"type": "set_queue", "queue_id": tech.queue_id}]}
            ]
        }))
        .send()
        .await
        .unwrap();
    let simulation = expect_json(resp, 200).await;
    assert_eq!(simulation["tickets"], 5);
    assert_eq!(simulation["moved"], 2);
    let count = |queue: Value| {
        simulation["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["queue_id"] == queue)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        count(json!(billing.queue_id)),
        json!({"queue_id": billing.queue_id, "vendor_id": billing.vendor_id, "stored": 2, "proposed": 2})
    );
    assert_eq!(count(json!(tech.queue_id))["stored"], 1);
    assert_eq!(count(json!(tech.queue_id))["proposed"], 3);
    assert_eq!(count(Value::Null)["stored"], 2);
    let examples: Vec<&str> = simulation["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(examples, ["Password reset", "Crash on login"]);
    assert!(simulation["examples"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["ticket_id"] != chosen["id"]));
    assert_eq!(app.ticket_count(), before);
    let bad = app
        .post("/api/v1/routing/rules/simulate", &app.admin)
        .json(&json!({"from": "2026-12-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "rules": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(bad, 422).await), ["to"]);
}
