//! Starts the real app on port 0 against a fresh database per test: a temp
//! SQLite file, or (with TEST_DATABASE_URL=postgres://...) a PostgreSQL
//! database created for the test and dropped after it.

#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use relay::app::{Application, Build};
use relay::clock::SettableClock;
use relay::config::Settings;
use relay::db::{write_tx, Database, WriteConn};
use relay::domain::Role;
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{json, Value};
use std::net::TcpListener;

enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = relay::db::connection::establish_postgres(admin_url) {
                let _ =
                    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

/// A running Relay with its own database.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    /// The app's database (its pool and clock).
    pub db: Database,
    /// The app's clock: tests move it forward to see what happens later.
    pub clock: SettableClock,
    pub admin: String,
    pub settings: Settings,
    server: actix_web::dev::ServerHandle,
    /// `None` for a second process on another app's database.
    _db: Option<TestDb>,
    _files: tempfile::TempDir,
}

fn fresh_database() -> (String, TestDb) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if admin_url.starts_with("postgres") => {
            let name = format!("relay_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = relay::db::connection::establish_postgres(&admin_url)
                .expect("TEST_DATABASE_URL must reach PostgreSQL");
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .expect("create test database");
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            (url.to_string(), TestDb::Postgres { admin_url, name })
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("relay.db").display());
            (url, TestDb::Sqlite(dir))
        }
    }
}

/// A second fresh database on the test's PostgreSQL server (dropped with
/// it); `None` when the tests run on SQLite.
pub struct SpareDatabase {
    pub url: String,
    _db: TestDb,
}

