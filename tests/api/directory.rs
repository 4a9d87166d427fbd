//! Vendors, queues, agents and tokens: create, read, update, delete.

use crate::common::*;
use relay::domain::Role;
use serde_json::json;

#[actix_web::test]
async fn vendors_queues_and_agents_round_trip() {
    let app = TestApp::spawn().await;
    let vendor = app.create_vendor("Manila Support Co", "Asia/Manila").await;
    let id = vendor["id"].as_str().unwrap();
    let dup = app
        .post("/api/v1/vendors", &app.admin)
        .json(&json!({"name": "manila support co", "timezone": "UTC"}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(dup, 422).await), ["name"]);

    let updated = app
        .patch(&format!("/api/v1/vendors/{id}"), &app.admin)
        .json(&json!({"contracted_attainment": 0.95, "price_per_ticket_cents": 350, "currency": "USD", "mask_customer_pii": true}))
        .send()
        .await
        .unwrap();
    let updated = expect_json(updated, 200).await;
    assert_eq!(updated["contracted_attainment"], 0.95);
    assert_eq!(updated["mask_customer_pii"], true);

    let queue = app.create_queue("billing-en", id).await;
    let dup = app
        .post("/api/v1/queues", &app.admin)
        .json(&json!({"slug": "billing-en", "name": "x", "vendor_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(dup, 422).await), ["slug"]);
    let renamed = app
        .patch("/api/v1/queues/billing-en", &app.admin)
        .json(&json!({"name": "Billing (EN)", "assignment_strategy": "round_robin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(renamed, 200).await["assignment_strategy"],
        "round_robin"
    );
    let read = expect_json(
        app.get(
            &format!("/api/v1/queues/{}", queue["id"].as_str().unwrap()),
            &app.admin,
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(read["name"], "Billing (EN)");

    // A vendor with queues cannot be deleted; an empty queue can.
    expect_problem(
        app.delete(&format!("/api/v1/vendors/{id}"), &app.admin)
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;

    let agent = app
        .create_agent("Rosa@Manila.example", "lead", Some(id))
        .await;
    assert_eq!(agent["email"], "rosa@manila.example");
    assert_eq!(agent["capacity"], 10);
    let agent_id = agent["id"].as_str().unwrap();
    let skilled = app
        .patch(&format!("/api/v1/agents/{agent_id}"), &app.admin)
        .json(&json!({"skills": ["EN", "billing"], "capacity": 25}))
        .send()
        .await
        .unwrap();
    let skilled = expect_json(skilled, 200).await;
    assert_eq!(skilled["skills"], json!(["en", "billing"]));

    // The lead manages their own vendor's agents.
    let lead = app.token(Role::Lead, Some("rosa@manila.example"));
    let hire = app
        .post("/api/v1/agents", &lead)
        .json(&json!({"name": "Jun", "email": "jun@manila.example", "vendor_id": id}))
        .send()
        .await
        .unwrap();
    let jun = expect_json(hire, 201).await;
    let promote = app
        .post("/api/v1/agents", &lead)
        .json(&json!({"name": "M", "email": "m@manila.example", "role": "manager"}))
        .send()
        .await
        .unwrap();
    expect_problem(promote, 403).await;
    let team = expect_json(app.get("/api/v1/agents", &lead).send().await.unwrap(), 200).await;
    assert_eq!(team.as_array().unwrap().len(), 2);

    // Deactivating an agent revokes their tokens at once.
    let jun_id = jun["id"].as_str().unwrap();
    let jun_token = app.token(Role::Agent, Some("jun@manila.example"));
    expect_json(
        app.get("/api/v1/tickets", &jun_token).send().await.unwrap(),
        200,
    )
    .await;
    let gone = app
        .delete(&format!("/api/v1/agents/{jun_id}"), &lead)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204, "every DELETE answers 204");
    let gone = app.read(&format!("/api/v1/agents/{jun_id}")).await;
    assert_eq!(gone["active"], false, "deactivated, not removed");
    expect_problem(
        app.get("/api/v1/tickets", &jun_token).send().await.unwrap(),
        401,
    )
    .await;

    expect_json(
        app.delete("/api/v1/queues/billing-en", &app.admin)
            .send()
            .await
            .unwrap(),
        204,
    )
    .await;
    expect_problem(
        app.get("/api/v1/queues/billing-en", &app.admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

#[actix_web::test]
async fn a_queue_holding_tickets_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let v = app.vendor_with_agent("Bogota CX", Role::Agent).await;
    let mut body = ticket_body("held", "held@example.com");
    body["queue"] = json!(v.queue_slug);
    app.create_ticket(body).await;
    let resp = app
        .delete(&format!("/api/v1/queues/{}", v.queue_slug), &app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(resp, 409).await;
}

#[actix_web::test]
async fn tokens_are_issued_listed_and_revoked_by_admins() {
    let app = TestApp::spawn().await;
    let issued = app
        .post("/api/v1/tokens", &app.admin)
        .json(&json!({"name": "mail gateway", "role": "intake"}))
        .send()
        .await
        .unwrap();
    let issued = expect_json(issued, 201).await;
    let secret = issued["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("rly_"));
    expect_json(
        app.post("/api/v1/tickets", &secret)
            .json(&ticket_body("via gateway", "g@example.com"))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;

    let listed = expect_json(
        app.get("/api/v1/tokens", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    let listed_text = listed.to_string();
    assert!(!listed_text.contains(&secret), "secrets are never listed");
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == issued["id"])
        .unwrap();
    assert_eq!(entry["role"], "intake");
    assert!(entry["last_used_at"].is_string());

    let id = issued["id"].as_str().unwrap();
    for _ in 0..2 {
        let revoked = app
            .delete(&format!("/api/v1/tokens/{id}"), &app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 204, "revoking again changes nothing");
    }
    let listed = app.read("/api/v1/tokens").await;
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap();
    assert!(entry["revoked_at"].is_string());
    expect_problem(
        app.post("/api/v1/tickets", &secret)
            .json(&ticket_body("after", "g@example.com"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    expect_problem(
        app.delete("/api/v1/tokens/unknown", &app.admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // A person's token never exceeds their role.
    app.create_vendor("V", "UTC").await;
    let vendors = expect_json(
        app.get("/api/v1/vendors", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    let vendor_id = vendors[0]["id"].as_str().unwrap();
    app.create_agent("a@v.example", "agent", Some(vendor_id))
        .await;
    let too_much = app
        .post("/api/v1/tokens", &app.admin)
        .json(&json!({"name": "x", "role": "lead", "agent": "a@v.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(too_much, 422).await),
        ["role"]
    );
}

#[actix_web::test]
async fn a_token_names_its_agent_by_id_or_email() {
    let app = TestApp::spawn().await;
    let alpha = app.vendor_with_agent("Alpha", Role::Agent).await;
    for agent in [alpha.agent_id.clone(), "AGENT@alpha.example".to_string()] {
        let issued = app
            .post("/api/v1/tokens", &app.admin)
            .json(&json!({"name": "laptop", "role": "agent", "agent": agent}))
            .send()
            .await
            .unwrap();
        let issued = expect_json(issued, 201).await;
        assert_eq!(issued["agent_id"], alpha.agent_id, "{agent}");
    }
    let unknown = app
        .post("/api/v1/tokens", &app.admin)
        .json(
            &json!({"name": "laptop", "role": "agent", "agent": uuid::Uuid::new_v4().to_string()}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(unknown, 422).await;
    assert_eq!(problem_fields(&problem), ["agent"]);
}
