//! Issue 9, the mail path as untrusted input: NUL in mail, mail the
//! database refuses, mail that would make a ticket a mailing list, and
//! addresses and Message-IDs that do not survive the trip out.

use crate::common::*;
use crate::imap::Dovecot;
use crate::smtp::SmtpSink;
use base64::Engine as _;
use diesel::prelude::*;
use relay::db::schema::{attachments, inbound_messages, outbox, ticket_participants};
use relay::db::DbConnection;
use serde_json::{json, Value};

async fn deliver_expecting(app: &TestApp, raw: Vec<u8>, outcome: &str) -> Value {
    let (status, body) = app.deliver_mail(raw).await;
    assert_eq!(body["outcome"], outcome, "{status}: {body}");
    assert_eq!(status, if outcome == "created" { 201 } else { 200 });
    body
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A customer's mail; `headers` adds or overrides header lines.
fn mail(from: &str, message_id: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Customer <{from}>\r\n\
         To: support@relay.localhost\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{message_id}>\r\n\
         Date: Tue, 01 Dec 2026 09:00:00 +0000\r\n\
         {headers}\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {body}\r\n"
    )
    .into_bytes()
}

/// A mail whose body and subject decode (base64) to text holding NUL.
fn mail_with_nul(from: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: Customer <{from}>\r\n\
         To: support@relay.localhost\r\n\
         Subject: =?utf-8?B?{subject}?=\r\n\
         Message-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {body}\r\n",
        subject = base64("Card\0 declined"),
        body = base64("My card was\0 declined twice.\0"),
    )
    .into_bytes()
}

fn is_postgres(app: &TestApp) -> bool {
    matches!(&*app.db.get().unwrap(), DbConnection::Postgresql(_))
}

/// Makes the database refuse, for good, inserts into `table` of rows that
/// match a condition (SQLite and PostgreSQL spelling): a stand-in for any
/// permanent failure the pipeline may meet.
fn refuse_inserts(app: &TestApp, table: &str, sqlite_when: &str, postgres_when: &str) {
    let mut conn = app.db.get().unwrap();
    let statements = if is_postgres(app) {
        vec![
            format!(
                "CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF {postgres_when} THEN RAISE EXCEPTION 'refused for the test'; END IF; \
                 RETURN NEW; END $$"
            ),
            format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
            ),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {sqlite_when} \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
        )]
    };
    for statement in statements {
        diesel::sql_query(statement).execute(&mut *conn).unwrap();
    }
}

/// Tickets whose subject contains `poisoned` cannot be stored.
fn refuse_poisoned_tickets(app: &TestApp) {
    refuse_inserts(
        app,
        "tickets",
        "NEW.subject LIKE '%poisoned%'",
        "NEW.subject LIKE '%poisoned%'",
    );
}

fn inbound_rows(app: &TestApp) -> Vec<(String, Option<String>, Option<String>)> {
    let mut conn = app.db.get().unwrap();
    inbound_messages::table
        .order(inbound_messages::received_at.asc())
        .select((
            inbound_messages::outcome,
            inbound_messages::reason,
            inbound_messages::ticket_id,
        ))
        .load(&mut *conn)
        .unwrap()
}

fn participants(app: &TestApp, ticket_id: &str) -> Vec<String> {
    let mut conn = app.db.get().unwrap();
    let mut list: Vec<String> = ticket_participants::table
        .filter(ticket_participants::ticket_id.eq(ticket_id))
        .select(ticket_participants::email)
        .load(&mut *conn)
        .unwrap();
    list.sort();
    list
}

