//! Issue 9: what vendor agents are shown of customers (`mask_customer_pii`)
//! and of another vendor's people after a hand-off, and the `viewed` trail
//! their reads leave.

use crate::common::*;
use diesel::prelude::*;
use relay::db::schema::{outbox_recipients, ticket_events};
use relay::domain::Role;
use serde_json::{json, Value};

const CUSTOMER: &str = "zoe.kowalski@customer.example";
const COLLEAGUE: &str = "carol@partner.example";

/// A mail from Zoë with a colleague in Cc and both addresses in the text,
/// routed to `queue`; the new ticket's number.
async fn mail_from_zoe(app: &TestApp, queue: &str) -> Value {
    let raw = format!(
        "From: Zoë Kowalski <{CUSTOMER}>\r\n\
         To: support@relay.localhost\r\n\
         Cc: Carol <{COLLEAGUE}>\r\n\
         Subject: Refund for {CUSTOMER}\r\n\
         Message-ID: <zoe-1@customer.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Reach me at {CUSTOMER} or my colleague {COLLEAGUE}.\r\n"
    );
    let resp = app
        .post(&format!("/api/v1/inbound/email?queue={queue}"), &app.admin)
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap();
    let created = expect_json(resp, 201).await;
    created["ticket"]["number"].clone()
}

async fn read_as(app: &TestApp, path: &str, token: &str) -> Value {
    expect_json(app.get(path, token).send().await.unwrap(), 200).await
}

async fn set_masking(app: &TestApp, vendor_id: &str, mask: bool) {
    let resp = app
        .patch(&format!("/api/v1/vendors/{vendor_id}"), &app.admin)
        .json(&json!({ "mask_customer_pii": mask }))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
}

/// PATCH as `token` with the ticket's current ETag.
async fn patch_as(app: &TestApp, number: &Value, token: &str, change: Value) -> Value {
    let path = format!("/api/v1/tickets/{number}");
    let current = app.read(&path).await;
    let resp = app
        .patch(&path, token)
        .header("If-Match", format!("\"{}\"", current["version"]))
        .json(&change)
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await
}

/// Asserts that none of `secrets` appears anywhere in `answer`.
fn reveals_none(answer: &Value, secrets: &[&str], what: &str) {
    let text = answer.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "{what} reveals {secret}: {text}");
    }
}

/// The identifying parts of Zoë's and Carol's addresses and Zoë's surname.
const ZOE_AND_CAROL: [&str; 3] = ["zoe.kowalski@", "carol@", "Kowalski"];

