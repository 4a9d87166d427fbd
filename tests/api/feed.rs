//! The change feed: cursors that never skip or repeat an event, also under
//! concurrent writers and a transaction that commits late; vendor scope;
//! long-polling.

use crate::common::*;
use relay::db::write_tx;
use relay::domain::event::EventData;
use relay::domain::Role;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

impl TestApp {
    async fn feed(&self, token: &str, after: Option<&str>, wait: u64) -> Value {
        let mut path = format!("/api/v1/events?wait={wait}&limit=500");
        if let Some(after) = after {
            path.push_str(&format!("&after={after}"));
        }
        expect_json(self.get(&path, token).send().await.unwrap(), 200).await
    }

    /// Every event after `after`, following cursors to the end.
    async fn drain_feed(
        &self,
        token: &str,
        mut after: Option<String>,
    ) -> (Vec<Value>, Option<String>) {
        let mut all = Vec::new();
        loop {
            let page = self.feed(token, after.as_deref(), 0).await;
            let events = page["events"].as_array().unwrap().clone();
            after = Some(page["next_cursor"].as_str().unwrap().to_string());
            if events.is_empty() {
                return (all, after);
            }
            all.extend(events);
        }
    }

    /// A cursor past every event stored now. On PostgreSQL a transaction
    /// still running anywhere on the server (a parallel test's) holds the
    /// feed back until it ends, so this reads until it has caught up.
    async fn caught_up_cursor(&self) -> Option<String> {
        let stored: HashSet<String> = self.event_ids_in_database().into_iter().collect();
        let mut seen = HashSet::new();
        let mut cursor = None;
        let started = Instant::now();
        while !stored.is_subset(&seen) && started.elapsed() < Duration::from_secs(60) {
            let page = self.feed(&self.admin, cursor.as_deref(), 1).await;
            seen.extend(ids(page["events"].as_array().unwrap()));
            cursor = page["next_cursor"].as_str().map(str::to_string);
        }
        assert!(
            stored.is_subset(&seen),
            "the feed caught up with the stored events"
        );
        cursor
    }

