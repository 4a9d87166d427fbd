//! A ticket's history: every path that changes a ticket records its typed
//! event (the API, the web form, the customer page, the email pipeline,
//! bounces, the demo), every stored event reads back as an `EventData`, and
//! messages say in a column whether a machine wrote them.

use crate::common::*;
use diesel::prelude::*;
use relay::db::schema::{messages, outbox, outbox_recipients, ticket_events};
use relay::domain::event::EventData;
use relay::domain::Role;
use serde_json::{json, Value};

/// Every event in the database parses as the typed payload of its kind:
/// nothing was written with a loose kind or a hand-made payload.
fn assert_every_event_is_typed(app: &TestApp) -> usize {
    let mut conn = app.db.get().unwrap();
    let rows: Vec<(String, String)> = ticket_events::table
        .select((ticket_events::kind, ticket_events::data))
        .load(&mut *conn)
        .unwrap();
    for (kind, data) in &rows {
        let payload: Value = serde_json::from_str(data).unwrap();
        let parsed = EventData::parse(kind, &payload)
            .unwrap_or_else(|| panic!("an untyped event: {kind} {payload}"));
        assert_eq!(parsed.kind(), kind);
    }
    rows.len()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

#[actix_web::test]
async fn every_api_change_records_its_typed_event() {
    let app = TestApp::spawn().await;
    let alpha = app.vendor_with_agent("Alpha", Role::Agent).await;
    let beta = app.vendor_with_agent("Beta", Role::Agent).await;
    let ticket = app
        .create_ticket(json!({"subject": "Printer", "body": "It is on fire",
            "queue": alpha.queue_slug, "customer": {"email": "ana@example.com"}}))
        .await;
    let id = ticket["id"].as_str().unwrap();

    app.patch_ticket(id, json!({"assignee": alpha.agent_id}))
        .await;
    app.patch_ticket(
        id,
        json!({"priority": "urgent", "subject": "Printer on fire", "tags": ["hardware"],
            "custom_fields": {"order": "A-1"}, "language": "de"}),
    )
    .await;
    let reply = app
        .post(&format!("/api/v1/tickets/{id}/messages"), &alpha.token)
        .json(&json!({"body": "We are sending someone."}))
        .send()
        .await
        .unwrap();
    expect_json(reply, 201).await;
    let note = app
        .post(&format!("/api/v1/tickets/{id}/messages"), &alpha.token)
        .json(&json!({"body": "Second printer this month.", "public": false}))
        .send()
        .await
        .unwrap();
    expect_json(note, 201).await;
    app.patch_ticket(id, json!({"queue": beta.queue_id})).await;
    app.patch_ticket(id, json!({"status": "pending"})).await;

    let events = app.events(id).await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "routed",
            "acknowledgement_sent",
            "assigned",
            "subject_changed",
            "priority_changed",
            "tags_changed",
            "custom_fields_changed",
            "language_changed",
            "replied",
            "status_changed",
            "note_added",
            "queue_changed",
            "unassigned",
            "status_changed",
        ]
    );
    // Things are named by id, with the vendor they belonged to then.
    let created = &of_kind(&events, "created")[0]["data"];
    assert_eq!(created["channel"], "api");
    assert_eq!(created["queue"]["queue_id"], alpha.queue_id);
    assert_eq!(created["queue"]["vendor_id"], alpha.vendor_id);
    let assigned = &of_kind(&events, "assigned")[0]["data"];
    assert_eq!(assigned["to"]["agent_id"], alpha.agent_id);
    assert_eq!(assigned["to"]["vendor_id"], alpha.vendor_id);
    let moved = &of_kind(&events, "queue_changed")[0]["data"];
    assert_eq!(moved["from"]["vendor_id"], alpha.vendor_id);
    assert_eq!(moved["to"]["queue_id"], beta.queue_id);
    assert_eq!(moved["handed_off"], true);
    let released = &of_kind(&events, "unassigned")[0]["data"];
    assert_eq!(released["reason"], "handed_off");
    assert_eq!(released["from"]["agent_id"], alpha.agent_id);
    let first_reply = &of_kind(&events, "status_changed")[0]["data"];
    assert_eq!(
        (
            &first_reply["from"],
            &first_reply["to"],
            &first_reply["reason"]
        ),
        (&json!("new"), &json!("open"), &json!("first_reply"))
    );
    assert_eq!(of_kind(&events, "replied")[0]["data"]["channel"], "api");
    assert_eq!(
        of_kind(&events, "replied")[0]["actor"],
        format!("agent:{}", alpha.agent_id)
    );
    assert!(assert_every_event_is_typed(&app) >= events.len());
}

