//! Assignment: push strategies by shift, availability, capacity and skills;
//! claim-next (atomic across processes), release, my tickets, queue views,
//! deactivation.

use crate::common::*;
use relay::domain::Role;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

struct Team {
    queue_id: String,
    agents: Vec<(String, String)>,
}

impl TestApp {
    /// A vendor with one queue of `strategy` and `count` agents (id, token).
    async fn team(&self, name: &str, strategy: &str, count: usize) -> Team {
        let vendor = self.create_vendor(name, "UTC").await;
        let vendor_id = vendor["id"].as_str().unwrap().to_string();
        let slug = name.to_lowercase().replace(' ', "-");
        let queue = self.create_queue(&slug, &vendor_id).await;
        let queue_id = queue["id"].as_str().unwrap().to_string();
        let resp = self
            .patch(&format!("/api/v1/queues/{queue_id}"), &self.admin)
            .json(&json!({"assignment_strategy": strategy}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await;
        let mut agents = Vec::new();
        for n in 0..count {
            let email = format!("agent{n}@{slug}.example");
            let agent = self.create_agent(&email, "agent", Some(&vendor_id)).await;
            agents.push((
                agent["id"].as_str().unwrap().to_string(),
                self.token(Role::Agent, Some(&email)),
            ));
        }
        Team { queue_id, agents }
    }

    async fn ticket_in(&self, queue_id: &str, subject: &str, priority: &str) -> Value {
        self.create_ticket(json!({"subject": subject, "body": "Please help.", "customer": {"email": "c@example.com"}, "queue": queue_id, "priority": priority}))
            .await
    }

    async fn claim(&self, queue_id: &str, token: &str) -> (u16, Option<Value>, Option<String>) {
        let resp = self
            .post(&format!("/api/v1/queues/{queue_id}/claim"), token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let reason = resp
            .headers()
            .get("relay-claim-reason")
            .map(|v| v.to_str().unwrap().to_string());
        let body = if status == 200 {
            Some(resp.json().await.unwrap())
        } else {
            None
        };
        (status, body, reason)
    }

    async fn patch_agent(&self, id: &str, body: Value) {
        let resp = self
            .patch(&format!("/api/v1/agents/{id}"), &self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await;
    }
}

fn assignee(ticket: &Value) -> Option<String> {
    ticket["assignee"]["id"].as_str().map(str::to_string)
}

#[actix_web::test]
async fn round_robin_takes_turns_and_least_loaded_evens_out() {
    let app = TestApp::spawn().await;
    let rr = app.team("Rotation Co", "round_robin", 3).await;
    let mut seen = Vec::new();
    for n in 0..6 {
        let ticket = app
            .ticket_in(&rr.queue_id, &format!("T{n}"), "normal")
            .await;
        seen.push(assignee(&ticket).expect("pushed to someone"));
    }
    let mut ids: Vec<String> = rr.agents.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    let expected: Vec<String> = ids.iter().chain(ids.iter()).cloned().collect();
    assert_eq!(seen, expected);

    let ll = app.team("Balance Co", "least_loaded", 2).await;
    // Give the first agent two tickets by hand; the queue then fills the other.
    for n in 0..2 {
        let ticket = app
            .ticket_in(&ll.queue_id, &format!("Manual {n}"), "normal")
            .await;
        if assignee(&ticket).as_deref() != Some(ll.agents[0].0.as_str()) {
            app.patch_ticket(
                ticket["id"].as_str().unwrap(),
                json!({"assignee": ll.agents[0].0}),
            )
            .await;
        }
    }
    let next = app.ticket_in(&ll.queue_id, "Next", "normal").await;
    assert_eq!(assignee(&next).as_deref(), Some(ll.agents[1].0.as_str()));
    let id = next["id"].as_str().unwrap();
    let assigned = app
        .events(id)
        .await
        .into_iter()
        .find(|e| e["kind"] == "assigned")
        .unwrap();
    assert_eq!(assigned["data"]["by"], "least_loaded");
}

#[actix_web::test]
async fn push_skips_agents_off_shift_unavailable_at_capacity_or_without_skills() {
    let app = TestApp::spawn().await;
    let team = app.team("Shift Co", "round_robin", 4).await;
    let (a, b, c, d) = (
        &team.agents[0].0,
        &team.agents[1].0,
        &team.agents[2].0,
        &team.agents[3].0,
    );
    // a: a shift calendar that is closed now; b: unavailable; c: capacity 0.
    let resp = app
        .post("/api/v1/calendars", &app.admin)
        .json(&json!({"name": "Nights", "timezone": "UTC", "weekly": [{"day": "mon", "start": "00:00", "end": "01:00"}]}))
        .send()
        .await
        .unwrap();
    let nights = expect_json(resp, 201).await;
    app.clock.pin("2026-12-08T12:00:00Z".parse().unwrap());
    app.patch_agent(a, json!({"shift_calendar_id": nights["id"]}))
        .await;
    let resp = app
        .client
        .put(app.url("/api/v1/agents/me/availability"))
        .bearer_auth(&team.agents[1].1)
        .json(&json!({"available": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, 200).await, json!({"available": false}));
    app.patch_agent(c, json!({"capacity": 0})).await;
    for n in 0..3 {
        let ticket = app
            .ticket_in(&team.queue_id, &format!("Only d {n}"), "normal")
            .await;
        assert_eq!(assignee(&ticket).as_deref(), Some(d.as_str()));
    }
    // With d at capacity too, the next ticket waits unassigned ...
    app.patch_agent(d, json!({"capacity": 3})).await;
    let waiting = app.ticket_in(&team.queue_id, "Waits", "normal").await;
    assert_eq!(assignee(&waiting), None);
    // ... until b comes back.
    let resp = app
        .client
        .put(app.url("/api/v1/agents/me/availability"))
        .bearer_auth(&team.agents[1].1)
        .json(&json!({"available": true}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    let now = app
        .read(&format!(
            "/api/v1/tickets/{}",
            waiting["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(assignee(&now).as_deref(), Some(b.as_str()));

    // Skill matching: only an agent whose skills cover language and tags.
    let skilled = app.team("Skill Co", "round_robin", 2).await;
    let resp = app
        .patch(&format!("/api/v1/queues/{}", skilled.queue_id), &app.admin)
        .json(&json!({"skill_matching": true}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    app.patch_agent(&skilled.agents[1].0, json!({"skills": ["es", "billing"]}))
        .await;
    for n in 0..2 {
        let ticket = app
            .create_ticket(json!({"subject": format!("Factura {n}"), "body": "x", "customer": {"email": "s@example.com"}, "queue": skilled.queue_id, "language": "es-MX", "tags": ["billing"]}))
            .await;
        assert_eq!(
            assignee(&ticket).as_deref(),
            Some(skilled.agents[1].0.as_str())
        );
    }
}

#[actix_web::test]
async fn claim_gives_the_most_urgent_oldest_ticket_and_says_why_when_it_cannot() {
    let app = TestApp::spawn().await;
    let team = app.team("Pull Co", "pull", 2).await;
    let (agent, token) = &team.agents[0];
    let old_normal = app.ticket_in(&team.queue_id, "Old normal", "normal").await;
    app.clock.advance(chrono::TimeDelta::seconds(5));
    let _new_normal = app.ticket_in(&team.queue_id, "New normal", "normal").await;
    let urgent = app.ticket_in(&team.queue_id, "Urgent", "urgent").await;
    assert_eq!(assignee(&old_normal), None);

    let (status, first, _) = app.claim(&team.queue_id, token).await;
    assert_eq!(status, 200);
    let first = first.unwrap();
    assert_eq!(first["id"], urgent["id"]);
    assert_eq!(first["assignee"]["id"], agent.as_str());
    // The claim answers what GET shows the agent (masking included).
    let shown = app
        .get(
            &format!("/api/v1/tickets/{}", urgent["id"].as_str().unwrap()),
            token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(shown, 200).await, first);
    let (_, second, _) = app.claim(&team.queue_id, token).await;
    assert_eq!(second.unwrap()["id"], old_normal["id"]);
    let assigned = app
        .events(old_normal["id"].as_str().unwrap())
        .await
        .into_iter()
        .find(|e| e["kind"] == "assigned")
        .unwrap();
    assert_eq!(assigned["data"]["by"], "claim");

    let view = app
        .get(&format!("/api/v1/queues/{}/tickets", team.queue_id), token)
        .send()
        .await
        .unwrap();
    let view = expect_json(view, 200).await;
    assert_eq!(view["waiting"], 1);
    assert_eq!(view["counts"]["new"], 3);
    assert_eq!(view["items"][0]["id"], urgent["id"]);
    let mine = expect_json(
        app.get("/api/v1/agents/me/tickets", token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let mine: Vec<&Value> = mine.as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(mine, [&urgent["id"], &old_normal["id"]]);

    // At capacity: 204 with the reason.
    app.patch_agent(agent, json!({"capacity": 2})).await;
    let (status, _, reason) = app.claim(&team.queue_id, token).await;
    assert_eq!((status, reason.as_deref()), (204, Some("at_capacity")));
    // The other agent empties the queue; then 204 without a reason.
    let other = &team.agents[1].1;
    assert_eq!(app.claim(&team.queue_id, other).await.0, 200);
    let (status, _, reason) = app.claim(&team.queue_id, other).await;
    assert_eq!((status, reason), (204, None));
    // Another vendor's queue does not exist for this agent.
    let foreign = app.team("Foreign Co", "pull", 1).await;
    assert_eq!(app.claim(&foreign.queue_id, other).await.0, 404);
    // Off shift: 204 with the reason.
    let resp = app
        .post("/api/v1/calendars", &app.admin)
        .json(&json!({"name": "Never", "timezone": "UTC", "weekly": []}))
        .send()
        .await
        .unwrap();
    let never = expect_json(resp, 201).await;
    app.patch_agent(&team.agents[1].0, json!({"shift_calendar_id": never["id"]}))
        .await;
    app.ticket_in(&team.queue_id, "Late one", "low").await;
    let (status, _, reason) = app.claim(&team.queue_id, other).await;
    assert_eq!((status, reason.as_deref()), (204, Some("off_shift")));
}

#[actix_web::test]
async fn concurrent_claims_from_two_processes_never_give_a_ticket_twice() {
    let app = TestApp::spawn().await;
    let team = app.team("Race Co", "pull", 8).await;
    let second = app.another_process().await;
    let total = 40;
    for n in 0..total {
        app.ticket_in(
            &team.queue_id,
            &format!("Race {n}"),
            if n % 3 == 0 { "high" } else { "normal" },
        )
        .await;
    }
    let mut handles = Vec::new();
    for (index, (agent_id, token)) in team.agents.iter().enumerate() {
        let target = if index % 2 == 0 {
            app.base.clone()
        } else {
            second.base.clone()
        };
        let (client, token, queue, agent_id) = (
            app.client.clone(),
            token.clone(),
            team.queue_id.clone(),
            agent_id.clone(),
        );
        handles.push(actix_web::rt::spawn(async move {
            let mut got = Vec::new();
            loop {
                let resp = client
                    .post(format!("{target}/api/v1/queues/{queue}/claim"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    200 => {
                        let ticket: Value = resp.json().await.unwrap();
                        assert_eq!(ticket["assignee"]["id"], agent_id.as_str());
                        got.push(ticket["id"].as_str().unwrap().to_string());
                    }
                    204 => break,
                    other => panic!("claim answered {other}: {}", resp.text().await.unwrap()),
                }
            }
            got
        }));
    }
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), total, "every ticket claimed once");
    assert_eq!(unique.len(), total, "no ticket given twice");
    // The history agrees: one assignment per ticket.
    let mut assignments: HashMap<String, usize> = HashMap::new();
    for id in &all {
        let count = app
            .events(id)
            .await
            .iter()
            .filter(|e| e["kind"] == "assigned")
            .count();
        assignments.insert(id.clone(), count);
    }
    assert!(assignments.values().all(|n| *n == 1), "{assignments:?}");
}

#[actix_web::test]
async fn release_returns_a_ticket_and_deactivation_releases_all() {
    let app = TestApp::spawn().await;
    let team = app.team("Release Co", "round_robin", 2).await;
    let ticket = app.ticket_in(&team.queue_id, "Hand back", "normal").await;
    let holder = assignee(&ticket).unwrap();
    let holder_token = &team.agents.iter().find(|(id, _)| *id == holder).unwrap().1;
    let other = team.agents.iter().find(|(id, _)| *id != holder).unwrap();
    let id = ticket["id"].as_str().unwrap();
    let resp = app
        .post(&format!("/api/v1/tickets/{id}/release"), &other.1)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(resp, 403).await;
    let resp = app
        .post(&format!("/api/v1/tickets/{id}/release"), holder_token)
        .json(&json!({"note": "Needs a Spanish speaker"}))
        .send()
        .await
        .unwrap();
    let released = expect_json(resp, 200).await;
    // A push queue gives it to someone else at once.
    assert_eq!(assignee(&released).as_deref(), Some(other.0.as_str()));
    let kinds: Vec<String> = app
        .events(id)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.ends_with(&["unassigned".into(), "note_added".into(), "assigned".into()]),
        "{kinds:?}"
    );

    let pull = app.team("Leaver Co", "pull", 1).await;
    let (leaver, leaver_token) = &pull.agents[0];
    app.ticket_in(&pull.queue_id, "One", "normal").await;
    app.ticket_in(&pull.queue_id, "Two", "normal").await;
    assert_eq!(app.claim(&pull.queue_id, leaver_token).await.0, 200);
    assert_eq!(app.claim(&pull.queue_id, leaver_token).await.0, 200);
    let gone = app
        .delete(&format!("/api/v1/agents/{leaver}"), &app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let view = app
        .read(&format!("/api/v1/queues/{}/tickets", pull.queue_id))
        .await;
    assert_eq!(view["waiting"], 2);
    let first = view["items"][0]["id"].as_str().unwrap().to_string();
    let unassigned = app
        .events(&first)
        .await
        .into_iter()
        .find(|e| e["kind"] == "unassigned")
        .unwrap();
    assert_eq!(unassigned["data"]["reason"], "deactivated");
}

#[actix_web::test]
async fn a_ticket_moved_into_a_push_queue_is_assigned_there() {
    let app = TestApp::spawn().await;
    let from = app.team("Pull Side", "pull", 1).await;
    let to = app.team("Push Side", "round_robin", 1).await;
    let ticket = app.ticket_in(&from.queue_id, "Move me", "normal").await;
    assert_eq!(assignee(&ticket), None);
    let moved = app
        .patch_ticket(
            ticket["id"].as_str().unwrap(),
            json!({"queue": to.queue_id}),
        )
        .await;
    assert_eq!(assignee(&moved).as_deref(), Some(to.agents[0].0.as_str()));
}

#[actix_web::test]
async fn overdue_tickets_overflow_once_and_waiting_ones_go_to_agents_coming_on_shift() {
    let app = TestApp::spawn().await;
    let primary = app.team("Primary Desk", "pull", 1).await;
    let backup = app.team("Backup Desk", "round_robin", 1).await;
    let resp = app
        .patch(&format!("/api/v1/queues/{}", primary.queue_id), &app.admin)
        .json(&json!({"overflow_queue": backup.queue_id, "overflow_minutes": 30}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    // The backup agent works Mondays 09:00-17:00 UTC only.
    let resp = app
        .post("/api/v1/calendars", &app.admin)
        .json(&json!({"name": "Backup shift", "timezone": "UTC", "weekly": [{"day": "mon", "start": "09:00", "end": "17:00"}]}))
        .send()
        .await
        .unwrap();
    let shift = expect_json(resp, 201).await;
    app.patch_agent(
        &backup.agents[0].0,
        json!({"shift_calendar_id": shift["id"]}),
    )
    .await;
    app.clock.pin("2026-12-07T07:00:00Z".parse().unwrap());
    let ticket = app
        .ticket_in(&primary.queue_id, "Nobody takes me", "normal")
        .await;
    let id = ticket["id"].as_str().unwrap();
    let second = app.another_process().await;
    second.clock.pin("2026-12-07T07:20:00Z".parse().unwrap());
    app.clock.pin("2026-12-07T07:20:00Z".parse().unwrap());
    assert_eq!(app.run_dispatcher().overflowed, 0, "not due yet");
    // Due: both processes run the dispatcher; the ticket moves once.
    app.clock.pin("2026-12-07T07:31:00Z".parse().unwrap());
    second.clock.pin("2026-12-07T07:31:00Z".parse().unwrap());
    let (a, b) = (app.run_dispatcher(), second.run_dispatcher());
    assert_eq!(a.overflowed + b.overflowed, 1);
    let moved = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(moved["queue"]["id"], backup.queue_id);
    assert!(moved["assignee"].is_null(), "the backup agent is off shift");
    let changes: Vec<Value> = app
        .events(id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "queue_changed")
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["data"]["reason"], "overflow");
    assert_eq!(changes[0]["data"]["handed_off"], true);
    // 09:00: the backup agent comes on shift and the dispatcher assigns.
    app.clock.pin("2026-12-07T09:00:30Z".parse().unwrap());
    assert_eq!(app.run_dispatcher().assigned, 1);
    let now = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(assignee(&now).as_deref(), Some(backup.agents[0].0.as_str()));
    assert_eq!(
        app.run_dispatcher(),
        relay::jobs::dispatcher::DispatchReport::default()
    );
}

#[actix_web::test]
async fn agents_take_and_let_go_of_tickets_but_only_leads_reassign() {
    let app = TestApp::spawn().await;
    let team = app.team("Reassign Co", "pull", 2).await;
    let vendor = app.read(&format!("/api/v1/queues/{}", team.queue_id)).await["vendor_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.create_agent("lead@reassign.example", "lead", Some(&vendor))
        .await;
    let lead = app.token(Role::Lead, Some("lead@reassign.example"));
    let ticket = app.ticket_in(&team.queue_id, "Whose is it", "normal").await;
    let id = ticket["id"].as_str().unwrap();
    let ((first, first_token), (second, second_token)) = (&team.agents[0], &team.agents[1]);
    let assign = |token: String, to: Value| {
        let app = &app;
        async move {
            let current = app.read(&format!("/api/v1/tickets/{id}")).await;
            app.patch(&format!("/api/v1/tickets/{id}"), &token)
                .header("If-Match", format!("\"{}\"", current["version"]))
                .json(&json!({ "assignee": to }))
                .send()
                .await
                .unwrap()
        }
    };
    // An agent gives a ticket to no one but themselves.
    expect_problem(assign(first_token.clone(), json!(second)).await, 403).await;
    let taken = expect_json(assign(first_token.clone(), json!(first)).await, 200).await;
    assert_eq!(assignee(&taken).as_deref(), Some(first.as_str()));
    // ...and neither takes a colleague's ticket nor lets it go for them.
    expect_problem(assign(second_token.clone(), json!(second)).await, 403).await;
    expect_problem(assign(second_token.clone(), Value::Null).await, 403).await;
    // A lead reassigns; the new holder may let go of it.
    let moved = expect_json(assign(lead.clone(), json!(second)).await, 200).await;
    assert_eq!(assignee(&moved).as_deref(), Some(second.as_str()));
    let released = expect_json(assign(second_token.clone(), Value::Null).await, 200).await;
    assert_eq!(assignee(&released), None);
    let assignments = app
        .events(id)
        .await
        .iter()
        .filter(|e| e["kind"] == "assigned")
        .count();
    assert_eq!(assignments, 2, "refused changes leave no events");
}

#[actix_web::test]
async fn new_agents_get_the_configured_capacity_unless_they_name_one() {
    let app = TestApp::spawn_with(|s| s.routing.default_capacity = 3).await;
    let vendor = app.create_vendor("Capacity Co", "UTC").await;
    let vendor_id = vendor["id"].as_str().unwrap();
    let plain = app
        .create_agent("plain@capacity.example", "agent", Some(vendor_id))
        .await;
    assert_eq!(plain["capacity"], 3);
    let resp = app
        .post("/api/v1/agents", &app.admin)
        .json(&json!({"name": "Busy", "email": "busy@capacity.example", "role": "agent", "vendor_id": vendor_id, "capacity": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, 201).await["capacity"], 7);
}

/// Each agent's `open_tickets` as the database keeps it, beside a count of
/// the open tickets they hold.
fn loads_kept_and_counted(app: &TestApp) -> Vec<(String, i32, i64)> {
    use diesel::prelude::*;
    use relay::db::schema::{agents, tickets};
    let mut conn = app.db.get().unwrap();
    let kept: Vec<(String, i32)> = agents::table
        .select((agents::id, agents::open_tickets))
        .order(agents::id)
        .load(&mut *conn)
        .unwrap();
    kept.into_iter()
        .map(|(id, open)| {
            let counted: i64 = tickets::table
                .filter(tickets::assignee_id.eq(&id))
                .filter(tickets::status.eq_any(["new", "open", "pending", "on_hold"]))
                .count()
                .get_result(&mut *conn)
                .unwrap();
            (id, open, counted)
        })
        .collect()
}

#[actix_web::test]
async fn the_load_the_database_keeps_matches_the_tickets_held_through_every_change() {
    let app = TestApp::spawn().await;
    let team = app.team("Load Co", "round_robin", 3).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let ticket = app
            .ticket_in(&team.queue_id, &format!("T{n}"), "normal")
            .await;
        ids.push(ticket["id"].as_str().unwrap().to_string());
    }
    // Statuses in and out of the open set, a reassignment, a release, a
    // claim, an unassignment and a deactivation.
    app.set_status(&ids[0], "pending").await;
    app.set_status(&ids[1], "solved").await;
    app.set_status(&ids[1], "open").await;
    app.set_status(&ids[2], "solved").await;
    app.patch_ticket(&ids[3], json!({"assignee": team.agents[0].0}))
        .await;
    // Out of every queue, a vendor's agent no longer holds it.
    let unrouted = app.patch_ticket(&ids[3], json!({"queue": null})).await;
    assert_eq!(assignee(&unrouted), None);
    let last = app.events(&ids[3]).await.pop().unwrap();
    assert_eq!(
        (&last["kind"], &last["data"]["reason"]),
        (&json!("unassigned"), &json!("handed_off"))
    );
    app.patch_ticket(&ids[4], json!({"assignee": null})).await;
    let holder = assignee(&app.read(&format!("/api/v1/tickets/{}", ids[5])).await).unwrap();
    let token = &team.agents.iter().find(|(id, _)| *id == holder).unwrap().1;
    let resp = app
        .post(&format!("/api/v1/tickets/{}/release", ids[5]), token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    let pull = app.team("Load Pull Co", "pull", 1).await;
    app.ticket_in(&pull.queue_id, "Claimed", "high").await;
    assert_eq!(app.claim(&pull.queue_id, &pull.agents[0].1).await.0, 200);
    let gone = app
        .delete(&format!("/api/v1/agents/{}", team.agents[1].0), &app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);

    let loads = loads_kept_and_counted(&app);
    assert!(loads.iter().any(|(_, _, counted)| *counted > 0));
    for (agent, kept, counted) in loads {
        assert_eq!(i64::from(kept), counted, "agent {agent}");
    }
}

/// A 24/7 policy for every ticket whose subject does not say "no sla":
/// first response in 60 minutes when urgent, 240 when high and 30 when
/// normal (so due times and priorities disagree), no clock when low.
async fn due_order_policy(app: &TestApp) -> Value {
    app.create_policy(json!({
        "name": "Due order",
        "position": 1,
        "conditions": {"all": [{"field": "subject", "op": "not_contains", "value": "no sla"}]},
        "targets": {
            "urgent": {"first_response": 60},
            "high": {"first_response": 240},
            "normal": {"first_response": 30},
        },
    }))
    .await
}

fn due_at(ticket: &Value) -> &Value {
    &ticket["sla"]["due_at"]
}

#[actix_web::test]
async fn claims_take_the_earliest_running_due_time_first_as_priority_changes_and_recomputes_move_it(
) {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    let policy = due_order_policy(&app).await;
    let team = app.team("Due Co", "pull", 1).await;
    let token = &team.agents[0].1;
    let minute = chrono::TimeDelta::minutes(1);
    let urgent = app.ticket_in(&team.queue_id, "Urgent", "urgent").await;
    app.clock.advance(minute);
    let normal = app.ticket_in(&team.queue_id, "Normal", "normal").await;
    app.clock.advance(minute);
    let high = app.ticket_in(&team.queue_id, "High", "high").await;
    app.clock.advance(minute);
    let low = app.ticket_in(&team.queue_id, "Low", "low").await;
    app.clock.advance(minute);
    let unpoliced = app
        .ticket_in(&team.queue_id, "Urgent, no SLA", "urgent")
        .await;
    assert_eq!(due_at(&urgent), "2026-12-07T11:00:00Z");
    assert_eq!(due_at(&normal), "2026-12-07T10:31:00Z");
    assert_eq!(due_at(&high), "2026-12-07T14:02:00Z");
    assert!(due_at(&low).is_null(), "{low}");
    assert!(unpoliced["sla"].is_null(), "{unpoliced}");

    // High becomes normal: its start and the time used stay, the normal
    // target applies (10:02 + 30 min), and it moves ahead of the urgent one.
    let changed = app
        .patch_ticket(high["id"].as_str().unwrap(), json!({"priority": "normal"}))
        .await;
    assert_eq!(due_at(&changed), "2026-12-07T10:32:00Z");
    // A policy edit moves every running normal clock once recomputed:
    // 90 minutes, so both normals fall behind the urgent one again.
    let resp = app
        .patch(
            &format!("/api/v1/sla/policies/{}", policy["id"].as_str().unwrap()),
            &app.admin,
        )
        .json(&json!({"targets": {
            "urgent": {"first_response": 60},
            "high": {"first_response": 240},
            "normal": {"first_response": 90},
        }}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    assert_eq!(app.recompute_sla().await["tickets"], 5);

    // Claims: the earliest due time first, then the tickets without a
    // running clock by priority (urgent before low).
    let mut claimed = Vec::new();
    for _ in 0..5 {
        let (status, ticket, _) = app.claim(&team.queue_id, token).await;
        assert_eq!(status, 200);
        let ticket = ticket.unwrap();
        if !due_at(&ticket).is_null() {
            assert_eq!(ticket["sla"]["state"], "running", "{ticket}");
        }
        claimed.push((
            ticket["subject"].as_str().unwrap().to_string(),
            due_at(&ticket).clone(),
        ));
    }
    let expected = [
        ("Urgent", json!("2026-12-07T11:00:00Z")),
        ("Normal", json!("2026-12-07T11:31:00Z")),
        ("High", json!("2026-12-07T11:32:00Z")),
        ("Urgent, no SLA", Value::Null),
        ("Low", Value::Null),
    ];
    let expected: Vec<(String, Value)> = expected
        .into_iter()
        .map(|(subject, due)| (subject.to_string(), due))
        .collect();
    assert_eq!(claimed, expected);
}

#[actix_web::test]
async fn a_breached_ticket_is_claimed_before_one_merely_due_and_skills_keep_the_due_order() {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    due_order_policy(&app).await;
    let team = app.team("Skilled Due Co", "pull", 1).await;
    let resp = app
        .patch(&format!("/api/v1/queues/{}", team.queue_id), &app.admin)
        .json(&json!({"skill_matching": true}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 200).await;
    let (agent, token) = &team.agents[0];
    app.patch_agent(agent, json!({"skills": ["billing"]})).await;
    let ticket = |subject: &str, priority: &str, tags: Value| {
        json!({"subject": subject, "body": "Please help.", "customer": {"email": "c@example.com"},
               "queue": team.queue_id, "priority": priority, "tags": tags})
    };
    let breached = app
        .create_ticket(ticket("Overdue", "normal", json!(["billing"])))
        .await;
    app.clock.advance(chrono::TimeDelta::minutes(45));
    // Due before the urgent one, but the agent lacks its skill.
    let unfit = app
        .create_ticket(ticket("Shipping", "normal", json!(["shipping"])))
        .await;
    let urgent = app
        .create_ticket(ticket("Urgent", "urgent", json!(["billing"])))
        .await;
    let later = app
        .create_ticket(ticket("Later", "high", json!(["billing"])))
        .await;
    assert_eq!(due_at(&unfit), "2026-12-07T11:15:00Z");
    let mut order = Vec::new();
    for _ in 0..3 {
        let (status, claimed, _) = app.claim(&team.queue_id, token).await;
        assert_eq!(status, 200);
        let claimed = claimed.unwrap();
        order.push(claimed["id"].clone());
        if claimed["id"] == breached["id"] {
            // Ran out at 10:30, before the scanner said so.
            assert_eq!(claimed["sla"]["state"], "breached");
        }
    }
    assert_eq!(
        order,
        [
            breached["id"].clone(),
            urgent["id"].clone(),
            later["id"].clone()
        ]
    );
    // The one without the skill still waits for someone who has it.
    let (status, _, _) = app.claim(&team.queue_id, token).await;
    assert_eq!(status, 204);
}

#[actix_web::test]
async fn push_assignment_offers_waiting_tickets_in_due_order() {
    let app = TestApp::spawn().await;
    app.clock.pin("2026-12-07T10:00:00Z".parse().unwrap());
    due_order_policy(&app).await;
    let team = app.team("Push Due Co", "round_robin", 1).await;
    let (agent, token) = &team.agents[0];
    app.patch_agent(agent, json!({"capacity": 1})).await;
    let availability = |available: bool| {
        app.client
            .put(app.url("/api/v1/agents/me/availability"))
            .bearer_auth(token)
            .json(&json!({"available": available}))
            .send()
    };
    expect_json(availability(false).await.unwrap(), 200).await;
    // Oldest first would give the urgent ticket (due 11:00); the normal
    // one, a minute younger, is due first (10:31).
    let urgent = app.ticket_in(&team.queue_id, "Urgent", "urgent").await;
    app.clock.advance(chrono::TimeDelta::minutes(1));
    let normal = app.ticket_in(&team.queue_id, "Normal", "normal").await;
    assert_eq!((assignee(&urgent), assignee(&normal)), (None, None));
    expect_json(availability(true).await.unwrap(), 200).await;
    let read = |t: &Value| format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
    assert_eq!(
        assignee(&app.read(&read(&normal)).await).as_deref(),
        Some(agent.as_str())
    );
    assert_eq!(assignee(&app.read(&read(&urgent)).await), None);
}
