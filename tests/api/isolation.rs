//! Vendor isolation: an agent of vendor B never sees vendor A's work.

use crate::common::*;
use relay::domain::Role;
use serde_json::json;

#[actix_web::test]
async fn agents_only_see_their_own_vendors_tickets() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let b = app.vendor_with_agent("Vendor B", Role::Lead).await;
    let mut in_a = ticket_body("A's customer", "alice@example.com");
    in_a["queue"] = json!(a.queue_slug);
    let in_a = app.create_ticket(in_a).await;
    let mut in_b = ticket_body("B's customer", "bob@example.com");
    in_b["queue"] = json!(b.queue_id);
    let in_b = app.create_ticket(in_b).await;
    let unrouted = app
        .create_ticket(ticket_body("Nobody's yet", "carol@example.com"))
        .await;

    let a_id = in_a["id"].as_str().unwrap();
    let a_number = in_a["number"].as_i64().unwrap();
    // Every way of reaching A's ticket answers 404 for B, as if it did not exist.
    for path in [
        format!("/api/v1/tickets/{a_id}"),
        format!("/api/v1/tickets/{a_number}"),
        format!("/api/v1/tickets/{a_id}/messages"),
        format!("/api/v1/tickets/{a_id}/events"),
    ] {
        expect_problem(app.get(&path, &b.token).send().await.unwrap(), 404).await;
    }
    let patch = app
        .patch(&format!("/api/v1/tickets/{a_id}"), &b.token)
        .header("If-Match", "\"1\"")
        .json(&json!({"priority": "low"}))
        .send()
        .await
        .unwrap();
    expect_problem(patch, 404).await;
    let post = app
        .post(&format!("/api/v1/tickets/{a_id}/messages"), &b.token)
        .json(&json!({"body": "peek"}))
        .send()
        .await
        .unwrap();
    expect_problem(post, 404).await;
    // Unrouted tickets are for managers and admins only.
    expect_problem(
        app.get(
            &format!("/api/v1/tickets/{}", unrouted["id"].as_str().unwrap()),
            &b.token,
        )
        .send()
        .await
        .unwrap(),
        404,
    )
    .await;

    // Lists: B sees only B's ticket, whatever the filters say.
    for query in [
        "",
        "?customer=alice@example.com",
        "?q=customer",
        &format!("?queue={}", a.queue_slug),
        "?status=new",
    ] {
        let page = expect_json(
            app.get(&format!("/api/v1/tickets{query}"), &b.token)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        for item in page["items"].as_array().unwrap() {
            assert_eq!(
                item["id"], in_b["id"],
                "B listed a foreign ticket with {query:?}"
            );
        }
    }
    let a_page = expect_json(
        app.get("/api/v1/tickets", &a.token).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(a_page["items"].as_array().unwrap().len(), 1);
    assert_eq!(a_page["items"][0]["id"], in_a["id"]);
    let all = expect_json(
        app.get("/api/v1/tickets", &app.admin).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);

    // Directory reads are scoped the same way.
    let queues = expect_json(
        app.get("/api/v1/queues", &b.token).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(queues.as_array().unwrap().len(), 1);
    assert_eq!(queues[0]["slug"], b.queue_slug.as_str());
    expect_problem(
        app.get(&format!("/api/v1/queues/{}", a.queue_slug), &b.token)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    expect_problem(
        app.get(&format!("/api/v1/vendors/{}", a.vendor_id), &b.token)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    expect_problem(
        app.get(&format!("/api/v1/agents/{}", a.agent_id), &b.token)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let vendors = expect_json(
        app.get("/api/v1/vendors", &b.token).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(vendors.as_array().unwrap().len(), 1);

    // An agent cannot open a ticket in another vendor's queue either.
    let mut sneaky = ticket_body("sneaky", "x@example.com");
    sneaky["queue"] = json!(a.queue_slug);
    let resp = app
        .post("/api/v1/tickets", &b.token)
        .json(&sneaky)
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(resp, 422).await), ["queue"]);
}

#[actix_web::test]
async fn handing_a_ticket_to_another_vendor_releases_it() {
    let app = TestApp::spawn().await;
    let a = app.vendor_with_agent("Vendor A", Role::Agent).await;
    let b = app.vendor_with_agent("Vendor B", Role::Agent).await;
    let mut body = ticket_body("Needs Spanish", "dora@example.com");
    body["queue"] = json!(a.queue_slug);
    let ticket = app.create_ticket(body).await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());

    // Assigning B's agent to A's queue is refused.
    let wrong = app
        .patch(&path, &app.admin)
        .header("If-Match", "\"1\"")
        .json(&json!({"assignee": b.agent_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(wrong, 422).await),
        ["assignee"]
    );

    let assigned = app
        .patch(&path, &a.token)
        .header("If-Match", "\"1\"")
        .json(&json!({"assignee": a.agent_id}))
        .send()
        .await
        .unwrap();
    let assigned = expect_json(assigned, 200).await;
    assert_eq!(assigned["assignee"]["id"], a.agent_id.as_str());

    // A hands off to B's queue (by its id): A's agent lets go, A can no
    // longer see it, B can.
    let handed = app
        .patch(&path, &a.token)
        .header("If-Match", "\"2\"")
        .json(&json!({"queue": b.queue_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(handed, 200).await["handed_off"], true);
    let handed = app.read(&path).await;
    assert_eq!(handed["queue"]["slug"], b.queue_slug.as_str());
    assert_eq!(handed["assignee"], serde_json::Value::Null);
    expect_problem(app.get(&path, &a.token).send().await.unwrap(), 404).await;
    expect_json(app.get(&path, &b.token).send().await.unwrap(), 200).await;

    // Only managers may take a ticket out of every queue.
    let out = app
        .patch(&path, &b.token)
        .header("If-Match", "\"3\"")
        .json(&json!({"queue": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(out, 422).await), ["queue"]);
    let out = app
        .patch(&path, &app.admin)
        .header("If-Match", "\"3\"")
        .json(&json!({"queue": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(out, 200).await["queue"],
        serde_json::Value::Null
    );
}