#[actix_web::test]
async fn the_web_form_and_the_customer_page_record_their_events() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/support"))
        .form(&[
            ("name", "Ana Cruz"),
            ("email", "ana@example.com"),
            ("subject", "Parcel missing"),
            ("description", "Order A-1001 never arrived."),
            ("website", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    let link = page
        .split("id=\"ticket-link\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the private link");
    let token = link.rsplit("/t/").next().unwrap().to_string();
    let list = app.read("/api/v1/tickets").await;
    let ticket = list["items"][0].clone();
    let id = ticket["id"].as_str().unwrap();
    app.set_status(id, "solved").await;

    let resp = app
        .client
        .post(app.url(&format!("/t/{token}")))
        .form(&[("body", "It came back, it is broken.")])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success() || resp.status().is_redirection());

    let events = app.events(id).await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "routed",
            "acknowledgement_sent",
            "status_changed",
            "customer_replied",
            "status_changed"
        ]
    );
    assert_eq!(of_kind(&events, "created")[0]["data"]["channel"], "web");
    let replied = &of_kind(&events, "customer_replied")[0];
    assert_eq!(replied["data"]["channel"], "web");
    assert_eq!(replied["data"]["automatic"], false);
    assert_eq!(
        replied["actor"],
        format!("customer:{}", ticket["customer"]["id"].as_str().unwrap())
    );
    assert_eq!(
        of_kind(&events, "status_changed")[1]["data"]["reason"],
        "customer_replied"
    );
    assert_every_event_is_typed(&app);
}

fn mail(from: &str, message_id: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@relay.localhost\r\nSubject: Invoice twice\r\nMessage-ID: <{message_id}>\r\n{extra_headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

fn outbox_to(app: &TestApp, ticket_id: &str, kind: &str) -> Vec<String> {
    let mut conn = app.db.get().unwrap();
    outbox_recipients::table
        .inner_join(outbox::table)
        .filter(outbox::ticket_id.eq(ticket_id))
        .filter(outbox::kind.eq(kind))
        .select(outbox_recipients::email)
        .load(&mut *conn)
        .unwrap()
}

#[actix_web::test]
async fn email_paths_record_their_events_and_machine_mail_is_marked() {
    let app = TestApp::spawn().await;
    let (status, created) = app
        .deliver_mail(mail(
            "marta@contoso.pl",
            "first@contoso.pl",
            "",
            "We were billed twice.",
        ))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["ticket"]["id"].as_str().unwrap().to_string();

    let (_, auto) = app
        .deliver_mail(mail(
            "marta@contoso.pl",
            "away@contoso.pl",
            "In-Reply-To: <first@contoso.pl>\r\nAuto-Submitted: auto-replied\r\n",
            "I am out of the office.",
        ))
        .await;
    assert_eq!(auto["outcome"], "appended", "{auto}");
    let (_, human) = app
        .deliver_mail(mail(
            "marta@contoso.pl",
            "second@contoso.pl",
            "In-Reply-To: <first@contoso.pl>\r\n",
            "Any news?",
        ))
        .await;
    assert_eq!(human["outcome"], "appended", "{human}");

    let events = app.events(&id).await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "routed",
            "email_received",
            "acknowledgement_sent",
            "customer_replied",
            "customer_replied"
        ]
    );
    let received = &of_kind(&events, "email_received")[0]["data"];
    assert_eq!(received["source"], "http");
    let ack = &of_kind(&events, "acknowledgement_sent")[0]["data"];
    assert_eq!(ack["to"], "marta@contoso.pl");
    assert_eq!(
        outbox_to(&app, &id, "acknowledgement"),
        ["marta@contoso.pl"]
    );
    let replies = of_kind(&events, "customer_replied");
    assert_eq!(replies[0]["data"]["automatic"], true);
    assert_eq!(replies[0]["data"]["threaded_by"], "message_id");
    assert_eq!(replies[1]["data"]["automatic"], false);

    // The message rows carry it too, for queries that never read events.
    let mut conn = app.db.get().unwrap();
    let automatic: Vec<(String, bool)> = messages::table
        .filter(messages::ticket_id.eq(&id))
        .order(messages::created_at.asc())
        .select((messages::body_text, messages::automatic))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        automatic.iter().map(|(_, a)| *a).collect::<Vec<_>>(),
        [false, true, false]
    );
    drop(conn);
    let shown = app.read(&format!("/api/v1/tickets/{id}/messages")).await;
    assert_eq!(shown[1]["automatic"], true);
    assert_eq!(shown[2]["automatic"], false);
    assert_every_event_is_typed(&app);
}

