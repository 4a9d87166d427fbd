//! Mail in: the inbound endpoint, threading rules, loops, bounces, charsets,
//! duplicates and limits, driven by the messages in tests/fixtures/mail.

use crate::common::*;
use diesel::prelude::*;
use relay::db::schema::{
    attachments, inbound_messages, outbox, outbox_recipients, ticket_participants,
};
use serde_json::Value;

/// A fixture with its `{{PLACEHOLDERS}}` filled in.
fn fixture(name: &str, fill: &[(&str, String)]) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (key, value) in fill {
        let needle = format!("{{{{{key}}}}}");
        while let Some(at) = raw
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
        {
            raw.splice(at..at + needle.len(), value.bytes());
        }
    }
    raw
}

async fn deliver_expecting(app: &TestApp, raw: Vec<u8>, outcome: &str) -> Value {
    let (status, body) = app.deliver_mail(raw).await;
    assert_eq!(body["outcome"], outcome, "{body}");
    assert_eq!(status, if outcome == "created" { 201 } else { 200 });
    body
}

async fn ticket(app: &TestApp, number: &Value) -> Value {
    app.read(&format!("/api/v1/tickets/{number}")).await
}

async fn messages(app: &TestApp, number: &Value) -> Vec<Value> {
    let list = app
        .read(&format!("/api/v1/tickets/{number}/messages"))
        .await;
    list.as_array().unwrap().clone()
}

/// The Message-IDs of acknowledgements queued for a ticket.
fn acknowledgements(app: &TestApp, ticket_id: &str) -> Vec<String> {
    let mut conn = app.db.get().unwrap();
    outbox::table
        .filter(outbox::ticket_id.eq(ticket_id))
        .filter(outbox::kind.eq("acknowledgement"))
        .select(outbox::message_id)
        .load(&mut *conn)
        .unwrap()
}

fn acknowledgements_to(app: &TestApp, email: &str) -> i64 {
    let mut conn = app.db.get().unwrap();
    outbox_recipients::table
        .inner_join(outbox::table)
        .filter(outbox_recipients::email.eq(email))
        .filter(outbox::kind.eq("acknowledgement"))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

const OUTLOOK_ID: &str =
    "AM0PR08MB5380C1D2E3F4A5B6C7D8E9F0A1B2C3D4@AM0PR08MB5380.eurprd08.prod.outlook.com";

/// An Outlook message opens a ticket; returns (number, id, acknowledgement Message-ID).
async fn open_outlook_ticket(app: &TestApp) -> (Value, String, String) {
    let created = deliver_expecting(app, fixture("outlook_new.eml", &[]), "created").await;
    let number = created["ticket"]["number"].clone();
    let id = created["ticket"]["id"].as_str().unwrap().to_string();
    let acks = acknowledgements(app, &id);
    assert_eq!(acks.len(), 1, "one acknowledgement for a new ticket");
    (number, id, acks[0].clone())
}

fn thread_fill(number: &Value, ack: &str) -> Vec<(&'static str, String)> {
    vec![
        ("NUMBER", number.to_string()),
        ("IN_REPLY_TO", ack.to_string()),
        ("ORIGINAL", OUTLOOK_ID.to_string()),
    ]
}

#[actix_web::test]
async fn an_outlook_message_opens_a_ticket_with_clean_html_and_participants() {
    let app = TestApp::spawn().await;
    let (number, id, _) = open_outlook_ticket(&app).await;
    let t = ticket(&app, &number).await;
    assert_eq!(t["channel"], "email");
    assert_eq!(t["subject"], "Invoice 2024/11 is wrong");
    assert_eq!(
        t["customer"]["email"], "marta.kowalska@contoso.pl",
        "addresses are lower-cased"
    );
    assert_eq!(t["customer"]["name"], "Marta Kowalska");
    let m = messages(&app, &number).await;
    assert!(m[0]["body"]
        .as_str()
        .unwrap()
        .contains("lists 40 seats, we have 32"));
    let html = m[0]["body_html"].as_str().unwrap();
    assert!(html.contains("<b>40 seats</b>"), "{html}");
    assert!(
        !html.contains("script") && !html.contains("onclick"),
        "HTML is sanitised: {html}"
    );
    let mut conn = app.db.get().unwrap();
    let participants: Vec<String> = ticket_participants::table
        .filter(ticket_participants::ticket_id.eq(&id))
        .select(ticket_participants::email)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        participants,
        ["jan.nowak@contoso.pl"],
        "Cc'd people join, Relay's own address does not"
    );
    let source: String = inbound_messages::table
        .select(inbound_messages::source)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(source, "http");
}