async fn agent_reply(app: &TestApp, ticket_id: &str, body: &str) {
    let resp = app
        .post(&format!("/api/v1/tickets/{ticket_id}/messages"), &app.admin)
        .json(&json!({"body": body, "public": true}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await;
}

/// The Message-ID of the newest mail Relay queued for a ticket, of a kind.
fn latest_outgoing(app: &TestApp, ticket_id: &str, kind: &str) -> String {
    let mut conn = app.db.get().unwrap();
    outbox::table
        .filter(outbox::ticket_id.eq(ticket_id))
        .filter(outbox::kind.eq(kind))
        .order(outbox::created_at.desc())
        .select(outbox::message_id)
        .first(&mut *conn)
        .unwrap()
}

// ---- NUL and mail the database refuses --------------------------------

#[actix_web::test]
async fn a_nul_in_a_base64_body_is_removed_and_the_ticket_created() {
    let app = TestApp::spawn().await;
    let created = deliver_expecting(
        &app,
        mail_with_nul("ana@example.com", "nul-1@example.com"),
        "created",
    )
    .await;
    let number = &created["ticket"]["number"];
    let ticket = app.read(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(ticket["subject"], "Card declined");
    let messages = app
        .read(&format!("/api/v1/tickets/{number}/messages"))
        .await;
    assert_eq!(messages[0]["body"], "My card was declined twice.");
}

#[actix_web::test]
async fn a_message_that_can_never_be_stored_is_kept_raw_and_ignored() {
    let app = TestApp::spawn().await;
    refuse_poisoned_tickets(&app);
    let raw = mail(
        "ana@example.com",
        "poison-1@example.com",
        "A poisoned subject",
        "",
        "Hello",
    );
    let answer = deliver_expecting(&app, raw.clone(), "ignored").await;
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.contains("cannot be stored"), "{reason}");
    assert!(
        !reason.contains("refused for the test"),
        "database internals stay in the log: {reason}"
    );
    assert_eq!(app.ticket_count(), 0);
    let stored = inbound_rows(&app);
    assert_eq!(stored.len(), 1, "the raw mail is kept for inspection");
    assert_eq!(stored[0].0, "ignored");
    assert_eq!(stored[0].1.as_deref(), Some(reason));

    // Offered again (mailgate retrying, IMAP re-reading): the same answer
    // as for any message already delivered, and still one copy.
    deliver_expecting(&app, raw, "duplicate").await;
    assert_eq!(inbound_rows(&app).len(), 1);

    // Mail that can be stored still is.
    deliver_expecting(
        &app,
        mail("ana@example.com", "fine-1@example.com", "Fine", "", "Hello"),
        "created",
    )
    .await;
}

/// `relay mailgate` with this message on its standard input.
async fn mailgate(app: &TestApp, raw: Vec<u8>) -> relay::mailgate::Finish {
    let args = relay::mailgate::MailgateArgs {
        url: app.base.clone(),
        token: app.token(relay::domain::Role::Intake, None),
        queue: None,
        timeout: std::time::Duration::from_secs(30),
    };
    actix_web::rt::task::spawn_blocking(move || {
        relay::mailgate::deliver_from(&args, &mut raw.as_slice())
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn mailgate_hands_over_nul_and_unstorable_mail_and_exits_0() {
    let app = TestApp::spawn().await;
    refuse_poisoned_tickets(&app);
    let nul = mailgate(&app, mail_with_nul("ana@example.com", "gate-1@example.com")).await;
    assert_eq!(nul.code, relay::mailgate::EX_OK, "{nul:?}");
    let poisoned = mailgate(
        &app,
        mail(
            "bo@example.com",
            "gate-2@example.com",
            "A poisoned one",
            "",
            "x",
        ),
    )
    .await;
    assert_eq!(
        poisoned.code,
        relay::mailgate::EX_OK,
        "not 75 (the MTA would retry forever): {poisoned:?}"
    );
    let outcomes: Vec<String> = inbound_rows(&app).into_iter().map(|r| r.0).collect();
    assert_eq!(outcomes, ["created", "ignored"]);
}

#[actix_web::test]
async fn imap_sets_aside_messages_that_fail_for_good_and_takes_the_next_one() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mailbox = dovecot.mailbox("support");
    let app = TestApp::spawn_with(|s| s.imap.mailboxes = vec![mailbox]).await;
    refuse_poisoned_tickets(&app);
    // Not even the raw message can be stored for this one.
    refuse_inserts(
        &app,
        "inbound_messages",
        "instr(NEW.raw, CAST('unstorable' AS BLOB)) > 0",
        "position('unstorable'::bytea in NEW.raw) > 0",
    );
    dovecot.append(
        "INBOX",
        &mail(
            "a@example.com",
            "imap-1@example.com",
            "A poisoned one",
            "",
            "x",
        ),
    );
    dovecot.append(
        "INBOX",
        &mail(
            "b@example.com",
            "imap-2@example.com",
            "Odd",
            "",
            "unstorable",
        ),
    );
    dovecot.append(
        "INBOX",
        &mail_with_nul("c@example.com", "imap-3@example.com"),
    );
    dovecot.append(
        "INBOX",
        &mail("d@example.com", "imap-4@example.com", "Good", "", "Hello"),
    );

    let report = app.poll_imap();
    assert!(report.errors().is_empty(), "{:?}", report.errors());
    let support = report.mailbox("support").unwrap();
    assert_eq!(support.fetched, 4, "{support:?}");
    assert_eq!(
        support.created, 2,
        "the NUL one and the good one: {support:?}"
    );
    assert_eq!(support.other, 1, "the poisoned one is ignored: {support:?}");
    assert_eq!(support.rejected, 1, "the unstorable one: {support:?}");
    assert_eq!(support.last_uid, 4, "the mailbox is not stuck");
    assert_eq!(app.ticket_count(), 2);
    let outcomes: Vec<String> = inbound_rows(&app).into_iter().map(|r| r.0).collect();
    assert_eq!(outcomes, ["ignored", "created", "created"]);

    // Set aside means set aside: the next poll does not stop at them either.
    let again = app.poll_imap();
    assert!(again.errors().is_empty(), "{:?}", again.errors());
    assert_eq!(again.fetched(), 0);
}

// ---- not a mailing list -----------------------------------------------

#[actix_web::test]
async fn thousands_of_addresses_make_at_most_the_cap_of_participants_all_in_cc() {
    let Some(sink) = SmtpSink::start("thousands_of_addresses_make_at_most_the_cap") else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
    let cap = app.settings.email.max_participants;
    assert_eq!(cap, 20, "the default");
    let to: Vec<String> = (0..1500).map(|n| format!("to{n}@list.example")).collect();
    let cc: Vec<String> = (0..1500).map(|n| format!("cc{n}@list.example")).collect();
    let headers = format!(
        "Cc: {}\r\n",
        cc.join(",\r\n ") // folded, as a mail client would
    );
    let raw = String::from_utf8(mail(
        "ana@example.com",
        "list-1@example.com",
        "To everyone",
        &headers,
        "Hello all",
    ))
    .unwrap()
    .replace(
        "To: support@relay.localhost\r\n",
        &format!("To: support@relay.localhost,\r\n {}\r\n", to.join(",\r\n ")),
    );
    let created = deliver_expecting(&app, raw.into_bytes(), "created").await;
    let id = created["ticket"]["id"].as_str().unwrap().to_string();
    let joined = participants(&app, &id);
    assert_eq!(joined.len(), cap);
    let events = app.events(&id).await;
    let received = events
        .iter()
        .find(|e| e["kind"] == "email_received")
        .unwrap();
    assert_eq!(received["data"]["participants_not_added"], 3000 - cap);

    app.run_outbox(); // the acknowledgement, to the customer alone
    agent_reply(&app, &id, "We are on it.").await;
    app.run_outbox();
    let reply = sink.with_message_id(&latest_outgoing(&app, &id, "reply"));
    assert_eq!(reply.len(), 1);
    let reply = &reply[0];
    assert_eq!(reply.addresses("To"), ["ana@example.com"]);
    let mut copied = reply.addresses("Cc");
    copied.sort();
    assert_eq!(copied, joined, "participants are in Cc");
    assert_eq!(reply.rcpt_to.len(), cap + 1);
}

#[actix_web::test]
async fn a_stranger_with_a_customers_message_id_adds_a_message_but_gets_no_replies() {
    let Some(sink) = SmtpSink::start("a_stranger_with_a_customers_message_id") else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
    let created = deliver_expecting(
        &app,
        mail(
            "ana@example.com",
            "ana-1@example.com",
            "Refund",
            "Cc: boss@example.com\r\n",
            "Where is my refund?",
        ),
        "created",
    )
    .await;
    let id = created["ticket"]["id"].as_str().unwrap().to_string();
    let ack = latest_outgoing(&app, &id, "acknowledgement");

    // Someone who learnt Ana's Message-ID threads into her ticket...
    let stranger = deliver_expecting(
        &app,
        mail(
            "mallory@evil.example",
            "mallory-1@evil.example",
            "Re: Refund",
            "In-Reply-To: <ana-1@example.com>\r\nCc: eve@evil.example\r\n",
            "Please send the details to me too.",
        ),
        "appended",
    )
    .await;
    assert_eq!(stranger["ticket"]["id"], id.as_str());
    // ...someone Ana forwarded Relay's mail to answers it and joins...
    deliver_expecting(
        &app,
        mail(
            "colleague@example.com",
            "colleague-1@example.com",
            "Re: Refund",
            &format!("In-Reply-To: <{ack}>\r\nReferences: <ana-1@example.com> <{ack}>\r\n"),
            "I can help with this.",
        ),
        "appended",
    )
    .await;
    // ...and Ana herself copies someone in, who joins too.
    deliver_expecting(
        &app,
        mail(
            "ana@example.com",
            "ana-2@example.com",
            "Re: Refund",
            "In-Reply-To: <ana-1@example.com>\r\nCc: accountant@example.com\r\n",
            "Copying my accountant.",
        ),
        "appended",
    )
    .await;
    assert_eq!(
        participants(&app, &id),
        [
            "accountant@example.com",
            "boss@example.com",
            "colleague@example.com"
        ],
        "neither the stranger nor whom the stranger copied"
    );

    app.run_outbox();
    agent_reply(&app, &id, "Your refund is on its way.").await;
    app.run_outbox();
    let reply = &sink.with_message_id(&latest_outgoing(&app, &id, "reply"))[0];
    let mut rcpt = reply.rcpt_to.clone();
    rcpt.sort();
    assert_eq!(
        rcpt,
        [
            "accountant@example.com",
            "ana@example.com",
            "boss@example.com",
            "colleague@example.com"
        ]
    );
    assert_eq!(reply.addresses("To"), ["ana@example.com"]);
}

#[actix_web::test]
async fn a_mail_with_two_thousand_attachments_stores_at_most_max_attachments() {
    let app = TestApp::spawn().await;
    let max = app.settings.intake.max_attachments;
    let mut raw = String::from(
        "From: ana@example.com\r\n\
         To: support@relay.localhost\r\n\
         Subject: Files\r\n\
         Message-ID: <files-1@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=sep\r\n\
         \r\n\
         --sep\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         See attached.\r\n",
    );
    for n in 0..2000 {
        raw.push_str(&format!(
            "--sep\r\n\
             Content-Type: text/plain; name=\"f{n}.txt\"\r\n\
             Content-Disposition: attachment; filename=\"f{n}.txt\"\r\n\
             \r\n\
             file {n}\r\n"
        ));
    }
    raw.push_str("--sep--\r\n");
    let created = deliver_expecting(&app, raw.into_bytes(), "created").await;
    let id = created["ticket"]["id"].as_str().unwrap();
    let stored: i64 = {
        let mut conn = app.db.get().unwrap();
        attachments::table.count().get_result(&mut *conn).unwrap()
    };
    assert_eq!(stored, max as i64);
    let events = app.events(id).await;
    let received = events
        .iter()
        .find(|e| e["kind"] == "email_received")
        .unwrap();
    let refused = received["data"]["refused_attachments"].as_array().unwrap();
    assert_eq!(refused.len(), 2000 - max);
    assert!(
        refused[0]
            .as_str()
            .unwrap()
            .contains(&format!("over the limit of {max} attachments")),
        "{}",
        refused[0]
    );
}

// ---- addresses and Message-IDs that do not survive the trip ------------

#[actix_web::test]
async fn addresses_with_invisible_characters_are_refused_on_every_door() {
    let app = TestApp::spawn().await;
    for address in [
        "ana@\u{202E}moc.elpmaxe",
        "an\u{200B}a@example.com",
        "ana@exa\u{200D}mple.com",
    ] {
        let resp = app
            .post("/api/v1/tickets", &app.admin)
            .json(&ticket_body("Hello", address))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(resp, 422).await;
        assert_eq!(problem_fields(&problem), ["customer.email"], "{address:?}");
    }
    let answer = deliver_expecting(
        &app,
        mail(
            "an\u{200B}a@example.com",
            "zw-1@example.com",
            "Hi",
            "",
            "Hi",
        ),
        "ignored",
    )
    .await;
    assert!(
        answer["reason"].as_str().unwrap().contains("usable From"),
        "{answer}"
    );
    // A Cc'd one does not become a participant (nor get mail).
    let created = deliver_expecting(
        &app,
        mail(
            "ana@example.com",
            "zw-2@example.com",
            "Hi",
            "Cc: b\u{200B}o@example.com, cy@example.com\r\n",
            "Hi",
        ),
        "created",
    )
    .await;
    assert_eq!(
        participants(&app, created["ticket"]["id"].as_str().unwrap()),
        ["cy@example.com"]
    );
}

#[actix_web::test]
async fn a_non_ascii_message_id_is_never_sent_as_an_encoded_word_and_threading_still_works() {
    let Some(sink) = SmtpSink::start("a_non_ascii_message_id_is_never_sent") else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.smtp = Some(sink.settings())).await;
    let created = deliver_expecting(
        &app,
        mail(
            "jose@bücher.example",
            "zażółć-1@bücher.example",
            "Pedido",
            "",
            "¿Dónde está mi pedido?",
        ),
        "created",
    )
    .await;
    let id = created["ticket"]["id"].as_str().unwrap().to_string();
    app.run_outbox();
    let ack_id = latest_outgoing(&app, &id, "acknowledgement");
    let ack = &sink.with_message_id(&ack_id)[0];
    assert_eq!(
        ack.rcpt_to,
        ["jose@xn--bcher-kva.example"],
        "the domain goes out as punycode"
    );
    let headers = headers_of(&ack.raw);
    assert!(!headers.contains("=?"), "no encoded words:\n{headers}");
    assert_eq!(ack.header("In-Reply-To"), None, "{headers}");

    // The customer's answer to the acknowledgement threads by its id.
    let answer = deliver_expecting(
        &app,
        mail(
            "jose@bücher.example",
            "zażółć-2@bücher.example",
            "Re: Pedido",
            &format!("In-Reply-To: <{ack_id}>\r\n"),
            "¿Alguna novedad?",
        ),
        "appended",
    )
    .await;
    assert_eq!(answer["ticket"]["id"], id.as_str());
    agent_reply(&app, &id, "Sale mañana.").await;
    app.run_outbox();
    let reply = &sink.with_message_id(&latest_outgoing(&app, &id, "reply"))[0];
    assert_eq!(
        reply.header("In-Reply-To").as_deref(),
        Some(format!("<{ack_id}>").as_str()),
        "the thread goes on through Relay's own ids"
    );
    assert!(!headers_of(&reply.raw).contains("=?"));
}

fn headers_of(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}
