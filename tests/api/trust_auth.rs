//! Issue 9, trust: a token's powers follow its agent, a vendor's answers
//! never confirm another vendor's objects, failed tokens are throttled per
//! address, and queue slugs cannot pose as queue ids.

use crate::common::*;
use diesel::prelude::*;
use relay::db::schema::agents;
use relay::domain::Role;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// A ticket in `queue` (id or slug), created by the admin.
async fn ticket_in(app: &TestApp, queue: &str, subject: &str) -> Value {
    let mut body = ticket_body(subject, "cust@example.com");
    body["queue"] = json!(queue);
    app.create_ticket(body).await
}

async fn ticket_ids(app: &TestApp, token: &str) -> Vec<String> {
    let page = expect_json(app.get("/api/v1/tickets", token).send().await.unwrap(), 200).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

async fn patch_agent(app: &TestApp, id: &str, change: Value) -> Value {
    let resp = app
        .patch(&format!("/api/v1/agents/{id}"), &app.admin)
        .json(&change)
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await
}

async fn status_of(app: &TestApp, path: &str, token: &str) -> u16 {
    app.get(path, token).send().await.unwrap().status().as_u16()
}

/// The status and body of an answer, with `reference` (what the request
/// named) replaced by a placeholder, so two answers about different names
/// can be compared.
async fn answer_about(resp: Response, reference: &str) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap().replace(reference, "<ref>");
    (status, body)
}

fn unknown_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[actix_web::test]
async fn a_demoted_lead_loses_lead_powers_with_the_same_token() {
    let app = TestApp::spawn().await;
    let lead = app.vendor_with_agent("Vendor A", Role::Lead).await;
    assert_eq!(status_of(&app, "/api/v1/agents", &lead.token).await, 200);

    patch_agent(&app, &lead.agent_id, json!({"role": "agent"})).await;
    // The token still works for what an agent may do, and no more.
    assert_eq!(status_of(&app, "/api/v1/tickets", &lead.token).await, 200);
    expect_problem(
        app.get("/api/v1/agents", &lead.token).send().await.unwrap(),
        403,
    )
    .await;
    let hire = app
        .post("/api/v1/agents", &lead.token)
        .json(&json!({"name": "New", "email": "new@vendor-a.example", "vendor_id": lead.vendor_id}))
        .send()
        .await
        .unwrap();
    expect_problem(hire, 403).await;

    // Promoting the person back gives the token back its own role, never more.
    patch_agent(&app, &lead.agent_id, json!({"role": "manager"})).await;
    assert_eq!(status_of(&app, "/api/v1/agents", &lead.token).await, 200);
    let queue = json!({"slug": "more", "name": "more", "vendor_id": lead.vendor_id});
    let resp = app
        .post("/api/v1/queues", &lead.token)
        .json(&queue)
        .send()
        .await
        .unwrap();
    expect_problem(resp, 403).await;
}