#[actix_web::test]
async fn a_masking_vendor_sees_customers_masked_in_every_answer_but_replies_reach_them() {
    let app = TestApp::spawn().await;
    let v = app.vendor_with_agent("Masked", Role::Agent).await;
    set_masking(&app, &v.vendor_id, true).await;
    let number = mail_from_zoe(&app, &v.queue_slug).await;
    let path = format!("/api/v1/tickets/{number}");

    let ticket = read_as(&app, &path, &v.token).await;
    assert_eq!(ticket["customer"]["email"], "z•••@customer.example");
    assert_eq!(ticket["customer"]["name"], "Z•••");
    assert_eq!(ticket["subject"], "Refund for z•••@customer.example");
    reveals_none(&ticket, &ZOE_AND_CAROL, "the ticket");

    let messages = read_as(&app, &format!("{path}/messages"), &v.token).await;
    assert_eq!(
        messages[0]["body"].as_str().unwrap().trim(),
        "Reach me at z•••@customer.example or my colleague c•••@partner.example."
    );
    reveals_none(&messages, &ZOE_AND_CAROL, "the messages");

    let events = read_as(&app, &format!("{path}/events"), &v.token).await;
    let received = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "email_received")
        .expect("the mail's event");
    assert!(received["data"]["recipients"]
        .as_array()
        .unwrap()
        .contains(&json!("c•••@partner.example")));
    reveals_none(&events, &ZOE_AND_CAROL, "the events");

    let list = read_as(&app, "/api/v1/tickets", &v.token).await;
    assert_eq!(
        list["items"][0]["customer"]["email"],
        "z•••@customer.example"
    );
    reveals_none(&list, &ZOE_AND_CAROL, "the list");

    let patched = patch_as(&app, &number, &v.token, json!({"priority": "high"})).await;
    assert_eq!(patched["customer"]["email"], "z•••@customer.example");
    reveals_none(&patched, &ZOE_AND_CAROL, "the PATCH answer");

    // The agent's reply is answered masked and still goes to the customer
    // and the participant, whole.
    let resp = app
        .post(&format!("{path}/messages"), &v.token)
        .json(&json!({"body": "Refund sent; copy to carol@partner.example too"}))
        .send()
        .await
        .unwrap();
    let reply = expect_json(resp, 201).await;
    reveals_none(&reply, &ZOE_AND_CAROL, "the reply answer");
    let mut recipients: Vec<String> = {
        let mut conn = app.db.get().unwrap();
        outbox_recipients::table
            .filter(outbox_recipients::kind.eq("reply"))
            .select(outbox_recipients::email)
            .load(&mut *conn)
            .unwrap()
    };
    recipients.sort();
    assert_eq!(recipients, [COLLEAGUE, CUSTOMER]);

    // Staff see everything as stored.
    let whole = app.read(&path).await;
    assert_eq!(whole["customer"]["email"], CUSTOMER);
    assert_eq!(whole["customer"]["name"], "Zoë Kowalski");
    let events = app.read(&format!("{path}/events")).await;
    assert!(events.to_string().contains(COLLEAGUE));

    // And so does the vendor once it stops masking.
    set_masking(&app, &v.vendor_id, false).await;
    let unmasked = read_as(&app, &path, &v.token).await;
    assert_eq!(unmasked["customer"]["email"], CUSTOMER);
    assert_eq!(unmasked["customer"]["name"], "Zoë Kowalski");
}

#[actix_web::test]
async fn a_masking_vendor_cannot_find_tickets_by_customer_address() {
    let app = TestApp::spawn().await;
    let masked = app.vendor_with_agent("Masked", Role::Lead).await;
    let open = app.vendor_with_agent("Open", Role::Agent).await;
    set_masking(&app, &masked.vendor_id, true).await;
    mail_from_zoe(&app, &masked.queue_slug).await;
    let search = format!("/api/v1/tickets?customer={CUSTOMER}");

    let resp = app.get(&search, &masked.token).send().await.unwrap();
    let problem = expect_problem(resp, 422).await;
    assert_eq!(problem_fields(&problem), ["customer"]);
    // The same answer whether or not the address is a customer's.
    let resp = app
        .get(
            "/api/v1/tickets?customer=nobody@nowhere.example",
            &masked.token,
        )
        .send()
        .await
        .unwrap();
    expect_problem(resp, 422).await;

    let found = app.read(&search).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let elsewhere = read_as(&app, &search, &open.token).await;
    assert_eq!(elsewhere["items"], json!([]), "an unmasked vendor filters");
}

/// The `viewed` events of a ticket, oldest first.
fn views(app: &TestApp, ticket_id: &str) -> Vec<(String, String)> {
    let mut conn = app.db.get().unwrap();
    ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .filter(ticket_events::kind.eq("viewed"))
        .order(ticket_events::id.asc())
        .select((ticket_events::id, ticket_events::actor))
        .load(&mut *conn)
        .unwrap()
}

#[actix_web::test]
async fn vendor_reads_of_a_ticket_are_recorded_once_per_few_minutes() {
    let app = TestApp::spawn().await;
    let v = app.vendor_with_agent("Acme", Role::Agent).await;
    let ticket = app
        .create_ticket(
            json!({"subject": "Broken", "body": "It broke", "queue": v.queue_slug,
            "customer": {"email": CUSTOMER}}),
        )
        .await;
    let id = ticket["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tickets/{id}");

    // Staff reads leave no trace.
    app.read(&path).await;
    app.read(&format!("{path}/messages")).await;
    assert!(views(&app, &id).is_empty());

    for _ in 0..2 {
        for what in ["", "/messages", "/events"] {
            read_as(&app, &format!("{path}{what}"), &v.token).await;
        }
    }
    let recorded = views(&app, &id);
    let actor = format!("agent:{}", v.agent_id);
    assert_eq!(
        recorded.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>(),
        [actor.as_str()],
        "six reads in a row make one event"
    );

    // Past the coalescing window, a read of the messages alone is recorded.
    app.clock.advance(chrono::TimeDelta::minutes(6));
    read_as(&app, &format!("{path}/messages"), &v.token).await;
    read_as(&app, &format!("{path}/messages"), &v.token).await;
    assert_eq!(views(&app, &id).len(), 2);
}

