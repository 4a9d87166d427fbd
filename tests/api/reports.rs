//! Manager reports: the staffing calculator.

use crate::common::*;
use relay::domain::Role;
use serde_json::Value;

const PYWORKFORCE_EXAMPLE: &str = "/api/v1/reports/staffing?arrivals_per_hour=200&handle_seconds=180&answer_seconds=20&service_level=0.8&max_occupancy=0.85&shrinkage=0.3";

async fn staffing(app: &TestApp, query: &str, token: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/reports/staffing?{query}"), token)
        .send()
        .await
        .unwrap()
}

fn number(value: &Value, field: &str) -> f64 {
    value[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

#[actix_web::test]
async fn the_staffing_calculator_answers_erlang_c_for_short_targets() {
    let app = TestApp::spawn().await;
    let manager = app.token(Role::Manager, None);
    let resp = app.get(PYWORKFORCE_EXAMPLE, &manager).send().await.unwrap();
    let advice = expect_json(resp, 200).await;
    assert_eq!(advice["agents"], 14);
    assert_eq!(advice["scheduled_agents"], 20);
    assert_eq!(advice["model"], "erlang_c");
    assert!(
        (number(&advice, "service_level") - 0.8884).abs() < 1e-4,
        "{advice}"
    );
    assert!((number(&advice, "probability_of_waiting") - 0.1741).abs() < 1e-4);
    assert!((number(&advice, "occupancy") - 10.0 / 14.0).abs() < 1e-9);
    assert!((number(&advice, "average_wait_seconds") - 7.836).abs() < 1e-3);
    assert!(number(&advice, "service_level_with_one_fewer") < 0.8);
    // Defaults: 80 %, 85 %, 30 % shrinkage, the same answer.
    let defaults = staffing(
        &app,
        "arrivals_per_hour=200&handle_seconds=180&answer_seconds=20",
        &manager,
    )
    .await;
    assert_eq!(expect_json(defaults, 200).await, advice);
    // A vendor's lead may use it too.
    let lead = app.vendor_with_agent("Acme", Role::Lead).await;
    let resp = app
        .get(PYWORKFORCE_EXAMPLE, &lead.token)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, 200).await["agents"], 14);
}

#[actix_web::test]
async fn long_targets_are_planned_by_workload() {
    let app = TestApp::spawn().await;
    let manager = app.token(Role::Manager, None);
    let resp = staffing(
        &app,
        "arrivals_per_hour=30&handle_seconds=600&answer_seconds=28800",
        &manager,
    )
    .await;
    let advice = expect_json(resp, 200).await;
    assert_eq!(advice["model"], "workload");
    assert_eq!(
        (
            advice["agents"].as_u64(),
            advice["scheduled_agents"].as_u64()
        ),
        (Some(6), Some(9))
    );
}

#[actix_web::test]
async fn bad_staffing_inputs_are_problems() {
    let app = TestApp::spawn().await;
    let manager = app.token(Role::Manager, None);
    let resp = staffing(
        &app,
        "arrivals_per_hour=-5&handle_seconds=0&answer_seconds=20&service_level=1.5&max_occupancy=0&shrinkage=1",
        &manager,
    )
    .await;
    let problem = expect_problem(resp, 422).await;
    assert_eq!(
        problem_fields(&problem),
        [
            "arrivals_per_hour",
            "handle_seconds",
            "service_level",
            "max_occupancy",
            "shrinkage"
        ]
    );
    let missing = staffing(&app, "arrivals_per_hour=10", &manager).await;
    let problem = expect_problem(missing, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("handle_seconds"),
        "{problem}"
    );
    let not_a_number = staffing(
        &app,
        "arrivals_per_hour=many&handle_seconds=1&answer_seconds=1",
        &manager,
    )
    .await;
    expect_problem(not_a_number, 400).await;
    let unknown = staffing(
        &app,
        "arrivals_per_hour=1&handle_seconds=1&answer_seconds=1&agents=3",
        &manager,
    )
    .await;
    expect_problem(unknown, 400).await;
    let too_much = staffing(
        &app,
        "arrivals_per_hour=100000000&handle_seconds=3600&answer_seconds=20",
        &manager,
    )
    .await;
    assert_eq!(
        problem_fields(&expect_problem(too_much, 422).await),
        ["arrivals_per_hour"]
    );
    let agent = app.vendor_with_agent("Acme", Role::Agent).await;
    let resp = app
        .get(PYWORKFORCE_EXAMPLE, &agent.token)
        .send()
        .await
        .unwrap();
    expect_problem(resp, 403).await;
}

