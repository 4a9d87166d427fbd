//! Issue 9: what ticket intake tells its callers, what an idempotent replay
//! may show, the bounds PATCH shares with create, and the fields the public
//! channel may set.

use crate::common::*;
use relay::domain::Role;
use reqwest::Response;
use serde_json::{json, Value};

/// Anonymous `POST /api/v1/tickets`, from `client` as a trusted proxy would
/// report it in `X-Forwarded-For` (the app must trust forwarded addresses).
async fn public_create(app: &TestApp, client: &str, key: Option<&str>, body: &Value) -> Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/tickets"))
        .header("X-Forwarded-For", client)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn create_as(app: &TestApp, token: &str, key: &str, body: &Value) -> Response {
    app.post("/api/v1/tickets", token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// PATCH as admin with the ticket's current ETag; the response.
async fn admin_patch(app: &TestApp, id: &str, change: Value) -> Response {
    let path = format!("/api/v1/tickets/{id}");
    let current = app.read(&path).await;
    app.patch(&path, &app.admin)
        .header("If-Match", format!("\"{}\"", current["version"]))
        .json(&change)
        .send()
        .await
        .unwrap()
}

async fn ticket_count(app: &TestApp) -> usize {
    let page = app.read("/api/v1/tickets?limit=100").await;
    page["items"].as_array().unwrap().len()
}

async fn set_public_fields(app: &TestApp, token: &str, setting: Value) -> Response {
    app.client
        .put(app.url("/api/v1/intake/public-fields"))
        .bearer_auth(token)
        .json(&setting)
        .send()
        .await
        .unwrap()
}

/// Lets anonymous callers set the fields `setting` names, as a manager
/// would (other tests of the public channel use it too).
pub async fn open_to_the_public(app: &TestApp, setting: Value) {
    expect_json(set_public_fields(app, &app.admin, setting).await, 200).await;
}

// ------------------------------------------------------------ replays

#[actix_web::test]
async fn a_replay_after_a_hand_off_is_not_found_for_the_vendor_that_lost_the_ticket() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Manila BPO", Role::Agent).await;
    let b = app.vendor_with_agent("Bogota BPO", Role::Agent).await;
    let mut body = ticket_body("Charged twice", "ana@example.com");
    body["queue"] = json!(a.queue_slug);

    let first = create_as(&app, &a.token, "handoff-1", &body).await;
    let first = expect_json(first, 201).await;
    let id = first["id"].as_str().unwrap();
    let again = create_as(&app, &a.token, "handoff-1", &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(again, 201).await["id"], first["id"]);

    expect_json(
        admin_patch(&app, id, json!({"queue": b.queue_slug})).await,
        200,
    )
    .await;
    let after = create_as(&app, &a.token, "handoff-1", &body).await;
    let problem = expect_problem(after, 404).await;
    assert!(
        !problem.to_string().contains(&b.queue_slug),
        "the 404 names nothing of vendor B: {problem}"
    );
    assert_eq!(ticket_count(&app).await, 1, "the replay made no ticket");
}

#[actix_web::test]
async fn a_replay_shows_what_the_first_answer_showed_not_later_changes() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Manila BPO", Role::Agent).await;
    let intake = app.token(Role::Intake, None);
    let mut body = ticket_body("Where is my parcel", "ben@example.com");
    body["tags"] = json!(["shipping"]);
    let first = expect_json(create_as(&app, &intake, "replay-1", &body).await, 201).await;
    let id = first["id"].as_str().unwrap();

    let changed = admin_patch(
        &app,
        id,
        json!({"subject": "VIP: lost parcel", "tags": ["vip", "legal"], "queue": a.queue_id, "assignee": a.agent_id,
               "custom_fields": {"internal_note": "refund approved"}}),
    )
    .await;
    expect_json(changed, 200).await;

    let replay = create_as(&app, &intake, "replay-1", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.headers()["etag"], "\"1\"");
    let replay = expect_json(replay, 201).await;
    assert_eq!(
        replay, first,
        "the replay is the first answer, byte for byte"
    );
    assert_eq!(replay["subject"], "Where is my parcel");
    assert_eq!(replay["tags"], json!(["shipping"]));
    assert_eq!(replay["assignee"], Value::Null);
    let text = replay.to_string();
    for later in ["VIP", "legal", "refund approved", a.agent_id.as_str()] {
        assert!(!text.contains(later), "the replay shows {later:?}: {text}");
    }
}

