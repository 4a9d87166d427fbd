//! Mail out: the outbox sender against a real SMTP server (tests/api/smtp.rs),
//! acknowledgements and agent replies with their headers, retries with
//! backoff while SMTP is down, giving up and the admin retry, concurrent
//! senders, the `.eml` file transport, and who may see the outbox.

use crate::common::*;
use crate::smtp::{SinkOptions, SmtpSink};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use relay::config::{SmtpSettings, SmtpTls};
use relay::db::models::OutboxMessage;
use relay::db::outbox_claim::claim_due;
use relay::db::schema::{messages, outbox};
use relay::domain::Role;
use relay::jobs::outbox_sender::{run_once, SendReport};
use serde_json::{json, Value};

const OUTLOOK_ID: &str =
    "AM0PR08MB5380C1D2E3F4A5B6C7D8E9F0A1B2C3D4@AM0PR08MB5380.eurprd08.prod.outlook.com";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A plain new message from `from`.
fn new_mail(from: &str, message_id: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Customer <{from}>\r\n\
         To: Support <support@relay.localhost>\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{message_id}>\r\n\
         Date: Thu, 26 Nov 2026 09:14:03 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello, my order has not arrived.\r\n"
    )
    .into_bytes()
}

async fn deliver(app: &TestApp, raw: Vec<u8>) -> Value {
    let (status, body) = app.deliver_mail(raw).await;
    assert!(status == 200 || status == 201, "{status}: {body}");
    body
}

/// Delivers a new message and returns its ticket (`{id, number}`).
async fn open_ticket_by_mail(app: &TestApp, raw: Vec<u8>) -> Value {
    let body = deliver(app, raw).await;
    assert_eq!(body["outcome"], "created", "{body}");
    body["ticket"].clone()
}