#[actix_web::test]
async fn replies_thread_by_references_reply_address_and_subject_token() {
    let app = TestApp::spawn().await;
    let (number, id, ack) = open_outlook_ticket(&app).await;
    let fill = thread_fill(&number, &ack);

    // Gmail and Thunderbird keep In-Reply-To/References.
    let gmail = deliver_expecting(&app, fixture("gmail_reply.eml", &fill), "appended").await;
    assert_eq!(gmail["ticket"]["id"], id.as_str());
    let tb = deliver_expecting(&app, fixture("thunderbird_reply.eml", &fill), "appended").await;
    assert_eq!(
        tb["ticket"]["id"],
        id.as_str(),
        "a Cc'd participant's reply joins the ticket"
    );

    // References stripped, but the per-ticket reply address survived.
    let mut fill2 = fill.clone();
    fill2.push(("REPLY_TO", app.reply_address(number.as_i64().unwrap())));
    let stripped = deliver_expecting(
        &app,
        fixture("stripped_references_reply.eml", &fill2),
        "appended",
    )
    .await;
    assert_eq!(stripped["ticket"]["id"], id.as_str());

    // A subject token counts for the customer...
    let token = deliver_expecting(
        &app,
        fixture("subject_token_customer.eml", &fill),
        "appended",
    )
    .await;
    assert_eq!(token["ticket"]["id"], id.as_str());
    // ...but a stranger with the same token gets a ticket of their own.
    let stranger = deliver_expecting(
        &app,
        fixture("subject_token_other_sender.eml", &fill),
        "created",
    )
    .await;
    assert_ne!(stranger["ticket"]["id"], id.as_str());

    let bodies: Vec<String> = messages(&app, &number)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies.len(), 5, "{bodies:?}");
    assert!(bodies[1].starts_with("Here is the contract number"));
    assert!(bodies[2].starts_with("I am Marta's colleague"));
    let events = app.events(&number).await;
    let rules: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "customer_replied")
        .map(|e| e["data"]["threaded_by"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["message_id", "message_id", "reply_address", "subject_token"]
    );
}

#[actix_web::test]
async fn a_forged_reply_address_does_not_thread() {
    let app = TestApp::spawn().await;
    let (number, id, _) = open_outlook_ticket(&app).await;
    let forged = app
        .reply_address(number.as_i64().unwrap())
        .replace("-", "-0");
    let result = deliver_expecting(
        &app,
        fixture("stripped_references_reply.eml", &[("REPLY_TO", forged)]),
        "created",
    )
    .await;
    assert_ne!(result["ticket"]["id"], id.as_str());
}

#[actix_web::test]
async fn a_customer_reply_reopens_but_a_closed_ticket_gets_a_follow_up() {
    let app = TestApp::spawn().await;
    let (number, id, ack) = open_outlook_ticket(&app).await;
    app.set_status(&number, "solved").await;
    deliver_expecting(
        &app,
        fixture("gmail_reply.eml", &thread_fill(&number, &ack)),
        "appended",
    )
    .await;
    let t = ticket(&app, &number).await;
    assert_eq!(t["status"], "open");

    app.set_status(&number, "solved").await;
    app.set_status(&number, "closed").await;
    let follow = deliver_expecting(
        &app,
        fixture("thunderbird_reply.eml", &thread_fill(&number, &ack)),
        "created",
    )
    .await;
    let new_ticket = ticket(&app, &follow["ticket"]["number"]).await;
    assert_eq!(new_ticket["follow_up_of"], id.as_str());
    assert_eq!(ticket(&app, &number).await["status"], "closed");
}