/// Acme holds three tickets (one solved), Globex one; a 24/7 policy with
/// an hour to first response; the report runs at `REPORT_AT`.
const REPORT_AT: &str = "2026-12-09T00:00:00Z";

async fn backlog_scene(app: &TestApp) -> (VendorFixture, VendorFixture) {
    app.create_policy(serde_json::json!({
        "name": "Around the clock",
        "position": 1,
        "calendar_id": null,
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    let acme = app.vendor_with_agent("Acme", Role::Lead).await;
    let globex = app.vendor_with_agent("Globex", Role::Agent).await;
    let open_at = |at: &str, queue: &str, subject: &str| {
        app.clock.pin(at.parse().unwrap());
        let mut body = ticket_body(subject, "ann@example.com");
        body["queue"] = queue.into();
        body
    };
    let eight_days = open_at("2026-12-01T00:00:00Z", &acme.queue_id, "Eight days old");
    app.create_ticket(eight_days).await;
    let globex_body = open_at("2026-12-08T19:00:00Z", &globex.queue_id, "Five hours old");
    app.create_ticket(globex_body).await;
    let solved = open_at("2026-12-08T22:00:00Z", &acme.queue_id, "Solved");
    let solved = app.create_ticket(solved).await;
    app.set_status(solved["id"].as_str().unwrap(), "solved")
        .await;
    let fresh = open_at("2026-12-08T23:30:00Z", &acme.queue_id, "Half an hour old");
    app.create_ticket(fresh).await;
    app.clock.pin(REPORT_AT.parse().unwrap());
    (acme, globex)
}

#[actix_web::test]
async fn the_backlog_counts_open_tickets_by_queue_status_and_age() {
    let app = TestApp::spawn().await;
    let (acme, globex) = backlog_scene(&app).await;
    let report = app.read("/api/v1/reports/backlog").await;
    assert_eq!(report["as_of"], REPORT_AT);
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{report}");
    let of = |queue: &str| {
        groups
            .iter()
            .find(|g| g["queue_id"] == queue)
            .unwrap_or_else(|| panic!("no group of {queue} in {report}"))
    };
    let acme_group = of(&acme.queue_id);
    assert_eq!(acme_group["queue"], "acme");
    assert_eq!(acme_group["vendor_id"], acme.vendor_id.as_str());
    assert_eq!(acme_group["status"], "new");
    assert_eq!(acme_group["tickets"], 2);
    assert_eq!(
        (
            acme_group["under_1h"].as_i64(),
            acme_group["over_7d"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(acme_group["from_1h_to_4h"], 0);
    // Due in half an hour: at risk; due eight days ago: breached.
    assert_eq!(
        (
            acme_group["at_risk"].as_i64(),
            acme_group["breached"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let globex_group = of(&globex.queue_id);
    assert_eq!(globex_group["tickets"], 1);
    assert_eq!(globex_group["from_4h_to_24h"], 1);
    assert_eq!(globex_group["breached"], 1);
    let totals = &report["totals"];
    assert_eq!(
        (
            totals["tickets"].as_i64(),
            totals["at_risk"].as_i64(),
            totals["breached"].as_i64()
        ),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(totals["over_7d"], 1);

    // Filters: a vendor, a priority nothing has.
    let only_globex = app
        .read(&format!(
            "/api/v1/reports/backlog?vendor_id={}",
            globex.vendor_id
        ))
        .await;
    assert_eq!(only_globex["totals"]["tickets"], 1);
    let only_acme_queue = app
        .read(&format!(
            "/api/v1/reports/backlog?queue_id={}",
            acme.queue_id
        ))
        .await;
    assert_eq!(only_acme_queue["totals"]["tickets"], 2);
    let missing = app
        .get("/api/v1/reports/backlog?queue_id=nope", &app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(missing, 404).await;
    let urgent = app.read("/api/v1/reports/backlog?priority=urgent").await;
    assert_eq!(urgent["groups"], serde_json::json!([]));
    assert_eq!(urgent["totals"]["tickets"], 0);
}

#[actix_web::test]
async fn a_lead_s_backlog_holds_only_their_vendor() {
    let app = TestApp::spawn().await;
    let (acme, globex) = backlog_scene(&app).await;
    let resp = app
        .get("/api/v1/reports/backlog", &acme.token)
        .send()
        .await
        .unwrap();
    let report = expect_json(resp, 200).await;
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["queue_id"], acme.queue_id.as_str());
    assert_eq!(report["totals"]["tickets"], 2);
    assert!(!report.to_string().contains(&globex.vendor_id));
    let foreign = app
        .get(
            &format!("/api/v1/reports/backlog?vendor_id={}", globex.vendor_id),
            &acme.token,
        )
        .send()
        .await
        .unwrap();
    expect_problem(foreign, 404).await;
    // Another vendor's queue is not there for a lead; their own is.
    let foreign_queue = app
        .get(
            &format!("/api/v1/reports/backlog?queue_id={}", globex.queue_id),
            &acme.token,
        )
        .send()
        .await
        .unwrap();
    expect_problem(foreign_queue, 404).await;
    let own_queue = app
        .get(
            &format!("/api/v1/reports/backlog?queue_id={}", acme.queue_id),
            &acme.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(own_queue, 200).await["totals"]["tickets"], 2);
    // Agents do not read reports.
    let agent = app
        .get("/api/v1/reports/backlog", &globex.token)
        .send()
        .await
        .unwrap();
    expect_problem(agent, 403).await;
}

#[actix_web::test]
async fn the_backlog_comes_as_csv_when_asked() {
    let app = TestApp::spawn().await;
    let (acme, _) = backlog_scene(&app).await;
    let admin = app.admin.clone();
    for resp in [
        app.get("/api/v1/reports/backlog", &admin)
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap(),
        app.get("/api/v1/reports/backlog?format=csv", &admin)
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
        let text = resp.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "queue_id,queue,vendor_id,status,tickets,under_1h,from_1h_to_4h,from_4h_to_24h,from_1d_to_3d,from_3d_to_7d,over_7d,at_risk,breached"
        );
        assert_eq!(lines.len(), 3, "{text}");
        let acme_line = lines
            .iter()
            .find(|l| l.starts_with(&acme.queue_id))
            .unwrap();
        assert_eq!(
            *acme_line,
            format!(
                "{},acme,{},new,2,1,0,0,0,0,1,1,1",
                acme.queue_id, acme.vendor_id
            )
        );
    }
    // An explicit format wins over Accept; a bad one is a problem.
    let json = app
        .get("/api/v1/reports/backlog?format=json", &admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    expect_json(json, 200).await;
    let bad = app
        .get("/api/v1/reports/backlog?format=xml", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(bad, 422).await), ["format"]);
    let bad = app
        .get(
            "/api/v1/reports/backlog?channel=pigeon&priority=soon",
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(bad, 422).await),
        ["priority", "channel"]
    );
}

#[actix_web::test]
async fn reports_read_the_replica_named_in_read_url() {
    let Some(replica) = spare_postgres_database() else {
        // On SQLite there is no replica to read: the setting is refused.
        let mut settings = relay::config::Settings::defaults();
        settings.database.read_url = Some("postgres://postgres@127.0.0.1/replica".into());
        let refused = settings.validate().unwrap_err().to_string();
        assert!(refused.contains("database.read_url"), "{refused}");
        return;
    };
    // The "replica" is another database, filled through an app of its own,
    // so that what the reports show tells which one they read.
    let replica_app = TestApp::spawn_with(|s| s.database.url = replica.url.clone()).await;
    let read_url = replica.url.clone();
    let app = TestApp::spawn_with(|s| s.database.read_url = Some(read_url)).await;
    app.create_ticket(ticket_body("On the primary", "ann@example.com"))
        .await;
    let backlog = app.read("/api/v1/reports/backlog").await;
    assert_eq!(backlog["totals"]["tickets"], 0, "the replica has none yet");
    for subject in ["On the replica", "And another"] {
        replica_app
            .create_ticket(ticket_body(subject, "bob@example.com"))
            .await;
    }
    let backlog = app.read("/api/v1/reports/backlog").await;
    assert_eq!(backlog["totals"]["tickets"], 2);
    // Everything else still reads the primary.
    let tickets = app.read("/api/v1/tickets").await;
    assert_eq!(tickets["items"].as_array().unwrap().len(), 1);
}