#[actix_web::test]
async fn a_key_stored_before_answers_were_kept_replays_only_id_and_number() {
    use diesel::prelude::*;
    use relay::db::schema::idempotency_keys;
    let app = TestApp::spawn().await;
    let intake = app.token(Role::Intake, None);
    let body = ticket_body("Old key", "old@example.com");
    let first = expect_json(create_as(&app, &intake, "old-1", &body).await, 201).await;
    {
        // As the row was written before the migration that keeps answers.
        let mut conn = app.db.get().unwrap();
        diesel::update(idempotency_keys::table)
            .set(idempotency_keys::answer.eq(None::<String>))
            .execute(&mut *conn)
            .unwrap();
    }
    let replay = create_as(&app, &intake, "old-1", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay = expect_json(replay, 201).await;
    assert_eq!(
        replay,
        json!({"id": first["id"], "number": first["number"]}),
        "nothing of the ticket's current state"
    );
}

#[actix_web::test]
async fn anonymous_keys_belong_to_one_client() {
    let app = TestApp::spawn_with(|s| s.server.trust_forwarded_for = true).await;
    let (ours, theirs) = ("203.0.113.7", "198.51.100.9");
    let body = ticket_body("My account is locked", "carla@example.com");

    let first = expect_json(public_create(&app, ours, Some("k-1"), &body).await, 201).await;
    let mine_again = public_create(&app, ours, Some("k-1"), &body).await;
    assert_eq!(mine_again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(mine_again, 201).await["id"], first["id"]);

    // Another client with the same key and body gets a ticket of its own,
    // with its own link, and learns nothing of the first.
    let other = public_create(&app, theirs, Some("k-1"), &body).await;
    assert!(other.headers().get("idempotent-replayed").is_none());
    let other = expect_json(other, 201).await;
    assert_ne!(other["id"], first["id"]);
    assert!(other["access_url"].as_str().is_some());
    assert_ne!(other["access_url"], first["access_url"]);

    // A different body under someone else's key is no probe either: it is
    // a new request of that client, not "this key was used".
    let probe = public_create(&app, theirs, Some("k-2"), &body).await;
    expect_json(probe, 201).await;
    let squat = ticket_body("Something else", "dan@example.com");
    let squatted = public_create(&app, theirs, Some("k-3"), &squat).await;
    expect_json(squatted, 201).await;
    let owner = public_create(&app, ours, Some("k-3"), &body).await;
    assert!(
        owner.headers().get("idempotent-replayed").is_none(),
        "another client cannot take our keys first"
    );
    expect_json(owner, 201).await;
}

// ------------------------------------------------- what a create answers

#[actix_web::test]
async fn create_answers_show_the_customer_as_sent_never_as_stored() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Manila BPO", Role::Agent).await;
    let known = app
        .create_ticket(json!({"subject": "First", "body": "b",
            "customer": {"email": "known@example.com", "name": "Stored Secret Name"}}))
        .await;
    let customer_id = known["customer"]["id"].as_str().unwrap().to_string();

    let anonymous = app
        .client
        .post(app.url("/api/v1/tickets"))
        .json(&json!({"subject": "Hi", "body": "b", "customer": {"email": "KNOWN@example.com"}}))
        .send()
        .await
        .unwrap();
    let anonymous = expect_json(anonymous, 201).await;
    assert_eq!(
        anonymous["customer"],
        json!({"email": "known@example.com", "name": null})
    );

    let mut body = json!({"subject": "Hi", "body": "b",
        "customer": {"email": "known@example.com", "name": "Someone"}});
    body["queue"] = json!(a.queue_slug);
    let agent = create_as(&app, &a.token, "agent-1", &body).await;
    let agent = expect_json(agent, 201).await;
    assert_eq!(
        agent["customer"],
        json!({"email": "known@example.com", "name": "Someone"})
    );

    for answer in [&anonymous, &agent] {
        let text = answer.to_string();
        assert!(!text.contains("Stored Secret Name"), "{text}");
        assert!(!text.contains(&customer_id), "{text}");
        // Still the ticket's shape.
        for field in [
            "id",
            "number",
            "subject",
            "status",
            "priority",
            "version",
            "created_at",
        ] {
            assert!(answer.get(field).is_some(), "{field} missing: {text}");
        }
    }
    // The ticket still belongs to the stored customer.
    let stored = app
        .read(&format!(
            "/api/v1/tickets/{}",
            anonymous["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["customer"]["id"], customer_id.as_str());

    // Managers and admins read every customer anyway: the full view.
    let manager = app.token(Role::Manager, None);
    let full = expect_json(create_as(&app, &manager, "m-1", &body).await, 201).await;
    assert_eq!(full["customer"]["id"], customer_id.as_str());
    assert_eq!(full["customer"]["name"], "Stored Secret Name");
}

#[actix_web::test]
async fn only_the_public_channel_receives_the_customers_link() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Manila BPO", Role::Agent).await;
    let lead = app.vendor_with_agent("Bogota BPO", Role::Lead).await;
    let body = ticket_body("Link", "link@example.com");

    let public = app
        .client
        .post(app.url("/api/v1/tickets"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let public = expect_json(public, 201).await;
    assert!(public["access_url"].as_str().unwrap().contains("/t/rly_"));

    let intake = app.token(Role::Intake, None);
    let manager = app.token(Role::Manager, None);
    let callers = [
        ("intake", intake, None),
        ("agent", a.token.clone(), Some(a.queue_slug.clone())),
        ("lead", lead.token.clone(), Some(lead.queue_slug.clone())),
        ("manager", manager, None),
        ("admin", app.admin.clone(), None),
    ];
    for (role, token, queue) in callers {
        let mut body = body.clone();
        if let Some(queue) = queue {
            body["queue"] = json!(queue);
        }
        let answer = expect_json(create_as(&app, &token, role, &body).await, 201).await;
        assert!(
            answer.get("access_url").is_none(),
            "{role} holds the customer's link: {answer}"
        );
    }
}

// ------------------------------------------- PATCH checks what create checks

#[actix_web::test]
async fn patch_bounds_custom_fields_like_create() {
    let app = TestApp::spawn().await;
    let ticket = app
        .create_ticket(ticket_body("Big", "big@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap();
    let before = app.read(&format!("/api/v1/tickets/{id}")).await;

    for i in 0..3 {
        let huge = json!({"custom_fields": {format!("blob{i}"): "x".repeat(1_000_000)}});
        let problem = expect_problem(admin_patch(&app, id, huge).await, 422).await;
        assert_eq!(problem_fields(&problem), ["custom_fields"]);
    }
    let after = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(after, before, "nothing grew, nothing changed");

    // Measured on the merged result: two patches that fit alone do not
    // add up to more than one create may send.
    let half = || "y".repeat(10 * 1024);
    expect_json(
        admin_patch(&app, id, json!({"custom_fields": {"a": half()}})).await,
        200,
    )
    .await;
    let problem = expect_problem(
        admin_patch(&app, id, json!({"custom_fields": {"b": half()}})).await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["custom_fields"]);
    // Removing a field to make room is allowed.
    expect_json(
        admin_patch(&app, id, json!({"custom_fields": {"a": null, "b": half()}})).await,
        200,
    )
    .await;
    let create_problem = expect_problem(
        app.post("/api/v1/tickets", &app.admin)
            .json(
                &json!({"subject": "s", "body": "b", "customer": {"email": "c@example.com"},
                "custom_fields": {"a": half(), "b": half()}}),
            )
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(
        create_problem["errors"], problem["errors"],
        "the same check"
    );
}

#[actix_web::test]
async fn patch_refuses_a_language_that_is_no_tag_as_create_does() {
    let app = TestApp::spawn().await;
    let ticket = app
        .create_ticket(ticket_body("Lang", "lang@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap();

    let patched = expect_problem(
        admin_patch(&app, id, json!({"language": "<script>"})).await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&patched), ["language"]);
    let mut body = ticket_body("Lang", "lang@example.com");
    body["language"] = json!("<script>");
    let created = expect_problem(
        app.post("/api/v1/tickets", &app.admin)
            .json(&body)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(created["errors"], patched["errors"], "the same check");
    assert_eq!(
        app.read(&format!("/api/v1/tickets/{id}")).await["language"],
        Value::Null
    );

    let fine = expect_json(
        admin_patch(&app, id, json!({"language": "es-CO"})).await,
        200,
    )
    .await;
    assert_eq!(fine["language"], "es-CO");
}

// ------------------------------------------------------- public fields

#[actix_web::test]
async fn the_public_channel_sets_only_fields_a_manager_made_public() {
    let app = TestApp::spawn().await;
    let manager = app.token(Role::Manager, None);
    let intake = app.token(Role::Intake, None);
    let a = app.vendor_with_agent("Manila BPO", Role::Lead).await;
    let anonymous = |body: Value| {
        app.client
            .post(app.url("/api/v1/tickets"))
            .json(&body)
            .send()
    };
    let with = |extra: Value| {
        let mut body = ticket_body("Help", "pub@example.com");
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    // Nothing is public at first.
    let setting = expect_json(
        app.get("/api/v1/intake/public-fields", &manager)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        setting,
        json!({"priority": false, "tags": false, "custom_fields": []})
    );
    for (extra, field) in [
        (json!({"priority": "urgent"}), "priority"),
        (json!({"tags": ["vip"]}), "tags"),
        (
            json!({"custom_fields": {"secret_flag": true}}),
            "custom_fields.secret_flag",
        ),
    ] {
        let problem = expect_problem(anonymous(with(extra)).await.unwrap(), 422).await;
        assert_eq!(problem_fields(&problem), [field]);
    }
    assert_eq!(
        ticket_count(&app).await,
        0,
        "refused requests create nothing"
    );
    // Without them the public channel works as before.
    expect_json(anonymous(with(json!({}))).await.unwrap(), 201).await;

    // Only managers and admins read or change the setting.
    for token in [&a.token, &intake] {
        let open = json!({"priority": true});
        expect_problem(set_public_fields(&app, token, open).await, 403).await;
        let read = app
            .get("/api/v1/intake/public-fields", token)
            .send()
            .await
            .unwrap();
        expect_problem(read, 403).await;
    }
    let bad = set_public_fields(&app, &manager, json!({"custom_fields": [" "]})).await;
    assert_eq!(
        problem_fields(&expect_problem(bad, 422).await),
        ["custom_fields"]
    );
    let unknown = set_public_fields(&app, &manager, json!({"subject": true})).await;
    expect_problem(unknown, 400).await;

    let open = json!({"priority": true, "tags": false, "custom_fields": ["order_number"]});
    let stored = expect_json(set_public_fields(&app, &manager, open.clone()).await, 200).await;
    assert_eq!(stored, open);
    let read = app
        .get("/api/v1/intake/public-fields", &app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(read, 200).await, open);

    let allowed = with(json!({"priority": "high", "custom_fields": {"order_number": "A-1"}}));
    let created = expect_json(anonymous(allowed).await.unwrap(), 201).await;
    assert_eq!(created["priority"], "high");
    assert_eq!(created["custom_fields"], json!({"order_number": "A-1"}));
    let mixed = with(
        json!({"tags": ["vip"], "custom_fields": {"order_number": "A-2", "secret_flag": true}}),
    );
    let problem = expect_problem(anonymous(mixed).await.unwrap(), 422).await;
    assert_eq!(
        problem_fields(&problem),
        ["tags", "custom_fields.secret_flag"]
    );

    // Authenticated callers are not limited by the setting.
    let everything = with(json!({"priority": "urgent", "tags": ["vip"],
        "custom_fields": {"secret_flag": true}}));
    expect_json(create_as(&app, &intake, "all", &everything).await, 201).await;
    assert_eq!(ticket_count(&app).await, 3);
}