#[actix_web::test]
async fn the_same_message_is_stored_once_even_when_delivered_concurrently() {
    let app = TestApp::spawn().await;
    let raw = fixture("outlook_new.eml", &[]);
    let results =
        futures_util::future::join_all((0..6).map(|_| app.deliver_mail(raw.clone()))).await;
    let outcomes: Vec<String> = results
        .iter()
        .map(|(_, b)| b["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "created").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "duplicate").count(),
        5,
        "{outcomes:?}"
    );
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|(_, b)| b["ticket"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "duplicates point at the original ticket");
    let page = expect_json(
        app.get("/api/v1/tickets", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // Without a Message-ID the raw bytes identify the message.
    deliver_expecting(&app, fixture("no_message_id.eml", &[]), "created").await;
    deliver_expecting(&app, fixture("no_message_id.eml", &[]), "duplicate").await;
    let mut changed = fixture("no_message_id.eml", &[]);
    changed.extend_from_slice(b"P.S. one more line\r\n");
    deliver_expecting(&app, changed, "created").await;
}

#[actix_web::test]
async fn auto_replies_never_loop_or_reopen() {
    let app = TestApp::spawn_with(|s| s.email.acknowledgements_per_hour = 3).await;
    let (number, id, ack) = open_outlook_ticket(&app).await;
    app.set_status(&number, "solved").await;

    // An out-of-office answer to our acknowledgement, ten times over.
    let mut fill = thread_fill(&number, &ack);
    fill.push(("REPLY_TO", app.reply_address(number.as_i64().unwrap())));
    for seq in 0..10 {
        let mut f = fill.clone();
        f.push(("SEQ", seq.to_string()));
        let r = deliver_expecting(&app, fixture("out_of_office.eml", &f), "appended").await;
        assert!(r["reason"].as_str().unwrap().contains("automatic"));
    }
    assert_eq!(
        ticket(&app, &number).await["status"],
        "solved",
        "auto-replies never re-open"
    );
    assert_eq!(
        acknowledgements(&app, &id).len(),
        1,
        "the loop stays at one acknowledgement"
    );
    assert_eq!(acknowledgements_to(&app, "marta.kowalska@contoso.pl"), 1);

    // A robot that ignores RFC 3834 opens tickets, but gets at most the hourly
    // budget of acknowledgements.
    for seq in 0..6 {
        deliver_expecting(
            &app,
            fixture("dumb_autoresponder.eml", &[("SEQ", seq.to_string())]),
            "created",
        )
        .await;
    }
    assert_eq!(acknowledgements_to(&app, "noreply-bot@shop.example"), 3);

    // Mailing lists are stored without acknowledgement.
    let list = deliver_expecting(&app, fixture("mailing_list.eml", &[]), "created").await;
    assert!(acknowledgements(&app, list["ticket"]["id"].as_str().unwrap()).is_empty());
}

#[actix_web::test]
async fn relays_own_mail_and_bounces_are_recognised() {
    let app = TestApp::spawn().await;
    let (number, id, ack) = open_outlook_ticket(&app).await;

    let bounce = deliver_expecting(
        &app,
        fixture("bounce.eml", &thread_fill(&number, &ack)),
        "bounced",
    )
    .await;
    assert_eq!(bounce["ticket"]["id"], id.as_str());
    let events = app.events(&number).await;
    let failed = events
        .iter()
        .find(|e| e["kind"] == "delivery_failed")
        .expect("a delivery_failed event");
    assert_eq!(failed["data"]["failed_recipients"][0], "nobody@contoso.pl");
    assert_eq!(
        messages(&app, &number).await.len(),
        1,
        "a bounce adds no message"
    );
    assert_eq!(
        acknowledgements(&app, &id).len(),
        1,
        "and no acknowledgement"
    );
    let page = expect_json(
        app.get("/api/v1/tickets", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "and no ticket");

    // Our own acknowledgement coming back (a forwarding loop) is ignored.
    let own = format!(
        "From: Support <support@relay.localhost>\r\nTo: marta.kowalska@contoso.pl\r\nSubject: [#{number}] x\r\nMessage-ID: <{ack}>\r\nAuto-Submitted: auto-replied\r\n\r\nwe have received your request\r\n"
    );
    deliver_expecting(&app, own.into_bytes(), "ignored").await;
}

#[actix_web::test]
async fn charsets_and_encoded_words_are_decoded() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "iso_8859_1.eml",
            "Problème de connexion après la mise à jour",
            "je n'arrive pas à me connecter",
            "René Lefèvre",
        ),
        (
            "shift_jis.eml",
            "配送状況の確認",
            "注文番号 A-7781 の配送状況を教えてください。",
            "山田 太郎",
        ),
        (
            "utf8_encoded_words.eml",
            "Zamówienie nie dotarło 📦",
            "Paczka miała być wczoraj.",
            "Zofia Wójcik",
        ),
    ];
    for (file, subject, body, name) in cases {
        let created = deliver_expecting(&app, fixture(file, &[]), "created").await;
        let number = &created["ticket"]["number"];
        let t = ticket(&app, number).await;
        assert_eq!(t["subject"], subject, "{file}");
        assert_eq!(t["customer"]["name"], name, "{file}");
        let m = messages(&app, number).await;
        assert!(
            m[0]["body"].as_str().unwrap().contains(body),
            "{file}: {}",
            m[0]["body"]
        );
    }
}

#[actix_web::test]
async fn attachments_are_stored_and_oversized_ones_refused_clearly() {
    let app = TestApp::spawn_with(|s| s.intake.max_attachment_bytes = 64 * 1024).await;
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let small = deliver_expecting(
        &app,
        fixture(
            "with_attachment.eml",
            &[
                ("SEQ", "1".into()),
                ("ATTACHMENT", encode(b"%PDF-1.4 small invoice")),
            ],
        ),
        "created",
    )
    .await;
    let m = messages(&app, &small["ticket"]["number"]).await;
    assert_eq!(m[0]["attachments"][0]["filename"], "factura.pdf");
    assert_eq!(m[0]["attachments"][0]["content_type"], "application/pdf");
    assert_eq!(m[0]["attachments"][0]["size"], 22);

    let big = vec![b'x'; 100 * 1024];
    let over = deliver_expecting(
        &app,
        fixture(
            "with_attachment.eml",
            &[("SEQ", "2".into()), ("ATTACHMENT", encode(&big))],
        ),
        "created",
    )
    .await;
    let number = &over["ticket"]["number"];
    assert!(messages(&app, number).await[0]["attachments"]
        .as_array()
        .unwrap()
        .is_empty());
    let events = app.events(&number).await;
    let received = events
        .iter()
        .find(|e| e["kind"] == "email_received")
        .unwrap();
    let refused = received["data"]["refused_attachments"][0].as_str().unwrap();
    assert!(
        refused.contains("factura.pdf") && refused.contains("limit"),
        "{refused}"
    );
    let mut conn = app.db.get().unwrap();
    let stored: i64 = attachments::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(stored, 1);

    // A whole message over the limit is refused before anything is stored.
    let app = TestApp::spawn_with(|s| s.email.max_message_bytes = 4096).await;
    let (status, problem) = app
        .deliver_mail(fixture(
            "with_attachment.eml",
            &[("SEQ", "3".into()), ("ATTACHMENT", encode(&big))],
        ))
        .await;
    assert_eq!(status, 413, "{problem}");
}

#[actix_web::test]
async fn the_inbound_endpoint_refuses_bad_requests() {
    let app = TestApp::spawn().await;
    let raw = fixture("outlook_new.eml", &[]);
    let anonymous = app
        .client
        .post(app.url("/api/v1/inbound/email"))
        .header("content-type", "message/rfc822")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, 401).await;
    let v = app
        .vendor_with_agent("Vendor", relay::domain::Role::Agent)
        .await;
    let agent = app
        .post("/api/v1/inbound/email", &v.token)
        .header("content-type", "message/rfc822")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    expect_problem(agent, 403).await;
    let json = app
        .post("/api/v1/inbound/email", &app.admin)
        .json(&serde_json::json!({"raw": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(json, 400).await;
    let empty = app
        .post("/api/v1/inbound/email", &app.admin)
        .header("content-type", "message/rfc822")
        .body("")
        .send()
        .await
        .unwrap();
    expect_problem(empty, 400).await;

    // Webhook style: the raw message in the multipart field `email`.
    let form = reqwest::multipart::Form::new().part(
        "email",
        reqwest::multipart::Part::bytes(raw).file_name("message.eml"),
    );
    let resp = app
        .post("/api/v1/inbound/email", &app.admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, 201).await["outcome"], "created");

    // Garbage without a sender is kept and reported, never a 500.
    let (status, body) = app
        .deliver_mail(b"\x00\x01garbage without headers".to_vec())
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("ignored")),
        "{body}"
    );
}