async fn agent_message(app: &TestApp, ticket_id: &str, body: &str, public: bool) -> Value {
    let resp = app
        .post(&format!("/api/v1/tickets/{ticket_id}/messages"), &app.admin)
        .json(&json!({"body": body, "public": public}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await
}

fn rows(app: &TestApp) -> Vec<OutboxMessage> {
    let mut conn = app.db.get().unwrap();
    outbox::table
        .order((outbox::created_at.asc(), outbox::id.asc()))
        .select(OutboxMessage::as_select())
        .load(&mut *conn)
        .unwrap()
}

fn rows_of_kind(app: &TestApp, kind: &str) -> Vec<OutboxMessage> {
    rows(app).into_iter().filter(|r| r.kind == kind).collect()
}

/// Makes every pending message due now, whatever its backoff said (the
/// tests do not wait for the clock).
fn make_due(app: &TestApp) {
    let mut conn = app.db.get().unwrap();
    let past = app.clock.clock().now_naive() - chrono::Duration::seconds(1);
    diesel::update(outbox::table.filter(outbox::status.eq("pending")))
        .set(outbox::next_attempt_at.eq(past))
        .execute(&mut *conn)
        .unwrap();
}

/// `POST /api/v1/outbox/{id}/retry` as admin.
async fn retry(app: &TestApp, id: &str) -> reqwest::Response {
    app.post(&format!("/api/v1/outbox/{id}/retry"), &app.admin)
        .send()
        .await
        .unwrap()
}

/// Seconds from now until `at` (negative when past).
fn seconds_until(at: NaiveDateTime) -> i64 {
    (at - relay::clock::Clock::system().now_naive()).num_seconds()
}

fn report(sent: usize, retried: usize, failed: usize) -> SendReport {
    SendReport {
        sent,
        retried,
        failed,
    }
}

#[actix_web::test]
async fn the_acknowledgement_reaches_the_smtp_server_with_its_headers() {
    let Some(sink) = SmtpSink::start("the_acknowledgement_reaches_the_smtp_server") else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
    let ticket = open_ticket_by_mail(&app, fixture("outlook_new.eml")).await;
    let number = ticket["number"].as_i64().unwrap();

    assert_eq!(app.run_outbox(), report(1, 0, 0));
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let ack = &received[0];
    assert_eq!(ack.rcpt_to, ["marta.kowalska@contoso.pl"]);
    assert_eq!(ack.mail_from, "support@relay.localhost");
    assert!(!ack.tls && ack.login.is_none(), "plain SMTP, no login");
    assert!(
        ack.message_id().ends_with("@relay.localhost"),
        "{}",
        ack.message_id()
    );
    assert_eq!(
        ack.header("In-Reply-To").as_deref(),
        Some(format!("<{OUTLOOK_ID}>").as_str())
    );
    assert!(ack
        .header("References")
        .unwrap()
        .contains(&format!("<{OUTLOOK_ID}>")));
    assert_eq!(
        ack.addresses("Reply-To"),
        [app.reply_address(number)],
        "answers go to the per-ticket address"
    );
    assert_eq!(ack.addresses("From"), ["support@relay.localhost"]);
    assert_eq!(
        ack.header("Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        ack.header("X-Relay-Loop").as_deref(),
        Some("relay.localhost"),
        "the loop header lets Relay recognise its own mail"
    );
    assert!(
        ack.subject().starts_with(&format!("[#{number}] ")),
        "{}",
        ack.subject()
    );
    assert!(ack.text().contains(&format!("#{number}")), "{}", ack.text());
    let html = ack.html().expect("an HTML part");
    assert!(html.contains(&format!("#{number}")), "{html}");

    let row = &rows(&app)[0];
    assert_eq!(row.status, "sent");
    assert_eq!(row.message_id, ack.message_id());
    assert!(row.sent_at.is_some() && row.claimed_until.is_none());
    let listed = app.read("/api/v1/outbox?status=sent").await;
    assert_eq!(listed[0]["id"], row.id.as_str());
    assert_eq!(listed[0]["kind"], "acknowledgement");
    assert_eq!(
        listed[0]["recipients"],
        json!(["marta.kowalska@contoso.pl"])
    );

    assert!(app.run_outbox().is_empty(), "nothing is sent twice");
    assert_eq!(sink.received().len(), 1);
}

#[actix_web::test]
async fn an_agent_reply_mails_customer_and_participants_and_their_answer_threads_back() {
    let Some(sink) = SmtpSink::start("an_agent_reply_mails_customer_and_participants") else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
    let ticket = open_ticket_by_mail(&app, fixture("outlook_new.eml")).await;
    let id = ticket["id"].as_str().unwrap().to_string();
    let number = ticket["number"].as_i64().unwrap();
    assert_eq!(app.run_outbox(), report(1, 0, 0));
    let ack_id = rows_of_kind(&app, "acknowledgement")[0].message_id.clone();

    agent_message(
        &app,
        &id,
        "Internal: check the seat count in billing.",
        false,
    )
    .await;
    assert!(app.run_outbox().is_empty(), "internal notes send nothing");
    assert_eq!(rows(&app).len(), 1);

    let reply = agent_message(
        &app,
        &id,
        "Hello Marta,\nyou are right: we corrected the invoice to 32 seats.",
        true,
    )
    .await;
    let replies = rows_of_kind(&app, "reply");
    assert_eq!(replies.len(), 1);
    assert!(!replies[0].automatic);
    let stored: Option<String> = {
        let mut conn = app.db.get().unwrap();
        messages::table
            .find(reply["id"].as_str().unwrap())
            .select(messages::email_message_id)
            .first(&mut *conn)
            .unwrap()
    };
    assert_eq!(
        stored.as_deref(),
        Some(replies[0].message_id.as_str()),
        "the agent's message knows the Message-ID its mail carries"
    );

    assert_eq!(app.run_outbox(), report(1, 0, 0));
    let mail = sink.with_message_id(&replies[0].message_id);
    assert_eq!(mail.len(), 1);
    let mail = &mail[0];
    let mut rcpt = mail.rcpt_to.clone();
    rcpt.sort();
    assert_eq!(rcpt, ["jan.nowak@contoso.pl", "marta.kowalska@contoso.pl"]);
    assert_eq!(mail.addresses("To"), ["marta.kowalska@contoso.pl"]);
    assert_eq!(mail.addresses("Cc"), ["jan.nowak@contoso.pl"]);
    assert_eq!(mail.addresses("Reply-To"), [app.reply_address(number)]);
    assert_eq!(mail.header("Auto-Submitted"), None, "a person wrote this");
    assert_eq!(
        mail.header("In-Reply-To").as_deref(),
        Some(format!("<{OUTLOOK_ID}>").as_str()),
        "it answers the customer's message"
    );
    let references = mail.header("References").unwrap();
    assert!(
        references.contains(&format!("<{OUTLOOK_ID}>")) && references.contains(&ack_id),
        "{references}"
    );
    assert!(mail.subject().starts_with(&format!("[#{number}] ")));
    assert!(
        mail.text().contains("we corrected the invoice to 32 seats"),
        "{}",
        mail.text()
    );
    assert!(mail.text().contains("reply to this email"));
    assert!(mail
        .html()
        .unwrap()
        .contains("we corrected the invoice to 32 seats"));

    // The customer answers that mail: no token in the subject, sent to the
    // plain support address, so only In-Reply-To can thread it.
    let answer = format!(
        "From: Marta Kowalska <marta.kowalska@contoso.pl>\r\n\
         To: support@relay.localhost\r\n\
         Subject: Thanks\r\n\
         Message-ID: <marta-thanks@contoso.pl>\r\n\
         In-Reply-To: <{}>\r\n\
         Date: Thu, 26 Nov 2026 11:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Thank you, that was quick.\r\n",
        replies[0].message_id
    );
    let outcome = deliver(&app, answer.into_bytes()).await;
    assert_eq!(outcome["outcome"], "appended", "{outcome}");
    assert_eq!(outcome["ticket"]["id"], id.as_str());
    let events = app.events(&id).await;
    let replied = events
        .iter()
        .rev()
        .find(|e| e["kind"] == "customer_replied")
        .unwrap();
    assert_eq!(replied["data"]["threaded_by"], "message_id", "{replied}");

    // The next reply answers the customer's latest message.
    agent_message(&app, &id, "Glad to help.", true).await;
    assert_eq!(app.run_outbox(), report(1, 0, 0));
    let second = rows_of_kind(&app, "reply").pop().unwrap();
    let mail = &sink.with_message_id(&second.message_id)[0];
    assert_eq!(
        mail.header("In-Reply-To").as_deref(),
        Some("<marta-thanks@contoso.pl>")
    );
    assert!(mail
        .header("References")
        .unwrap()
        .contains(&replies[0].message_id));
}

#[actix_web::test]
async fn smtp_down_then_up_delivers_every_message_exactly_once() {
    let Some(mut sink) = SmtpSink::start("smtp_down_then_up_delivers_every_message_exactly_once")
    else {
        return;
    };
    let app = TestApp::spawn_with(|s| {
        s.smtp = Some(sink.settings());
        s.outbox.retry_base_seconds = 30;
        s.outbox.max_attempts = 5;
    })
    .await;
    sink.stop();
    let mut tickets = Vec::new();
    for i in 0..3 {
        let raw = new_mail(
            &format!("customer{i}@example.com"),
            &format!("down-{i}@example.com"),
            &format!("Order {i} is late"),
        );
        tickets.push(open_ticket_by_mail(&app, raw).await);
    }
    agent_message(
        &app,
        tickets[0]["id"].as_str().unwrap(),
        "We are looking into it.",
        true,
    )
    .await;
    assert_eq!(rows(&app).len(), 4);

    // Down: every attempt fails and is put back with a backoff.
    assert_eq!(app.run_outbox(), report(0, 4, 0));
    for row in rows(&app) {
        assert_eq!(row.status, "pending");
        assert_eq!(row.attempts, 1);
        assert!(row.sent_at.is_none());
        let error = row.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("SMTP"), "{error}");
        let wait = seconds_until(row.next_attempt_at);
        assert!(
            (25..=30).contains(&wait),
            "first retry after 30 s, not {wait}"
        );
    }
    assert!(
        app.run_outbox().is_empty(),
        "nothing is due before the backoff"
    );
    make_due(&app);
    assert_eq!(app.run_outbox(), report(0, 4, 0));
    for row in rows(&app) {
        assert_eq!(row.attempts, 2);
        let wait = seconds_until(row.next_attempt_at);
        assert!((55..=60).contains(&wait), "the backoff doubles: {wait}");
    }
    assert!(sink.received().is_empty());

    // Up again: once due, each message arrives exactly once.
    sink.start_again();
    assert!(app.run_outbox().is_empty(), "still waiting for the backoff");
    make_due(&app);
    assert_eq!(app.run_outbox(), report(4, 0, 0));
    assert!(app.run_outbox().is_empty());
    make_due(&app);
    assert!(app.run_outbox().is_empty());
    let all = rows(&app);
    assert_eq!(sink.received().len(), all.len());
    for row in &all {
        assert_eq!(row.status, "sent");
        assert_eq!(row.attempts, 2, "attempts count the failures");
        assert_eq!(
            sink.with_message_id(&row.message_id).len(),
            1,
            "{} delivered once",
            row.message_id
        );
    }
}

#[actix_web::test]
async fn mail_goes_out_over_starttls_and_tls_with_the_servers_login() {
    for security in [SmtpTls::Starttls, SmtpTls::Tls] {
        let Some(sink) = SmtpSink::start_with(
            "mail_goes_out_over_starttls_and_tls_with_the_servers_login",
            SinkOptions {
                security,
                login: Some(("relay-mailer".into(), "smtp-test-secret".into())),
                ..SinkOptions::default()
            },
        ) else {
            return;
        };
        let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
        open_ticket_by_mail(&app, fixture("outlook_new.eml")).await;

        assert_eq!(
            app.run_outbox(),
            report(1, 0, 0),
            "{security:?}: {:?}",
            rows(&app)[0].last_error
        );
        let received = sink.received();
        assert_eq!(received.len(), 1, "{security:?}");
        assert!(received[0].tls, "{security:?}: encrypted");
        assert_eq!(received[0].login.as_deref(), Some("relay-mailer"));
        assert_eq!(received[0].rcpt_to, ["marta.kowalska@contoso.pl"]);
        assert_eq!(rows(&app)[0].status, "sent");
    }
}

#[actix_web::test]
async fn a_wrong_password_or_an_untrusted_server_keeps_the_mail_with_the_reason() {
    let Some(sink) = SmtpSink::start_with(
        "a_wrong_password_or_an_untrusted_server_keeps_the_mail_with_the_reason",
        SinkOptions {
            security: SmtpTls::Starttls,
            login: Some(("relay-mailer".into(), "smtp-test-secret".into())),
            ..SinkOptions::default()
        },
    ) else {
        return;
    };
    let wrong_password = SmtpSettings {
        password: Some("not-the-password".into()),
        ..sink.settings()
    };
    let untrusted = SmtpSettings {
        ca_file: None,
        ..sink.settings()
    };
    for (settings, reason) in [(wrong_password, "535"), (untrusted, "certificate")] {
        let app = TestApp::spawn_with(|s| s.smtp = Some(settings.clone())).await;
        open_ticket_by_mail(&app, fixture("outlook_new.eml")).await;

        assert_eq!(app.run_outbox(), report(0, 1, 0), "{reason}");
        let row = rows(&app).remove(0);
        assert_eq!(row.status, "pending", "kept for a retry once fixed");
        let error = row.last_error.unwrap_or_default();
        assert!(error.contains(reason), "{reason}: {error}");
        assert!(!error.contains("not-the-password"), "{error}");
    }
    assert!(sink.received().is_empty());
}

#[actix_web::test]
async fn a_mailbox_the_server_refuses_fails_at_once_and_the_ticket_says_so_until_retried() {
    let Some(mut sink) = SmtpSink::start_with(
        "a_mailbox_the_server_refuses_fails_at_once",
        SinkOptions {
            refuse: vec!["gone@example.com".into()],
            ..SinkOptions::default()
        },
    ) else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
    let gone = open_ticket_by_mail(
        &app,
        new_mail("gone@example.com", "gone-1@example.com", "Cancel my order"),
    )
    .await;
    open_ticket_by_mail(
        &app,
        new_mail("here@example.com", "here-1@example.com", "Change my order"),
    )
    .await;

    // 550 is final: no retries over hours, the agent learns it now.
    assert_eq!(app.run_outbox(), report(1, 0, 1));
    let refused = rows(&app)
        .into_iter()
        .find(|r| r.ticket_id.as_deref() == gone["id"].as_str())
        .unwrap();
    assert_eq!(refused.status, "failed");
    assert_eq!(refused.attempts, 1);
    let error = refused.last_error.unwrap_or_default();
    assert!(error.contains("550"), "{error}");
    let events = app.events(gone["id"].as_str().unwrap()).await;
    let failed = events
        .iter()
        .find(|e| e["kind"] == "delivery_failed")
        .expect("the ticket records the refusal");
    assert_eq!(
        failed["data"]["failed_recipients"],
        json!(["gone@example.com"])
    );
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, ["here@example.com"]);

    // The customer fixed their mailbox; an admin sends it again.
    sink.restart_with(SinkOptions::default());
    expect_json(retry(&app, &refused.id).await, 200).await;
    assert_eq!(app.run_outbox(), report(1, 0, 0));
    let resent = sink.with_message_id(&refused.message_id);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].rcpt_to, ["gone@example.com"]);
}

