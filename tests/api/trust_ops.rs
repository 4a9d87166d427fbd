//! Operations under attack (issue 9): client addresses behind proxies,
//! bounded metrics and who may read them, readiness and request ids that
//! leak nothing, private files on disk, and attachment downloads.

use crate::common::*;
use relay::attachments::Upload;
use relay::config::Settings;
use relay::db::connection::{self, PoolOptions};
use relay::domain::Role;
use relay::http::state::AppState;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::Duration;

// ------------------------------------------------------- client addresses

/// Behind one proxy of ours, with a public budget of three requests.
async fn behind_a_proxy() -> TestApp {
    TestApp::spawn_with(|s| {
        s.server.trust_forwarded_for = true;
        s.intake.public_requests_per_minute = 1;
        s.intake.public_burst = 3;
    })
    .await
}

/// An anonymous ticket as relayed by a proxy that appended what it saw.
async fn public_create(app: &TestApp, forwarded_for: &str) -> Response {
    app.client
        .post(app.url("/api/v1/tickets"))
        .header("X-Forwarded-For", forwarded_for)
        .json(&ticket_body("Where is my parcel?", "ana@example.com"))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn forging_the_left_of_x_forwarded_for_does_not_escape_the_public_limit() {
    let app = behind_a_proxy().await;
    for forged in ["1.1.1.1", "2.2.2.2, 3.3.3.3", "2001:db8::1"] {
        let resp = public_create(&app, &format!("{forged}, 203.0.113.7")).await;
        expect_json(resp, 201).await;
    }
    let resp = public_create(&app, "4.4.4.4, 203.0.113.7").await;
    expect_problem(resp, 429).await;
    // `Forwarded` is the client's own words unless configured.
    let resp = app
        .client
        .post(app.url("/api/v1/tickets"))
        .header("Forwarded", "for=5.5.5.5")
        .header("X-Forwarded-For", "203.0.113.7")
        .json(&ticket_body("Again", "ana@example.com"))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 429).await;
    // The web form spends the same budget under the same key.
    let resp = app
        .client
        .post(app.url("/support"))
        .header("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
        .form(&[("name", "Ana"), ("email", "ana@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);

    // Another client, as the proxy saw it, has a budget of its own.
    let resp = public_create(&app, "203.0.113.7, 198.51.100.8").await;
    expect_json(resp, 201).await;
}

#[actix_web::test]
async fn ipv6_clients_share_one_budget_per_64() {
    let app = behind_a_proxy().await;
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        expect_json(public_create(&app, host).await, 201).await;
    }
    expect_problem(public_create(&app, "2001:db8:1:2:abcd::4").await, 429).await;
    expect_json(public_create(&app, "2001:db8:1:3::1").await, 201).await;
}

// ---------------------------------------------------------------- metrics

async fn metrics_text(app: &TestApp) -> String {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// A request a scanner might send: a made-up method on a made-up path.
/// Returns the made-up part, which must never become a label.
async fn random_request(app: &TestApp) -> String {
    let noise = uuid::Uuid::new_v4().simple().to_string();
    let method = format!("X{}", noise[..8].to_ascii_uppercase());
    let path = match noise.as_bytes()[9] % 4 {
        0 => format!("/{noise}"),
        1 => format!("/api/v1/tickets/{noise}"),
        2 => format!("/t/{noise}"),
        _ => format!("/api/v1/{noise}/x"),
    };
    let resp = app
        .client
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(&path),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
    noise
}

/// Series of unknown methods. (The registry is shared by every test app in
/// this process, so only series this test's requests can make are counted.)
fn other_method_series(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.starts_with('#') && line.contains("method=\"other\""))
        .count()
}

#[actix_web::test]
async fn random_methods_and_paths_do_not_grow_the_metrics() {
    let app = TestApp::spawn().await;
    // Every kind of request first, so the series they share exist.
    for _ in 0..40 {
        random_request(&app).await;
    }
    let before = other_method_series(&metrics_text(&app).await);
    let mut sent = Vec::new();
    for _ in 0..500 {
        sent.push(random_request(&app).await);
    }
    let text = metrics_text(&app).await;
    assert_eq!(other_method_series(&text), before, "{text}");
    for noise in &sent {
        let method = format!("method=\"X{}\"", noise[..8].to_ascii_uppercase());
        assert!(!text.contains(&method), "{method} is a label");
        assert!(!text.contains(noise.as_str()), "path {noise} is a label");
    }
    assert!(text.contains("route=\"unmatched\""), "{text}");
}

#[actix_web::test]
async fn a_metrics_token_is_required_once_configured() {
    let secret = "metrics-secret-0123456789";
    let app = TestApp::spawn_with(|s| s.metrics.token = Some(secret.into())).await;
    let anonymous = app.client.get(app.url("/metrics")).send().await.unwrap();
    expect_problem(anonymous, 401).await;
    let wrong = app
        .get("/metrics", "metrics-secret-wrong")
        .send()
        .await
        .unwrap();
    expect_problem(wrong, 401).await;
    let admin = app.get("/metrics", &app.admin).send().await.unwrap();
    expect_problem(admin, 401).await;
    let right = app.get("/metrics", secret).send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(right
        .text()
        .await
        .unwrap()
        .contains("relay_http_requests_total"));
}

/// A port free right now (the OS will not hand it out again at once).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let port = free_port();
    let app = TestApp::spawn_with(|s| s.metrics.bind = Some(([127, 0, 0, 1], port).into())).await;
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    expect_problem(public, 404).await;
    expect_json(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        200,
    )
    .await;

    let private = |path: &str| app.client.get(format!("http://127.0.0.1:{port}{path}"));
    let resp = private("/metrics").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("relay_http_requests_total"));
    for other in ["/healthz", "/api/v1/tickets", "/support"] {
        expect_problem(private(other).send().await.unwrap(), 404).await;
    }
}

// ------------------------------------------------- readiness, request ids

#[actix_web::test]
async fn readiness_never_shows_the_database_error() {
    // A pool of one connection, held here: the check cannot get a
    // connection and fails the way an unreachable database does.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults();
    settings.database.url = format!("sqlite://{}", dir.path().join("relay.db").display());
    settings.bootstrap.admin_token_file = dir.path().join("admin-token");
    settings.server.workers = 1;
    let (pool, _) = connection::connect(&PoolOptions {
        url: settings.database.url.clone(),
        max_size: 1,
        sqlite_synchronous: "NORMAL".into(),
        connect_timeout: Duration::from_millis(300),
    })
    .unwrap();
    let _held = pool.get().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let db = relay::db::Database::new(pool.clone(), relay::clock::Clock::system());
    let server = relay::http::start(AppState::new(db, settings), listener).unwrap();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let resp = reqwest::get(format!("{base}/readyz")).await.unwrap();
    let problem = expect_problem(resp, 503).await;
    assert_eq!(problem["detail"], "the database is not reachable");
    handle.stop(false).await;
}

#[actix_web::test]
async fn request_ids_that_could_forge_log_fields_are_replaced() {
    let app = TestApp::spawn().await;
    let too_long = "a".repeat(65);
    for forged in [
        "x level=ERROR msg=\"admin logged in\"",
        "a\"b",
        too_long.as_str(),
        "ids/with/slashes",
    ] {
        let resp = app
            .client
            .get(app.url("/healthz"))
            .header("X-Request-Id", forged)
            .send()
            .await
            .unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, forged);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{forged} -> {id}");
    }
    let kept = "req_01.HZ-9";
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", kept)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], kept);
}