#[actix_web::test]
async fn an_agent_answering_by_email_replies_as_themselves() {
    let app = TestApp::spawn().await;
    let alpha = app.vendor_with_agent("Alpha", Role::Agent).await;
    let ticket = app
        .create_ticket(json!({"subject": "Invoice twice", "body": "Billed twice",
            "queue": alpha.queue_slug, "customer": {"email": "marta@contoso.pl"}}))
        .await;
    let id = ticket["id"].as_str().unwrap();
    let number = ticket["number"].as_i64().unwrap();
    let reply_to = app.reply_address(number);
    let agent_mail = |message_id: &str| {
        format!(
            "From: agent@alpha.example\r\nTo: {reply_to}\r\nSubject: Re: Invoice twice\r\nMessage-ID: <{message_id}>\r\n\r\nThe refund is on its way.\r\n"
        )
        .into_bytes()
    };
    let (_, answered) = app.deliver_mail(agent_mail("agent-1@alpha.example")).await;
    assert_eq!(answered["outcome"], "appended", "{answered}");

    let events = app.events(id).await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "routed",
            "acknowledgement_sent",
            "replied",
            "status_changed"
        ]
    );
    let replied = &of_kind(&events, "replied")[0];
    assert_eq!(replied["actor"], format!("agent:{}", alpha.agent_id));
    assert_eq!(replied["data"]["channel"], "email");
    let shown = app.read(&format!("/api/v1/tickets/{id}/messages")).await;
    assert_eq!(shown[1]["author_kind"], "agent");
    assert_eq!(shown[1]["author_agent_id"], alpha.agent_id);
    assert_eq!(shown[1]["public"], true);
    // It reaches the customer like an API reply, and the agent is no participant.
    assert_eq!(outbox_to(&app, id, "reply"), ["marta@contoso.pl"]);

    // On a pending ticket it does not re-open it as a customer's mail would.
    app.set_status(id, "pending").await;
    app.deliver_mail(agent_mail("agent-2@alpha.example")).await;
    assert_eq!(
        app.read(&format!("/api/v1/tickets/{id}")).await["status"],
        "pending"
    );

    // The same address on another vendor's ticket is just a participant's mail.
    let beta = app.vendor_with_agent("Beta", Role::Agent).await;
    let theirs = app
        .create_ticket(json!({"subject": "Other", "body": "x",
            "queue": beta.queue_slug, "customer": {"email": "olek@contoso.pl"}}))
        .await;
    let theirs_reply_to = app.reply_address(theirs["number"].as_i64().unwrap());
    app.deliver_mail(
        format!(
            "From: agent@alpha.example\r\nTo: {theirs_reply_to}\r\nSubject: Re: Other\r\nMessage-ID: <agent-3@alpha.example>\r\n\r\nWrong ticket?\r\n"
        )
        .into_bytes(),
    )
    .await;
    let events = app.events(theirs["id"].as_str().unwrap()).await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "routed",
            "acknowledgement_sent",
            "customer_replied"
        ]
    );
    assert_every_event_is_typed(&app);
}

