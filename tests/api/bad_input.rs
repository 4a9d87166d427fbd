//! Bad input always gets a clear 4xx problem document and changes nothing.

use crate::common::*;
use crate::trust_intake::open_to_the_public;
use relay::domain::Role;
use serde_json::json;

#[actix_web::test]
async fn bad_ticket_bodies_are_refused_with_field_messages() {
    let app = TestApp::spawn().await;
    let post = |body: String| {
        app.client
            .post(app.url("/api/v1/tickets"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let malformed = expect_problem(post("{\"subject\": ".into()).await.unwrap(), 400).await;
    assert!(malformed["detail"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));

    let unknown = expect_problem(
        post(json!({"subject": "s", "body": "b", "customer": {"email": "a@example.com"}, "prio": "high"}).to_string()).await.unwrap(),
        400,
    )
    .await;
    assert!(
        unknown["detail"].as_str().unwrap().contains("prio"),
        "{unknown}"
    );

    let missing = expect_problem(post("{}".into()).await.unwrap(), 422).await;
    assert_eq!(
        problem_fields(&missing),
        ["subject", "body", "customer.email"]
    );

    // Priority and tags are checked like any field once they may come from
    // the public channel (by default they may not: see trust_intake).
    open_to_the_public(&app, json!({"priority": true, "tags": true})).await;
    let invalid = expect_problem(
        post(
            json!({
                "subject": "x".repeat(300),
                "body": "b",
                "customer": {"email": "not-an-address"},
                "priority": "asap",
                "tags": ["ok", "no spaces allowed"],
                "language": "en_US!"
            })
            .to_string(),
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(
        problem_fields(&invalid),
        ["subject", "customer.email", "priority", "tags", "language"]
    );
    assert!(invalid["errors"][2]["message"]
        .as_str()
        .unwrap()
        .contains("low, normal, high, urgent"));

    let queue = expect_problem(
        post(json!({"subject": "s", "body": "b", "customer": {"email": "a@example.com"}, "queue": "billing"}).to_string()).await.unwrap(),
        422,
    )
    .await;
    assert_eq!(
        problem_fields(&queue),
        ["queue"],
        "public callers cannot pick a queue"
    );

    let wrong_type = expect_problem(
        post(json!({"subject": "s", "body": "b", "customer": {"email": "a@example.com"}, "custom_fields": [1]}).to_string()).await.unwrap(),
        400,
    )
    .await;
    assert!(wrong_type["detail"]
        .as_str()
        .unwrap()
        .contains("custom_fields"));

    let missing_queue = app
        .post("/api/v1/tickets", &app.admin)
        .json(&json!({"subject": "s", "body": "b", "customer": {"email": "a@example.com"}, "queue": "no-such-queue"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(missing_queue, 422).await),
        ["queue"]
    );

    let too_big = format!(
        "{{\"subject\": \"s\", \"body\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    expect_problem(post(too_big).await.unwrap(), 413).await;

    let bad_key = app
        .client
        .post(app.url("/api/v1/tickets"))
        .header("Idempotency-Key", "")
        .json(&ticket_body("s", "a@example.com"))
        .send()
        .await
        .unwrap();
    expect_problem(bad_key, 400).await;

    assert_eq!(app.ticket_count(), 0, "nothing was created by bad input");
}

#[actix_web::test]
async fn bad_queries_paths_and_headers_are_refused() {
    let app = TestApp::spawn().await;
    let ticket = app.create_ticket(ticket_body("ok", "ok@example.com")).await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=zz", "cursor"),
        ("status=opened", "status"),
        ("priority=asap", "priority"),
    ] {
        let resp = app
            .get(&format!("/api/v1/tickets?{query}"), &app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem_fields(&expect_problem(resp, 422).await),
            [field],
            "{query}"
        );
    }
    expect_problem(
        app.get("/api/v1/tickets?colour=red", &app.admin)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    expect_problem(
        app.get("/api/v1/tickets?limit=ten", &app.admin)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    expect_problem(
        app.get("/api/v1/tickets/not-a-ticket", &app.admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    expect_problem(
        app.get("/api/v1/tickets/99999999", &app.admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // Routes are matched with their method, so an unsupported method finds no resource.
    expect_problem(app.delete(&path, &app.admin).send().await.unwrap(), 404).await;
    expect_problem(
        app.get("/api/v1/nothing-here", &app.admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    let garbage_etag = app
        .patch(&path, &app.admin)
        .header("If-Match", "yesterday")
        .json(&json!({"priority": "low"}))
        .send()
        .await
        .unwrap();
    expect_problem(garbage_etag, 412).await;
    let bad_patch = app
        .patch(&path, &app.admin)
        .header("If-Match", "\"1\"")
        .json(&json!({"priority": "asap", "status": "new", "owner": "me"}))
        .send()
        .await
        .unwrap();
    expect_problem(bad_patch, 400).await;
    let bad_values = app
        .patch(&path, &app.admin)
        .header("If-Match", "\"1\"")
        .json(&json!({"priority": "asap", "assignee": "nobody", "subject": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(bad_values, 422).await),
        ["subject", "priority", "assignee"]
    );
    let after = app.read(&path).await;
    assert_eq!(after["version"], 1, "a refused change changes nothing");

    expect_problem(
        app.client
            .get(app.url("/api/v1/tickets"))
            .header("Authorization", "Basic abc")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

#[actix_web::test]
async fn bad_directory_input_is_refused() {
    let app = TestApp::spawn().await;
    let vendor = expect_problem(
        app.post("/api/v1/vendors", &app.admin)
            .json(&json!({"name": "X", "timezone": "Mars/Olympus", "contracted_attainment": 1.5, "price_per_ticket_cents": 100}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(
        problem_fields(&vendor),
        ["timezone", "contracted_attainment", "currency"]
    );
    let queue = expect_problem(
        app.post("/api/v1/queues", &app.admin)
            .json(&json!({"slug": "Bad Slug", "name": "x", "vendor_id": "missing", "assignment_strategy": "random"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(
        problem_fields(&queue),
        ["slug", "vendor_id", "assignment_strategy"]
    );
    let agent = expect_problem(
        app.post("/api/v1/agents", &app.admin)
            .json(&json!({"name": "x", "email": "nope", "role": "agent"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&agent), ["email", "vendor_id"]);
    let token = expect_problem(
        app.post("/api/v1/tokens", &app.admin)
            .json(&json!({"name": "x", "role": "agent"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&token), ["agent"]);
    let role = expect_problem(
        app.post("/api/v1/tokens", &app.admin)
            .json(&json!({"name": "x", "role": "root"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&role), ["role"]);
    let vendors = expect_json(
        app.get("/api/v1/vendors", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(vendors.as_array().unwrap().len(), 0);
    let _ = Role::Admin;
}