#[actix_web::test]
async fn one_bad_mailbox_does_not_hold_back_the_others_and_a_retry_skips_the_served() {
    let refuse = vec!["gone@example.com".to_string()];
    let Some(mut sink) = SmtpSink::start_with(
        "one_bad_mailbox_does_not_hold_back_the_others",
        SinkOptions {
            refuse: refuse.clone(),
            defer: vec!["busy@example.com".into()],
            ..SinkOptions::default()
        },
    ) else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
    let raw = String::from_utf8(new_mail(
        "anna@example.com",
        "three-way@example.com",
        "Our team's order",
    ))
    .unwrap()
    .replacen(
        "Subject:",
        "Cc: gone@example.com, busy@example.com\r\nSubject:",
        1,
    );
    let ticket = open_ticket_by_mail(&app, raw.into_bytes()).await;
    let ticket_id = ticket["id"].as_str().unwrap();
    assert_eq!(app.run_outbox(), report(1, 0, 0), "the acknowledgement");
    agent_message(&app, ticket_id, "Your order ships today.", true).await;
    let reply = rows_of_kind(&app, "reply").remove(0);

    // One envelope fails at RCPT; then each on its own: Anna served, the
    // unknown mailbox refused for good, the greylisted one deferred.
    assert_eq!(app.run_outbox(), report(0, 1, 0));
    let delivered = sink.with_message_id(&reply.message_id);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].rcpt_to, ["anna@example.com"]);
    let mut named = delivered[0].addresses("To");
    named.extend(delivered[0].addresses("Cc"));
    named.sort();
    assert_eq!(
        named,
        ["anna@example.com", "busy@example.com", "gone@example.com"],
        "To and Cc still name everyone"
    );
    let row = rows_of_kind(&app, "reply").remove(0);
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1));
    let error = row.last_error.unwrap_or_default();
    assert!(
        error.contains("busy@example.com: SMTP") && error.contains("450"),
        "{error}"
    );
    assert!(
        error.contains("gone@example.com: SMTP") && error.contains("550"),
        "{error}"
    );
    let failures: Vec<Value> = app
        .events(ticket_id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "delivery_failed")
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0]["data"]["failed_recipients"],
        json!(["gone@example.com"])
    );

    // Greylisting over, the retry goes to that mailbox only.
    sink.restart_with(SinkOptions {
        refuse,
        ..SinkOptions::default()
    });
    make_due(&app);
    assert_eq!(app.run_outbox(), report(1, 0, 0));
    let delivered = sink.with_message_id(&reply.message_id);
    let mut rcpt: Vec<String> = delivered.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    rcpt.sort();
    assert_eq!(rcpt, ["anna@example.com", "busy@example.com"], "each once");
    let row = rows_of_kind(&app, "reply").remove(0);
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
    assert!(row.sent_at.is_some());
    let failures = app
        .events(ticket_id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "delivery_failed")
        .count();
    assert_eq!(failures, 1, "the refusal is reported once");
    make_due(&app);
    assert!(app.run_outbox().is_empty());
}