#[actix_web::test]
async fn the_clock_moves_for_the_whole_app() {
    let app = TestApp::spawn().await;
    let before = app
        .create_ticket(ticket_body("Before", "a@example.com"))
        .await;
    app.clock.advance(chrono::TimeDelta::days(3));
    let after = app
        .create_ticket(ticket_body("After", "b@example.com"))
        .await;
    let at = |t: &Value| {
        chrono::DateTime::parse_from_rfc3339(t["created_at"].as_str().unwrap()).unwrap()
    };
    let gap = at(&after) - at(&before);
    assert!(
        gap >= chrono::TimeDelta::days(3)
            && gap < chrono::TimeDelta::days(3) + chrono::TimeDelta::minutes(1),
        "{gap}"
    );
    // Ids come from the same clock, so the newer ticket sorts after.
    assert!(after["id"].as_str().unwrap() > before["id"].as_str().unwrap());
}

#[actix_web::test]
async fn the_demo_writes_a_typed_history() {
    let app = TestApp::spawn().await;
    relay::demo::seed(&mut app.db.get().unwrap(), &app.settings).unwrap();
    assert!(assert_every_event_is_typed(&app) > 100);
}

#[actix_web::test]
async fn api_and_web_customers_get_the_acknowledgement_unless_their_channel_is_off() {
    let app = TestApp::spawn().await;
    let ticket = app
        .create_ticket(ticket_body("Via API", "api@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap();
    assert_eq!(outbox_to(&app, id, "acknowledgement"), ["api@example.com"]);
    // The same mail as email customers get: number, private link, Reply-To.
    let mut conn = app.db.get().unwrap();
    let (subject, body, reply_to): (String, String, Option<String>) = outbox::table
        .filter(outbox::ticket_id.eq(id))
        .select((outbox::subject, outbox::body_text, outbox::reply_to))
        .first(&mut *conn)
        .unwrap();
    drop(conn);
    let number = ticket["number"].as_i64().unwrap();
    assert!(subject.contains(&format!("[#{number}]")), "{subject}");
    assert!(body.contains(&format!("{}/t/rly_", app.base)), "{body}");
    let expected_reply_to = app.reply_address(number);
    assert_eq!(reply_to.as_deref(), Some(expected_reply_to.as_str()));

    let quiet = TestApp::spawn_with(|s| {
        s.intake.acknowledge_channels = vec![relay::domain::Channel::Email];
    })
    .await;
    let ticket = quiet
        .create_ticket(ticket_body("Via API", "api@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap();
    assert!(outbox_to(&quiet, id, "acknowledgement").is_empty());
    assert_eq!(kinds(&quiet.events(id).await), ["created", "routed"]);
}

#[actix_web::test]
async fn the_openapi_document_lists_every_event_kind() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = doc["components"]["schemas"]["EventData"].to_string();
    for kind in [
        "created",
        "routed",
        "queue_changed",
        "assigned",
        "unassigned",
        "status_changed",
        "priority_changed",
        "replied",
        "note_added",
        "customer_replied",
        "email_received",
        "acknowledgement_sent",
        "acknowledgement_suppressed",
        "delivery_failed",
        "viewed",
    ] {
        assert!(
            schema.contains(&format!("\"{kind}\"")),
            "{kind} in {schema}"
        );
    }
}
