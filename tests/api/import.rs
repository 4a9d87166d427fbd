//! `POST /api/v1/import/tickets` (issue 12): another help desk's tickets
//! with their history, their clocks computed as a live ticket's would be,
//! idempotent by `external_id`, all of a batch or nothing, and no mail. The
//! real app on port 0, on a pinned clock; every expected instant is worked
//! out by hand next to it.

use crate::common::*;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use relay::db::schema::{customers, outbox, sla_notices, ticket_events};
use relay::domain::Role;
use reqwest::Response;
use serde_json::{json, Value};

const PATH: &str = "/api/v1/import/tickets";

fn pin(app: &TestApp, at: &str) {
    app.clock.pin(at.parse().unwrap());
}

async fn import_as(app: &TestApp, token: &str, body: &Value) -> Response {
    app.post(PATH, token).json(body).send().await.unwrap()
}

/// Imports as admin, expecting 200: the answer's `tickets`.
async fn import(app: &TestApp, body: &Value) -> Vec<Value> {
    let answer = expect_json(import_as(app, &app.admin, body).await, 200).await;
    answer["tickets"].as_array().unwrap().clone()
}

fn count(app: &TestApp, table: &str) -> i64 {
    let mut conn = app.db.get().unwrap();
    let conn = &mut *conn;
    match table {
        "outbox" => outbox::table.count().get_result(conn),
        "ticket_events" => ticket_events::table.count().get_result(conn),
        "customers" => customers::table.count().get_result(conn),
        "sla_notices" => sla_notices::table.count().get_result(conn),
        other => panic!("no table {other}"),
    }
    .unwrap()
}

fn clock<'a>(sla: &'a Value, metric: &str, cycle: i64) -> &'a Value {
    sla["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == metric && c["cycle"] == cycle)
        .unwrap_or_else(|| panic!("no {metric} clock {cycle} in {sla}"))
}

/// A clock as the explanation shows it, without the ids of the events that
/// moved it (which differ between two tickets with the same history).
fn without_events(sla: &Value) -> Vec<Value> {
    sla["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.as_object_mut().unwrap().remove("events");
            c
        })
        .collect()
}

fn instant(text: &Value) -> DateTime<Utc> {
    text.as_str().unwrap().parse().unwrap()
}

/// Mon–Fri 09:00–17:00 in New York.
fn new_york_office() -> Value {
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|day| json!({"day": day, "start": "09:00", "end": "17:00"}))
        .collect();
    json!({"name": "New York office", "timezone": "America/New_York", "weekly": weekly, "holidays": []})
}

/// A minimal good record: a customer's question, nothing else.
fn simple(external_id: &str, created_at: &str) -> Value {
    json!({
        "external_id": external_id,
        "subject": format!("Old ticket {external_id}"),
        "priority": "normal",
        "created_at": created_at,
        "customer": {"email": format!("{}@example.com", external_id.to_lowercase())},
        "messages": [{"author": "customer", "public": true, "body": "Help, please.", "created_at": created_at}],
    })
}

// ------------------------------------------------------------- the clocks