// ------------------------------------------------------- files on disk

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn the_sqlite_database_is_private_to_relay() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let file = data.join("relay.db");
    let (pool, _) = connection::connect(&PoolOptions {
        url: format!("sqlite://{}", file.display()),
        max_size: 2,
        sqlite_synchronous: "NORMAL".into(),
        connect_timeout: Duration::from_secs(5),
    })
    .unwrap();
    connection::migrate(&pool).unwrap();
    let db = relay::db::Database::new(pool, relay::clock::Clock::system());
    relay::db::write_tx(&mut db.get().unwrap(), |w| {
        relay::auth::issue_token(w, Role::Admin, "mode check", None)
    })
    .unwrap();
    assert_eq!(mode(&data), 0o700, "the directory Relay made");
    for name in ["relay.db", "relay.db-wal", "relay.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
}

#[cfg(unix)]
#[actix_web::test]
async fn outbox_files_are_private_to_relay() {
    let app = TestApp::spawn().await;
    let (ticket, _) = public_ticket(&app).await;
    staff_message(&app, &ticket, "We are on it.", true).await;
    app.run_outbox();
    let dir = &app.settings.outbox.directory;
    assert_eq!(mode(dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

// ----------------------------------------------------------- attachments

/// An anonymous ticket: its id and the customer's link token.
async fn public_ticket(app: &TestApp) -> (String, String) {
    let created = app
        .create_public_ticket(ticket_body("Damaged parcel", "ana@example.com"))
        .await;
    let link = created["access_url"].as_str().unwrap();
    let token = link.rsplit('/').next().unwrap().to_string();
    (created["id"].as_str().unwrap().to_string(), token)
}

async fn staff_message(app: &TestApp, ticket: &str, body: &str, public: bool) -> Value {
    let resp = app
        .post(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
        .json(&json!({"body": body, "public": public}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await
}

/// The customer replies on their page with one file.
async fn customer_file(app: &TestApp, token: &str, name: &str, mime: &str, bytes: &[u8]) {
    let part = Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str(mime)
        .unwrap();
    let form = Form::new()
        .text("body", "Photos attached.")
        .part("attachments", part);
    let resp = app
        .client
        .post(app.url(&format!("/t/{token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}

/// The ids of every attachment of a ticket, by file name.
async fn attachment_id(app: &TestApp, ticket: &str, filename: &str) -> String {
    let messages = app
        .read(&format!("/api/v1/tickets/{ticket}/messages"))
        .await;
    messages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["attachments"].as_array().unwrap().iter())
        .find(|a| a["filename"] == filename)
        .unwrap_or_else(|| panic!("no {filename} in {messages}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Moves a ticket into a queue as admin.
async fn route_to(app: &TestApp, ticket: &str, queue_id: &str) {
    let current = app.read(&format!("/api/v1/tickets/{ticket}")).await;
    let resp = app
        .patch(&format!("/api/v1/tickets/{ticket}"), &app.admin)
        .header("If-Match", format!("\"{}\"", current["version"]))
        .json(&json!({"queue": queue_id}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
}

/// A ticket of vendor A's queue with a customer's HTML file and a file on an
/// internal note; the ids of both.
struct Files {
    ticket: String,
    token: String,
    page_file: String,
    note_file: String,
}

const HTML: &[u8] = b"<html><script>alert(document.cookie)</script></html>";

async fn ticket_with_files(app: &TestApp, queue_id: &str) -> Files {
    let (ticket, token) = public_ticket(app).await;
    route_to(app, &ticket, queue_id).await;
    customer_file(app, &token, "page.html", "text/html", HTML).await;
    let note = staff_message(app, &ticket, "Looks like a courier fault.", false).await;
    app.write(|w| {
        relay::attachments::store(
            w,
            note["id"].as_str().unwrap(),
            &[Upload {
                filename: "couriernotes.png".into(),
                content_type: "image/png".into(),
                bytes: b"\x89PNG internal".to_vec(),
            }],
        )
    });
    Files {
        page_file: attachment_id(app, &ticket, "page.html").await,
        note_file: attachment_id(app, &ticket, "couriernotes.png").await,
        ticket,
        token,
    }
}

fn header<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

/// The headers every download carries, whatever the file claims to be.
fn assert_is_a_download(resp: &Response, filename: &str) {
    assert_eq!(resp.status(), 200);
    let disposition = header(resp, "content-disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains(&format!("filename*=UTF-8''{filename}")),
        "{disposition}"
    );
    assert_eq!(header(resp, "x-content-type-options"), "nosniff");
    assert_eq!(header(resp, "cache-control"), "no-store");
}

#[actix_web::test]
async fn staff_download_the_files_of_tickets_they_may_read() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let files = ticket_with_files(&app, &a.queue_id).await;
    let path = |id: &str| format!("/api/v1/attachments/{id}");

    let resp = app
        .get(&path(&files.page_file), &a.token)
        .send()
        .await
        .unwrap();
    assert_is_a_download(&resp, "page.html");
    assert_eq!(
        header(&resp, "content-type"),
        "application/octet-stream",
        "a stored text/html claim is never served as a page"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), HTML);

    let resp = app
        .get(&path(&files.note_file), &a.token)
        .send()
        .await
        .unwrap();
    assert_is_a_download(&resp, "couriernotes.png");
    assert_eq!(header(&resp, "content-type"), "image/png");
    let viewed = app
        .events(&files.ticket)
        .await
        .into_iter()
        .any(|e| e["kind"] == "viewed" && e["actor"] == format!("agent:{}", a.agent_id));
    assert!(viewed, "a vendor agent's download is recorded as reading");

    let resp = app
        .get(&path(&files.page_file), &app.admin)
        .send()
        .await
        .unwrap();
    assert_is_a_download(&resp, "page.html");

    for id in [&files.page_file, &files.note_file] {
        let resp = app.get(&path(id), &b.token).send().await.unwrap();
        expect_problem(resp, 404).await;
    }
    for id in ["not-an-id", "%00", &uuid::Uuid::new_v4().to_string()] {
        expect_problem(app.get(&path(id), &a.token).send().await.unwrap(), 404).await;
    }
    let anonymous = app.client.get(app.url(&path(&files.page_file)));
    expect_problem(anonymous.send().await.unwrap(), 401).await;
}

#[actix_web::test]
async fn customers_download_only_their_public_files() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let files = ticket_with_files(&app, &a.queue_id).await;
    let link = format!("/t/{}/attachments/{}", files.token, files.page_file);

    let page = app.client.get(app.url(&format!("/t/{}", files.token)));
    let page = page.send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("href=\"{link}\"")), "{page}");
    assert!(
        !page.contains(&files.note_file),
        "internal notes stay hidden"
    );

    let resp = app.client.get(app.url(&link)).send().await.unwrap();
    assert_is_a_download(&resp, "page.html");
    assert_eq!(header(&resp, "content-type"), "application/octet-stream");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), HTML);

    let note = format!("/t/{}/attachments/{}", files.token, files.note_file);
    let (_, other_token) = public_ticket(&app).await;
    let foreign = format!("/t/{other_token}/attachments/{}", files.page_file);
    for path in [
        note,
        foreign,
        format!("/t/{}/attachments/nope", files.token),
    ] {
        let resp = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert!(header(&resp, "content-type").starts_with("text/html"));
    }
}

#[actix_web::test]
async fn the_download_route_is_documented() {
    let app = TestApp::spawn().await;
    let doc = app.read("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/attachments/{id}"]["get"].is_object());
}
