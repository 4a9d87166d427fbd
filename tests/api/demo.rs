//! `relay demo`: the seeded data set, explored through the real API.

use crate::common::*;
use diesel::prelude::*;
use relay::db::schema::tickets;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The secret printed as `export NAME=secret` in the summary.
fn exported(summary: &str, name: &str) -> String {
    let prefix = format!("export {name}=");
    summary
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("the summary exports {name}:\n{summary}"))
        .to_string()
}

/// Every ticket `token` may list, following the cursor.
async fn list_all(app: &TestApp, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=100&cursor={c}"),
            None => "/api/v1/tickets?limit=100".to_string(),
        };
        let page = expect_json(app.get(&path, token).send().await.unwrap(), 200).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

fn seed(app: &TestApp) -> Result<String, relay::error::AppError> {
    let mut conn = app.db.get().unwrap();
    relay::demo::seed(&mut conn, &app.settings)
}

#[actix_web::test]
async fn demo_seeds_vendors_tickets_and_conversations_each_vendor_sees_only_its_own() {
    let app = TestApp::spawn().await;
    let started = std::time::Instant::now();
    let summary = seed(&app).expect("the demo seeds an empty database");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "seeding took {:?}",
        started.elapsed()
    );

    // Three vendors in three time zones, with contract terms.
    let vendors = expect_json(
        app.get("/api/v1/vendors", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    let vendors = vendors.as_array().unwrap();
    assert_eq!(vendors.len(), 3, "{vendors:?}");
    let zones: HashSet<&str> = vendors
        .iter()
        .map(|v| v["timezone"].as_str().unwrap())
        .collect();
    assert_eq!(zones.len(), 3);
    for v in vendors {
        assert!(v["contracted_attainment"].as_f64().is_some(), "{v}");
        assert!(v["price_per_ticket_cents"].as_i64().is_some(), "{v}");
        assert!(v["currency"].as_str().is_some(), "{v}");
    }
    let vendor_id = |name: &str| {
        vendors
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("vendor {name}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let queues = expect_json(
        app.get("/api/v1/queues", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    let owner: HashMap<String, String> = queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["id"].as_str().unwrap().to_string(),
                q["vendor_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(owner.len() >= 6, "{queues}");
    let agents = expect_json(
        app.get("/api/v1/agents", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    let agents = agents.as_array().unwrap();
    assert!(agents
        .iter()
        .any(|a| a["role"] == "manager" && a["vendor_id"].is_null()));
    assert_eq!(agents.iter().filter(|a| a["role"] == "lead").count(), 3);
    let agent_vendor: HashMap<&str, &str> = agents
        .iter()
        .filter_map(|a| Some((a["id"].as_str()?, a["vendor_id"].as_str()?)))
        .collect();

    // The manager sees every ticket: weeks of them, in every state.
    let manager = exported(&summary, "RELAY_MANAGER");
    let all = list_all(&app, &manager).await;
    assert!(all.len() >= 300, "{} tickets", all.len());
    let statuses: HashSet<&str> = all.iter().map(|t| t["status"].as_str().unwrap()).collect();
    for status in ["new", "pending", "solved", "closed"] {
        assert!(
            statuses.contains(status),
            "no {status} ticket: {statuses:?}"
        );
    }
    let oldest = all
        .iter()
        .map(|t| t["created_at"].as_str().unwrap())
        .min()
        .unwrap();
    let oldest = chrono::DateTime::parse_from_rfc3339(oldest).unwrap();
    assert!(app.clock.clock().now() - oldest.to_utc() > chrono::Duration::days(14));
    let customers: HashSet<&str> = all
        .iter()
        .map(|t| t["customer"]["email"].as_str().unwrap())
        .collect();
    assert!(
        customers.len() > 50 && customers.len() < all.len(),
        "repeat customers"
    );
    let languages: HashSet<&str> = all.iter().filter_map(|t| t["language"].as_str()).collect();
    assert_eq!(languages, HashSet::from(["en", "es", "pl"]));
    // Assignees work for the vendor that owns the ticket's queue.
    for t in &all {
        if let (Some(queue), Some(assignee)) =
            (t["queue"]["id"].as_str(), t["assignee"]["id"].as_str())
        {
            assert_eq!(
                agent_vendor[assignee], owner[queue],
                "ticket {}",
                t["number"]
            );
        }
    }

    // Each lead lists exactly their vendor's tickets, and no other.
    let mut seen_by_leads = 0;
    for (name, variable) in [
        ("Manila Support Co", "RELAY_LEAD_MANILA"),
        ("Kraków Contact Center", "RELAY_LEAD_KRAKOW"),
        ("Bogotá CX", "RELAY_LEAD_BOGOTA"),
    ] {
        let lead = exported(&summary, variable);
        let own = vendor_id(name);
        let mine = list_all(&app, &lead).await;
        assert!(!mine.is_empty(), "{name} has tickets");
        for t in &mine {
            let queue = t["queue"]["id"]
                .as_str()
                .expect("vendor tickets are queued");
            assert_eq!(owner[queue], own, "{name} sees ticket {}", t["number"]);
        }
        let expected = all
            .iter()
            .filter(|t| t["queue"]["id"].as_str().is_some_and(|q| owner[q] == own))
            .count();
        assert_eq!(mine.len(), expected, "{name} sees all of its tickets");
        seen_by_leads += mine.len();
        // Another vendor's ticket does not exist for this lead.
        let foreign = all
            .iter()
            .find(|t| t["queue"]["id"].as_str().is_some_and(|q| owner[q] != own))
            .unwrap();
        expect_problem(
            app.get(
                &format!("/api/v1/tickets/{}", foreign["id"].as_str().unwrap()),
                &lead,
            )
            .send()
            .await
            .unwrap(),
            404,
        )
        .await;
    }
    let unrouted = all.iter().filter(|t| t["queue"].is_null()).count();
    assert!(
        unrouted > 0,
        "some tickets wait for a manager to triage them"
    );
    assert_eq!(seen_by_leads + unrouted, all.len());

    // Tickets carry conversations and audit trails that match their state.
    for status in ["new", "pending", "solved", "closed"] {
        let t = all
            .iter()
            .find(|t| t["status"] == status && !t["queue"].is_null())
            .unwrap();
        let id = t["id"].as_str().unwrap();
        let messages = expect_json(
            app.get(&format!("/api/v1/tickets/{id}/messages"), &manager)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        let messages = messages.as_array().unwrap();
        assert!(!messages.is_empty());
        assert_eq!(messages[0]["author_kind"], "customer");
        let events = expect_json(
            app.get(&format!("/api/v1/tickets/{id}/events"), &manager)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        let kinds: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds[0], "created", "{kinds:?}");
        let times: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["created_at"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "events in order");
        if status != "new" {
            assert!(
                kinds.contains(&"assigned") && kinds.contains(&"replied"),
                "{kinds:?}"
            );
            assert!(messages
                .iter()
                .any(|m| m["author_kind"] == "agent" && m["public"] == true));
        }
        if status == "closed" {
            assert_eq!(*kinds.last().unwrap(), "status_changed");
            assert!(t["solved_at"].is_string() && t["closed_at"].is_string());
        }
    }
    let mut notes = 0;
    for t in all.iter().filter(|t| t["status"] == "closed").take(30) {
        let id = t["id"].as_str().unwrap();
        let messages = expect_json(
            app.get(&format!("/api/v1/tickets/{id}/messages"), &manager)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        notes += messages
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["public"] == false)
            .count();
    }
    assert!(notes > 0, "agents leave internal notes");

    // The summary's customer links open real tickets; the base URL is the
    // configured one, and the API docs are pointed at.
    let base = app.settings.server.public_base_url.trim_end_matches('/');
    assert!(summary.contains(&format!("{base}/api/docs/")), "{summary}");
    let links: Vec<&str> = summary
        .split_whitespace()
        .filter_map(|w| w.strip_prefix(&format!("{base}/t/")))
        .collect();
    assert!(links.len() >= 2, "{summary}");
    let mut conn = app.db.get().unwrap();
    for link in links {
        let found: i64 = tickets::table
            .filter(tickets::access_token_hash.eq(relay::auth::hash_secret(link)))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(found, 1, "link {link} opens a ticket");
    }
    drop(conn);

    // A second run refuses to touch a database that has data.
    let again = seed(&app).expect_err("a second seed is refused");
    assert!(
        matches!(again, relay::error::AppError::Conflict(_)),
        "{again:?}"
    );
    assert!(again.to_string().contains("already"), "{again}");
    assert_eq!(list_all(&app, &manager).await.len(), all.len());
}

#[actix_web::test]
async fn demo_refuses_a_database_with_real_vendors() {
    let app = TestApp::spawn().await;
    app.create_vendor("Real Vendor", "Europe/Lisbon").await;
    let refused = seed(&app).expect_err("vendors already exist");
    assert!(
        refused.to_string().contains("only fills an empty database"),
        "{refused}"
    );
    let vendors = expect_json(
        app.get("/api/v1/vendors", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(vendors.as_array().unwrap().len(), 1, "nothing was added");
}