#[actix_web::test]
async fn a_manager_moved_into_a_vendor_as_an_agent_sees_only_that_vendors_tickets() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let in_a = ticket_in(&app, &a.queue_id, "for A").await;
    ticket_in(&app, &b.queue_id, "for B").await;
    let boss = app
        .create_agent("boss@client.example", "manager", None)
        .await;
    let boss_id = boss["id"].as_str().unwrap();
    let boss_token = app.token(Role::Manager, Some("boss@client.example"));
    assert_eq!(ticket_ids(&app, &boss_token).await.len(), 2);

    // Changed behind the API's back (SQL, a restore): the token still acts
    // only as what the person is now, for the vendor they work for now.
    {
        let mut conn = app.db.get().unwrap();
        diesel::update(agents::table.find(boss_id))
            .set((
                agents::role.eq("agent"),
                agents::vendor_id.eq(Some(a.vendor_id.clone())),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    assert_eq!(
        ticket_ids(&app, &boss_token).await,
        [in_a["id"].as_str().unwrap()]
    );
    expect_problem(
        app.get("/api/v1/agents", &boss_token).send().await.unwrap(),
        403,
    )
    .await;

    // Through the API, the move to another vendor ends the token outright.
    patch_agent(&app, boss_id, json!({"vendor_id": b.vendor_id})).await;
    expect_problem(
        app.get("/api/v1/tickets", &boss_token)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

#[actix_web::test]
async fn deactivating_by_patch_revokes_tokens_for_good() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    assert_eq!(status_of(&app, "/api/v1/tickets", &a.token).await, 200);

    let off = patch_agent(&app, &a.agent_id, json!({"active": false})).await;
    assert_eq!(off["active"], false);
    assert_eq!(status_of(&app, "/api/v1/tickets", &a.token).await, 401);
    let on = patch_agent(&app, &a.agent_id, json!({"active": true})).await;
    assert_eq!(on["active"], true);
    expect_problem(
        app.get("/api/v1/tickets", &a.token).send().await.unwrap(),
        401,
    )
    .await;
    let tokens = app.read("/api/v1/tokens").await;
    let theirs: Vec<&Value> = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["agent_id"] == a.agent_id.as_str())
        .collect();
    assert_eq!(theirs.len(), 1);
    assert!(theirs[0]["revoked_at"].is_string());
    // A new token works again.
    let fresh = app.token(Role::Agent, Some("agent@vendor-a.example"));
    assert_eq!(status_of(&app, "/api/v1/tickets", &fresh).await, 200);
}

#[actix_web::test]
async fn moving_an_agent_to_another_vendor_revokes_its_tokens() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    ticket_in(&app, &b.queue_id, "for B").await;
    assert_eq!(status_of(&app, "/api/v1/tickets", &a.token).await, 200);

    patch_agent(&app, &a.agent_id, json!({"vendor_id": b.vendor_id})).await;
    expect_problem(
        app.get("/api/v1/tickets", &a.token).send().await.unwrap(),
        401,
    )
    .await;
    // Other changes leave tokens alone.
    patch_agent(&app, &b.agent_id, json!({"capacity": 3, "role": "agent"})).await;
    assert_eq!(status_of(&app, "/api/v1/tickets", &b.token).await, 200);
}

fn patch_ticket_as(
    app: &TestApp,
    ticket: &Value,
    token: &str,
    change: Value,
) -> reqwest::RequestBuilder {
    app.patch(
        &format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap()),
        token,
    )
    .header("If-Match", format!("\"{}\"", ticket["version"]))
    .json(&change)
}

