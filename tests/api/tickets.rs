//! Tickets over the REST API.

use crate::common::*;
use relay::domain::Role;
use serde_json::json;

#[actix_web::test]
async fn public_intake_creates_a_committed_ticket() {
    let app = TestApp::spawn().await;
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
    let read = expect_json(
        app.get(&format!("/api/v1/tickets/{number}"), &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(read["id"], ticket["id"]);
    let messages = expect_json(
        app.get(&format!("/api/v1/tickets/{number}/messages"), &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(messages.as_array().unwrap().len(), 1);
    assert_eq!(messages[0]["author_kind"], "customer");
    assert_eq!(messages[0]["body"], "My card was declined twice.");
    let events = expect_json(
        app.get(&format!("/api/v1/tickets/{number}/events"), &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
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
