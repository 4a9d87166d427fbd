//! Health, readiness, metrics, request ids and the API description.

use crate::common::*;

#[actix_web::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    expect_json(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        200,
    )
    .await;
    let ready = expect_json(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(ready["database"], "ok");

    app.create_ticket(ticket_body("counted", "m@example.com"))
        .await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("relay_tickets_created_total{channel=\"api\"}"),
        "{text}"
    );
    assert!(text.contains(
        "relay_http_requests_total{method=\"POST\",route=\"/api/v1/tickets\",status=\"201\"}"
    ));
    assert!(text.contains("relay_http_request_duration_seconds_bucket"));
    assert!(text.contains("relay_db_pool_connections{state=\"idle\"}"));
}

#[actix_web::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let fresh = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(!fresh.headers()["x-request-id"].is_empty());
    let echoed = app
        .client
        .get(app.url("/nope"))
        .header("X-Request-Id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123");
}

#[actix_web::test]
async fn the_openapi_document_and_docs_page_are_served() {
    let app = TestApp::spawn().await;
    let doc = expect_json(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/tickets",
        "/api/v1/tickets/{id}",
        "/api/v1/tickets/{id}/messages",
        "/api/v1/vendors",
        "/api/v1/tokens/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["components"]["schemas"]["TicketView"].is_object());
    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("swagger-ui"),
        "offline Swagger UI is served from the binary"
    );
    let script = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.status(),
        200,
        "the UI's JavaScript is served locally, not from a CDN"
    );
}