#[actix_web::test]
async fn after_max_attempts_a_message_fails_and_an_admin_can_retry_it() {
    let Some(mut sink) = SmtpSink::start("after_max_attempts_a_message_fails") else {
        return;
    };
    let app = TestApp::spawn_with(|s| {
        s.smtp = Some(sink.settings());
        s.outbox.max_attempts = 2;
    })
    .await;
    sink.stop();
    let ticket = open_ticket_by_mail(
        &app,
        new_mail(
            "late@example.com",
            "fails@example.com",
            "Where is my parcel?",
        ),
    )
    .await;
    let ticket_id = ticket["id"].as_str().unwrap();

    assert_eq!(app.run_outbox(), report(0, 1, 0));
    make_due(&app);
    assert_eq!(app.run_outbox(), report(0, 0, 1));
    make_due(&app);
    assert!(
        app.run_outbox().is_empty(),
        "a failed message is left alone"
    );
    let row = rows(&app).remove(0);
    assert_eq!(row.status, "failed");
    assert_eq!(row.attempts, 2);
    let events = app.events(ticket_id).await;
    let failed = events
        .iter()
        .find(|e| e["kind"] == "delivery_failed")
        .expect("the ticket records that its mail was not delivered");
    assert_eq!(failed["data"]["outbox_id"], row.id.as_str());
    assert_eq!(
        failed["data"]["failed_recipients"],
        json!(["late@example.com"])
    );

    let listed = app.read("/api/v1/outbox?status=failed").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let item = &listed[0];
    assert_eq!(item["id"], row.id.as_str());
    assert_eq!(item["ticket_id"], ticket_id);
    assert_eq!(item["kind"], "acknowledgement");
    assert_eq!(item["status"], "failed");
    assert_eq!(item["attempts"], 2);
    assert_eq!(item["recipients"], json!(["late@example.com"]));
    assert!(item["subject"]
        .as_str()
        .unwrap()
        .contains("Where is my parcel?"));
    assert!(item["last_error"].as_str().unwrap().contains("SMTP"));
    for field in ["next_attempt_at", "created_at"] {
        assert!(item[field].is_string(), "{field}: {item}");
    }
    assert!(item["sent_at"].is_null());
    let pending = app.read("/api/v1/outbox?status=pending").await;
    assert_eq!(pending, json!([]));
    let problem = expect_problem(
        app.get("/api/v1/outbox?status=lost", &app.admin)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["status"]);

    expect_problem(retry(&app, "no-such-id").await, 404).await;

    sink.start_again();
    let retried = expect_json(retry(&app, &row.id).await, 200).await;
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["attempts"], 0);
    expect_problem(retry(&app, &row.id).await, 409).await;

    assert_eq!(app.run_outbox(), report(1, 0, 0));
    assert_eq!(sink.with_message_id(&row.message_id).len(), 1);
    let sent = app.read("/api/v1/outbox?status=sent").await;
    assert_eq!(sent[0]["id"], row.id.as_str());
    assert!(sent[0]["sent_at"].is_string());
    expect_problem(retry(&app, &row.id).await, 409).await;
}

