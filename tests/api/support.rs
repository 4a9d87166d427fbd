//! The customer's pages: the web form at /support and the private ticket page
//! at /t/{access_token}, driven over HTTP like a browser without JavaScript.

use crate::common::*;
use diesel::prelude::*;
use relay::db::schema::blobs;
use reqwest::multipart::{Form, Part};
use reqwest::Response;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Asserts the status and an HTML page, and returns the page.
async fn expect_html(resp: Response, status: u16) -> String {
    let actual = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; page: {text}");
    assert_eq!(content_type, "text/html; charset=utf-8", "page: {text}");
    assert!(text.starts_with("<!doctype html>"), "{text}");
    text
}

fn valid_form<'a>(email: &'a str, subject: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("name", "Ana Cruz"),
        ("email", email),
        ("subject", subject),
        ("description", "My parcel never arrived.\nOrder A-1001."),
        ("website", ""),
    ]
}

fn multipart_form(fields: &[(&'static str, &str)]) -> Form {
    fields.iter().fold(Form::new(), |form, (name, value)| {
        form.text(*name, value.to_string())
    })
}

fn file(name: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str("application/octet-stream")
        .unwrap()
}

/// The text between `start` and the next `end` after it.
fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {page}"))
        + start.len();
    let len = page[from..].find(end).expect("end marker");
    &page[from..from + len]
}

/// The ticket number and private link on a confirmation page.
fn confirmation(page: &str) -> (i64, String) {
    let number = between(page, "id=\"ticket-number\">#", "<")
        .parse()
        .unwrap();
    let link = between(page, "id=\"ticket-link\" href=\"", "\"").to_string();
    (number, link)
}

fn token_of(link: &str) -> String {
    link.rsplit("/t/").next().unwrap().to_string()
}

async fn ticket(app: &TestApp, id: impl std::fmt::Display) -> Value {
    expect_json(
        app.get(&format!("/api/v1/tickets/{id}"), &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

async fn messages(app: &TestApp, id: impl std::fmt::Display) -> Value {
    expect_json(
        app.get(&format!("/api/v1/tickets/{id}/messages"), &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

/// A ticket made through the public API, and its customer's link token
/// (only the public channel's answer carries the link).
async fn api_ticket(app: &TestApp, subject: &str) -> (Value, String) {
    let created = app
        .create_public_ticket(ticket_body(subject, "ben@example.com"))
        .await;
    let token = token_of(created["access_url"].as_str().unwrap());
    (created, token)
}

async fn agent_message(app: &TestApp, id: &str, body: &str, public: bool) {
    expect_json(
        app.post(&format!("/api/v1/tickets/{id}/messages"), &app.admin)
            .json(&json!({"body": body, "public": public}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
}

async fn set_status(app: &TestApp, id: &str, status: &str) {
    let current = app
        .get(&format!("/api/v1/tickets/{id}"), &app.admin)
        .send()
        .await
        .unwrap();
    let etag = current.headers()["etag"].to_str().unwrap().to_string();
    let resp = app
        .patch(&format!("/api/v1/tickets/{id}"), &app.admin)
        .header("If-Match", etag)
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    let changed = expect_json(resp, 200).await;
    assert_eq!(changed["status"], status);
}

#[actix_web::test]
async fn support_page_is_an_accessible_form() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/support")).send().await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let page = expect_html(resp, 200).await;
    for needle in [
        "<html lang=\"en\">",
        "<form method=\"post\" action=\"/support\" enctype=\"multipart/form-data\"",
        "<label for=\"name\">",
        "id=\"name\" name=\"name\"",
        "<label for=\"email\">",
        "type=\"email\" id=\"email\" name=\"email\" autocomplete=\"email\" required",
        "<label for=\"subject\">",
        "id=\"subject\" name=\"subject\" required",
        "<label for=\"description\">",
        "<textarea id=\"description\" name=\"description\" rows=\"8\" required",
        "<label for=\"attachments\">",
        "type=\"file\" id=\"attachments\" name=\"attachments\" multiple",
        "<div class=\"hp\" aria-hidden=\"true\">",
        "<label for=\"website\">Leave this field empty</label>",
        "name=\"website\" tabindex=\"-1\"",
        "<button type=\"submit\">",
    ] {
        assert!(page.contains(needle), "missing {needle:?} in {page}");
    }
    assert!(
        !page.contains("<script"),
        "the form works without JavaScript"
    );
}

#[actix_web::test]
async fn urlencoded_submission_creates_a_web_ticket() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/support"))
        .form(&valid_form("Ana.Cruz@Example.com", "Parcel missing"))
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 200).await;
    let (number, link) = confirmation(&page);
    assert!(number > 10000);
    assert!(
        link.starts_with(&format!("{}/t/rly_", app.base)),
        "the link is built from public_base_url: {link}"
    );

    let stored = ticket(&app, number).await;
    assert_eq!(stored["channel"], "web");
    assert_eq!(stored["status"], "new");
    assert_eq!(stored["subject"], "Parcel missing");
    assert_eq!(stored["customer"]["email"], "ana.cruz@example.com");
    assert_eq!(stored["customer"]["name"], "Ana Cruz");
    let conversation = messages(&app, number).await;
    assert_eq!(conversation.as_array().unwrap().len(), 1);
    assert_eq!(
        conversation[0]["body"],
        "My parcel never arrived.\nOrder A-1001."
    );
    assert_eq!(conversation[0]["channel"], "web");
    assert_eq!(conversation[0]["author_kind"], "customer");

    // The private link works and shows the request.
    let resp = app.client.get(&link).send().await.unwrap();
    let page = expect_html(resp, 200).await;
    assert!(page.contains("Parcel missing"), "{page}");
    assert!(page.contains(&format!("#{number}")), "{page}");
}

#[actix_web::test]
async fn multipart_submission_stores_attachments_once_per_content() {
    let app = TestApp::spawn().await;
    let content = b"order A-1001, photo of the damaged box\n".repeat(40);
    let form = multipart_form(&valid_form("ana@example.com", "Damaged box"))
        .part("attachments", file("box.jpg", content.clone()))
        .part("attachments", file("box-again.jpg", content.clone()))
        // A file input left empty: browsers send an empty part with no file name.
        .part("attachments", file("", Vec::new()));
    let resp = app
        .client
        .post(app.url("/support"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 200).await;
    let (number, link) = confirmation(&page);

    let stored = ticket(&app, number).await;
    assert_eq!(stored["channel"], "web");
    let conversation = messages(&app, number).await;
    let files = conversation[0]["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2, "the empty file input is ignored: {files:?}");
    let sha256 = hex::encode(Sha256::digest(&content));
    let mut names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["box-again.jpg", "box.jpg"]);
    for f in files {
        assert_eq!(f["size"], content.len());
        assert_eq!(f["sha256"], sha256.as_str());
    }
    let mut conn = app.db.get().unwrap();
    let stored_blobs: i64 = blobs::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(stored_blobs, 1, "the same content is stored once");

    // The customer sees the files by name and size.
    let page = expect_html(app.client.get(&link).send().await.unwrap(), 200).await;
    assert!(
        page.contains("box.jpg (2 KB)") && page.contains("box-again.jpg (2 KB)"),
        "{page}"
    );
}

#[actix_web::test]
async fn attachment_over_the_limit_is_refused_with_the_form_shown_again() {
    let app = TestApp::spawn_with(|s| {
        s.intake.max_attachment_bytes = 1024;
        s.intake.max_upload_bytes = 1024 * 1024;
    })
    .await;
    let form = multipart_form(&valid_form("ana@example.com", "Scan attached"))
        .part("attachments", file("scan.png", vec![7; 4096]));
    let resp = app
        .client
        .post(app.url("/support"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 413).await;
    assert!(
        page.contains("Attachment &#39;scan.png&#39; is 4 KB and the limit is 1 KB"),
        "the message names the file and the limit: {page}"
    );
    assert!(
        page.contains("value=\"Scan attached\""),
        "entered values stay: {page}"
    );
    assert!(page.contains("choose them again"), "{page}");
    assert_eq!(app.ticket_count(), 0, "no ticket was created");
}

#[actix_web::test]
async fn too_many_attachments_are_refused() {
    let app = TestApp::spawn_with(|s| s.intake.max_attachments = 1).await;
    let form = multipart_form(&valid_form("ana@example.com", "Two files"))
        .part("attachments", file("a.txt", b"a".to_vec()))
        .part("attachments", file("b.txt", b"b".to_vec()));
    let resp = app
        .client
        .post(app.url("/support"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 422).await;
    assert!(page.contains("At most 1 attachments per message"), "{page}");
    assert_eq!(app.ticket_count(), 0);
}

#[actix_web::test]
async fn upload_over_the_total_limit_answers_a_413_page() {
    let app = TestApp::spawn_with(|s| {
        s.intake.max_attachment_bytes = 16 * 1024;
        s.intake.max_upload_bytes = 64 * 1024;
    })
    .await;
    let form = multipart_form(&valid_form("ana@example.com", "Huge"))
        .part("attachments", file("huge.bin", vec![1; 512 * 1024]));
    let resp = app
        .client
        .post(app.url("/support"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 413).await;
    assert!(
        page.contains("The form is larger than the limit of 64 KB"),
        "{page}"
    );
    assert_eq!(app.ticket_count(), 0);

    // The same limit holds for a urlencoded body.
    let long = "x".repeat(100 * 1024);
    let resp = app
        .client
        .post(app.url("/support"))
        .form(&[("email", "ana@example.com"), ("description", long.as_str())])
        .send()
        .await
        .unwrap();
    expect_html(resp, 413).await;
    assert_eq!(app.ticket_count(), 0);
}

#[actix_web::test]
async fn validation_errors_show_the_form_again_with_escaped_values() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/support"))
        .form(&[
            ("name", "<script>alert(1)</script>"),
            ("email", "not-an-address"),
            ("subject", "  "),
            ("description", "Fish & \"chips\""),
            ("website", ""),
        ])
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 422).await;
    assert!(
        !page.contains("<script>alert(1)"),
        "raw markup echoed: {page}"
    );
    assert!(
        page.contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\"")
            || page.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "the name comes back escaped: {page}"
    );
    assert!(
        page.contains("Fish &#38; &#34;chips&#34;</textarea>")
            || page.contains("Fish &amp; &quot;chips&quot;</textarea>"),
        "{page}"
    );
    assert!(page.contains("value=\"not-an-address\""), "{page}");
    assert!(
        page.contains(
            "id=\"email-error\"><span class=\"sr-only\">Error: </span>Email address must be a valid email address"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "id=\"subject-error\"><span class=\"sr-only\">Error: </span>Subject must not be empty."
        ),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"#email\">"),
        "summary links to the field"
    );
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(
        !page.contains("id=\"description-error\""),
        "valid fields carry no message"
    );
    assert_eq!(app.ticket_count(), 0);
}

#[actix_web::test]
async fn filled_honeypot_is_refused_as_automated() {
    let app = TestApp::spawn().await;
    let mut fields = valid_form("bot@example.com", "Cheap pills");
    fields.retain(|(name, _)| *name != "website");
    fields.push(("website", "http://spam.example"));
    let resp = app
        .client
        .post(app.url("/support"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 400).await;
    assert!(page.contains("looked automated"), "{page}");
    let resp = app
        .client
        .post(app.url("/support"))
        .multipart(multipart_form(&fields))
        .send()
        .await
        .unwrap();
    expect_html(resp, 400).await;
    assert_eq!(app.ticket_count(), 0);
}

#[actix_web::test]
async fn public_pages_are_rate_limited_per_address() {
    let app = TestApp::spawn_with(|s| {
        s.intake.public_requests_per_minute = 1;
        s.intake.public_burst = 2;
    })
    .await;
    for _ in 0..2 {
        let resp = app
            .client
            .post(app.url("/support"))
            .form(&valid_form("ana@example.com", "Again"))
            .send()
            .await
            .unwrap();
        expect_html(resp, 200).await;
    }
    let resp = app
        .client
        .post(app.url("/support"))
        .form(&valid_form("ana@example.com", "Again"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    let page = expect_html(resp, 429).await;
    assert!(page.contains("Too many requests"), "{page}");
    // Replies on the private page spend the same budget.
    let resp = app
        .client
        .post(app.url("/t/rly_whatever"))
        .form(&[("body", "hello")])
        .send()
        .await
        .unwrap();
    expect_html(resp, 429).await;
    assert_eq!(app.ticket_count(), 2);
    // Reading is not limited.
    expect_html(
        app.client.get(app.url("/support")).send().await.unwrap(),
        200,
    )
    .await;
}

#[actix_web::test]
async fn customer_page_shows_public_replies_but_never_internal_notes() {
    let app = TestApp::spawn().await;
    let (created, token) = api_ticket(&app, "Invoice <wrong>").await;
    let id = created["id"].as_str().unwrap();
    agent_message(&app, id, "INTERNAL: customer is on the watch list", false).await;
    agent_message(&app, id, "We have corrected the invoice.", true).await;

    let resp = app
        .client
        .get(app.url(&format!("/t/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    let page = expect_html(resp, 200).await;
    assert!(!page.contains("INTERNAL"), "internal note leaked: {page}");
    assert!(page.contains("We have corrected the invoice."), "{page}");
    assert!(page.contains("Something is wrong with my order."), "{page}");
    assert!(page.contains("Invoice &#60;wrong&#62;") || page.contains("Invoice &lt;wrong&gt;"));
    assert!(page.contains(&format!("#{}", created["number"])), "{page}");
    assert!(page.contains("<strong>You</strong>"), "{page}");
    assert!(page.contains("<strong>Support</strong>"), "{page}");
    assert!(page.contains(">Open</span>"), "status shown: {page}");
    assert!(page.contains("<time datetime=\""), "{page}");
    assert!(
        page.contains("<textarea id=\"body\" name=\"body\""),
        "{page}"
    );
    let you = page.find("<strong>You</strong>").unwrap();
    let support = page.find("<strong>Support</strong>").unwrap();
    assert!(you < support, "oldest first");
}

#[actix_web::test]
async fn unknown_link_is_a_404_page() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/t/rly_0000000000000000"))
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 404).await;
    assert!(page.contains("Page not found"), "{page}");
    let resp = app
        .client
        .post(app.url("/t/rly_0000000000000000"))
        .form(&[("body", "hello?")])
        .send()
        .await
        .unwrap();
    expect_html(resp, 404).await;
}

#[actix_web::test]
async fn customer_reply_reopens_a_solved_ticket() {
    let app = TestApp::spawn_with(|s| s.intake.max_attachment_bytes = 1024).await;
    let (created, token) = api_ticket(&app, "Refund").await;
    let id = created["id"].as_str().unwrap();
    agent_message(&app, id, "Refunded, see you!", true).await;
    set_status(&app, id, "solved").await;

    // An empty reply comes back with a message and changes nothing.
    let resp = app
        .client
        .post(app.url(&format!("/t/{token}")))
        .form(&[("body", "   ")])
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 422).await;
    assert!(page.contains("Your message must not be empty."), "{page}");
    assert!(
        page.contains("Refunded, see you!"),
        "the page is shown again"
    );
    // So does an attachment over the limit, keeping the text.
    let form = Form::new()
        .text("body", "With the receipt")
        .part("attachments", file("receipt.pdf", vec![0; 2048]));
    let resp = app
        .client
        .post(app.url(&format!("/t/{token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let page = expect_html(resp, 413).await;
    assert!(page.contains("receipt.pdf"), "{page}");
    assert!(page.contains(">With the receipt</textarea>"), "{page}");
    assert_eq!(ticket(&app, id).await["status"], "solved");
    assert_eq!(messages(&app, id).await.as_array().unwrap().len(), 2);

    let resp = app
        .client
        .post(app.url(&format!("/t/{token}")))
        .form(&[("body", "It did not arrive, sorry.")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], format!("/t/{token}"));

    assert_eq!(ticket(&app, id).await["status"], "open");
    let conversation = messages(&app, id).await;
    let last = conversation.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["body"], "It did not arrive, sorry.");
    assert_eq!(last["author_kind"], "customer");
    assert_eq!(last["channel"], "web");
    let page = expect_html(
        app.client
            .get(app.url(&format!("/t/{token}")))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(page.contains("It did not arrive, sorry."), "{page}");
}

#[actix_web::test]
async fn reply_to_a_closed_ticket_opens_a_follow_up() {
    let app = TestApp::spawn().await;
    let (created, token) = api_ticket(&app, "Broken hinge").await;
    let id = created["id"].as_str().unwrap();
    agent_message(&app, id, "A new hinge is on its way.", true).await;
    set_status(&app, id, "solved").await;
    set_status(&app, id, "closed").await;

    let form = Form::new()
        .text("body", "The new hinge broke too.")
        .part("attachments", file("hinge.jpg", b"jpeg bytes".to_vec()));
    let resp = app
        .client
        .post(app.url(&format!("/t/{token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/t/rly_"), "{location}");
    assert_ne!(location, format!("/t/{token}"));

    assert_eq!(
        ticket(&app, id).await["status"],
        "closed",
        "closed is final"
    );
    let page = expect_html(
        app.client.get(app.url(&location)).send().await.unwrap(),
        200,
    )
    .await;
    assert!(page.contains("Follow-up: Broken hinge"), "{page}");
    assert!(page.contains("continues an earlier one"), "{page}");
    assert!(page.contains("The new hinge broke too."), "{page}");
    assert!(page.contains("hinge.jpg"), "{page}");

    let list = expect_json(
        app.get("/api/v1/tickets?customer=ben@example.com", &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let follow_up = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] != created["id"])
        .expect("a follow-up ticket")
        .clone();
    assert_eq!(follow_up["follow_up_of"], created["id"]);
    assert_eq!(follow_up["channel"], "web");
    assert_eq!(follow_up["subject"], "Follow-up: Broken hinge");
    let conversation = messages(&app, follow_up["id"].as_str().unwrap()).await;
    assert_eq!(conversation[0]["body"], "The new hinge broke too.");
    assert_eq!(conversation[0]["attachments"][0]["filename"], "hinge.jpg");
}