#[actix_web::test]
async fn an_imported_history_has_the_clocks_worked_out_by_hand_and_those_of_the_same_live_ticket() {
    let app = TestApp::spawn().await;
    // Friday 4 December 2026, 15:00 EST (UTC-5) = 20:00Z. New York office
    // hours, 09:00-17:00 EST, are 14:00Z-22:00Z on weekdays.
    pin(&app, "2026-12-04T20:00:00Z");
    let alpha = app.vendor_with_agent("Alpha Team", Role::Agent).await;
    let beta = app.vendor_with_agent("Beta Team", Role::Agent).await;
    let alpha_email = "agent@alpha-team.example";
    let beta_email = "agent@beta-team.example";
    let calendar = app.create_calendar(new_york_office()).await;
    let policy = app
        .create_policy(json!({
            "name": "Office",
            "calendar_id": calendar["id"],
            "targets": {
                "normal": {"first_response": 120, "next_response": 60, "resolution": 480},
                "high": {"first_response": 60, "next_response": 45, "resolution": 360}
            }
        }))
        .await;

    // The history (EST, and UTC):
    //   Fri 16:00 (21:00Z) created in alpha's queue; the customer writes
    //   Fri 16:10 (21:10Z) assigned to alpha's agent
    //   Fri 16:30 (21:30Z) pending (the clocks pause)
    //   Fri 16:45 (21:45Z) the customer answers: pending -> open
    //   Mon 09:30 (14:30Z) alpha's agent replies publicly (first response)
    //   Mon 10:00 (15:00Z) alpha's agent writes an internal note
    //   Mon 10:30 (15:30Z) the customer writes (next response cycle 1)
    //   Mon 11:00 (16:00Z) priority normal -> high
    //   Mon 11:30 (16:30Z) handed to beta's queue (alpha's agent let go)
    //   Mon 12:00 (17:00Z) beta's agent replies publicly
    //   Mon 13:00 (18:00Z) solved
    // Listed out of order on purpose: the import applies it in time order.
    let record = json!({
        "external_id": "ZD-1001",
        "subject": "The invoice is wrong",
        "priority": "normal",
        "created_at": "2026-12-04T16:00:00-05:00",
        "customer": {"email": "Dana@Example.com", "name": "Dana"},
        "queue": alpha.queue_slug,
        "tags": ["billing"],
        "messages": [
            {"author": "agent", "agent_email": beta_email, "public": true,
             "body": "Corrected invoice attached.", "created_at": "2026-12-07T17:00:00Z"},
            {"author": "customer", "public": true, "body": "My invoice is wrong.",
             "created_at": "2026-12-04T21:00:00Z"},
            {"author": "customer", "public": true, "body": "Here is the order number.",
             "created_at": "2026-12-04T21:45:00Z"},
            {"author": "agent", "agent_email": alpha_email, "public": true,
             "body": "Looking into it.", "created_at": "2026-12-07T14:30:00Z"},
            {"author": "agent", "agent_email": alpha_email, "public": false,
             "body": "Billing must fix this.", "created_at": "2026-12-07T15:00:00Z"},
            {"author": "customer", "public": true, "body": "Any news?",
             "created_at": "2026-12-07T15:30:00Z"}
        ],
        "status_changes": [
            {"status": "solved", "at": "2026-12-07T18:00:00Z"},
            {"status": "pending", "at": "2026-12-04T21:30:00Z"}
        ],
        "priority_changes": [{"priority": "high", "at": "2026-12-07T16:00:00Z"}],
        "queue_changes": [{"queue": beta.queue_id, "at": "2026-12-07T16:30:00Z"}],
        "assignments": [{"agent_email": alpha_email, "at": "2026-12-04T21:10:00Z"}]
    });

    // The same history, live, through the API at the same pinned times.
    pin(&app, "2026-12-04T21:00:00Z");
    let live = app
        .create_ticket(
            json!({"subject": "The invoice is wrong", "body": "My invoice is wrong.",
            "queue": alpha.queue_slug, "customer": {"email": "dana@example.com", "name": "Dana"}}),
        )
        .await;
    let live_id = live["id"].as_str().unwrap().to_string();
    let live_number = live["number"].as_i64().unwrap();
    pin(&app, "2026-12-04T21:10:00Z");
    app.patch_ticket(&live_id, json!({"assignee": alpha.agent_id}))
        .await;
    pin(&app, "2026-12-04T21:30:00Z");
    app.set_status(&live_id, "pending").await;
    pin(&app, "2026-12-04T21:45:00Z");
    let reply_to = app.reply_address(live_number);
    let raw = format!(
        "From: dana@example.com\r\nTo: {reply_to}\r\nSubject: Re: invoice\r\nMessage-ID: <dana-1@example.com>\r\n\r\nHere is the order number.\r\n"
    );
    let (status, delivered) = app.deliver_mail(raw.into_bytes()).await;
    assert_eq!(
        (status, delivered["outcome"].as_str()),
        (200, Some("appended")),
        "{delivered}"
    );
    let say = |token: &str, public: bool, body: &str| {
        app.post(&format!("/api/v1/tickets/{live_id}/messages"), token)
            .json(&json!({"body": body, "public": public}))
            .send()
    };
    pin(&app, "2026-12-07T14:30:00Z");
    expect_json(
        say(&alpha.token, true, "Looking into it.").await.unwrap(),
        201,
    )
    .await;
    pin(&app, "2026-12-07T15:00:00Z");
    expect_json(
        say(&alpha.token, false, "Billing must fix this.")
            .await
            .unwrap(),
        201,
    )
    .await;
    pin(&app, "2026-12-07T15:30:00Z");
    let raw = format!(
        "From: dana@example.com\r\nTo: {reply_to}\r\nSubject: Re: invoice\r\nMessage-ID: <dana-2@example.com>\r\n\r\nAny news?\r\n"
    );
    let (status, delivered) = app.deliver_mail(raw.into_bytes()).await;
    assert_eq!(
        (status, delivered["outcome"].as_str()),
        (200, Some("appended")),
        "{delivered}"
    );
    pin(&app, "2026-12-07T16:00:00Z");
    app.patch_ticket(&live_id, json!({"priority": "high"}))
        .await;
    pin(&app, "2026-12-07T16:30:00Z");
    app.patch_ticket(&live_id, json!({"queue": beta.queue_id}))
        .await;
    pin(&app, "2026-12-07T17:00:00Z");
    expect_json(
        say(&beta.token, true, "Corrected invoice attached.")
            .await
            .unwrap(),
        201,
    )
    .await;
    pin(&app, "2026-12-07T18:00:00Z");
    app.set_status(&live_id, "solved").await;

    // Tuesday 8 December 10:00 EST: the import.
    pin(&app, "2026-12-08T15:00:00Z");
    let answer = import(&app, &json!({"tickets": [record]})).await;
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0]["external_id"], "ZD-1001");
    assert_eq!(answer[0]["created"], true);
    let id = answer[0]["id"].as_str().unwrap().to_string();
    assert_eq!(answer[0]["number"], live_number + 1);

    let ticket = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["number"], answer[0]["number"]);
    assert_eq!(ticket["status"], "solved");
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["queue"]["id"], beta.queue_id.as_str());
    assert_eq!(ticket["assignee"], Value::Null);
    assert_eq!(ticket["customer"]["email"], "dana@example.com");
    assert_eq!(ticket["tags"], json!(["billing"]));
    assert_eq!(
        instant(&ticket["created_at"]),
        instant(&json!("2026-12-04T21:00:00Z"))
    );
    assert_eq!(
        instant(&ticket["updated_at"]),
        instant(&json!("2026-12-07T18:00:00Z"))
    );
    assert_eq!(ticket["sla"]["state"], "breached");

    let sla = app.sla_of(&id).await;
    assert_eq!(sla["policy"]["id"], policy["id"]);
    assert_eq!(sla["calendar"]["id"], calendar["id"]);
    assert_eq!(sla["clocks"].as_array().unwrap().len(), 3, "{sla}");
    let alpha_share = |seconds: i64| json!({"vendor_id": alpha.vendor_id, "queue_id": alpha.queue_id, "business_seconds": seconds});
    let beta_share = |seconds: i64| json!({"vendor_id": beta.vendor_id, "queue_id": beta.queue_id, "business_seconds": seconds});
    let fri_pause = json!([{"from": "2026-12-04T21:30:00Z", "to": "2026-12-04T21:45:00Z"}]);

    // First response, normal at its stop (the priority changed later): 2 h.
    // Counted Fri 21:00-21:30Z (1,800 s), paused 21:30-21:45Z, counted
    // 21:45-22:00Z (900 s; the office closes at 17:00 EST), closed over the
    // weekend, Mon 14:00-14:30Z (1,800 s): 4,500 s, all with alpha. Due:
    // 2,700 s on Friday, the other 4,500 s from Mon 14:00Z -> 15:15Z. Met.
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["target_seconds"], 7_200);
    assert_eq!(first["started_at"], "2026-12-04T21:00:00Z");
    assert_eq!(first["stopped_at"], "2026-12-07T14:30:00Z");
    assert_eq!(first["due_at"], "2026-12-07T15:15:00Z");
    assert_eq!(first["state"], "met");
    assert_eq!(first["breached_at"], Value::Null);
    assert_eq!(first["business_seconds_used"], 4_500);
    assert_eq!(first["pauses"], fri_pause);
    assert_eq!(first["by_vendor"], json!([alpha_share(4_500)]));

    // Next response, cycle 1: the customer's Monday message after the
    // agent's reply (the Friday one came before any reply: no cycle). High
    // at its stop: 45 min from Mon 15:30Z -> 16:15Z; beta answered at
    // 17:00Z: breached at 16:15Z. Counted 15:30-17:00Z = 5,400 s: alpha
    // 15:30-16:30Z (3,600), beta 16:30-17:00Z (1,800).
    let next = clock(&sla, "next_response", 1);
    assert_eq!(next["target_seconds"], 2_700);
    assert_eq!(next["started_at"], "2026-12-07T15:30:00Z");
    assert_eq!(next["stopped_at"], "2026-12-07T17:00:00Z");
    assert_eq!(next["due_at"], "2026-12-07T16:15:00Z");
    assert_eq!(next["state"], "breached");
    assert_eq!(next["breached_at"], "2026-12-07T16:15:00Z");
    assert_eq!(next["business_seconds_used"], 5_400);
    assert_eq!(next["pauses"], json!([]));
    assert_eq!(
        next["by_vendor"],
        json!([alpha_share(3_600), beta_share(1_800)])
    );
    assert!(clocks_none(&sla, "next_response", 2));

    // Resolution, high at its stop: 6 h = 21,600 s. Counted Friday 2,700 s
    // (as the first response), Mon 14:00-18:00Z 14,400 s: 17,100 s; alpha
    // 2,700 + 14:00-16:30Z 9,000 = 11,700, beta 16:30-18:00Z 5,400. Due:
    // 2,700 s on Friday, 18,900 s = 5 h 15 min from Mon 14:00Z -> 19:15Z.
    // Solved at 18:00Z: met.
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["target_seconds"], 21_600);
    assert_eq!(resolution["started_at"], "2026-12-04T21:00:00Z");
    assert_eq!(resolution["stopped_at"], "2026-12-07T18:00:00Z");
    assert_eq!(resolution["due_at"], "2026-12-07T19:15:00Z");
    assert_eq!(resolution["state"], "met");
    assert_eq!(resolution["breached_at"], Value::Null);
    assert_eq!(resolution["business_seconds_used"], 17_100);
    assert_eq!(resolution["pauses"], fri_pause);
    assert_eq!(
        resolution["by_vendor"],
        json!([alpha_share(11_700), beta_share(5_400)])
    );

    // The live ticket with the same history has the same clocks.
    let live_sla = app.sla_of(&live_id).await;
    assert_eq!(live_sla["policy"], sla["policy"]);
    assert_eq!(live_sla["calendar"], sla["calendar"]);
    assert_eq!(without_events(&live_sla), without_events(&sla));

    // The history, in its order, each event at its historical time.
    let events = app.events(&id).await;
    let seen: Vec<(String, DateTime<Utc>)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                instant(&e["created_at"]),
            )
        })
        .collect();
    let expected: Vec<(String, DateTime<Utc>)> = [
        ("created", "2026-12-04T21:00:00Z"),
        ("assigned", "2026-12-04T21:10:00Z"),
        ("status_changed", "2026-12-04T21:30:00Z"),
        ("customer_replied", "2026-12-04T21:45:00Z"),
        ("status_changed", "2026-12-04T21:45:00Z"),
        ("replied", "2026-12-07T14:30:00Z"),
        ("note_added", "2026-12-07T15:00:00Z"),
        ("customer_replied", "2026-12-07T15:30:00Z"),
        ("priority_changed", "2026-12-07T16:00:00Z"),
        ("queue_changed", "2026-12-07T16:30:00Z"),
        ("unassigned", "2026-12-07T16:30:00Z"),
        ("replied", "2026-12-07T17:00:00Z"),
        ("status_changed", "2026-12-07T18:00:00Z"),
    ]
    .iter()
    .map(|(kind, at)| (kind.to_string(), at.parse().unwrap()))
    .collect();
    assert_eq!(seen, expected, "{events:#?}");
    let data = |k: usize| &events[k]["data"];
    assert_eq!(data(0)["queue"]["queue_id"], alpha.queue_id.as_str());
    assert_eq!(data(0)["priority"], "normal");
    assert_eq!(data(1)["to"]["agent_id"], alpha.agent_id.as_str());
    assert_eq!(
        (&data(2)["from"], &data(2)["to"]),
        (&json!("new"), &json!("pending"))
    );
    assert_eq!(
        (&data(4)["from"], &data(4)["to"], &data(4)["reason"]),
        (
            &json!("pending"),
            &json!("open"),
            &json!("customer_replied")
        )
    );
    assert_eq!(
        (&data(8)["from"], &data(8)["to"]),
        (&json!("normal"), &json!("high"))
    );
    assert_eq!(data(10)["reason"], "handed_off");
    assert_eq!(
        (&data(12)["from"], &data(12)["to"]),
        (&json!("open"), &json!("solved"))
    );
    // The events' ids carry their instants too: in time order, they sort.
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    // Customer messages by the customer, agents' by the agents.
    assert!(events[0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("customer:"));
    assert_eq!(events[5]["actor"], format!("agent:{}", alpha.agent_id));

    let messages = app.read(&format!("/api/v1/tickets/{id}/messages")).await;
    let messages = messages.as_array().unwrap();
    let bodies: Vec<(&str, bool, DateTime<Utc>)> = messages
        .iter()
        .map(|m| {
            (
                m["body"].as_str().unwrap(),
                m["public"].as_bool().unwrap(),
                instant(&m["created_at"]),
            )
        })
        .collect();
    let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        bodies,
        vec![
            ("My invoice is wrong.", true, at("2026-12-04T21:00:00Z")),
            (
                "Here is the order number.",
                true,
                at("2026-12-04T21:45:00Z")
            ),
            ("Looking into it.", true, at("2026-12-07T14:30:00Z")),
            ("Billing must fix this.", false, at("2026-12-07T15:00:00Z")),
            ("Any news?", true, at("2026-12-07T15:30:00Z")),
            (
                "Corrected invoice attached.",
                true,
                at("2026-12-07T17:00:00Z")
            ),
        ]
    );
}