#[actix_web::test]
async fn another_vendors_queue_slug_answers_like_an_unknown_slug() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let ticket = ticket_in(&app, &a.queue_id, "stays with A").await;

    let foreign = patch_ticket_as(&app, &ticket, &a.token, json!({"queue": b.queue_slug}))
        .send()
        .await
        .unwrap();
    let unknown = patch_ticket_as(&app, &ticket, &a.token, json!({"queue": "no-such-queue"}))
        .send()
        .await
        .unwrap();
    let foreign = answer_about(foreign, &b.queue_slug).await;
    assert_eq!(foreign.0, 422, "{}", foreign.1);
    assert_eq!(foreign, answer_about(unknown, "no-such-queue").await);
    assert!(
        app.read(&format!(
            "/api/v1/tickets/{}",
            ticket["id"].as_str().unwrap()
        ))
        .await["queue"]["id"]
            == a.queue_id.as_str()
    );

    // Managers still name any queue by slug.
    let moved = patch_ticket_as(&app, &ticket, &app.admin, json!({"queue": b.queue_slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(moved, 200).await["queue"]["slug"],
        b.queue_slug.as_str()
    );
}

#[actix_web::test]
async fn a_hand_off_by_id_answers_only_that_it_happened() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let ticket = ticket_in(&app, &a.queue_id, "Needs Spanish").await;

    let resp = patch_ticket_as(
        &app,
        &ticket,
        &a.token,
        json!({"queue": b.queue_id, "priority": "high"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let text = resp.text().await.unwrap();
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer,
        json!({"id": ticket["id"], "number": ticket["number"], "version": 2, "handed_off": true})
    );
    for secret in [
        b.queue_id.as_str(),
        b.queue_slug.as_str(),
        "Vendor B",
        "high",
    ] {
        assert!(!text.contains(secret), "the answer shows {secret}: {text}");
    }
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let now = app.read(&path).await;
    assert_eq!(now["queue"]["id"], b.queue_id.as_str());
    assert_eq!(now["priority"], "high");
    expect_problem(app.get(&path, &a.token).send().await.unwrap(), 404).await;

    // A change that keeps the ticket in sight answers the whole ticket.
    let kept = ticket_in(&app, &a.queue_id, "stays").await;
    let resp = patch_ticket_as(
        &app,
        &kept,
        &a.token,
        json!({"queue": a.queue_slug, "priority": "low"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(expect_json(resp, 200).await["priority"], "low");
}

#[actix_web::test]
async fn a_hand_off_named_with_an_assignee_confirms_nothing() {
    let app = TestApp::spawn().await;
    // A lead: agents may not give tickets to others at all.
    let a = app.vendor_with_agent("Vendor A", Role::Lead).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let ticket = ticket_in(&app, &a.queue_id, "stays with A").await;
    let made_up = unknown_id();

    for assignee in [&a.agent_id, &b.agent_id] {
        let foreign = patch_ticket_as(
            &app,
            &ticket,
            &a.token,
            json!({"queue": b.queue_id, "assignee": assignee}),
        )
        .send()
        .await
        .unwrap();
        let unknown = patch_ticket_as(
            &app,
            &ticket,
            &a.token,
            json!({"queue": made_up, "assignee": assignee}),
        )
        .send()
        .await
        .unwrap();
        let foreign = answer_about(foreign, &b.queue_id).await;
        assert_eq!(foreign.0, 422, "{}", foreign.1);
        assert!(!foreign.1.contains("another vendor"), "{}", foreign.1);
        assert_eq!(foreign, answer_about(unknown, &made_up).await);
    }
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    assert_eq!(app.read(&path).await["version"], 1, "nothing changed");
}

#[actix_web::test]
async fn another_vendors_agent_answers_like_an_unknown_assignee() {
    let app = TestApp::spawn().await;
    // A lead: agents may not give tickets to others at all.
    let a = app.vendor_with_agent("Vendor A", Role::Lead).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let ticket = ticket_in(&app, &a.queue_id, "for A").await;
    let made_up = unknown_id();

    let foreign = patch_ticket_as(&app, &ticket, &a.token, json!({"assignee": b.agent_id}))
        .send()
        .await
        .unwrap();
    let unknown = patch_ticket_as(&app, &ticket, &a.token, json!({"assignee": made_up}))
        .send()
        .await
        .unwrap();
    let foreign = answer_about(foreign, &b.agent_id).await;
    assert_eq!(foreign.0, 422, "{}", foreign.1);
    assert!(foreign.1.contains("no active agent"), "{}", foreign.1);
    assert_eq!(foreign, answer_about(unknown, &made_up).await);

    // One's own agents are assignable as before.
    let mine = patch_ticket_as(&app, &ticket, &a.token, json!({"assignee": a.agent_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(mine, 200).await["assignee"]["id"],
        a.agent_id.as_str()
    );
}

#[actix_web::test]
async fn a_lead_learns_nothing_about_other_vendors_from_the_directory() {
    let app = TestApp::spawn().await;
    let lead = app.vendor_with_agent("Vendor A", Role::Lead).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let plain = app.token(Role::Agent, Some("agent@vendor-a.example"));
    let teammate = app
        .create_agent("mate@vendor-a.example", "agent", Some(&lead.vendor_id))
        .await;
    let teammate_id = teammate["id"].as_str().unwrap();
    let made_up = unknown_id();

    // A vendor id: another vendor's is as unknown as a made-up one.
    let hire = |vendor: &str| {
        app.post("/api/v1/agents", &lead.token)
            .json(&json!({"name": "N", "email": "n@vendor-a.example", "vendor_id": vendor}))
            .send()
    };
    let foreign = answer_about(hire(&b.vendor_id).await.unwrap(), &b.vendor_id).await;
    assert_eq!(foreign.0, 422, "{}", foreign.1);
    assert_eq!(
        foreign,
        answer_about(hire(&made_up).await.unwrap(), &made_up).await
    );
    let transfer = |vendor: &str| {
        app.patch(&format!("/api/v1/agents/{teammate_id}"), &lead.token)
            .json(&json!({"vendor_id": vendor}))
            .send()
    };
    let foreign = answer_about(transfer(&b.vendor_id).await.unwrap(), &b.vendor_id).await;
    assert_eq!(foreign.0, 422, "{}", foreign.1);
    assert_eq!(
        foreign,
        answer_about(transfer(&made_up).await.unwrap(), &made_up).await
    );

    // An address: taken is taken, wherever (addresses are unique everywhere).
    let hire_as = |email: &str| {
        app.post("/api/v1/agents", &lead.token)
            .json(&json!({"name": "N", "email": email, "vendor_id": lead.vendor_id}))
            .send()
    };
    let elsewhere = answer_about(
        hire_as("agent@vendor-b.example").await.unwrap(),
        "agent@vendor-b.example",
    )
    .await;
    assert_eq!(elsewhere.0, 422, "{}", elsewhere.1);
    assert_eq!(
        elsewhere,
        answer_about(
            hire_as("mate@vendor-a.example").await.unwrap(),
            "mate@vendor-a.example"
        )
        .await
    );

    // Records by id, for a lead and for an agent.
    for token in [&lead.token, &plain] {
        let pairs = [
            (
                format!("/api/v1/vendors/{}", b.vendor_id),
                format!("/api/v1/vendors/{made_up}"),
            ),
            (
                format!("/api/v1/queues/{}", b.queue_id),
                format!("/api/v1/queues/{made_up}"),
            ),
            (
                format!("/api/v1/queues/{}", b.queue_slug),
                "/api/v1/queues/no-such-queue".to_string(),
            ),
            (
                format!("/api/v1/agents/{}", b.agent_id),
                format!("/api/v1/agents/{made_up}"),
            ),
        ];
        for (foreign, unknown) in &pairs {
            for method in ["GET", "PATCH", "DELETE"] {
                let send = |path: &str| {
                    let builder = match method {
                        "GET" => app.get(path, token),
                        "PATCH" => app.patch(path, token).json(&json!({"name": "x"})),
                        _ => app.delete(path, token),
                    };
                    builder.send()
                };
                let foreign_ref = foreign.rsplit('/').next().unwrap();
                let unknown_ref = unknown.rsplit('/').next().unwrap();
                let foreign_answer = answer_about(send(foreign).await.unwrap(), foreign_ref).await;
                assert!(
                    foreign_answer.0 >= 400,
                    "{method} {foreign}: {}",
                    foreign_answer.1
                );
                assert_eq!(
                    foreign_answer,
                    answer_about(send(unknown).await.unwrap(), unknown_ref).await,
                    "{method} {foreign} vs {unknown}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn failed_tokens_are_throttled_per_address_before_any_lookup() {
    let app = TestApp::spawn_with(|s| {
        // No refill while the test runs.
        s.server.failed_token_attempts_per_minute = NonZeroU32::new(1).unwrap();
        s.server.failed_token_burst = NonZeroU32::new(5).unwrap();
    })
    .await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let wrong = "rly_0000000000000000000000000000000000000000000000000000000000000000";

    // Failures count on both paths: the intake hot path and the extractors.
    for _ in 0..3 {
        let resp = app
            .post("/api/v1/tickets", wrong)
            .json(&ticket_body("guess", "g@example.com"))
            .send()
            .await
            .unwrap();
        expect_problem(resp, 401).await;
    }
    for _ in 0..2 {
        assert_eq!(status_of(&app, "/api/v1/tickets", wrong).await, 401);
    }
    // The budget is spent: the answer comes before any lookup, so even a
    // good token from this address waits.
    expect_problem(
        app.get("/api/v1/tickets", &a.token).send().await.unwrap(),
        429,
    )
    .await;
    let resp = app
        .post("/api/v1/tickets", &a.token)
        .json(&ticket_body("real", "r@example.com"))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 429).await;
    let mut refused = 0;
    for _ in 0..1000 {
        let status = app
            .get("/api/v1/tickets", wrong)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 1000, "no further guess reaches the database");
    // The public channel has its own budget.
    let resp = app
        .client
        .post(app.url("/api/v1/tickets"))
        .json(&ticket_body("public", "p@example.com"))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await;

    // Another address is not affected.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let resp = elsewhere
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
}

#[actix_web::test]
async fn a_queue_slug_may_not_be_shaped_like_a_queue_id() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let resp = app
        .post("/api/v1/queues", &app.admin)
        .json(&json!({"slug": a.queue_id, "name": "impostor", "vendor_id": a.vendor_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(resp, 422).await), ["slug"]);
    let resp = app
        .patch(&format!("/api/v1/queues/{}", a.queue_slug), &app.admin)
        .json(&json!({"slug": unknown_id().replace('-', "")}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(resp, 422).await), ["slug"]);
    let queues = app.read("/api/v1/queues").await;
    assert_eq!(queues.as_array().unwrap().len(), 1);
    assert_eq!(queues[0]["slug"], a.queue_slug.as_str());
}