/// Queues `count` notifications about `ticket`, each to its own reader.
fn enqueue_notifications(app: &TestApp, ticket: &Value, count: usize) {
    app.write(|w| {
        let replies = relay::email::ingest::reply_addresses(w, &app.settings)?;
        for i in 0..count {
            relay::email::outbox::enqueue(
                w,
                &app.settings,
                &replies,
                relay::email::outbox::OutgoingMail {
                    ticket_id: ticket["id"].as_str().unwrap().to_string(),
                    ticket_number: ticket["number"].as_i64().unwrap(),
                    kind: relay::email::outbox::OutgoingKind::Notification,
                    to: format!("reader{i}@example.com"),
                    cc: Vec::new(),
                    subject: format!("Update {i}"),
                    body_text: format!("Update number {i}."),
                    body_html: None,
                    thread: Vec::new(),
                    automatic: false,
                },
            )?;
        }
        Ok(())
    })
}

#[actix_web::test]
async fn two_senders_at_once_send_each_message_once() {
    let Some(sink) = SmtpSink::start("two_senders_at_once_send_each_message_once") else {
        return;
    };
    let app = TestApp::spawn_with(|s| {
        s.smtp = Some(sink.settings());
        s.database.pool_size = 6;
        // Only the notifications below are in the outbox.
        s.intake.acknowledge_channels.clear();
    })
    .await;
    let ticket = app
        .create_ticket(ticket_body("Bulk", "bulk@example.com"))
        .await;
    const MESSAGES: usize = 60;
    enqueue_notifications(&app, &ticket, MESSAGES);

    let start = std::sync::Barrier::new(2);
    let (a, b) = std::thread::scope(|s| {
        let sender = || {
            start.wait();
            run_once(&app.db, &app.settings).unwrap()
        };
        let a = s.spawn(sender);
        let b = s.spawn(sender);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.sent + b.sent, MESSAGES, "{a:?} {b:?}");
    assert_eq!(a.retried + a.failed + b.retried + b.failed, 0);
    let received = sink.received();
    assert_eq!(received.len(), MESSAGES);
    let mut ids: Vec<String> = received.iter().map(|m| m.message_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), MESSAGES, "no message was sent twice");
    assert!(rows(&app).iter().all(|r| r.status == "sent"));
}

