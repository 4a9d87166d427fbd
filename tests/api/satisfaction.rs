//! Customer satisfaction: the survey mail on solve, the rating page
//! without JavaScript, one rating per ticket, events, expiry, reports.

use crate::common::*;
use relay::domain::Role;
use serde_json::{json, Value};

/// An Acme ticket, assigned to Acme's agent and solved at 10:00 on
/// 1 December; its id.
async fn solved_ticket(app: &TestApp, acme: &VendorFixture) -> String {
    app.clock.pin("2026-12-01T09:00:00Z".parse().unwrap());
    let mut body = ticket_body("Refund", "ann@example.com");
    body["queue"] = acme.queue_id.clone().into();
    let ticket = app.create_ticket(body).await;
    let id = ticket["id"].as_str().unwrap().to_string();
    app.patch_ticket(&id, json!({"assignee": acme.agent_id}))
        .await;
    app.clock.pin("2026-12-01T10:00:00Z".parse().unwrap());
    app.set_status(&id, "solved").await;
    id
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

async fn rate(app: &TestApp, token: &str, form: &[(&str, &str)]) -> (u16, String) {
    let resp = app
        .client
        .post(app.url(&format!("/rate/{token}")))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[actix_web::test]
async fn a_solved_ticket_s_customer_rates_it_once_and_may_change_it() {
    let app = TestApp::spawn().await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    let ticket = solved_ticket(&app, &acme).await;
    assert_eq!(app.run_satisfaction(), 1);
    assert_eq!(app.run_satisfaction(), 0, "one survey per ticket");
    let events = app.events(&ticket).await;
    assert!(
        kinds(&events).contains(&"satisfaction.requested"),
        "{events:?}"
    );
    let requested = events
        .iter()
        .find(|e| e["kind"] == "satisfaction.requested")
        .unwrap();
    assert_eq!(requested["data"]["to"], "ann@example.com");
    assert_eq!(requested["data"]["expires_at"], "2026-12-15T10:00:00Z");
    let token = app.survey_token(&ticket);

    // The mail's Bad link opens the page with Bad chosen; nothing is
    // recorded by opening it.
    let (status, html) = page(&app, &format!("/rate/{token}?rating=bad")).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"value="bad" checked"#), "{html}");
    assert!(!html.contains("<script"), "works without JavaScript");
    assert_eq!(
        app.read(&format!("/api/v1/tickets/{ticket}")).await["satisfaction"],
        Value::Null
    );

    let (status, html) = rate(
        &app,
        &token,
        &[("rating", "bad"), ("comment", "It took a week")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"id="thanks""#));
    let shown = app.read(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(shown["satisfaction"]["rating"], "bad");
    assert_eq!(shown["satisfaction"]["comment"], "It took a week");
    assert_eq!(shown["satisfaction"]["rated_at"], "2026-12-01T10:00:00Z");

    // A later click changes it; the events keep both.
    app.clock.pin("2026-12-02T08:00:00Z".parse().unwrap());
    let (status, _) = rate(&app, &token, &[("rating", "good")]).await;
    assert_eq!(status, 200);
    let shown = app.read(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(shown["satisfaction"]["rating"], "good");
    assert_eq!(shown["satisfaction"]["comment"], Value::Null);
    let rated: Vec<Value> = app
        .events(&ticket)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "satisfaction.rated")
        .collect();
    assert_eq!(rated.len(), 2);
    assert_eq!(
        rated[0]["data"],
        json!({"rating": "bad", "comment": "It took a week"})
    );

    // The vendors report counts the rating for the vendor that held it.
    let report = app
        .read("/api/v1/reports/vendors?from=2026-12-01&to=2026-12-02")
        .await;
    let row = &report["vendors"][0];
    assert_eq!(
        (row["csat_good"].as_i64(), row["csat_bad"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(row["csat_score"], 1.0);
    assert_eq!(report["totals"]["csat_good"], 1);
    // And the SLA report's groups: the agent who held it at the solve, the
    // day it was given.
    let by_agent = app
        .read("/api/v1/reports/sla?group_by=agent&from=2026-12-01&to=2026-12-02")
        .await;
    let agent = by_agent["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == acme.agent_id.as_str())
        .unwrap_or_else(|| panic!("no group of the agent in {by_agent}"));
    assert_eq!(
        agent["satisfaction"],
        json!({"good": 1, "bad": 0, "score": 1.0})
    );
    assert_eq!(by_agent["satisfaction"]["good"], 1);
    let by_day = app
        .read("/api/v1/reports/sla?group_by=day&from=2026-12-01&to=2026-12-02")
        .await;
    let days: Vec<(&str, i64)> = by_day["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap(),
                g["satisfaction"]["good"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [("2026-12-02", 1)],
        "the rating that counts was given on the 2nd"
    );
}

#[actix_web::test]
async fn bad_ratings_and_old_links_change_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    let ticket = solved_ticket(&app, &acme).await;
    app.run_satisfaction();
    let token = app.survey_token(&ticket);
    let (status, html) = rate(&app, &token, &[("rating", "meh")]).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="rating-error""#), "{html}");
    let long = "x".repeat(2001);
    let (status, html) = rate(&app, &token, &[("rating", "good"), ("comment", &long)]).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="comment-error""#));
    assert_eq!(
        app.read(&format!("/api/v1/tickets/{ticket}")).await["satisfaction"],
        Value::Null
    );
    let (status, _) = page(&app, "/rate/not-a-token").await;
    assert_eq!(status, 404);
    let (status, _) = rate(&app, "not-a-token", &[("rating", "good")]).await;
    assert_eq!(status, 404);

    // Fourteen days on, the link no longer takes ratings.
    app.clock.pin("2026-12-15T10:00:01Z".parse().unwrap());
    let (status, html) = page(&app, &format!("/rate/{token}")).await;
    assert_eq!(status, 410);
    assert!(html.contains(r#"id="expired""#));
    let (status, _) = rate(&app, &token, &[("rating", "good")]).await;
    assert_eq!(status, 409);
    assert_eq!(
        app.read(&format!("/api/v1/tickets/{ticket}")).await["satisfaction"],
        Value::Null
    );
}

#[actix_web::test]
async fn re_opened_old_and_switched_off_tickets_are_not_surveyed() {
    let app = TestApp::spawn_with(|s| s.satisfaction.request_within_hours = 24).await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    let reopened = solved_ticket(&app, &acme).await;
    app.set_status(&reopened, "open").await;
    assert_eq!(app.run_satisfaction(), 0, "no longer solved");
    solved_ticket(&app, &acme).await;
    app.clock.pin("2026-12-02T10:00:01Z".parse().unwrap());
    assert_eq!(app.run_satisfaction(), 0, "solved more than a day ago");

    let off = TestApp::spawn_with(|s| s.satisfaction.enabled = false).await;
    let acme = off.vendor_with_agent("Acme", Role::Lead).await;
    solved_ticket(&off, &acme).await;
    assert_eq!(off.run_satisfaction(), 0);
}