pub fn spare_postgres_database() -> Option<SpareDatabase> {
    match fresh_database() {
        (url, db @ TestDb::Postgres { .. }) => Some(SpareDatabase { url, _db: db }),
        (_, TestDb::Sqlite(_)) => None,
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts with settings adjusted by `tweak` (limits, rates...).
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let (url, database) = fresh_database();
        let files = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::defaults();
        settings.database.url = url;
        settings.database.pool_size = 4;
        settings.database.sqlite_synchronous = relay::config::SqliteSynchronous::Normal;
        settings.server.workers = 2;
        settings.intake.public_requests_per_minute = 10_000;
        settings.intake.public_burst = 10_000;
        settings.bootstrap.admin_token_file = files.path().join("admin-token");
        settings.outbox.directory = files.path().join("outbox");
        tweak(&mut settings);
        Self::launch(settings, Some(database), files)
    }

    /// A second Relay process on this app's database (its own server, pool,
    /// clock and caches), as a deployment of several processes runs.
    pub async fn another_process(&self) -> TestApp {
        let files = tempfile::tempdir().expect("temp dir");
        let mut settings = self.settings.clone();
        settings.outbox.directory = files.path().join("outbox");
        let mut second = Self::launch(settings, None, files);
        second.admin = self.admin.clone();
        second
    }

    fn launch(
        mut settings: Settings,
        database: Option<TestDb>,
        files: tempfile::TempDir,
    ) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        settings.server.public_base_url = format!("http://127.0.0.1:{port}");
        settings.validate().expect("test settings are valid");

        // The app as `relay serve` builds it, on a clock the test can move
        // and with the background workers off (tests run them on demand).
        let clock = SettableClock::new();
        let app = Application::build(
            settings.clone(),
            Build {
                clock: clock.clock(),
                listener: Some(listener),
                background_workers: false,
            },
        )
        .expect("build the app");
        let db = app.db().clone();
        // The first start wrote the operator's admin token to its file (a
        // second process finds tokens and writes none: it is given the first's).
        let admin = std::fs::read_to_string(&settings.bootstrap.admin_token_file)
            .map(|t| t.trim().to_string())
            .unwrap_or_default();
        let server = app.start().unwrap();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            db,
            clock,
            admin,
            settings,
            server: handle,
            _db: database,
            _files: files,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(token)
    }

    pub fn patch(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(token)
    }

    pub fn delete(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(token)
    }

    /// Issues a token directly through the service (as `relay admin create-token` does).
    pub fn token(&self, role: Role, agent_email: Option<&str>) -> String {
        let mut conn = self.db.get().unwrap();
        write_tx(&mut conn, |w| {
            relay::auth::issue_token(w, role, "test", agent_email)
        })
        .unwrap()
        .secret
    }

    /// Delivers a raw message to `/api/v1/inbound/email` as admin: the
    /// status and the answer (`{"raw": text}` when it is not JSON).
    pub async fn deliver_mail(&self, raw: Vec<u8>) -> (u16, Value) {
        let resp = self
            .post("/api/v1/inbound/email", &self.admin)
            .header("content-type", "message/rfc822")
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
        (status, body)
    }

    /// Opens a ticket on the public channel (the only answer that carries
    /// the customer's link): the answer.
    pub async fn create_public_ticket(&self, body: Value) -> Value {
        let resp = self
            .client
            .post(self.url("/api/v1/tickets"))
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }

    /// Runs `work` in one write transaction on the app's database.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&mut WriteConn<'_>) -> relay::error::AppResult<T>,
    ) -> T {
        write_tx(&mut self.db.get().unwrap(), work).expect("the write commits")
    }

    /// The signed reply address of ticket `number` (what its mail's Reply-To says).
    pub fn reply_address(&self, number: i64) -> String {
        self.write(|w| relay::email::ingest::reply_addresses(w, &self.settings))
            .for_ticket(number)
    }

    /// PATCHes a ticket (id or number) as admin with its current ETag,
    /// expecting 200: the answer.
    pub async fn patch_ticket(&self, ticket: impl std::fmt::Display, body: Value) -> Value {
        let path = format!("/api/v1/tickets/{ticket}");
        let current = self.read(&path).await;
        let resp = self
            .patch(&path, &self.admin)
            .header("If-Match", format!("\"{}\"", current["version"]))
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await
    }

    /// How many tickets the database holds, whoever may see them.
    pub fn ticket_count(&self) -> i64 {
        use diesel::{QueryDsl, RunQueryDsl};
        let mut conn = self.db.get().unwrap();
        relay::db::schema::tickets::table
            .count()
            .get_result(&mut *conn)
            .unwrap()
    }

    /// Polls the configured IMAP mailboxes once, as the background worker
    /// does (blocking; the HTTP server keeps running on its own threads).
    pub fn poll_imap(&self) -> relay::jobs::imap_poller::PollReport {
        relay::jobs::imap_poller::poll_once(&self.db, &self.settings).expect("IMAP poll")
    }

    /// Delivers the due outbox once, as the background sender does
    /// (blocking; the HTTP server keeps running on its own threads).
    /// One dispatcher pass (overflow, then waiting push assignment).
    pub fn run_dispatcher(&self) -> relay::jobs::dispatcher::DispatchReport {
        relay::jobs::dispatcher::run_once(&self.db).expect("dispatcher run")
    }

    /// One SLA scanner pass (warnings, breaches, escalations that came due).
    pub fn run_sla_scanner(&self) -> relay::jobs::sla_scanner::ScanReport {
        relay::jobs::sla_scanner::run_once(&self.db, &self.settings).expect("SLA scanner run")
    }

    /// One pass of the satisfaction surveys; how many were mailed.
    pub fn run_satisfaction(&self) -> usize {
        relay::jobs::satisfaction::run_once(&self.db, &self.settings).expect("surveys run")
    }

    /// The rating link's token in the ticket's latest survey mail.
    pub fn survey_token(&self, ticket_id: &str) -> String {
        use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
        use relay::db::schema::outbox;
        let mut conn = self.db.get().unwrap();
        let bodies: Vec<String> = outbox::table
            .filter(outbox::ticket_id.eq(ticket_id))
            .filter(outbox::kind.eq("notification"))
            .order(outbox::created_at.desc())
            .select(outbox::body_text)
            .load(&mut *conn)
            .unwrap();
        bodies
            .iter()
            .find_map(|body| {
                let at = body.find("/rate/")? + "/rate/".len();
                Some(body[at..].split('?').next()?.to_string())
            })
            .unwrap_or_else(|| panic!("no survey mail for {ticket_id}"))
    }

    pub fn run_outbox(&self) -> relay::jobs::outbox_sender::SendReport {
        relay::jobs::outbox_sender::run_once(&self.db, &self.settings).expect("outbox run")
    }

    pub async fn create_vendor(&self, name: &str, timezone: &str) -> Value {
        let resp = self
            .post("/api/v1/vendors", &self.admin)
            .json(&json!({"name": name, "timezone": timezone}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }

    pub async fn create_queue(&self, slug: &str, vendor_id: &str) -> Value {
        let resp = self
            .post("/api/v1/queues", &self.admin)
            .json(&json!({"slug": slug, "name": slug, "vendor_id": vendor_id}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }

    pub async fn create_agent(&self, email: &str, role: &str, vendor_id: Option<&str>) -> Value {
        let resp = self
            .post("/api/v1/agents", &self.admin)
            .json(&json!({"name": email, "email": email, "role": role, "vendor_id": vendor_id}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }

    /// A vendor with one queue and one agent, and that agent's token.
    pub async fn vendor_with_agent(&self, name: &str, role: Role) -> VendorFixture {
        let vendor = self.create_vendor(name, "Asia/Manila").await;
        let vendor_id = vendor["id"].as_str().unwrap().to_string();
        let slug = name.to_lowercase().replace(' ', "-");
        let queue = self.create_queue(&slug, &vendor_id).await;
        let email = format!("agent@{slug}.example");
        let agent = self
            .create_agent(&email, role.as_str(), Some(&vendor_id))
            .await;
        let token = self.token(role, Some(&email));
        VendorFixture {
            vendor_id,
            queue_slug: slug,
            queue_id: queue["id"].as_str().unwrap().to_string(),
            agent_id: agent["id"].as_str().unwrap().to_string(),
            token,
        }
    }

    /// GET `path` as admin, expecting 200; the parsed body.
    pub async fn read(&self, path: &str) -> Value {
        expect_json(self.get(path, &self.admin).send().await.unwrap(), 200).await
    }

    /// A ticket's audit trail, oldest first.
    pub async fn events(&self, ticket: impl std::fmt::Display) -> Vec<Value> {
        let events = self.read(&format!("/api/v1/tickets/{ticket}/events")).await;
        events.as_array().unwrap().clone()
    }

    /// Moves a ticket (id or number) to `status` as admin, with its current ETag.
    pub async fn set_status(&self, ticket: impl std::fmt::Display, status: &str) -> Value {
        self.patch_ticket(ticket, json!({ "status": status })).await
    }

    /// Creates a ticket through the API as `token` (admin by default) and returns it.
    pub async fn create_ticket(&self, body: Value) -> Value {
        let resp = self
            .post("/api/v1/tickets", &self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and let the database go (PostgreSQL refuses to drop
        // a database with open connections otherwise).
        // The stop command is sent when called; nothing needs to wait for it.
        drop(self.server.stop(false));
    }
}

pub struct VendorFixture {
    pub vendor_id: String,
    pub queue_slug: String,
    pub queue_id: String,
    pub agent_id: String,
    pub token: String,
}

/// A test that needs a program this machine lacks: under CI (`CI` set, as
/// `.ci/run` does) that is a failure, since CI installs every program the
/// tests use; elsewhere the test says loudly that it is skipped.
pub fn skip_without(program: &str, reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{reason}: {program} is missing, and under CI every test must run");
    }
    eprintln!("SKIPPED: {reason}: needs {program}");
}

pub fn ticket_body(subject: &str, email: &str) -> Value {
    json!({"subject": subject, "body": "Something is wrong with my order.", "customer": {"email": email, "name": "Test Customer"}})
}

/// Asserts the status (showing the body when it differs) and parses the JSON.
pub async fn expect_json(resp: Response, status: u16) -> Value {
    let actual = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem document with this status and returns it.
pub async fn expect_problem(resp: Response, status: u16) -> Value {
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let problem = expect_json(resp, status).await;
    assert_eq!(
        content_type, "application/problem+json",
        "problem documents use their media type"
    );
    assert_eq!(problem["status"], status);
    assert!(
        problem["title"].is_string()
            && problem["detail"].is_string()
            && problem["type"].is_string()
    );
    problem
}

/// The fields named in a validation problem.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}