/// Many claimers racing on small batches (no sending in between, so the
/// claims themselves overlap): no message is handed out twice.
#[actix_web::test]
async fn concurrent_claims_never_hand_out_a_message_twice() {
    const CLAIMERS: usize = 8;
    const MESSAGES: usize = 200;
    let app = TestApp::spawn_with(|s| {
        s.database.pool_size = CLAIMERS as u32 + 2;
        // Only the notifications below are in the outbox.
        s.intake.acknowledge_channels.clear();
    })
    .await;
    let ticket = app
        .create_ticket(ticket_body("Claims", "claims@example.com"))
        .await;
    enqueue_notifications(&app, &ticket, MESSAGES);

    let start = std::sync::Barrier::new(CLAIMERS);
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLAIMERS)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = app.db.get().unwrap();
                    start.wait();
                    let mut mine = Vec::new();
                    loop {
                        let now = relay::clock::Clock::system().now_naive();
                        let until = now + chrono::Duration::minutes(5);
                        let batch = claim_due(&mut conn, now, until, 3).unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|r| r.id));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<String> = claimed.concat();
    assert_eq!(all.len(), MESSAGES, "every message claimed exactly once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), MESSAGES, "no message claimed twice");
    assert!(rows(&app).iter().all(|r| r.status == "sending"));
}