    fn event_ids_in_database(&self) -> Vec<String> {
        self.write(|w| {
            use diesel::prelude::*;
            use relay::db::schema::ticket_events::dsl::*;
            Ok(ticket_events.select(id).load::<String>(&mut **w)?)
        })
    }
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn the_feed_reads_every_event_once_while_two_processes_write() {
    let app = TestApp::spawn().await;
    let second = app.another_process().await;
    let (_, mut cursor) = app.drain_feed(&app.admin, None).await;
    let mut seen: Vec<String> = Vec::new();
    let mut writers = Vec::new();
    for (n, base) in [
        app.base.clone(),
        second.base.clone(),
        app.base.clone(),
        second.base.clone(),
    ]
    .into_iter()
    .enumerate()
    {
        let (client, admin) = (app.client.clone(), app.admin.clone());
        writers.push(actix_web::rt::spawn(async move {
            for i in 0..15 {
                let resp = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&admin)
                    .json(&json!({"subject": format!("W{n}-{i}"), "body": "x", "customer": {"email": format!("w{n}@example.com")}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
            }
        }));
    }
    // Read while they write, following the cursor.
    let started = Instant::now();
    while writers.iter().any(|w| !w.is_finished()) && started.elapsed() < Duration::from_secs(60) {
        let (events, next) = app.drain_feed(&app.admin, cursor.clone()).await;
        seen.extend(ids(&events));
        cursor = next;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    // On PostgreSQL a transaction still running anywhere on the server (a
    // parallel test's) holds the feed back until it ends: read until the
    // feed has caught up, within a bound.
    let stored: HashSet<String> = app.event_ids_in_database().into_iter().collect();
    while seen.len() < stored.len() && started.elapsed() < Duration::from_secs(60) {
        let page = app.feed(&app.admin, cursor.as_deref(), 1).await;
        seen.extend(ids(page["events"].as_array().unwrap()));
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event is read twice");
    let read: HashSet<String> = seen.into_iter().collect();
    assert_eq!(read, stored, "every committed event is read");
}

#[actix_web::test]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let app = TestApp::spawn().await;
    let postgres = app.settings.database.url.starts_with("postgres");
    let early = app
        .create_ticket(ticket_body("Early", "early@example.com"))
        .await;
    let late = app
        .create_ticket(ticket_body("Late", "late@example.com"))
        .await;
    let cursor = app.caught_up_cursor().await;

    // A transaction writes an event for `early` and holds on before committing.
    let (written_tx, written_rx) = std::sync::mpsc::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let db = app.db.clone();
    let early_id = early["id"].as_str().unwrap().to_string();
    let holder = std::thread::spawn(move || {
        let mut conn = db.get().unwrap();
        write_tx(&mut conn, |w| {
            relay::tickets::change::note(w, &early_id, "system", &[EventData::Viewed {}])?;
            written_tx.send(()).unwrap();
            commit_rx.recv().unwrap();
            relay::error::AppResult::Ok(())
        })
        .unwrap();
    });
    written_rx.recv().unwrap();
    // Meanwhile another change is made: on PostgreSQL it commits at once,
    // after the held transaction took its id; on SQLite it waits its turn.
    let late_id = late["id"].as_str().unwrap().to_string();
    let (client, url, admin) = (
        app.client.clone(),
        app.url(&format!("/api/v1/tickets/{late_id}")),
        app.admin.clone(),
    );
    let change = actix_web::rt::spawn(async move {
        client
            .patch(url)
            .bearer_auth(admin)
            .header("if-match", "\"1\"")
            .json(&json!({"status": "open"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let status_now = app.read(&format!("/api/v1/tickets/{late_id}")).await["status"].clone();
    assert_eq!(status_now, if postgres { "open" } else { "new" });
    let during = app.feed(&app.admin, cursor.as_deref(), 0).await;
    assert!(
        during["events"].as_array().unwrap().is_empty(),
        "nothing is given out past a running transaction: {during}"
    );
    commit_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(change.await.unwrap(), 200);
    // Both now, in order (waiting out any other test's open transaction).
    let mut kinds: Vec<String> = Vec::new();
    let mut after_cursor = cursor.clone();
    let started = Instant::now();
    while kinds.len() < 2 && started.elapsed() < Duration::from_secs(60) {
        let page = app.feed(&app.admin, after_cursor.as_deref(), 1).await;
        kinds.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["kind"].as_str().unwrap().to_string()),
        );
        after_cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(kinds, ["viewed", "status_changed"]);
}

#[actix_web::test]
async fn vendors_read_their_own_tickets_events_and_waiting_returns_news() {
    let app = TestApp::spawn().await;
    let own = app.vendor_with_agent("Feed Own", Role::Agent).await;
    let other = app.vendor_with_agent("Feed Other", Role::Agent).await;
    let mine = app
        .create_ticket(json!({"subject": "Mine", "body": "x", "customer": {"email": "m@example.com"}, "queue": own.queue_id}))
        .await;
    app.create_ticket(json!({"subject": "Theirs", "body": "x", "customer": {"email": "t@example.com"}, "queue": other.queue_id}))
        .await;
    // (On PostgreSQL another test's open transaction may hold the feed back
    // for a moment: wait for the first page.)
    let mut events = Vec::new();
    let mut cursor = None;
    let started = Instant::now();
    while events.is_empty() && started.elapsed() < Duration::from_secs(60) {
        let page = app.feed(&own.token, None, 1).await;
        events = page["events"].as_array().unwrap().clone();
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    let (more, cursor) = app.drain_feed(&own.token, cursor).await;
    events.extend(more);
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["ticket_id"] == mine["id"]),
        "{events:?}"
    );

    // A long poll returns as soon as something happens.
    let waiting = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!(
                "/api/v1/events?wait=10&after={}",
                cursor.clone().unwrap()
            )),
            own.token.clone(),
        );
        actix_web::rt::spawn(async move {
            let started = Instant::now();
            let page: Value = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (page, started.elapsed())
        })
    };
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    app.set_status(mine["id"].as_str().unwrap(), "open").await;
    let (page, took) = waiting.await.unwrap();
    assert_eq!(page["events"][0]["kind"], "status_changed");
    assert!(took < Duration::from_secs(9), "{took:?}");

    // Nothing new: an empty page after the wait, with the same cursor.
    let started = Instant::now();
    let empty = app.feed(&own.token, page["next_cursor"].as_str(), 1).await;
    assert!(empty["events"].as_array().unwrap().is_empty());
    assert_eq!(empty["next_cursor"], page["next_cursor"]);
    assert!(started.elapsed() >= Duration::from_millis(700));

    for bad in [
        "/api/v1/events?wait=61",
        "/api/v1/events?after=nonsense",
        "/api/v1/events?limit=0",
    ] {
        expect_problem(app.get(bad, &own.token).send().await.unwrap(), 422).await;
    }
}