fn clocks_none(sla: &Value, metric: &str, cycle: i64) -> bool {
    !sla["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["metric"] == metric && c["cycle"] == cycle)
}

// ------------------------------------------------------------ idempotency

#[actix_web::test]
async fn importing_a_batch_again_finds_its_tickets_and_adds_nothing() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T12:00:00Z");
    let batch = json!({"tickets": [
        simple("A-1", "2026-12-01T10:00:00Z"),
        simple("A-2", "2026-12-02T10:00:00Z"),
    ]});
    let first = import(&app, &batch).await;
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|t| t["created"] == true), "{first:?}");
    assert_ne!(first[0]["id"], first[1]["id"]);
    let (tickets, events, customers) = (
        app.ticket_count(),
        count(&app, "ticket_events"),
        count(&app, "customers"),
    );
    assert_eq!(tickets, 2);

    pin(&app, "2026-12-07T13:00:00Z");
    let again = import(&app, &batch).await;
    assert_eq!(again.len(), 2);
    for (old, new) in first.iter().zip(&again) {
        assert_eq!(new["external_id"], old["external_id"]);
        assert_eq!(new["id"], old["id"]);
        assert_eq!(new["number"], old["number"]);
        assert_eq!(new["created"], false);
    }
    assert_eq!(app.ticket_count(), tickets);
    assert_eq!(count(&app, "ticket_events"), events);
    assert_eq!(count(&app, "customers"), customers);
    // The ticket itself did not move either.
    let read = app
        .read(&format!(
            "/api/v1/tickets/{}",
            first[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(read["version"], 1);

    // An old record and a new one: only the new one is made, answered in
    // the request's order.
    let mixed = json!({"tickets": [
        simple("A-3", "2026-12-03T10:00:00Z"),
        simple("A-2", "2026-12-02T10:00:00Z"),
    ]});
    let answer = import(&app, &mixed).await;
    assert_eq!(answer[0]["external_id"], "A-3");
    assert_eq!(answer[0]["created"], true);
    assert_eq!(answer[1]["external_id"], "A-2");
    assert_eq!(answer[1]["created"], false);
    assert_eq!(answer[1]["id"], first[1]["id"]);
    assert_eq!(answer[1]["number"], first[1]["number"]);
    assert_eq!(app.ticket_count(), tickets + 1);
    let max = first
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(answer[0]["number"], max + 1);
}

// ------------------------------------------------------------- validation

#[actix_web::test]
async fn one_bad_record_refuses_the_batch_with_every_bad_field_named_and_stores_nothing() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T12:00:00Z");
    let vendor = app.vendor_with_agent("Gamma Team", Role::Agent).await;
    let at = "2026-12-01T10:00:00Z";
    let good = || {
        let mut r = simple("OK-1", at);
        r["queue"] = json!(vendor.queue_slug);
        r
    };
    let with = |external_id: &str, change: &dyn Fn(&mut Value)| {
        let mut r = simple(external_id, at);
        change(&mut r);
        r
    };
    let agent_message = |email: Option<&str>| {
        let mut m = json!({"author": "agent", "public": true, "body": "Done.",
            "created_at": "2026-12-01T11:00:00Z"});
        if let Some(email) = email {
            m["agent_email"] = json!(email);
        }
        m
    };
    let batch = json!({"tickets": [
        // 0: good.
        good(),
        // 1: an agent's message without agent_email.
        with("BAD-1", &|r| r["messages"].as_array_mut().unwrap().push(agent_message(None))),
        // 2: a queue slug nobody has.
        with("BAD-2", &|r| r["queue"] = json!("no-such-queue")),
        // 3: a priority that does not exist.
        with("BAD-3", &|r| r["priority"] = json!("sky-high")),
        // 4: a message before the ticket was created.
        with("BAD-4", &|r| r["messages"][0]["created_at"] = json!("2026-11-30T10:00:00Z")),
        // 5: not an RFC 3339 time.
        with("BAD-5", &|r| {
            r["created_at"] = json!("yesterday");
            r["messages"][0]["created_at"] = json!("2026-12-01 10:00");
        }),
        // 6: a status that does not exist.
        with("BAD-6", &|r| r["status_changes"] = json!([{"status": "frozen", "at": at}])),
        // 7: the external id of record 0 again (otherwise good).
        with("OK-1", &|_| {}),
        // 8: an empty external id.
        with("BAD-8", &|r| r["external_id"] = json!("  ")),
        // 9: unknown fields, on the record and in a message, next to a bad
        // priority (all named).
        with("BAD-9", &|r| {
            r["colour"] = json!("red");
            r["messages"][0]["mood"] = json!("angry");
            r["priority"] = json!("meh");
        }),
        // 10: a value of the wrong type, named once (not also as missing).
        with("BAD-10", &|r| r["messages"][0]["public"] = json!("yes")),
        // 11: an agent nobody has.
        with("BAD-11", &|r| {
            r["messages"].as_array_mut().unwrap().push(agent_message(Some("ghost@example.com")))
        }),
    ]});
    let resp = import_as(&app, &app.admin, &batch).await;
    let problem = expect_problem(resp, 422).await;
    assert_eq!(problem["type"], "/problems/validation");
    let mut fields = problem_fields(&problem);
    fields.sort();
    let mut expected = vec![
        "tickets[1].messages[1].agent_email",
        "tickets[2].queue",
        "tickets[3].priority",
        "tickets[4].messages[0].created_at",
        "tickets[5].created_at",
        "tickets[5].messages[0].created_at",
        "tickets[6].status_changes[0].status",
        "tickets[7].external_id",
        "tickets[8].external_id",
        "tickets[9].colour",
        "tickets[9].messages[0].mood",
        "tickets[9].priority",
        "tickets[10].messages[0].public",
        "tickets[11].messages[1].agent_email",
    ];
    expected.sort();
    assert_eq!(fields, expected, "{problem:#}");
    let message_of = |field: &str| -> String {
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == field)
            .map(|e| e["message"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(message_of("tickets[7].external_id").contains("tickets[0].external_id"));
    assert!(message_of("tickets[9].colour").contains("unknown field"));
    assert!(message_of("tickets[2].queue").contains("no-such-queue"));
    assert!(message_of("tickets[11].messages[1].agent_email").contains("ghost@example.com"));

    // Nothing of it was stored, the good record neither.
    assert_eq!(app.ticket_count(), 0);
    assert_eq!(count(&app, "ticket_events"), 0);
    assert_eq!(count(&app, "customers"), 0);
    let answer = import(&app, &json!({"tickets": [good()]})).await;
    assert_eq!(answer[0]["created"], true);
    assert_eq!(app.ticket_count(), 1);

    // The body's own shape: an unknown top-level field, a list that is not.
    let problem = expect_problem(
        import_as(
            &app,
            &app.admin,
            &json!({"tickets": [], "source": "zendesk"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["source"]);
    let problem = expect_problem(
        import_as(&app, &app.admin, &json!({"tickets": {"external_id": "X"}})).await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["tickets"]);
    assert_eq!(app.ticket_count(), 1);
}

// -------------------------------------------------------- mail and scanner

#[actix_web::test]
async fn an_import_mails_nothing_and_the_scanner_announces_only_what_comes_due_after_it() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T09:00:00Z");
    let team = app.vendor_with_agent("Delta Team", Role::Agent).await;
    app.create_policy(json!({
        "name": "Round the clock",
        "targets": {"normal": {"first_response": 60, "resolution": 600}},
        "escalations": [
            {"on": "warning", "actions": [{"type": "notify", "emails": ["duty@client.example"]}]},
            {"on": "breach", "actions": [{"type": "notify", "emails": ["boss@client.example"]}]}
        ]
    }))
    .await;
    // 24/7. Created 10:00Z; the agent answers publicly at 11:30Z, after the
    // first response ran out at 11:00Z (breached, in the past when the
    // import runs at 12:00Z). Resolution, 10 h: warning at 80% = 8 h =
    // 18:00Z, due 20:00Z, both after the import.
    let mut record = simple("MAIL-1", "2026-12-07T10:00:00Z");
    record["queue"] = json!(team.queue_slug);
    record["messages"].as_array_mut().unwrap().push(json!({
        "author": "agent", "agent_email": "agent@delta-team.example", "public": true,
        "body": "Sorry for the wait.", "created_at": "2026-12-07T11:30:00Z"}));
    record["messages"].as_array_mut().unwrap().push(json!({
        "author": "agent", "agent_email": "agent@delta-team.example", "public": false,
        "body": "Note to self.", "created_at": "2026-12-07T11:31:00Z"}));
    // A second one, solved in the past with its first response breached:
    // nothing of it is ever announced.
    let mut solved = simple("MAIL-2", "2026-12-07T09:00:00Z");
    solved["status_changes"] = json!([{"status": "solved", "at": "2026-12-07T10:30:00Z"}]);

    pin(&app, "2026-12-07T12:00:00Z");
    let answer = import(&app, &json!({"tickets": [record, solved]})).await;
    let id = answer[0]["id"].as_str().unwrap().to_string();
    let solved_id = answer[1]["id"].as_str().unwrap().to_string();
    assert_eq!(count(&app, "outbox"), 0, "an import sends no mail");

    let sla = app.sla_of(&id).await;
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["state"], "breached");
    assert_eq!(first["breached_at"], "2026-12-07T11:00:00Z");
    assert_eq!(first["stopped_at"], "2026-12-07T11:30:00Z");
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["state"], "running");
    assert_eq!(resolution["due_at"], "2026-12-07T20:00:00Z");
    let old = clock(&app.sla_of(&solved_id).await, "first_response", 1).clone();
    assert_eq!(old["state"], "breached");
    assert_eq!(old["breached_at"], "2026-12-07T10:00:00Z");
    // The breaches the history reached count as announced (one notice per
    // ticket, the first responses).
    assert_eq!(count(&app, "sla_notices"), 2);

    // The scanner finds nothing to say now.
    let report = app.run_sla_scanner();
    assert_eq!(
        (report.warnings, report.breaches, report.escalations),
        (0, 0, 0),
        "{report:?}"
    );
    pin(&app, "2026-12-07T17:59:59Z");
    let report = app.run_sla_scanner();
    assert_eq!((report.warnings, report.breaches), (0, 0), "{report:?}");
    assert_eq!(count(&app, "outbox"), 0);

    // 18:00Z: the resolution warning comes due, after the import: announced.
    pin(&app, "2026-12-07T18:00:00Z");
    let report = app.run_sla_scanner();
    assert_eq!((report.warnings, report.breaches), (1, 0), "{report:?}");
    // 20:00:01Z: its breach (the second after the due time), once.
    pin(&app, "2026-12-07T20:00:01Z");
    let report = app.run_sla_scanner();
    assert_eq!((report.warnings, report.breaches), (0, 1), "{report:?}");
    assert_eq!(app.run_sla_scanner().breaches, 0);

    let events = app.events(&id).await;
    let kinds = |kind: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["data"].clone())
            .collect()
    };
    let breaches = kinds("sla.breached");
    assert_eq!(breaches.len(), 1, "{events:#?}");
    assert_eq!(breaches[0]["metric"], "resolution");
    assert_eq!(breaches[0]["breached_at"], "2026-12-07T20:00:00Z");
    let warnings = kinds("sla.warning");
    assert_eq!(warnings.len(), 1, "{events:#?}");
    assert_eq!(warnings[0]["metric"], "resolution");
    let solved_events = app.events(&solved_id).await;
    assert!(
        !solved_events
            .iter()
            .any(|e| e["kind"].as_str().unwrap().starts_with("sla.")),
        "{solved_events:#?}"
    );
    // The only mail: the two notifications the new thresholds escalated.
    let mail: Vec<(String, String)> = app.write(|w| {
        Ok(outbox::table
            .order(outbox::id.asc())
            .select((outbox::kind, outbox::to_address.assume_not_null()))
            .load(&mut **w)?)
    });
    assert_eq!(
        mail,
        [
            (
                "notification".to_string(),
                "duty@client.example".to_string()
            ),
            (
                "notification".to_string(),
                "boss@client.example".to_string()
            ),
        ]
    );
}

// ------------------------------------------------------ who, media, sizes

#[actix_web::test]
async fn only_admins_import_json_and_the_import_has_its_own_body_limit() {
    let app = TestApp::spawn_with(|s| s.server.json_body_limit = 4096).await;
    pin(&app, "2026-12-07T12:00:00Z");
    let team = app.vendor_with_agent("Echo Team", Role::Agent).await;
    app.create_agent("boss@client.example", "manager", None)
        .await;
    let manager = app.token(Role::Manager, Some("boss@client.example"));
    let batch = json!({"tickets": [simple("WHO-1", "2026-12-01T10:00:00Z")]});
    for token in [&manager, &team.token] {
        let problem = expect_problem(import_as(&app, token, &batch).await, 403).await;
        assert_eq!(problem["type"], "/problems/forbidden");
    }
    let resp = app
        .client
        .post(app.url(PATH))
        .json(&batch)
        .send()
        .await
        .unwrap();
    expect_problem(resp, 401).await;
    assert_eq!(app.ticket_count(), 0);

    // JSON only.
    let text = serde_json::to_string(&batch).unwrap();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app.post(PATH, &app.admin).body(text.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let problem = expect_problem(request.send().await.unwrap(), 415).await;
        assert_eq!(problem["type"], "/problems/unsupported-media-type");
    }
    let resp = app
        .post(PATH, &app.admin)
        .header("content-type", "application/json")
        .body("{\"tickets\": [")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(resp, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("JSON"),
        "{problem}"
    );
    let resp = app
        .post(PATH, &app.admin)
        .header("content-type", "application/json; charset=utf-8")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    expect_problem(resp, 422).await;
    assert_eq!(app.ticket_count(), 0);

    // A body over `server.json_body_limit` (4 KiB here), which every other
    // JSON route refuses...
    let long = "Everything went wrong. ".repeat(400);
    assert!(long.len() > 8192);
    let resp = app
        .post("/api/v1/tickets", &app.admin)
        .json(&json!({"subject": "Long", "body": long, "customer": {"email": "long@example.com"}}))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 413).await;
    // ...is well within the import's.
    let mut record = simple("BIG-1", "2026-12-01T10:00:00Z");
    record["messages"][0]["body"] = json!(long);
    let big = json!({"tickets": [record]});
    assert!(serde_json::to_vec(&big).unwrap().len() > 2 * 4096);
    let answer = import(&app, &big).await;
    assert_eq!(answer[0]["created"], true);
    let messages = app
        .read(&format!(
            "/api/v1/tickets/{}/messages",
            answer[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 1);
    assert_eq!(app.ticket_count(), 1);

    // The API document shows the route and the records' fields (not the
    // reader's bookkeeping).
    let doc = app.read("/api/v1/openapi.json").await;
    assert!(doc["paths"][PATH]["post"].is_object());
    let schemas = &doc["components"]["schemas"];
    let ticket = &schemas["ImportTicket"]["properties"];
    for field in ["external_id", "messages", "status_changes", "assignments"] {
        assert!(ticket[field].is_object(), "{field}: {ticket}");
    }
    assert!(ticket["unfit"].is_null(), "{ticket}");
    assert!(schemas["ImportRequest"]["properties"]["unfit"].is_null());
}
