//! Tickets over the REST API.

use crate::common::*;
use crate::trust_intake::open_to_the_public;
use relay::domain::Role;
use serde_json::json;

#[actix_web::test]
async fn public_intake_creates_a_committed_ticket() {
    let app = TestApp::spawn().await;
    // The public channel sets priority, tags and custom fields only once a
    // manager makes them public.
    open_to_the_public(
        &app,
        json!({"priority": true, "tags": true, "custom_fields": ["order"]}),
    )
    .await;
    let resp = app
        .client
        .post(app.url("/api/v1/tickets"))
        .json(&json!({
            "subject": "  Card declined  ",
            "body": "My card was declined twice.",
            "customer": {"email": "Ana.Cruz@Example.com", "name": "Ana Cruz"},
            "priority": "high",
            "tags": ["Billing", "billing", "vip"],
            "custom_fields": {"order": "A-1001"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["etag"], "\"1\"");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let ticket = expect_json(resp, 201).await;
    assert_eq!(
        location,
        format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap())
    );
    assert_eq!(ticket["subject"], "Card declined");
    assert_eq!(ticket["status"], "new");
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["channel"], "api");
    assert_eq!(ticket["queue"], serde_json::Value::Null);
    assert_eq!(ticket["customer"]["email"], "ana.cruz@example.com");
    assert_eq!(ticket["tags"], json!(["billing", "vip"]));
    assert_eq!(ticket["custom_fields"]["order"], "A-1001");
    assert!(ticket["number"].as_i64().unwrap() > 10000);
    assert!(ticket["access_url"].as_str().unwrap().contains("/t/rly_"));

    // It is really stored: a manager reads it back by number, with its first message and event.
    let number = ticket["number"].as_i64().unwrap();
    let read = app.read(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(read["id"], ticket["id"]);
    let messages = app
        .read(&format!("/api/v1/tickets/{number}/messages"))
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 1);
    assert_eq!(messages[0]["author_kind"], "customer");
    assert_eq!(messages[0]["body"], "My card was declined twice.");
    let events = app.read(&format!("/api/v1/tickets/{number}/events")).await;
    assert_eq!(events[0]["kind"], "created");
}

#[actix_web::test]
async fn numbers_increase_and_customers_are_shared_by_address() {
    let app = TestApp::spawn().await;
    let a = app
        .create_ticket(ticket_body("one", "same@example.com"))
        .await;
    let b = app
        .create_ticket(ticket_body("two", "SAME@example.com"))
        .await;
    assert!(b["number"].as_i64() > a["number"].as_i64());
    assert_eq!(a["customer"]["id"], b["customer"]["id"]);
}

#[actix_web::test]
async fn an_unknown_token_is_refused_even_on_public_intake() {
    let app = TestApp::spawn().await;
    let resp = app
        .post("/api/v1/tickets", "rly_nope")
        .json(&ticket_body("x", "a@example.com"))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 401).await;
    let resp = app
        .client
        .get(app.url("/api/v1/tickets"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("www-authenticate"));
    expect_problem(resp, 401).await;
}

#[actix_web::test]
async fn role_checks_guard_every_resource() {
    let app = TestApp::spawn().await;
    let intake = app.token(Role::Intake, None);
    let a = app.vendor_with_agent("Manila BPO", Role::Agent).await;

    // Intake may create tickets but never read them.
    expect_json(
        app.post("/api/v1/tickets", &intake)
            .json(&ticket_body("hi", "c@example.com"))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    expect_problem(
        app.get("/api/v1/tickets", &intake).send().await.unwrap(),
        403,
    )
    .await;
    expect_problem(
        app.get("/api/v1/queues", &intake).send().await.unwrap(),
        403,
    )
    .await;

    // Agents cannot manage vendors, queues, agents or tokens.
    let vendor = json!({"name": "Rogue", "timezone": "UTC"});
    expect_problem(
        app.post("/api/v1/vendors", &a.token)
            .json(&vendor)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let queue = json!({"slug": "x", "name": "x", "vendor_id": a.vendor_id});
    expect_problem(
        app.post("/api/v1/queues", &a.token)
            .json(&queue)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    expect_problem(
        app.get("/api/v1/agents", &a.token).send().await.unwrap(),
        403,
    )
    .await;
    expect_problem(
        app.get("/api/v1/tokens", &a.token).send().await.unwrap(),
        403,
    )
    .await;

    // Managers manage the organisation but not tokens.
    let manager = app.token(Role::Manager, None);
    expect_json(
        app.post("/api/v1/vendors", &manager)
            .json(&vendor)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    expect_problem(
        app.post("/api/v1/tokens", &manager)
            .json(&json!({"name": "x", "role": "admin"}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    // Managers cannot create admins.
    let admin_agent = json!({"name": "Boss", "email": "boss@example.com", "role": "admin"});
    expect_problem(
        app.post("/api/v1/agents", &manager)
            .json(&admin_agent)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
}

#[actix_web::test]
async fn a_retried_request_with_the_same_idempotency_key_makes_one_ticket() {
    let app = TestApp::spawn().await;
    let body = ticket_body("Refund please", "retry@example.com");
    let send = |key: &'static str, body: serde_json::Value| {
        app.client
            .post(app.url("/api/v1/tickets"))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("key-1", body.clone()).await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect_json(first, 201).await;
    let again = send("key-1", body.clone()).await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = expect_json(again, 201).await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        again["access_url"],
        serde_json::Value::Null,
        "the link is shown only once"
    );

    // The same key with a different body is refused and changes nothing.
    let other = send("key-1", ticket_body("Something else", "retry@example.com"))
        .await
        .unwrap();
    expect_problem(other, 422).await;

    // Concurrent retries of a new key still make one ticket.
    let racing = futures_util::future::join_all((0..8).map(|_| send("key-2", body.clone()))).await;
    let mut ids = std::collections::HashSet::new();
    for resp in racing {
        ids.insert(
            expect_json(resp.unwrap(), 201).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        ids.len(),
        1,
        "eight concurrent retries made {} tickets",
        ids.len()
    );

    let all = expect_json(
        app.get("/api/v1/tickets?customer=retry@example.com", &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // Keys are scoped per caller: an authenticated client's key-1 is its own.
    let intake = app.token(Role::Intake, None);
    let theirs = app
        .post("/api/v1/tickets", &intake)
        .header("Idempotency-Key", "key-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let theirs = expect_json(theirs, 201).await;
    assert_ne!(theirs["id"], first["id"]);
}

#[actix_web::test]
async fn pagination_neither_skips_nor_repeats_while_tickets_arrive() {
    let app = TestApp::spawn().await;
    for i in 0..23 {
        app.create_ticket(ticket_body(&format!("before {i}"), "pager@example.com"))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=5&q=before&cursor={c}"),
            None => "/api/v1/tickets?limit=5&q=before".to_string(),
        };
        let page = app.read(&path).await;
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["number"].as_i64().unwrap());
        }
        // New tickets arrive between page reads, matching the same filter.
        app.create_ticket(ticket_body(
            &format!("before, but new {pages}"),
            "pager@example.com",
        ))
        .await;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, seen, "newest first, no repeats");
    assert_eq!(
        seen.len(),
        23,
        "every ticket that existed at the start was listed once"
    );
}

#[actix_web::test]
async fn list_filters_narrow_the_results() {
    let app = TestApp::spawn().await;
    let v = app.vendor_with_agent("Bogota CX", Role::Agent).await;
    let mut urgent = ticket_body("Server DOWN now", "ops@example.com");
    urgent["priority"] = json!("urgent");
    urgent["queue"] = json!(v.queue_slug);
    let urgent = app.create_ticket(urgent).await;
    app.create_ticket(ticket_body("Invoice copy 100%_done", "fin@example.com"))
        .await;
    let number = urgent["number"].as_i64().unwrap();
    let etag = format!("\"{}\"", urgent["version"]);
    let assigned = app
        .patch(&format!("/api/v1/tickets/{number}"), &app.admin)
        .header("If-Match", etag)
        .json(&json!({"assignee": v.agent_id, "status": "open"}))
        .send()
        .await
        .unwrap();
    expect_json(assigned, 200).await;

    let count = |path: String| {
        let app = &app;
        async move {
            let page = app.read(&path).await;
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("/api/v1/tickets?priority=urgent".into()).await, 1);
    assert_eq!(count("/api/v1/tickets?priority=low,normal".into()).await, 1);
    assert_eq!(count("/api/v1/tickets?status=open".into()).await, 1);
    assert_eq!(count("/api/v1/tickets?status=new,open".into()).await, 2);
    assert_eq!(
        count(format!("/api/v1/tickets?queue={}", v.queue_slug)).await,
        1
    );
    assert_eq!(
        count(format!("/api/v1/tickets?queue={}", v.queue_id)).await,
        1
    );
    assert_eq!(
        count(format!("/api/v1/tickets?assignee={}", v.agent_id)).await,
        1
    );
    assert_eq!(count("/api/v1/tickets?assignee=none".into()).await, 1);
    assert_eq!(
        count("/api/v1/tickets?customer=FIN@example.com".into()).await,
        1
    );
    assert_eq!(
        count("/api/v1/tickets?q=server%20down".into()).await,
        1,
        "text search ignores case"
    );
    assert_eq!(
        count("/api/v1/tickets?q=100%25_".into()).await,
        1,
        "% and _ match literally"
    );
    assert_eq!(count("/api/v1/tickets?q=1000".into()).await, 0);
    let mine = expect_json(
        app.get("/api/v1/tickets?assignee=me", &v.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(mine["items"][0]["number"], number);
}

#[actix_web::test]
async fn patch_needs_the_current_etag() {
    let app = TestApp::spawn().await;
    let ticket = app
        .create_ticket(ticket_body("Etag", "etag@example.com"))
        .await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let read = app.get(&path, &app.admin).send().await.unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, "\"1\"");

    let without = app
        .patch(&path, &app.admin)
        .json(&json!({"priority": "high"}))
        .send()
        .await
        .unwrap();
    expect_problem(without, 428).await;

    let ok = app
        .patch(&path, &app.admin)
        .header("If-Match", &etag)
        .json(&json!({"priority": "high"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.headers()["etag"], "\"2\"");
    let updated = expect_json(ok, 200).await;
    assert_eq!(updated["priority"], "high");
    assert_eq!(updated["version"], 2);

    // A second writer still holding version 1 loses, and changes nothing.
    let stale = app
        .patch(&path, &app.admin)
        .header("If-Match", &etag)
        .json(&json!({"priority": "low"}))
        .send()
        .await
        .unwrap();
    expect_problem(stale, 412).await;
    let now = app.read(&path).await;
    assert_eq!(now["priority"], "high");

    // A message changes the ticket too, so the ETag moves on.
    let reply = app
        .post(&format!("{path}/messages"), &app.admin)
        .json(&json!({"body": "On it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.headers()["etag"], "\"3\"");
    let events = app.read(&format!("{path}/events")).await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "routed",
            "acknowledgement_sent",
            "priority_changed",
            "replied",
            "status_changed"
        ]
    );
}

/// Walks a fresh ticket to `from` along allowed paths, then tries `to`.
async fn try_transition(app: &TestApp, from: &str, to: &str) -> u16 {
    let path_to = |status: &str| -> Vec<&'static str> {
        match status {
            "new" => vec![],
            "open" => vec!["open"],
            "pending" => vec!["pending"],
            "on_hold" => vec!["on_hold"],
            "solved" => vec!["solved"],
            "closed" => vec!["solved", "closed"],
            other => panic!("unknown status {other}"),
        }
    };
    let ticket = app
        .create_ticket(ticket_body("Transitions", "flow@example.com"))
        .await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let mut version = 1;
    for step in path_to(from) {
        let resp = app
            .patch(&path, &app.admin)
            .header("If-Match", format!("\"{version}\""))
            .json(&json!({"status": step}))
            .send()
            .await
            .unwrap();
        version = expect_json(resp, 200).await["version"].as_i64().unwrap();
    }
    let resp = app
        .patch(&path, &app.admin)
        .header("If-Match", format!("\"{version}\""))
        .json(&json!({"status": to}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    if status == 200 {
        assert_eq!(body["status"], to);
    }
    status
}

#[actix_web::test]
async fn every_status_transition_follows_the_machine() {
    let app = TestApp::spawn().await;
    let statuses = ["new", "open", "pending", "on_hold", "solved", "closed"];
    for from in statuses {
        for to in statuses {
            let allowed = from != "closed"
                && to != "new"
                && (from == to
                    || if from == "solved" {
                        to == "open" || to == "closed"
                    } else {
                        to != "closed"
                    })
                || (from == "new" && to == "new");
            let expected = match (allowed, from) {
                (_, "closed") if from == to => 409,
                (_, "closed") => 409,
                (true, _) => 200,
                (false, _) => 422,
            };
            assert_eq!(
                try_transition(&app, from, to).await,
                expected,
                "{from} -> {to}"
            );
        }
    }
}

#[actix_web::test]
async fn agent_replies_and_notes_shape_the_conversation() {
    let app = TestApp::spawn().await;
    let v = app.vendor_with_agent("Krakow CC", Role::Agent).await;
    let mut body = ticket_body("Login fails", "login@example.com");
    body["queue"] = json!(v.queue_slug);
    let ticket = app.create_ticket(body).await;
    let path = format!("/api/v1/tickets/{}", ticket["number"]);

    let note = app
        .post(&format!("{path}/messages"), &v.token)
        .json(&json!({"body": "Checking logs", "public": false}))
        .send()
        .await
        .unwrap();
    let note = expect_json(note, 201).await;
    assert_eq!(note["public"], false);
    assert_eq!(note["author_agent_id"], v.agent_id.as_str());
    let still_new = expect_json(app.get(&path, &v.token).send().await.unwrap(), 200).await;
    assert_eq!(
        still_new["status"], "new",
        "an internal note is not a response"
    );

    let reply = app
        .post(&format!("{path}/messages"), &v.token)
        .json(&json!({"body": "Fixed, please retry"}))
        .send()
        .await
        .unwrap();
    expect_json(reply, 201).await;
    let opened = expect_json(app.get(&path, &v.token).send().await.unwrap(), 200).await;
    assert_eq!(
        opened["status"], "open",
        "the first public reply opens the ticket"
    );

    let empty = app
        .post(&format!("{path}/messages"), &v.token)
        .json(&json!({"body": "   "}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(empty, 422).await), ["body"]);

    let messages = expect_json(
        app.get(&format!("{path}/messages"), &v.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let bodies: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Something is wrong with my order.",
            "Checking logs",
            "Fixed, please retry"
        ]
    );

    // Vendor agents reading a ticket leave a trace in its audit trail.
    let events = app.read(&format!("{path}/events")).await;
    assert!(events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "viewed" && e["actor"] == format!("agent:{}", v.agent_id)));

    // Closed is final.
    app.set_status(&ticket["number"], "solved").await;
    app.set_status(&ticket["number"], "closed").await;
    let late = app
        .post(&format!("{path}/messages"), &v.token)
        .json(&json!({"body": "one more thing"}))
        .send()
        .await
        .unwrap();
    expect_problem(late, 409).await;
}

#[actix_web::test]
async fn the_public_channel_is_rate_limited_per_client_but_tokens_are_not() {
    let app = TestApp::spawn_with(|s| {
        s.intake.public_requests_per_minute = 1;
        s.intake.public_burst = 3;
    })
    .await;
    for i in 0..3 {
        let resp = app
            .client
            .post(app.url("/api/v1/tickets"))
            .json(&ticket_body(&format!("t{i}"), "bot@example.com"))
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await;
    }
    let limited = app
        .client
        .post(app.url("/api/v1/tickets"))
        .json(&ticket_body("t4", "bot@example.com"))
        .send()
        .await
        .unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    expect_problem(limited, 429).await;
    // Authenticated intake is not subject to the public budget.
    let intake = app.token(Role::Intake, None);
    let resp = app
        .post("/api/v1/tickets", &intake)
        .json(&ticket_body("t5", "gw@example.com"))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await;
    let page = expect_json(
        app.get("/api/v1/tickets", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
}