#[actix_web::test]
async fn a_hand_off_shows_the_previous_vendors_notes_but_not_its_people() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Alpha", Role::Agent).await;
    let b = app.vendor_with_agent("Beta", Role::Agent).await;
    let ticket = app
        .create_ticket(
            json!({"subject": "Router drops", "body": "Every evening", "queue": a.queue_slug,
            "customer": {"email": CUSTOMER}}),
        )
        .await;
    let number = ticket["number"].clone();
    let path = format!("/api/v1/tickets/{number}");

    patch_as(&app, &number, &a.token, json!({"assignee": a.agent_id})).await;
    let note = "Tried a firmware reset; the customer prefers calls after 6pm";
    let resp = app
        .post(&format!("{path}/messages"), &a.token)
        .json(&json!({"body": note, "public": false}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await;
    read_as(&app, &format!("{path}/messages"), &a.token).await;

    let handed = patch_as(&app, &number, &app.admin, json!({"queue": b.queue_slug})).await;
    assert_eq!(
        handed["assignee"],
        Value::Null,
        "the hand-off releases Alpha's agent"
    );

    let seen = read_as(&app, &path, &b.token).await;
    reveals_none(&seen, &[&a.agent_id], "the ticket");

    let messages = read_as(&app, &format!("{path}/messages"), &b.token).await;
    let note_seen = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == note)
        .expect("Beta sees Alpha's internal note");
    assert_eq!(note_seen["public"], false);
    assert_eq!(note_seen["author_kind"], "agent");
    assert_eq!(note_seen["author_agent_id"], Value::Null);
    reveals_none(&messages, &[&a.agent_id], "the messages");

    let events = read_as(&app, &format!("{path}/events"), &b.token).await;
    reveals_none(&events, &[&a.agent_id], "the events");
    let of_kind = |kind: &str| -> Vec<Value> {
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    };
    assert_eq!(of_kind("note_added")[0]["actor"], "agent:other-vendor");
    let hidden = json!({"agent_id": "other-vendor", "vendor_id": "other-vendor"});
    assert_eq!(of_kind("assigned")[0]["data"]["to"], hidden);
    assert_eq!(of_kind("unassigned")[0]["data"]["from"], hidden);
    assert_eq!(of_kind("unassigned")[0]["data"]["reason"], "handed_off");
    // Nor which of Alpha's queues it came from, nor Alpha itself.
    let elsewhere = json!({"queue_id": "other-vendor", "vendor_id": "other-vendor"});
    assert_eq!(of_kind("created")[0]["data"]["queue"], elsewhere);
    let moved = &of_kind("queue_changed")[0]["data"];
    assert_eq!(moved["from"], elsewhere);
    assert_eq!(moved["to"]["queue_id"], b.queue_id);
    assert_eq!(moved["to"]["vendor_id"], b.vendor_id);
    assert_eq!(moved["handed_off"], true);
    reveals_none(&events, &[&a.queue_id, &a.vendor_id], "the events");
    // Beta's own people and the staff who handed it over stay named.
    let actors: Vec<Value> = of_kind("viewed")
        .iter()
        .map(|e| e["actor"].clone())
        .collect();
    assert!(actors.contains(&json!(format!("agent:{}", b.agent_id))));
    assert!(actors.contains(&json!("agent:other-vendor")));
    assert!(of_kind("queue_changed")[0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("token:"));

    // Alpha has lost the ticket; staff still see who did what.
    let resp = app.get(&path, &a.token).send().await.unwrap();
    expect_problem(resp, 404).await;
    let trail = app.read(&format!("{path}/events")).await;
    assert!(trail.to_string().contains(&a.agent_id));
    let messages = app.read(&format!("{path}/messages")).await;
    assert!(messages.to_string().contains(&a.agent_id));
}
