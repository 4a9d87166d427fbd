//! Issue 9, items 3 and 4 (HTTP): no request body can hang a request or
//! leave its socket open, and text with NUL is a 4xx naming the field.
//! The slow and truncated bodies go over raw TCP, since an HTTP client
//! library would neither stall nor lie about its Content-Length.

use crate::common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The deadline these tests give bodies, and the slack for a busy machine.
const DEADLINE: Duration = Duration::from_secs(1);
const MARGIN: Duration = Duration::from_secs(3);
const BOUNDARY: &str = "relaytestboundary";

async fn spawn_with_deadline() -> TestApp {
    TestApp::spawn_with(|s| s.server.body_read_timeout_seconds = DEADLINE.as_secs()).await
}

/// One route that reads a body, with a body that would be valid there.
struct BodyRoute {
    method: &'static str,
    path: String,
    token: Option<String>,
    content_type: String,
    body: Vec<u8>,
}

impl BodyRoute {
    fn json(method: &'static str, path: String, token: &str, body: Value) -> BodyRoute {
        BodyRoute {
            method,
            path,
            token: Some(token.to_string()),
            content_type: "application/json".into(),
            body: body.to_string().into_bytes(),
        }
    }

    fn multipart(path: String, token: Option<&str>, parts: &[(&str, &str)]) -> BodyRoute {
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{BOUNDARY}--\r\n"));
        BodyRoute {
            method: "POST",
            path,
            token: token.map(str::to_string),
            content_type: format!("multipart/form-data; boundary={BOUNDARY}"),
            body: body.into_bytes(),
        }
    }

    fn head(&self, content_length: usize) -> String {
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        format!(
            "{} {} HTTP/1.1\r\nHost: relay.test\r\n{auth}Content-Type: {}\r\nContent-Length: {content_length}\r\n\r\n",
            self.method, self.path, self.content_type
        )
    }

    fn name(&self) -> String {
        format!("{} {} ({})", self.method, self.path, self.content_type)
    }
}

/// Every route that reads a request body.
async fn body_routes(app: &TestApp) -> Vec<BodyRoute> {
    let ticket = app
        .create_ticket(ticket_body("Slow bodies", "slow@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap().to_string();
    let public = app
        .create_public_ticket(ticket_body("Customer page", "page@example.com"))
        .await;
    let page = public["access_url"].as_str().unwrap();
    let page = page[page.find("/t/").unwrap()..].to_string();
    let mail = "From: a@example.com\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nhello\r\n";
    let admin = app.admin.as_str();
    vec![
        BodyRoute::json(
            "POST",
            "/api/v1/tickets".into(),
            admin,
            ticket_body("s", "c@example.com"),
        ),
        BodyRoute::json(
            "PATCH",
            format!("/api/v1/tickets/{id}"),
            admin,
            json!({"priority": "high"}),
        ),
        BodyRoute::json(
            "POST",
            format!("/api/v1/tickets/{id}/messages"),
            admin,
            json!({"body": "hello"}),
        ),
        BodyRoute::json(
            "POST",
            "/api/v1/vendors".into(),
            admin,
            json!({"name": "Slow Vendor"}),
        ),
        BodyRoute::multipart(
            "/support".into(),
            None,
            &[
                ("email", "c@example.com"),
                ("subject", "s"),
                ("description", "d"),
            ],
        ),
        BodyRoute::multipart(page, None, &[("body", "a reply")]),
        BodyRoute::multipart(
            "/api/v1/inbound/email".into(),
            Some(admin),
            &[("email", mail)],
        ),
        BodyRoute {
            method: "POST",
            path: "/api/v1/inbound/email".into(),
            token: Some(admin.to_string()),
            content_type: "message/rfc822".into(),
            body: mail.as_bytes().to_vec(),
        },
    ]
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// What the server answered before it closed the connection.
struct RawAnswer {
    status: u16,
    head: String,
    body: String,
}

/// Reads until the server closes the connection (a read returning 0, or a
/// reset when it closed with bytes of ours unread) and parses the answer.
/// Fails if the connection is still open after `within`.
async fn answer_then_closed(
    stream: &mut (impl AsyncRead + Unpin),
    within: Duration,
    what: &str,
) -> RawAnswer {
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("{what}: reading the answer failed: {e}"),
            }
        }
    };
    tokio::time::timeout(within, read_all)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer and close within {within:?}"));
    let text = String::from_utf8_lossy(&received).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no HTTP answer in {text:?}"));
    RawAnswer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn assert_timeout_problem(answer: &RawAnswer, what: &str) {
    assert_eq!(
        answer.status, 408,
        "{what}: {}\n{}",
        answer.head, answer.body
    );
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{what}: {}",
        answer.head
    );
    let problem: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(problem["type"], "/problems/request-timeout", "{what}");
}