#[actix_web::test]
async fn the_recipient_address_chooses_the_queue() {
    let app = TestApp::spawn_with(|s| {
        s.email
            .address_queues
            .insert("Facturacion@relay.localhost".into(), "billing-es".into());
        s.email
            .address_queues
            .insert("ventas@relay.localhost".into(), "no-such-queue".into());
    })
    .await;
    let vendor = app.create_vendor("Bogota CX", "America/Bogota").await;
    app.create_queue("billing-es", vendor["id"].as_str().unwrap())
        .await;

    let billed = deliver_expecting(
        &app,
        fixture(
            "with_attachment.eml",
            &[("SEQ", "1".into()), ("ATTACHMENT", "JVBERi0=".into())],
        ),
        "created",
    )
    .await;
    assert_eq!(
        ticket(&app, &billed["ticket"]["number"]).await["queue"]["slug"],
        "billing-es"
    );

    let general = deliver_expecting(&app, fixture("outlook_new.eml", &[]), "created").await;
    assert_eq!(
        ticket(&app, &general["ticket"]["number"]).await["queue"],
        Value::Null
    );

    // A door's queue hint applies when no address is routed.
    let hinted = app
        .post(
            "/api/v1/inbound/email?queue=billing-es&source=mailgate",
            &app.admin,
        )
        .header("content-type", "message/rfc822")
        .body(fixture("no_message_id.eml", &[]))
        .send()
        .await
        .unwrap();
    let hinted = expect_json(hinted, 201).await;
    assert_eq!(
        ticket(&app, &hinted["ticket"]["number"]).await["queue"]["slug"],
        "billing-es"
    );

    // A misconfigured queue never loses the message.
    let raw = String::from_utf8(fixture("no_message_id.eml", &[]))
        .unwrap()
        .replace("support@relay.localhost", "ventas@relay.localhost");
    let lost = deliver_expecting(&app, raw.into_bytes(), "created").await;
    assert_eq!(
        ticket(&app, &lost["ticket"]["number"]).await["queue"],
        Value::Null
    );
}

