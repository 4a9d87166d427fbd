//! The 24/7 coverage report: hours of the week, shifts against the
//! coverage calendar, first responses, breaches and staffing advice.

use crate::common::*;
use relay::domain::Role;
use serde_json::{json, Value};

/// The week of Monday 30 November 2026, in UTC.
const WEEK: &str = "from=2026-11-30&to=2026-12-06";

fn weekdays(start: &str, end: &str) -> Vec<Value> {
    ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|day| json!({"day": day, "start": start, "end": end}))
        .collect()
}

/// Acme's queue should be staffed Mon–Fri 08:00–18:00 UTC; its agent
/// works 09:00–17:00. A 24/7 hour to first response. On Monday two
/// tickets arrive at 10:00 (answered at 10:30, and at 11:30 after
/// breaching at 11:00) and one at 20:00 (breached at 21:00).
async fn scene(app: &TestApp) -> (VendorFixture, VendorFixture) {
    app.create_policy(json!({
        "name": "Around the clock",
        "position": 1,
        "calendar_id": null,
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    let globex = app.vendor_with_agent("Globex", Role::Agent).await;
    let coverage = app
        .create_calendar(json!({"name": "Acme hours", "timezone": "UTC",
            "weekly": weekdays("08:00", "18:00"), "holidays": []}))
        .await;
    let shift = app
        .create_calendar(json!({"name": "Day shift", "timezone": "UTC",
            "weekly": weekdays("09:00", "17:00"), "holidays": []}))
        .await;
    let resp = app
        .patch(&format!("/api/v1/queues/{}", acme.queue_id), &app.admin)
        .json(&json!({"coverage_calendar_id": coverage["id"], "handle_seconds": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, 200).await["handle_seconds"], 600);
    let resp = app
        .patch(&format!("/api/v1/agents/{}", acme.agent_id), &app.admin)
        .json(&json!({"shift_calendar_id": shift["id"]}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    let at = |instant: &str| app.clock.pin(instant.parse().unwrap());
    let open = || {
        let mut body = ticket_body("Help", "ann@example.com");
        body["queue"] = acme.queue_id.clone().into();
        body
    };
    at("2026-11-30T10:00:00Z");
    let quick = app.create_ticket(open()).await;
    let slow = app.create_ticket(open()).await;
    at("2026-11-30T10:30:00Z");
    app.reply(quick["number"].clone(), true).await;
    at("2026-11-30T11:30:00Z");
    app.reply(slow["number"].clone(), true).await;
    at("2026-11-30T20:00:00Z");
    app.create_ticket(open()).await;
    at("2026-12-07T00:00:00Z");
    app.run_sla_scanner();
    (acme, globex)
}

fn hour(group: &Value, index: usize) -> &Value {
    let hours = group["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 168);
    &hours[index]
}

#[actix_web::test]
async fn the_week_shows_where_the_queue_ran_unstaffed_and_what_it_needs() {
    let app = TestApp::spawn().await;
    let (acme, globex) = scene(&app).await;
    let report = app.read(&format!("/api/v1/reports/coverage?{WEEK}")).await;
    assert_eq!(report["group_by"], "queue");
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "every queue, busy or not");
    let acme_group = groups
        .iter()
        .find(|g| g["key"] == acme.queue_id.as_str())
        .unwrap();
    assert_eq!(acme_group["label"], "acme");
    assert_eq!(acme_group["answer_seconds"], 3600.0);
    assert_eq!(acme_group["handle_seconds"], 600.0);
    assert_eq!(acme_group["handle_source"], "queue");
    // 08–09 and 17–18 on five weekdays.
    assert_eq!(acme_group["unstaffed_minutes"], 600);
    assert_eq!(acme_group["breaches"], 2);

    let monday_ten = hour(acme_group, 10);
    assert_eq!(monday_ten["day"], "mon");
    assert_eq!(monday_ten["time"], "10:00");
    assert_eq!(monday_ten["occurrences"], 1);
    assert_eq!(monday_ten["arrivals_per_hour"], 2.0);
    assert_eq!(monday_ten["agents_on_shift"], 1.0);
    assert_eq!(monday_ten["staffed_calendar_minutes"], 60);
    assert_eq!(monday_ten["unstaffed_minutes"], 0);
    assert_eq!(monday_ten["first_responses"], 2);
    assert_eq!(monday_ten["median_first_response_seconds"], 1800);
    // Two arrivals of ten minutes within an hour's target: one agent,
    // two to schedule after 30 % shrinkage, one more than on shift.
    assert_eq!(monday_ten["agents_needed"], 1);
    assert_eq!(monday_ten["scheduled_agents_needed"], 2);
    assert_eq!(monday_ten["gap"], 1.0);
    assert_eq!(hour(acme_group, 11)["breaches"], 1);
    assert_eq!(hour(acme_group, 21)["breaches"], 1);
    let monday_eight = hour(acme_group, 8);
    assert_eq!(monday_eight["unstaffed_minutes"], 60);
    assert_eq!(monday_eight["agents_on_shift"], 0.0);
    let saturday = hour(acme_group, 5 * 24 + 10);
    assert_eq!(saturday["staffed_calendar_minutes"], 0);
    assert_eq!(saturday["agents_needed"], 0);
    // Globex has no coverage calendar: always to be staffed, and its one
    // agent has no shift calendar, so always on shift.
    let globex_group = groups
        .iter()
        .find(|g| g["key"] == globex.queue_id.as_str())
        .unwrap();
    assert_eq!(globex_group["unstaffed_minutes"], 0);
    assert_eq!(globex_group["handle_source"], "default");
    assert_eq!(hour(globex_group, 3)["agents_on_shift"], 1.0);
    assert_eq!(
        globex_group["answer_seconds"],
        Value::Null,
        "no clocks, no target"
    );
    assert_eq!(hour(globex_group, 3)["agents_needed"], Value::Null);

    // In Manila (UTC+8) Monday 10:00 UTC is Monday 18:00.
    let manila = app
        .read("/api/v1/reports/coverage?from=2026-11-30T00:00:00Z&to=2026-12-07T00:00:00Z&tz=Asia/Manila")
        .await;
    let acme_manila = manila["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == acme.queue_id.as_str())
        .unwrap();
    assert_eq!(hour(acme_manila, 18)["arrivals_per_hour"], 2.0);
    assert_eq!(hour(acme_manila, 18)["unstaffed_minutes"], 0);
    assert_eq!(hour(acme_manila, 16)["unstaffed_minutes"], 60, "08:00 UTC");

    // Over two weeks the one busy Monday averages to one arrival an hour.
    let fortnight = app
        .read("/api/v1/reports/coverage?from=2026-11-30&to=2026-12-13&group_by=vendor")
        .await;
    let acme_vendor = fortnight["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == acme.vendor_id.as_str())
        .unwrap();
    assert_eq!(acme_vendor["label"], "Acme");
    assert_eq!(hour(acme_vendor, 10)["occurrences"], 2);
    assert_eq!(hour(acme_vendor, 10)["arrivals_per_hour"], 1.0);
    assert_eq!(acme_vendor["unstaffed_minutes"], 1200);
}

#[actix_web::test]
async fn a_lead_sees_their_queues_and_bad_parameters_are_problems() {
    let app = TestApp::spawn().await;
    let (acme, globex) = scene(&app).await;
    let resp = app
        .get(&format!("/api/v1/reports/coverage?{WEEK}"), &acme.token)
        .send()
        .await
        .unwrap();
    let report = expect_json(resp, 200).await;
    assert_eq!(report["groups"].as_array().unwrap().len(), 1);
    assert!(!report.to_string().contains(&globex.queue_id));
    let csv = app
        .get(&format!("/api/v1/reports/coverage?{WEEK}"), &acme.token)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 168);
    assert!(lines[0].starts_with("key,label,hour,day,time,occurrences,arrivals_per_hour,"));
    assert!(
        lines[11].starts_with(&format!(
            "{},acme,10,mon,10:00,1,2.0,1.0,60,0,2,1800,0,1,2,1.0",
            acme.queue_id
        )),
        "{}",
        lines[11]
    );
    for (query, field) in [
        ("group_by=agent", "group_by"),
        ("service_level=2", "service_level"),
        ("handle_seconds=0", "handle_seconds"),
        ("tz=Atlantis", "tz"),
    ] {
        let resp = app
            .get(&format!("/api/v1/reports/coverage?{query}"), &app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem_fields(&expect_problem(resp, 422).await),
            [field],
            "{query}"
        );
    }
    let bad = app
        .patch(&format!("/api/v1/queues/{}", acme.queue_id), &app.admin)
        .json(&json!({"handle_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(bad, 422).await),
        ["handle_seconds"]
    );
}

#[actix_web::test]
async fn enough_claims_answered_measure_the_handle_time() {
    let app = TestApp::spawn().await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    let week = "from=2026-11-30&to=2026-12-06";
    let handle = |report: &Value| {
        let group = &report["groups"][0];
        (
            group["handle_source"].clone(),
            group["handle_seconds"].clone(),
        )
    };
    // Claimed at :00, answered 4, 5 or 6 minutes later: 29 claims are not
    // enough to measure, the 30th is.
    for n in 0..30 {
        let minutes = [4, 5, 6][n % 3];
        app.clock.pin(
            format!("2026-11-30T{:02}:00:00Z", n % 24)
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
                + chrono::Duration::days((n / 24) as i64),
        );
        let mut body = ticket_body("Help", "ann@example.com");
        body["queue"] = acme.queue_id.clone().into();
        let ticket = app.create_ticket(body).await;
        let id = ticket["id"].as_str().unwrap().to_string();
        app.patch_ticket(&id, json!({"assignee": acme.agent_id}))
            .await;
        let claimed = app.clock.clock().now();
        app.clock
            .pin(claimed + chrono::Duration::minutes(minutes as i64));
        app.reply(&id, true).await;
        if n == 28 {
            let report = app.read(&format!("/api/v1/reports/coverage?{week}")).await;
            assert_eq!(handle(&report), (json!("default"), json!(600.0)));
        }
    }
    let report = app.read(&format!("/api/v1/reports/coverage?{week}")).await;
    assert_eq!(handle(&report), (json!("measured"), json!(300.0)));
    let given = app
        .read(&format!(
            "/api/v1/reports/coverage?{week}&handle_seconds=120"
        ))
        .await;
    assert_eq!(handle(&given), (json!("given"), json!(120.0)));
}