#[actix_web::test]
async fn a_stalled_body_answers_408_in_time_and_closes_on_every_route() {
    let app = spawn_with_deadline().await;
    for route in body_routes(&app).await {
        let what = route.name();
        let mut stream = connect(&app).await;
        let started = Instant::now();
        // The head and a little of the body, then nothing.
        let sent = &route.body[..route.body.len() / 2];
        stream
            .write_all(route.head(route.body.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(sent).await.unwrap();
        let answer = answer_then_closed(&mut stream, DEADLINE + MARGIN, &what).await;
        assert_timeout_problem(&answer, &what);
        assert!(started.elapsed() >= DEADLINE, "{what}: answered too early");
    }
}

#[actix_web::test]
async fn a_body_sent_a_byte_at_a_time_answers_408_in_time_and_closes() {
    let app = spawn_with_deadline().await;
    for route in body_routes(&app).await {
        let what = route.name();
        let (mut reader, mut writer) = connect(&app).await.into_split();
        let head = route.head(route.body.len());
        let body = route.body.clone();
        // Each byte arrives well within any per-read timeout; only an overall
        // deadline stops this client.
        let drip = actix_web::rt::spawn(async move {
            writer.write_all(head.as_bytes()).await?;
            for byte in body {
                writer.write_all(&[byte]).await?;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok::<_, std::io::Error>(writer)
        });
        let answer = answer_then_closed(&mut reader, DEADLINE + MARGIN, &what).await;
        drip.abort();
        assert_timeout_problem(&answer, &what);
    }
}

#[actix_web::test]
async fn a_body_shorter_than_its_length_answers_400_and_closes_on_every_route() {
    let app = spawn_with_deadline().await;
    for route in body_routes(&app).await {
        let what = route.name();
        let mut stream = connect(&app).await;
        // Promise more than is sent, then half-close: the body ends early.
        let sent = &route.body[..route.body.len() - 3];
        stream
            .write_all(route.head(route.body.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(sent).await.unwrap();
        stream.shutdown().await.unwrap();
        let answer = answer_then_closed(&mut stream, MARGIN, &what).await;
        assert_eq!(
            answer.status, 400,
            "{what}: {}\n{}",
            answer.head, answer.body
        );
    }
}

#[actix_web::test]
async fn a_multipart_body_without_its_closing_boundary_answers_400_and_closes() {
    let app = spawn_with_deadline().await;
    let routes = body_routes(&app).await;
    let multipart = routes
        .iter()
        .filter(|r| r.content_type.starts_with("multipart/"));
    for route in multipart {
        let close = format!("--{BOUNDARY}--\r\n");
        let complete = String::from_utf8(route.body.clone()).unwrap();
        let parts = complete.strip_suffix(&close).unwrap();
        // Cut where the parser cannot yet tell content from a boundary: after
        // the CRLF that ends a part, or inside the next boundary.
        let endings = [
            parts.to_string(),
            format!("{parts}--"),
            format!("{parts}--{}", &BOUNDARY[..6]),
        ];
        for body in endings {
            let what = format!("{} ending {:?}", route.name(), &body[body.len() - 8..]);
            let mut stream = connect(&app).await;
            stream
                .write_all(route.head(body.len()).as_bytes())
                .await
                .unwrap();
            stream.write_all(body.as_bytes()).await.unwrap();
            // The whole declared body was sent; the client then leaves.
            stream.shutdown().await.unwrap();
            let answer = answer_then_closed(&mut stream, MARGIN, &what).await;
            assert_eq!(
                answer.status, 400,
                "{what}: {}\n{}",
                answer.head, answer.body
            );
        }
    }
}

// ------------------------------------------------------------------ NUL

/// JSON text with the `\u0000` escape (serde_json writes NUL that way).
fn with_nul(text: &str) -> String {
    format!("{text}\u{0}{text}")
}

#[actix_web::test]
async fn nul_in_any_json_field_is_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let ticket = app
        .create_ticket(ticket_body("Has no NUL", "nul@example.com"))
        .await;
    let id = ticket["id"].as_str().unwrap();
    let before = app.ticket_count();

    let mut create = ticket_body(&with_nul("subject"), "nul@example.com");
    create["customer"]["name"] = json!(with_nul("name"));
    create["tags"] = json!(["fine", with_nul("tag")]);
    let problem = expect_problem(
        app.post("/api/v1/tickets", &app.admin)
            .json(&create)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    let mut fields = problem_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["customer.name", "subject", "tags[1]"]);
    assert_eq!(app.ticket_count(), before, "nothing was created");

    let patch = expect_problem(
        app.patch(&format!("/api/v1/tickets/{id}"), &app.admin)
            .header("if-match", ticket["version"].to_string())
            .json(&json!({"custom_fields": {with_nul("key"): "v"}}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&patch), ["custom_fields"]);

    let message = expect_problem(
        app.post(&format!("/api/v1/tickets/{id}/messages"), &app.admin)
            .json(&json!({"body": with_nul("body")}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&message), ["body"]);

    let vendor = expect_problem(
        app.post("/api/v1/vendors", &app.admin)
            .json(&json!({"name": with_nul("vendor")}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(problem_fields(&vendor), ["name"]);
}

#[actix_web::test]
async fn nul_in_a_query_filter_is_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    app.create_ticket(ticket_body("Visible", "q@example.com"))
        .await;
    for (query, field) in [
        ("q=%00", "q"),
        ("q=a%00b", "q"),
        ("customer=%00", "customer"),
        ("limit=5&assignee=me%00", "assignee"),
    ] {
        let problem = expect_problem(
            app.get(&format!("/api/v1/tickets?{query}"), &app.admin)
                .send()
                .await
                .unwrap(),
            422,
        )
        .await;
        assert_eq!(problem_fields(&problem), [field], "{query}");
    }
    // The literal text "%00" is an ordinary search.
    let literal = expect_json(
        app.get("/api/v1/tickets?q=%2500", &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(literal["items"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn nul_in_a_path_id_is_404_never_500() {
    let app = TestApp::spawn().await;
    let paths = [
        ("GET", "/api/v1/agents/%00"),
        ("GET", "/api/v1/vendors/a%00b"),
        ("PATCH", "/api/v1/queues/a%00b"),
        ("DELETE", "/api/v1/tokens/a%00b"),
        ("POST", "/api/v1/outbox/a%00b/retry"),
        ("GET", "/api/v1/tickets/a%00b"),
        ("GET", "/api/v1/tickets/a%00b/messages"),
        ("GET", "/t/a%00b"),
    ];
    for (method, path) in paths {
        let request = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&app.admin);
        let request = match method {
            "PATCH" | "POST" => request.json(&json!({})),
            _ => request,
        };
        let problem = expect_problem(request.send().await.unwrap(), 404).await;
        assert_eq!(problem["type"], "/problems/not-found", "{method} {path}");
    }
}

#[actix_web::test]
async fn nul_in_a_form_field_is_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let before = app.ticket_count();
    let urlencoded = app
        .client
        .post(app.url("/support"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=c%40example.com&subject=a%00b&description=fine")
        .send()
        .await
        .unwrap();
    assert_eq!(urlencoded.status(), 422);
    let page = urlencoded.text().await.unwrap();
    assert!(page.contains("must not contain NUL"), "{page}");

    let multipart = reqwest::multipart::Form::new()
        .text("email", "c@example.com")
        .text("subject", "fine")
        .text("description", with_nul("description"));
    let response = app
        .client
        .post(app.url("/support"))
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(app.ticket_count(), before, "nothing was created");

    let public = app
        .create_public_ticket(ticket_body("Customer page", "page@example.com"))
        .await;
    let link = public["access_url"].as_str().unwrap().to_string();
    let reply = app
        .client
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("body=hello%00there")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 422);
    let id = public["id"].as_str().unwrap();
    let messages = app.read(&format!("/api/v1/tickets/{id}/messages")).await;
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");

    // A file name is stored as text too (an RFC 5987 name may encode NUL).
    let with_file = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; \
         filename*=UTF-8''f%00.txt\r\n\r\ndata\r\n--{BOUNDARY}--\r\n"
    );
    let response = app
        .client
        .post(&link)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(with_file)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("must not contain NUL"), "{page}");
}
