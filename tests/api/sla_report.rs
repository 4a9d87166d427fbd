//! The SLA report: settled clocks per group, attainment and percentiles,
//! local days, vendor scope, CSV and bad parameters.

use crate::common::*;
use relay::domain::Role;
use serde_json::{json, Value};

/// Where the report is read from (after the scanner settled every breach).
const REPORT_AT: &str = "2026-12-03T06:00:00Z";
/// 1 and 2 December (UTC), with `to` a date that is included.
const PERIOD: &str = "from=2026-12-01&to=2026-12-02";

/// A 24/7 hour to first response. Acme: answered in 20 minutes (by its
/// lead, assigned), in 90 (breached at 13:00) and in 40. Globex: never
/// answered (breached at 11:00, still running), and one handed over from
/// Acme and answered by Globex in 45 minutes. Each vendor's agent writes
/// the replies; the fast one is solved at 11:00.
pub async fn scene(app: &TestApp) -> (VendorFixture, VendorFixture) {
    app.create_policy(json!({
        "name": "Around the clock",
        "position": 1,
        "calendar_id": null,
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    let globex = app.vendor_with_agent("Globex", Role::Agent).await;
    let at = |instant: &str| app.clock.pin(instant.parse().unwrap());
    let open = |queue: &str, subject: &str| {
        let mut body = ticket_body(subject, "ann@example.com");
        body["queue"] = queue.into();
        body
    };
    at("2026-12-01T10:00:00Z");
    let first = app.create_ticket(open(&acme.queue_id, "Fast")).await;
    app.patch_ticket(
        &first["id"].as_str().unwrap(),
        json!({"assignee": acme.agent_id}),
    )
    .await;
    at("2026-12-01T10:20:00Z");
    reply_as(app, &acme.token, &first).await;
    at("2026-12-01T11:00:00Z");
    app.set_status(first["number"].clone(), "solved").await;
    at("2026-12-01T12:00:00Z");
    let late = app.create_ticket(open(&acme.queue_id, "Late")).await;
    at("2026-12-01T13:30:00Z");
    reply_as(app, &acme.token, &late).await;
    at("2026-12-02T09:00:00Z");
    let third = app.create_ticket(open(&acme.queue_id, "Forty")).await;
    at("2026-12-02T09:40:00Z");
    reply_as(app, &acme.token, &third).await;
    at("2026-12-02T10:00:00Z");
    app.create_ticket(open(&globex.queue_id, "Never")).await;
    at("2026-12-02T14:00:00Z");
    let handed = app.create_ticket(open(&acme.queue_id, "Handed")).await;
    at("2026-12-02T14:30:00Z");
    app.patch_ticket(
        &handed["id"].as_str().unwrap(),
        json!({"queue": globex.queue_id}),
    )
    .await;
    at("2026-12-02T14:45:00Z");
    reply_as(app, &globex.token, &handed).await;
    at(REPORT_AT);
    app.run_sla_scanner();
    (acme, globex)
}

async fn reply_as(app: &TestApp, token: &str, ticket: &Value) {
    let resp = app
        .post(
            &format!(
                "/api/v1/tickets/{}/messages",
                ticket["id"].as_str().unwrap()
            ),
            token,
        )
        .json(&json!({"body": "On it.", "public": true}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await;
}

fn group<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {report}"))
}

/// (met, breached, business median, business p90, wall median) of a
/// group's first responses.
fn first_response(figures: &Value) -> (i64, i64, Option<i64>, Option<i64>, Option<i64>) {
    let metric = &figures["first_response"];
    (
        metric["met"].as_i64().unwrap(),
        metric["breached"].as_i64().unwrap(),
        metric["business_seconds"]["median"].as_i64(),
        metric["business_seconds"]["p90"].as_i64(),
        metric["wall_seconds"]["median"].as_i64(),
    )
}

#[actix_web::test]
async fn clocks_are_counted_per_queue_with_exact_percentiles() {
    let app = TestApp::spawn().await;
    let (acme, globex) = scene(&app).await;
    let report = app
        .read(&format!("/api/v1/reports/sla?group_by=queue&{PERIOD}"))
        .await;
    assert_eq!(report["from"], "2026-12-01T00:00:00Z");
    assert_eq!(report["to"], "2026-12-03T00:00:00Z");
    assert_eq!(report["group_by"], "queue");
    assert_eq!(report["groups"].as_array().unwrap().len(), 2, "{report}");
    let acme_group = group(&report, &acme.queue_id);
    assert_eq!(acme_group["label"], "acme");
    // 20, 40 and 90 minutes: the median is 40, the 90th percentile 90.
    assert_eq!(
        first_response(&acme_group["metrics"]),
        (2, 1, Some(2400), Some(5400), Some(2400))
    );
    let attainment = acme_group["metrics"]["first_response"]["attainment"]
        .as_f64()
        .unwrap();
    assert!((attainment - 2.0 / 3.0).abs() < 1e-9);
    // The hand-off is Globex's: it held the ticket when it was answered.
    // The breach still running has no time to measure yet.
    let globex_group = group(&report, &globex.queue_id);
    assert_eq!(
        first_response(&globex_group["metrics"]),
        (1, 1, Some(2700), Some(2700), Some(2700))
    );
    assert_eq!(
        globex_group["metrics"]["resolution"],
        json!({"met": 0, "breached": 0, "attainment": null,
               "business_seconds": {"median": null, "p90": null},
               "wall_seconds": {"median": null, "p90": null}})
    );
    // Totals are their own percentiles, not an average of the groups'.
    assert_eq!(
        first_response(&report["totals"]),
        (3, 2, Some(2400), Some(5400), Some(2400))
    );

    let by_vendor = app
        .read(&format!("/api/v1/reports/sla?group_by=vendor&{PERIOD}"))
        .await;
    assert_eq!(group(&by_vendor, &acme.vendor_id)["label"], "Acme");
    let by_agent = app
        .read(&format!("/api/v1/reports/sla?group_by=agent&{PERIOD}"))
        .await;
    let assigned = group(&by_agent, &acme.agent_id);
    assert_eq!(first_response(&assigned["metrics"]).0, 1);
    let by_priority = app
        .read(&format!("/api/v1/reports/sla?group_by=priority&{PERIOD}"))
        .await;
    assert_eq!(
        first_response(&group(&by_priority, "normal")["metrics"]).0,
        3
    );
    let by_channel = app
        .read(&format!(
            "/api/v1/reports/sla?group_by=channel&{PERIOD}&channel=api"
        ))
        .await;
    assert_eq!(first_response(&group(&by_channel, "api")["metrics"]).1, 2);

    // Filters and a period with nothing in it.
    let one_queue = app
        .read(&format!(
            "/api/v1/reports/sla?group_by=queue&{PERIOD}&queue_id={}",
            globex.queue_id
        ))
        .await;
    assert_eq!(one_queue["groups"].as_array().unwrap().len(), 1);
    let urgent = app
        .read(&format!(
            "/api/v1/reports/sla?group_by=queue&{PERIOD}&priority=urgent"
        ))
        .await;
    assert_eq!(urgent["groups"], json!([]));
    assert_eq!(urgent["totals"]["first_response"]["met"], 0);
    let empty = app
        .read("/api/v1/reports/sla?group_by=day&from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(empty["groups"], json!([]));
}

#[actix_web::test]
async fn days_are_local_to_the_time_zone_asked_for() {
    let app = TestApp::spawn().await;
    scene(&app).await;
    // Auckland is 13 hours ahead in December: 13:00 UTC on 1 December is
    // 2 December there, 11:00 UTC on 2 December is 3 December.
    let report = app
        .read("/api/v1/reports/sla?group_by=day&tz=Pacific/Auckland&from=2026-12-01&to=2026-12-03")
        .await;
    assert_eq!(report["tz"], "Pacific/Auckland");
    let days: Vec<(&str, i64, i64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let (met, breached, ..) = first_response(&g["metrics"]);
            (g["key"].as_str().unwrap(), met, breached)
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-12-01", 1, 0),
            ("2026-12-02", 1, 1),
            ("2026-12-03", 1, 1)
        ]
    );
    let first_day = &report["groups"][0];
    assert_eq!(first_day["starts_at"], "2026-11-30T11:00:00Z");
    assert_eq!(first_day["ends_at"], "2026-12-01T11:00:00Z");
    let weeks = app
        .read("/api/v1/reports/sla?group_by=week&tz=Pacific/Auckland&from=2026-12-01&to=2026-12-03")
        .await;
    let week = &weeks["groups"][0];
    assert_eq!(weeks["groups"].as_array().unwrap().len(), 1);
    assert_eq!(week["key"], "2026-11-30", "weeks start on Monday");
    assert_eq!(first_response(&week["metrics"]).0, 3);
}

#[actix_web::test]
async fn a_day_with_a_dst_change_is_one_bucket_of_its_length() {
    let app = TestApp::spawn().await;
    app.create_policy(json!({
        "name": "Around the clock",
        "position": 1,
        "calendar_id": null,
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    // London leaves summer time at 01:00 UTC on 25 October 2026.
    for (opened, answered) in [
        ("2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z"),
        ("2026-10-25T23:00:00Z", "2026-10-25T23:30:00Z"),
    ] {
        app.clock.pin(opened.parse().unwrap());
        let mut body = ticket_body("Autumn", "ann@example.com");
        body["queue"] = acme.queue_id.clone().into();
        let ticket = app.create_ticket(body).await;
        app.clock.pin(answered.parse().unwrap());
        app.reply(ticket["number"].clone(), true).await;
    }
    let report = app
        .read("/api/v1/reports/sla?group_by=day&tz=Europe/London&from=2026-10-24&to=2026-10-26")
        .await;
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{report}");
    assert_eq!(groups[0]["key"], "2026-10-25");
    assert_eq!(groups[0]["starts_at"], "2026-10-24T23:00:00Z");
    assert_eq!(groups[0]["ends_at"], "2026-10-26T00:00:00Z");
    assert_eq!(first_response(&groups[0]["metrics"]).0, 2);
}

#[actix_web::test]
async fn a_lead_s_sla_report_holds_only_clocks_charged_to_their_vendor() {
    let app = TestApp::spawn().await;
    let (acme, globex) = scene(&app).await;
    let resp = app
        .get(
            &format!("/api/v1/reports/sla?group_by=queue&{PERIOD}"),
            &acme.token,
        )
        .send()
        .await
        .unwrap();
    let report = expect_json(resp, 200).await;
    assert_eq!(report["groups"].as_array().unwrap().len(), 1);
    assert_eq!(
        first_response(&report["totals"]),
        (2, 1, Some(2400), Some(5400), Some(2400))
    );
    assert!(!report.to_string().contains(&globex.vendor_id));
    assert!(!report.to_string().contains(&globex.queue_id));
    let foreign = app
        .get(
            &format!(
                "/api/v1/reports/sla?group_by=queue&vendor_id={}",
                globex.vendor_id
            ),
            &acme.token,
        )
        .send()
        .await
        .unwrap();
    expect_problem(foreign, 404).await;
    let agent = app
        .get("/api/v1/reports/sla?group_by=queue", &globex.token)
        .send()
        .await
        .unwrap();
    expect_problem(agent, 403).await;
}

#[actix_web::test]
async fn the_sla_report_comes_as_csv_and_refuses_bad_parameters() {
    let app = TestApp::spawn().await;
    let (acme, _) = scene(&app).await;
    let resp = app
        .get(
            &format!("/api/v1/reports/sla?group_by=queue&{PERIOD}"),
            &app.admin,
        )
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "key,label,starts_at,ends_at,metric,met,breached,attainment,business_median_seconds,business_p90_seconds,wall_median_seconds,wall_p90_seconds,csat_good,csat_bad,csat_score"
    );
    assert_eq!(lines.len(), 1 + 2 * 3, "{text}");
    let acme_first = format!("{},acme,,,first_response,2,1,", acme.queue_id);
    let line = lines.iter().find(|l| l.starts_with(&acme_first)).unwrap();
    assert!(line.ends_with(",2400,5400,2400,5400,0,0,"), "{line}");

    for (query, field) in [
        ("group_by=month", "group_by"),
        ("group_by=day&tz=Mars/Olympus", "tz"),
        ("group_by=day&from=2026-12-05&to=2026-12-01", "from"),
        ("group_by=day&from=last-week", "from"),
        ("group_by=day&priority=soon", "priority"),
    ] {
        let resp = app
            .get(&format!("/api/v1/reports/sla?{query}"), &app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem_fields(&expect_problem(resp, 422).await),
            [field],
            "{query}"
        );
    }
    let missing = app
        .get("/api/v1/reports/sla", &app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(missing, 400).await;
}

#[actix_web::test]
async fn vendors_are_held_to_their_contract_and_priced() {
    let app = TestApp::spawn().await;
    let (acme, globex) = scene(&app).await;
    let resp = app
        .patch(&format!("/api/v1/vendors/{}", acme.vendor_id), &app.admin)
        .json(&json!({"contracted_attainment": 0.9, "price_per_ticket_cents": 250, "currency": "USD"}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    let report = app.read(&format!("/api/v1/reports/vendors?{PERIOD}")).await;
    let vendors = report["vendors"].as_array().unwrap();
    assert_eq!(vendors.len(), 2, "{report}");
    let acme_row = &vendors[0];
    assert_eq!(acme_row["vendor"], "Acme");
    assert_eq!(
        (
            acme_row["tickets_handled"].as_i64(),
            acme_row["tickets_solved"].as_i64(),
            acme_row["clocks_met"].as_i64(),
            acme_row["clocks_breached"].as_i64()
        ),
        (Some(3), Some(1), Some(2), Some(1))
    );
    assert_eq!(acme_row["contract"], "missed", "2 of 3 is under 90 %");
    assert_eq!(acme_row["currency"], "USD");
    assert_eq!(acme_row["cost_cents"], 750);
    assert_eq!(acme_row["cost_per_solved_ticket_cents"], 750);
    assert_eq!(acme_row["next_response_attainment"], Value::Null);
    let globex_row = &vendors[1];
    assert_eq!(globex_row["vendor_id"], globex.vendor_id.as_str());
    assert_eq!(
        (
            globex_row["tickets_handled"].as_i64(),
            globex_row["tickets_solved"].as_i64(),
            globex_row["clocks_met"].as_i64(),
            globex_row["clocks_breached"].as_i64()
        ),
        (Some(1), Some(0), Some(1), Some(1))
    );
    assert_eq!(
        globex_row["contract"],
        Value::Null,
        "no contract, no verdict"
    );
    assert_eq!(globex_row["cost_cents"], Value::Null);
    assert_eq!(report["totals"]["tickets_handled"], 4);
    assert!((report["totals"]["attainment"].as_f64().unwrap() - 0.6).abs() < 1e-9);

    // A period before anything happened: every vendor, with zeros.
    let quiet = app
        .read("/api/v1/reports/vendors?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(quiet["vendors"].as_array().unwrap().len(), 2);
    assert_eq!(quiet["vendors"][0]["tickets_handled"], 0);
    assert_eq!(quiet["vendors"][0]["cost_cents"], 0);

    // A lead: their vendor's row alone, totals included.
    let resp = app
        .get(&format!("/api/v1/reports/vendors?{PERIOD}"), &acme.token)
        .send()
        .await
        .unwrap();
    let own = expect_json(resp, 200).await;
    assert_eq!(own["vendors"].as_array().unwrap().len(), 1);
    assert_eq!(own["totals"]["tickets_handled"], 3);
    assert!(!own.to_string().contains(&globex.vendor_id));

    let csv = app
        .get(
            &format!("/api/v1/reports/vendors?{PERIOD}&format=csv"),
            &app.admin,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("vendor_id,vendor,tickets_handled,tickets_solved,"));
    assert!(lines[1].contains(",Acme,3,1,2,1,"), "{csv}");
    let bad = app
        .get(
            "/api/v1/reports/vendors?tz=Nowhere&group_by=queue",
            &app.admin,
        )
        .send()
        .await
        .unwrap();
    expect_problem(bad, 400).await;
    let bad = app
        .get("/api/v1/reports/vendors?tz=Nowhere", &app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(bad, 422).await), ["tz"]);
}
