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