#[actix_web::test]
async fn replies_arriving_at_once_all_land_on_the_ticket() {
    let app = TestApp::spawn().await;
    let (number, id, _) = open_outlook_ticket(&app).await;
    let reply = |n: usize| {
        format!(
            "From: marta.kowalska@contoso.pl\r\nTo: support@relay.localhost\r\nSubject: Re: Invoice\r\nMessage-ID: <burst-{n}@contoso.pl>\r\nIn-Reply-To: <{OUTLOOK_ID}>\r\n\r\nburst reply {n}\r\n"
        )
        .into_bytes()
    };
    let results = futures_util::future::join_all((0..8).map(|n| app.deliver_mail(reply(n)))).await;
    for (status, body) in &results {
        assert_eq!(
            (*status, body["outcome"].as_str()),
            (200, Some("appended")),
            "{body}"
        );
        assert_eq!(body["ticket"]["id"], id.as_str());
    }
    assert_eq!(messages(&app, &number).await.len(), 9);
    // Agent replies racing the customer's still all land, and versions count every change.
    let notes = futures_util::future::join_all((0..4).map(|n| {
        app.post(&format!("/api/v1/tickets/{number}/messages"), &app.admin)
            .json(&serde_json::json!({"body": format!("note {n}"), "public": false}))
            .send()
    }))
    .await;
    for resp in notes {
        assert_eq!(resp.unwrap().status(), 201);
    }
    assert_eq!(ticket(&app, &number).await["version"], 13);
}