#[actix_web::test]
async fn without_smtp_mail_is_written_as_eml_files() {
    let app = TestApp::spawn().await;
    assert!(app.settings.smtp.is_none());
    let dir = app.settings.outbox.directory.clone();
    assert!(!dir.exists(), "created when first needed");
    open_ticket_by_mail(
        &app,
        new_mail("files@example.com", "files@example.com", "Printer on fire"),
    )
    .await;
    assert_eq!(app.run_outbox(), report(1, 0, 0));
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let text = String::from_utf8(std::fs::read(&files[0]).unwrap()).unwrap();
    let row = rows(&app).remove(0);
    assert_eq!(row.status, "sent");
    assert!(
        text.contains(&format!("Message-ID: <{}>", row.message_id)),
        "{text}"
    );
    assert!(text.contains("To: files@example.com"), "{text}");
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    assert!(app.run_outbox().is_empty());
}

#[actix_web::test]
async fn only_admins_see_and_retry_the_outbox() {
    let app = TestApp::spawn().await;
    let vendor = app.vendor_with_agent("Acme BPO", Role::Lead).await;
    let tokens = [
        vendor.token.clone(),
        app.token(Role::Manager, None),
        app.token(Role::Intake, None),
    ];
    for token in &tokens {
        let list = app.get("/api/v1/outbox", token).send().await.unwrap();
        expect_problem(list, 403).await;
        let retry = app
            .post("/api/v1/outbox/anything/retry", token)
            .send()
            .await
            .unwrap();
        expect_problem(retry, 403).await;
    }
    let anonymous = app
        .client
        .get(app.url("/api/v1/outbox"))
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, 401).await;
    assert_eq!(app.read("/api/v1/outbox").await, json!([]));
}
