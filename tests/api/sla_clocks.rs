//! SLA clocks end to end (issue 12's "Tests" list): DST changes, holidays,
//! pauses, re-opens, next-response cycles, what does and does not answer a
//! customer (notes, acknowledgements, agents' emailed replies), priority
//! changes, follow-the-sun hand-offs and policy edits with recompute. The
//! real app on port 0, on a pinned clock, through the HTTP API and the real
//! email door. Every expected instant is worked out by hand next to it.

use crate::common::*;
use relay::domain::Role;
use serde_json::{json, Value};

const WEEKDAYS: [&str; 5] = ["mon", "tue", "wed", "thu", "fri"];
const EVERY_DAY: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A calendar open `start`–`end` (wall clock in `zone`) on `days`.
fn calendar(name: &str, zone: &str, days: &[&str], start: &str, end: &str) -> Value {
    let weekly: Vec<Value> = days
        .iter()
        .map(|day| json!({"day": day, "start": start, "end": end}))
        .collect();
    json!({"name": name, "timezone": zone, "weekly": weekly, "holidays": []})
}

/// Mon–Fri 09:00–17:00 in `zone`.
fn office(zone: &str) -> Value {
    calendar(&format!("{zone} office"), zone, &WEEKDAYS, "09:00", "17:00")
}

/// Every day 00:00–24:00 in `zone`: open at every instant, so business
/// time is real elapsed time, and a DST day is 23 or 25 hours long.
fn all_day(zone: &str) -> Value {
    calendar(
        &format!("{zone} all day"),
        zone,
        &EVERY_DAY,
        "00:00",
        "24:00",
    )
}

fn pin(app: &TestApp, at: &str) {
    app.clock.pin(at.parse().unwrap());
}

fn clock<'a>(sla: &'a Value, metric: &str, cycle: i64) -> &'a Value {
    sla["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == metric && c["cycle"] == cycle)
        .unwrap_or_else(|| panic!("no {metric} clock {cycle} in {sla}"))
}

fn clocks_of<'a>(sla: &'a Value, metric: &str) -> Vec<&'a Value> {
    sla["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metric"] == metric)
        .collect()
}

/// An agent's (the admin's) message through the API: a public reply or an
/// internal note.
async fn agent_message(app: &TestApp, ticket: &str, public: bool) {
    let resp = app
        .post(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
        .json(&json!({"body": "On it.", "public": public}))
        .send()
        .await
        .unwrap();
    expect_json(resp, 201).await;
}

/// Mail to ticket `number`'s signed reply address (what its mail's Reply-To
/// says), delivered through the inbound door; the door's answer.
async fn mail_to_ticket(
    app: &TestApp,
    number: i64,
    from: &str,
    message_id: &str,
    extra_headers: &str,
) -> Value {
    let reply_to = app.reply_address(number);
    let raw = format!(
        "From: {from}\r\nTo: {reply_to}\r\nSubject: Re: ticket\r\nMessage-ID: <{message_id}>\r\n{extra_headers}\r\nA message about the ticket.\r\n"
    )
    .into_bytes();
    let (status, body) = app.deliver_mail(raw).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A customer's (non-automatic) mail to the ticket's reply address.
async fn customer_mails(app: &TestApp, number: i64, from: &str, message_id: &str) {
    let body = mail_to_ticket(app, number, from, message_id, "").await;
    assert_eq!(body["outcome"], "appended", "{body}");
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

fn ids(values: &[&Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

fn clock_events(clock: &Value) -> Vec<String> {
    clock["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

/// Notification mails queued for a ticket, by address, in order.
fn notifications(app: &TestApp, ticket: &str) -> Vec<String> {
    app.write(|w| {
        use diesel::prelude::*;
        use relay::db::schema::outbox;
        Ok(outbox::table
            .filter(outbox::ticket_id.eq(ticket))
            .filter(outbox::kind.eq("notification"))
            .order(outbox::id.asc())
            .select(outbox::to_address.assume_not_null())
            .load::<String>(&mut **w)?)
    })
}

fn outbox_kinds(app: &TestApp, ticket: &str) -> Vec<String> {
    app.write(|w| {
        use diesel::prelude::*;
        use relay::db::schema::outbox;
        Ok(outbox::table
            .filter(outbox::ticket_id.eq(ticket))
            .order(outbox::id.asc())
            .select(outbox::kind)
            .load::<String>(&mut **w)?)
    })
}

/// The ticket's `sla` summary as `GET /tickets/{id}` shows it.
async fn summary(app: &TestApp, id: &str) -> Value {
    app.read(&format!("/api/v1/tickets/{id}")).await["sla"].clone()
}

fn id_of(ticket: &Value) -> String {
    ticket["id"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------- DST

#[actix_web::test]
async fn an_all_day_new_york_calendar_counts_the_23_hour_spring_sunday_as_23_hours() {
    let app = TestApp::spawn().await;
    // Saturday 13 March 2027, 12:00 EST (UTC-5) = 17:00Z. DST starts on
    // Sunday 14 March at 02:00 EST, which becomes 03:00 EDT (UTC-4).
    pin(&app, "2027-03-13T17:00:00Z");
    let cal = app.create_calendar(all_day("America/New_York")).await;
    app.create_policy(json!({
        "name": "All day New York",
        "calendar_id": cal["id"],
        "targets": {"normal": {"first_response": 1440, "resolution": 2880}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Spring", "spring@example.com"))
        .await;
    let id = id_of(&ticket);
    // The calendar's open intervals are [Sat 00:00 EST, Sun 00:00 EST) =
    // [05:00Z, 05:00Z) and [Sun 00:00 EST, Mon 00:00 EDT) = [Sun 05:00Z,
    // Mon 04:00Z) (23 real hours), ... : open at every instant.
    // First response, 24 h: Sat 12:00 -> 24:00 EST is 12 h (to Sun 05:00Z),
    // 12 more real hours -> Sun 17:00Z = 13:00 EDT (a wall-clock count of 24
    // hours a day would say 12:00 EDT = 16:00Z).
    // Resolution, 48 h of real time: Mon 15 March 17:00Z = 13:00 EDT.
    assert_eq!(ticket["sla"]["due_at"], "2027-03-14T17:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(sla["calendar"]["timezone"], "America/New_York");
    assert_eq!(
        clock(&sla, "first_response", 1)["due_at"],
        "2027-03-14T17:00:00Z"
    );
    assert_eq!(
        clock(&sla, "resolution", 1)["due_at"],
        "2027-03-15T17:00:00Z"
    );

    // Sunday 12:00 EDT = 16:00Z: 12 h on Saturday + 00:00 EST -> 12:00 EDT
    // on Sunday, 11 real hours (the 02:00-03:00 hour does not exist) =
    // 23 h = 82,800 s.
    pin(&app, "2027-03-14T16:00:00Z");
    let sla = app.sla_of(&id).await;
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["business_seconds_used"], 82_800);
    assert_eq!(first["state"], "running");
    assert_eq!(first["due_at"], "2027-03-14T17:00:00Z");

    // One second before the due time it still runs; one second after, the
    // scanner records the breach at 17:00:00Z exactly.
    pin(&app, "2027-03-14T16:59:59Z");
    assert_eq!(
        clock(&app.sla_of(&id).await, "first_response", 1)["state"],
        "running"
    );
    pin(&app, "2027-03-14T17:00:01Z");
    let report = app.run_sla_scanner();
    assert_eq!((report.breaches, report.warnings), (1, 0), "{report:?}");
    let events = app.events(&id).await;
    let breaches = of_kind(&events, "sla.breached");
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0]["data"]["metric"], "first_response");
    assert_eq!(breaches[0]["data"]["breached_at"], "2027-03-14T17:00:00Z");
}

#[actix_web::test]
async fn new_york_office_hours_across_the_spring_change_open_at_nine_edt() {
    let app = TestApp::spawn().await;
    // Friday 12 March 2027, 16:00 EST = 21:00Z; Monday 15 March is EDT.
    pin(&app, "2027-03-12T21:00:00Z");
    let cal = app.create_calendar(office("America/New_York")).await;
    app.create_policy(json!({
        "name": "New York office",
        "calendar_id": cal["id"],
        "targets": {"normal": {"first_response": 120, "resolution": 480}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Friday", "fri@example.com"))
        .await;
    let id = id_of(&ticket);
    // First response, 2 h: Fri 16:00-17:00 EST (1 h), then Monday opens at
    // 09:00 EDT = 13:00Z (not 14:00Z as EST would put it): + 1 h = 14:00Z.
    // Resolution, 8 h: 1 h Friday + 7 h Monday -> 16:00 EDT = 20:00Z.
    assert_eq!(ticket["sla"]["due_at"], "2027-03-15T14:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(
        clock(&sla, "first_response", 1)["due_at"],
        "2027-03-15T14:00:00Z"
    );
    assert_eq!(
        clock(&sla, "resolution", 1)["due_at"],
        "2027-03-15T20:00:00Z"
    );
    // Monday 13:30Z = 09:30 EDT: 1 h Friday + 30 min = 5,400 s (on EST
    // it would be 08:30, still closed: 3,600).
    pin(&app, "2027-03-15T13:30:00Z");
    assert_eq!(
        clock(&app.sla_of(&id).await, "first_response", 1)["business_seconds_used"],
        5_400
    );
}

#[actix_web::test]
async fn an_all_day_berlin_calendar_counts_the_25_hour_autumn_sunday_as_25_hours() {
    let app = TestApp::spawn().await;
    // Saturday 24 October 2026, 12:00 CEST (UTC+2) = 10:00Z. DST ends on
    // Sunday 25 October at 03:00 CEST, which becomes 02:00 CET (UTC+1).
    pin(&app, "2026-10-24T10:00:00Z");
    let cal = app.create_calendar(all_day("Europe/Berlin")).await;
    app.create_policy(json!({
        "name": "All day Berlin",
        "calendar_id": cal["id"],
        "targets": {"normal": {"first_response": 1440, "resolution": 2880}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Autumn", "autumn@example.com"))
        .await;
    let id = id_of(&ticket);
    // Sunday is [Sun 00:00 CEST, Mon 00:00 CET) = [Sat 22:00Z, Sun 23:00Z):
    // 25 real hours. First response, 24 h: Sat 12:00 -> 24:00 CEST is 12 h
    // (to Sat 22:00Z), 12 more real hours -> Sun 10:00Z = 11:00 CET (a
    // wall-clock count would say 12:00 CET = 11:00Z).
    // Resolution, 48 h real: Mon 26 October 10:00Z = 11:00 CET.
    assert_eq!(ticket["sla"]["due_at"], "2026-10-25T10:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(sla["calendar"]["timezone"], "Europe/Berlin");
    assert_eq!(
        clock(&sla, "first_response", 1)["due_at"],
        "2026-10-25T10:00:00Z"
    );
    assert_eq!(
        clock(&sla, "resolution", 1)["due_at"],
        "2026-10-26T10:00:00Z"
    );
    // Sunday 12:00 CET = 11:00Z: 12 h Saturday + 13 real hours Sunday
    // (00:00 CEST = Sat 22:00Z -> Sun 11:00Z) = 25 h = 90,000 s, and the
    // first response breached at 10:00Z.
    pin(&app, "2026-10-25T11:00:00Z");
    let sla = app.sla_of(&id).await;
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["business_seconds_used"], 90_000);
    assert_eq!(resolution["state"], "running");
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["state"], "breached");
    assert_eq!(first["breached_at"], "2026-10-25T10:00:00Z");
}

#[actix_web::test]
async fn berlin_office_hours_across_the_autumn_change_open_at_nine_cet() {
    let app = TestApp::spawn().await;
    // Friday 23 October 2026, 16:00 CEST = 14:00Z; Monday 26 is CET.
    pin(&app, "2026-10-23T14:00:00Z");
    let cal = app.create_calendar(office("Europe/Berlin")).await;
    app.create_policy(json!({
        "name": "Berlin office",
        "calendar_id": cal["id"],
        "targets": {"normal": {"first_response": 120, "resolution": 480}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Freitag", "fr@example.de"))
        .await;
    let id = id_of(&ticket);
    // First response, 2 h: Fri 16:00-17:00 CEST (14:00-15:00Z), then Monday
    // opens at 09:00 CET = 08:00Z (CEST would say 07:00Z): + 1 h = 09:00Z.
    // Resolution, 8 h: 1 h + 7 h Monday -> 16:00 CET = 15:00Z.
    assert_eq!(ticket["sla"]["due_at"], "2026-10-26T09:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(
        clock(&sla, "first_response", 1)["due_at"],
        "2026-10-26T09:00:00Z"
    );
    assert_eq!(
        clock(&sla, "resolution", 1)["due_at"],
        "2026-10-26T15:00:00Z"
    );
    // Monday 07:30Z = 08:30 CET, still closed (on CEST it would be 09:30):
    // only Friday's hour, 3,600 s.
    pin(&app, "2026-10-26T07:30:00Z");
    assert_eq!(
        clock(&app.sla_of(&id).await, "first_response", 1)["business_seconds_used"],
        3_600
    );
}

// ---------------------------------------------------------------- holiday

#[actix_web::test]
async fn a_holiday_on_the_next_working_day_is_closed_all_day() {
    let app = TestApp::spawn().await;
    // Thursday 24 December 2026, 16:00 EST = 21:00Z; Friday 25 is a holiday.
    pin(&app, "2026-12-24T21:00:00Z");
    let mut body = office("America/New_York");
    body["holidays"] = json!(["2026-12-25"]);
    let cal = app.create_calendar(body).await;
    app.create_policy(json!({
        "name": "Office with holidays",
        "calendar_id": cal["id"],
        "targets": {"normal": {"first_response": 120, "resolution": 480}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Christmas Eve", "eve@example.com"))
        .await;
    let id = id_of(&ticket);
    // First response, 2 h: Thu 16:00-17:00 EST (1 h); Fri 25 closed all day,
    // Sat/Sun closed; Mon 28 opens 09:00 EST = 14:00Z, + 1 h = 15:00Z
    // (without the holiday: Fri 25 15:00Z).
    // Resolution, 8 h: 1 h Thursday + 7 h Monday -> 16:00 EST = 21:00Z.
    assert_eq!(ticket["sla"]["due_at"], "2026-12-28T15:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(
        clock(&sla, "first_response", 1)["due_at"],
        "2026-12-28T15:00:00Z"
    );
    assert_eq!(
        clock(&sla, "resolution", 1)["due_at"],
        "2026-12-28T21:00:00Z"
    );
    // Friday 25 at noon (17:00Z), inside what would be working hours:
    // nothing more than Thursday's hour is used.
    pin(&app, "2026-12-25T17:00:00Z");
    let first = clock(&app.sla_of(&id).await, "first_response", 1).clone();
    assert_eq!(first["business_seconds_used"], 3_600);
    assert_eq!(first["state"], "running");
    // Monday 09:30 EST = 14:30Z: 1 h + 30 min.
    pin(&app, "2026-12-28T14:30:00Z");
    assert_eq!(
        clock(&app.sla_of(&id).await, "first_response", 1)["business_seconds_used"],
        5_400
    );
}

// ---------------------------------------------------------------- pauses

#[actix_web::test]
async fn pending_pauses_the_clocks_and_a_customer_email_resumes_them() {
    let app = TestApp::spawn().await;
    // Monday 7 December 2026, 09:00 EST = 14:00Z, New York office hours.
    pin(&app, "2026-12-07T14:00:00Z");
    let cal = app.create_calendar(office("America/New_York")).await;
    app.create_policy(json!({
        "name": "Office",
        "calendar_id": cal["id"],
        "targets": {"normal": {"first_response": 60, "next_response": 120, "resolution": 480}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Waiting on you", "ann@example.com"))
        .await;
    let (id, number) = (id_of(&ticket), ticket["number"].as_i64().unwrap());
    // Resolution without a pause: 09:00 + 8 h = 17:00 EST = 22:00Z.
    assert_eq!(
        clock(&app.sla_of(&id).await, "resolution", 1)["due_at"],
        "2026-12-07T22:00:00Z"
    );

    // 10:00 EST (15:00Z): the agent answers and asks; the ticket waits on
    // the customer.
    pin(&app, "2026-12-07T15:00:00Z");
    agent_message(&app, &id, true).await;
    app.set_status(&id, "pending").await;

    // Tuesday 10:00 EST (15:00Z): paused, no due time, 1 h used.
    pin(&app, "2026-12-08T15:00:00Z");
    let sla = app.sla_of(&id).await;
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["state"], "paused");
    assert_eq!(resolution["due_at"], Value::Null);
    assert_eq!(resolution["business_seconds_used"], 3_600);
    assert_eq!(
        resolution["pauses"],
        json!([{"from": "2026-12-07T15:00:00Z", "to": null}])
    );
    // The first response stopped before the pause and holds no pause.
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["state"], "met");
    assert_eq!(first["stopped_at"], "2026-12-07T15:00:00Z");
    assert_eq!(first["pauses"], json!([]));

    // Tuesday 11:00 EST (16:00Z): the customer answers by email to the
    // ticket's reply address; pending -> open, the clock resumes.
    pin(&app, "2026-12-08T16:00:00Z");
    customer_mails(&app, number, "ann@example.com", "ann-1@example.com").await;
    let read = app.read(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(read["status"], "open");
    let sla = app.sla_of(&id).await;
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["state"], "running");
    assert_eq!(
        resolution["pauses"],
        json!([{"from": "2026-12-07T15:00:00Z", "to": "2026-12-08T16:00:00Z"}])
    );
    assert_eq!(resolution["business_seconds_used"], 3_600);
    // 7 h left from Tue 11:00 EST: 11:00-17:00 (6 h), Wed 09:00 + 1 h =
    // Wed 10:00 EST = 15:00Z. The same as the old due time (Mon 17:00) moved
    // out by the paused business time (Mon 10-17 = 7 h, Tue 9-11 = 2 h:
    // 9 h): Tue 09-17 (8 h) + Wed 1 h = Wed 10:00.
    assert_eq!(resolution["due_at"], "2026-12-09T15:00:00Z");
    // The pause began and ended with these status changes.
    let events = app.events(&id).await;
    let statuses = ids(&of_kind(&events, "status_changed"));
    // new -> open (first reply), open -> pending, pending -> open.
    assert_eq!(statuses.len(), 3, "{events:?}");
    let moved = clock_events(resolution);
    assert!(moved.contains(&statuses[1]), "{moved:?} {statuses:?}");
    assert!(moved.contains(&statuses[2]), "{moved:?} {statuses:?}");
    // The customer's message after the agent's reply starts next response
    // cycle 1: 2 h from Tue 11:00 EST = 13:00 EST = 18:00Z.
    let next = clock(&sla, "next_response", 1);
    assert_eq!(next["started_at"], "2026-12-08T16:00:00Z");
    assert_eq!(next["due_at"], "2026-12-08T18:00:00Z");
    assert_eq!(next["pauses"], json!([]));
    // The summary: the earliest running due time.
    assert_eq!(read["sla"]["due_at"], "2026-12-08T18:00:00Z");
}

#[actix_web::test]
async fn a_solved_ticket_reopened_by_the_customer_resumes_resolution_without_the_solved_time() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T10:00:00Z");
    app.create_policy(json!({
        "name": "24/7",
        "targets": {"normal": {"first_response": 60, "resolution": 240}}
    }))
    .await;
    let created = app
        .create_public_ticket(ticket_body("Broken again", "bea@example.com"))
        .await;
    let id = id_of(&created);
    let page = created["access_url"].as_str().unwrap().to_string();
    // Resolution: 10:00 + 4 h = 14:00Z.
    assert_eq!(
        clock(&app.sla_of(&id).await, "resolution", 1)["due_at"],
        "2026-12-07T14:00:00Z"
    );
    pin(&app, "2026-12-07T10:30:00Z");
    agent_message(&app, &id, true).await;
    pin(&app, "2026-12-07T11:00:00Z");
    app.set_status(&id, "solved").await;

    // 12:00: stopped at 11:00 after 1 h, within its 4 h.
    pin(&app, "2026-12-07T12:00:00Z");
    let resolution = clock(&app.sla_of(&id).await, "resolution", 1).clone();
    assert_eq!(resolution["state"], "met");
    assert_eq!(resolution["stopped_at"], "2026-12-07T11:00:00Z");
    assert_eq!(resolution["business_seconds_used"], 3_600);

    // 13:00: the customer writes on their page; solved -> open.
    pin(&app, "2026-12-07T13:00:00Z");
    let resp = app
        .client
        .post(&page)
        .form(&[("body", "It broke again.")])
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success() || resp.status().is_redirection(),
        "{}",
        resp.status()
    );
    assert_eq!(
        app.read(&format!("/api/v1/tickets/{id}")).await["status"],
        "open"
    );

    // 14:00: the same clock runs again: 1 h before solving + 1 h since the
    // re-open = 7,200 s (the 2 h solved do not count); 3 h were left at
    // 13:00, so due 16:00Z (not the 14:00Z of a clock that kept running).
    pin(&app, "2026-12-07T14:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(clocks_of(&sla, "resolution").len(), 1);
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["state"], "running");
    assert_eq!(resolution["started_at"], "2026-12-07T10:00:00Z");
    assert_eq!(resolution["stopped_at"], Value::Null);
    assert_eq!(resolution["business_seconds_used"], 7_200);
    assert_eq!(resolution["due_at"], "2026-12-07T16:00:00Z");
    assert_eq!(resolution["pauses"], json!([]));

    // Solved again at 15:00: met, 3 h used in all.
    pin(&app, "2026-12-07T15:00:00Z");
    app.set_status(&id, "solved").await;
    let resolution = clock(&app.sla_of(&id).await, "resolution", 1).clone();
    assert_eq!(resolution["state"], "met");
    assert_eq!(resolution["stopped_at"], "2026-12-07T15:00:00Z");
    assert_eq!(resolution["business_seconds_used"], 10_800);
}

// ---------------------------------------------------------------- responses

#[actix_web::test]
async fn each_customer_message_after_an_agent_reply_starts_a_next_response_cycle() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T10:00:00Z");
    app.create_policy(json!({
        "name": "24/7",
        "targets": {"normal": {"first_response": 60, "next_response": 30}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Back and forth", "cy@example.com"))
        .await;
    let (id, number) = (id_of(&ticket), ticket["number"].as_i64().unwrap());

    // 10:05: a customer message before any agent reply starts nothing.
    pin(&app, "2026-12-07T10:05:00Z");
    customer_mails(&app, number, "cy@example.com", "cy-0@example.com").await;
    assert!(clocks_of(&app.sla_of(&id).await, "next_response").is_empty());

    // 10:10: the first response, met after 10 min.
    pin(&app, "2026-12-07T10:10:00Z");
    agent_message(&app, &id, true).await;
    let first = clock(&app.sla_of(&id).await, "first_response", 1).clone();
    assert_eq!(first["state"], "met");
    assert_eq!(first["business_seconds_used"], 600);

    // 10:20: the customer answers: cycle 1, due 10:20 + 30 min = 10:50.
    pin(&app, "2026-12-07T10:20:00Z");
    customer_mails(&app, number, "cy@example.com", "cy-1@example.com").await;
    // 10:25: another message in the same round starts nothing.
    pin(&app, "2026-12-07T10:25:00Z");
    customer_mails(&app, number, "cy@example.com", "cy-2@example.com").await;
    let sla = app.sla_of(&id).await;
    assert_eq!(clocks_of(&sla, "next_response").len(), 1);
    let one = clock(&sla, "next_response", 1);
    assert_eq!(one["started_at"], "2026-12-07T10:20:00Z");
    assert_eq!(one["due_at"], "2026-12-07T10:50:00Z");
    assert_eq!(one["target_seconds"], 1_800);
    assert_eq!(one["state"], "running");

    // 10:40: the agent answers: cycle 1 met after 20 min.
    pin(&app, "2026-12-07T10:40:00Z");
    agent_message(&app, &id, true).await;
    // 10:45: an out-of-office from the customer is no customer message.
    pin(&app, "2026-12-07T10:45:00Z");
    let auto = mail_to_ticket(
        &app,
        number,
        "cy@example.com",
        "cy-away@example.com",
        "Auto-Submitted: auto-replied\r\n",
    )
    .await;
    assert_eq!(auto["outcome"], "appended", "{auto}");
    let sla = app.sla_of(&id).await;
    assert_eq!(clocks_of(&sla, "next_response").len(), 1, "{sla}");
    let one = clock(&sla, "next_response", 1);
    assert_eq!(one["state"], "met");
    assert_eq!(one["stopped_at"], "2026-12-07T10:40:00Z");
    assert_eq!(one["business_seconds_used"], 1_200);

    // 11:00: the customer writes again: cycle 2, due 11:30.
    pin(&app, "2026-12-07T11:00:00Z");
    customer_mails(&app, number, "cy@example.com", "cy-3@example.com").await;
    let two = clock(&app.sla_of(&id).await, "next_response", 2).clone();
    assert_eq!(two["started_at"], "2026-12-07T11:00:00Z");
    assert_eq!(two["due_at"], "2026-12-07T11:30:00Z");
    assert_eq!(two["state"], "running");

    // 11:45: cycle 2 ran out at 11:30; the scanner says so once, for cycle 2.
    pin(&app, "2026-12-07T11:45:00Z");
    let two = clock(&app.sla_of(&id).await, "next_response", 2).clone();
    assert_eq!(two["state"], "breached");
    assert_eq!(two["breached_at"], "2026-12-07T11:30:00Z");
    let report = app.run_sla_scanner();
    assert_eq!(report.breaches, 1, "{report:?}");
    let events = app.events(&id).await;
    let breaches = of_kind(&events, "sla.breached");
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0]["data"]["metric"], "next_response");
    assert_eq!(breaches[0]["data"]["cycle"], 2);
    assert_eq!(breaches[0]["data"]["breached_at"], "2026-12-07T11:30:00Z");

    // 11:50: the late reply stops it; it stays breached; cycle 1 stays met.
    pin(&app, "2026-12-07T11:50:00Z");
    agent_message(&app, &id, true).await;
    let sla = app.sla_of(&id).await;
    let two = clock(&sla, "next_response", 2);
    assert_eq!(two["state"], "breached");
    assert_eq!(two["stopped_at"], "2026-12-07T11:50:00Z");
    assert_eq!(two["breached_at"], "2026-12-07T11:30:00Z");
    assert_eq!(clock(&sla, "next_response", 1)["state"], "met");
}

#[actix_web::test]
async fn neither_an_internal_note_nor_the_automatic_acknowledgement_is_a_first_response() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T10:00:00Z");
    app.create_policy(json!({
        "name": "24/7",
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    // One ticket by email, one from the web form: both are acknowledged.
    let (status, created) = app
        .deliver_mail(
            b"From: marta@contoso.pl\r\nTo: support@relay.localhost\r\nSubject: Billed twice\r\nMessage-ID: <first@contoso.pl>\r\n\r\nWe were billed twice.\r\n"
                .to_vec(),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let by_mail = created["ticket"]["id"].as_str().unwrap().to_string();
    let resp = app
        .client
        .post(app.url("/support"))
        .form(&[
            ("name", "Ana Cruz"),
            ("email", "ana@example.com"),
            ("subject", "Parcel missing"),
            ("description", "Order A-1001 never arrived."),
            ("website", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let list = app.read("/api/v1/tickets").await;
    let by_web = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["subject"] == "Parcel missing")
        .map(id_of)
        .expect("the web form's ticket");

    // 10:20: an internal note on each.
    pin(&app, "2026-12-07T10:20:00Z");
    for id in [&by_mail, &by_web] {
        agent_message(&app, id, false).await;
    }
    // 10:30: both still running, 30 min used; the acknowledgement and the
    // note are not among the events that moved the clock.
    pin(&app, "2026-12-07T10:30:00Z");
    for id in [&by_mail, &by_web] {
        assert!(
            outbox_kinds(&app, id).contains(&"acknowledgement".to_string()),
            "{id} was acknowledged"
        );
        let events = app.events(id).await;
        let ack = ids(&of_kind(&events, "acknowledgement_sent"));
        let note = ids(&of_kind(&events, "note_added"));
        assert_eq!((ack.len(), note.len()), (1, 1), "{events:?}");
        let sla = app.sla_of(id).await;
        let first = clock(&sla, "first_response", 1);
        assert_eq!(first["state"], "running", "{first}");
        assert_eq!(first["stopped_at"], Value::Null);
        assert_eq!(first["business_seconds_used"], 1_800);
        assert_eq!(first["due_at"], "2026-12-07T11:00:00Z");
        let moved = clock_events(first);
        assert!(!moved.contains(&ack[0]) && !moved.contains(&note[0]));
    }
    // 11:00:01: both ran out at 11:00:00.
    pin(&app, "2026-12-07T11:00:01Z");
    let report = app.run_sla_scanner();
    assert_eq!(report.breaches, 2, "{report:?}");
    for id in [&by_mail, &by_web] {
        let events = app.events(id).await;
        let breaches = of_kind(&events, "sla.breached");
        assert_eq!(breaches.len(), 1);
        assert_eq!(breaches[0]["data"]["breached_at"], "2026-12-07T11:00:00Z");
    }
    // The public reply stops it, breached.
    pin(&app, "2026-12-07T11:10:00Z");
    agent_message(&app, &by_mail, true).await;
    let first = clock(&app.sla_of(&by_mail).await, "first_response", 1).clone();
    assert_eq!(first["state"], "breached");
    assert_eq!(first["stopped_at"], "2026-12-07T11:10:00Z");
}

#[actix_web::test]
async fn an_agent_replying_by_email_to_the_reply_address_meets_the_first_response() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T10:00:00Z");
    app.create_policy(json!({
        "name": "24/7",
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    let alpha = app.vendor_with_agent("Alpha", Role::Agent).await;
    let beta = app.vendor_with_agent("Beta", Role::Agent).await;
    let ours = app
        .create_ticket(json!({"subject": "Invoice twice", "body": "Billed twice",
            "queue": alpha.queue_slug, "customer": {"email": "marta@contoso.pl"}}))
        .await;
    let theirs = app
        .create_ticket(json!({"subject": "Other", "body": "x",
            "queue": beta.queue_slug, "customer": {"email": "olek@contoso.pl"}}))
        .await;
    let (id, number) = (id_of(&ours), ours["number"].as_i64().unwrap());

    // 10:15: the agent's mail carrying only the subject token is no
    // evidence Relay handed out: it answers nobody.
    pin(&app, "2026-12-07T10:15:00Z");
    let raw = format!(
        "From: agent@alpha.example\r\nTo: support@relay.localhost\r\nSubject: Re: [#{number}] Invoice twice\r\nMessage-ID: <agent-token@alpha.example>\r\n\r\nLooking.\r\n"
    );
    app.deliver_mail(raw.into_bytes()).await;
    let first = clock(&app.sla_of(&id).await, "first_response", 1).clone();
    assert_eq!(first["state"], "running");
    assert!(of_kind(&app.events(&id).await, "replied").is_empty());

    // 10:25: the agent answers the ticket's mail (its signed reply address)
    // from their own mailbox: their public reply, 25 min after creation.
    pin(&app, "2026-12-07T10:25:00Z");
    let answered = mail_to_ticket(
        &app,
        number,
        "agent@alpha.example",
        "agent-1@alpha.example",
        "",
    )
    .await;
    assert_eq!(answered["outcome"], "appended", "{answered}");
    let events = app.events(&id).await;
    let replied = of_kind(&events, "replied");
    assert_eq!(replied.len(), 1, "{events:?}");
    assert_eq!(replied[0]["data"]["channel"], "email");
    let sla = app.sla_of(&id).await;
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["state"], "met");
    assert_eq!(first["stopped_at"], "2026-12-07T10:25:00Z");
    assert_eq!(first["business_seconds_used"], 1_500);
    assert!(clock_events(first).contains(&ids(&replied)[0]));

    // The same agent on another vendor's ticket is a participant: no reply.
    let theirs_id = id_of(&theirs);
    mail_to_ticket(
        &app,
        theirs["number"].as_i64().unwrap(),
        "agent@alpha.example",
        "agent-2@alpha.example",
        "",
    )
    .await;
    let first = clock(&app.sla_of(&theirs_id).await, "first_response", 1).clone();
    assert_eq!(first["state"], "running");
    assert_eq!(first["stopped_at"], Value::Null);
}

// ---------------------------------------------------------------- targets

#[actix_web::test]
async fn a_stricter_priority_mid_clock_breaches_at_once_and_is_announced_once() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T10:00:00Z");
    app.create_policy(json!({
        "name": "By priority",
        "targets": {"normal": {"resolution": 480}, "urgent": {"resolution": 60}},
        "escalations": [{"on": "breach", "actions": [
            {"type": "notify", "emails": ["boss@client.example"]}
        ]}]
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("Getting worse", "dan@example.com"))
        .await;
    let id = id_of(&ticket);
    // Normal: 10:00 + 8 h = 18:00Z (warning at 80%: 16:24Z).
    assert_eq!(ticket["sla"]["due_at"], "2026-12-07T18:00:00Z");
    pin(&app, "2026-12-07T11:30:00Z");
    assert_eq!(app.run_sla_scanner(), Default::default());

    // 12:00, 2 h used: urgent, 1 h. The start and the used time stay; the
    // hour was used up at 10:00 + 1 h = 11:00Z, so it breached at once.
    pin(&app, "2026-12-07T12:00:00Z");
    let changed = app.patch_ticket(&id, json!({"priority": "urgent"})).await;
    assert_eq!(changed["sla"]["state"], "breached");
    assert_eq!(changed["sla"]["due_at"], "2026-12-07T11:00:00Z");
    let sla = app.sla_of(&id).await;
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["target_seconds"], 3_600);
    assert_eq!(resolution["started_at"], "2026-12-07T10:00:00Z");
    assert_eq!(resolution["business_seconds_used"], 7_200);
    assert_eq!(resolution["state"], "breached");
    assert_eq!(resolution["due_at"], "2026-12-07T11:00:00Z");
    assert_eq!(resolution["breached_at"], "2026-12-07T11:00:00Z");
    let events = app.events(&id).await;
    let priority = ids(&of_kind(&events, "priority_changed"));
    assert_eq!(priority.len(), 1);
    assert!(clock_events(resolution).contains(&priority[0]));
    let target = of_kind(&events, "sla.target_changed");
    assert_eq!(target.len(), 1, "{events:?}");
    assert_eq!(
        target[0]["data"],
        json!({"metric": "resolution", "cycle": 1, "from_seconds": 28_800, "to_seconds": 3_600})
    );

    // The scanner: one breach at 11:00 (no warning before it), one mail.
    let report = app.run_sla_scanner();
    assert_eq!(
        (report.breaches, report.warnings, report.escalations),
        (1, 0, 1),
        "{report:?}"
    );
    assert_eq!(app.run_sla_scanner(), Default::default());
    pin(&app, "2026-12-07T12:30:00Z");
    app.patch_ticket(&id, json!({"tags": ["still"]})).await;
    assert_eq!(app.run_sla_scanner(), Default::default());
    let events = app.events(&id).await;
    let breaches = of_kind(&events, "sla.breached");
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0]["data"]["breached_at"], "2026-12-07T11:00:00Z");
    assert_eq!(breaches[0]["data"]["metric"], "resolution");
    assert!(of_kind(&events, "sla.warning").is_empty());
    assert_eq!(notifications(&app, &id), ["boss@client.example"]);
}

#[actix_web::test]
async fn a_scan_on_the_exact_due_second_announces_the_breach_once() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T10:00:00Z");
    app.create_policy(json!({
        "name": "24/7",
        "targets": {"normal": {"first_response": 60}}
    }))
    .await;
    let ticket = app
        .create_ticket(ticket_body("On the dot", "dot@example.com"))
        .await;
    let id = id_of(&ticket);
    // Due 11:00:00Z. A pass at exactly 11:00:00 and one a second later
    // together announce the breach once, at 11:00:00.
    pin(&app, "2026-12-07T11:00:00Z");
    let on_time = app.run_sla_scanner();
    pin(&app, "2026-12-07T11:00:01Z");
    let after = app.run_sla_scanner();
    assert_eq!(
        on_time.breaches + after.breaches,
        1,
        "{on_time:?} {after:?}"
    );
    let events = app.events(&id).await;
    let breaches = of_kind(&events, "sla.breached");
    assert_eq!(breaches.len(), 1, "{events:?}");
    assert_eq!(breaches[0]["data"]["breached_at"], "2026-12-07T11:00:00Z");
}

// ---------------------------------------------------------------- follow the sun

#[actix_web::test]
async fn a_follow_the_sun_hand_off_charges_both_vendors_and_each_breach_to_its_holder() {
    let app = TestApp::spawn().await;
    let manila = app.vendor_with_agent("Manila Team", Role::Agent).await;
    let berlin = app.vendor_with_agent("Berlin Team", Role::Agent).await;
    let mut calendars = Vec::new();
    for (team, zone) in [(&manila, "Asia/Manila"), (&berlin, "Europe/Berlin")] {
        let cal = app.create_calendar(office(zone)).await;
        let resp = app
            .patch(&format!("/api/v1/queues/{}", team.queue_id), &app.admin)
            .json(&json!({"coverage_calendar_id": cal["id"]}))
            .send()
            .await
            .unwrap();
        expect_json(resp, 200).await;
        calendars.push(cal["id"].as_str().unwrap().to_string());
    }
    app.create_policy(json!({
        "name": "Follow the sun",
        "calendar_from_queue": true,
        "targets": {"normal": {"first_response": 60, "resolution": 240}}
    }))
    .await;
    // Monday 7 December 2026, 07:00Z. Manila (UTC+8) is open 09:00-17:00 =
    // 01:00-09:00Z; Berlin (CET, UTC+1) 09:00-17:00 = 08:00-16:00Z.
    pin(&app, "2026-12-07T07:00:00Z");
    let ticket = app
        .create_ticket(json!({"subject": "Round the clock", "body": "Help",
            "queue": manila.queue_slug, "customer": {"email": "sun@example.com"}}))
        .await;
    let id = id_of(&ticket);
    // First response, 1 h on Manila's hours: 08:00Z.
    assert_eq!(ticket["sla"]["due_at"], "2026-12-07T08:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(sla["calendar"]["id"], calendars[0].as_str());
    assert_eq!(sla["calendar"]["timezone"], "Asia/Manila");

    // 08:30Z: handed to Berlin (Manila used 07:00-08:30 = 5,400 s).
    pin(&app, "2026-12-07T08:30:00Z");
    app.patch_ticket(&id, json!({"queue": berlin.queue_id}))
        .await;

    // 12:00Z. Berlin counts 08:30-12:00 = 12,600 s on its hours (Manila
    // closed at 09:00Z, so a clock still on Manila's hours would count
    // only 30 more minutes). Resolution, 4 h: 1.5 h in Manila, 2.5 h left
    // from 08:30Z in Berlin -> 11:00Z, charged to Berlin. First response
    // ran out at 08:00Z, while Manila held the ticket: charged to Manila.
    pin(&app, "2026-12-07T12:00:00Z");
    let sla = app.sla_of(&id).await;
    assert_eq!(sla["calendar"]["id"], calendars[1].as_str());
    assert_eq!(sla["calendar"]["timezone"], "Europe/Berlin");
    let shares = json!([
        {"vendor_id": manila.vendor_id, "queue_id": manila.queue_id, "business_seconds": 5_400},
        {"vendor_id": berlin.vendor_id, "queue_id": berlin.queue_id, "business_seconds": 12_600}
    ]);
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["business_seconds_used"], 18_000);
    assert_eq!(resolution["by_vendor"], shares);
    assert_eq!(resolution["due_at"], "2026-12-07T11:00:00Z");
    assert_eq!(resolution["breached_at"], "2026-12-07T11:00:00Z");
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["breached_at"], "2026-12-07T08:00:00Z");
    assert_eq!(first["by_vendor"], shares);

    let report = app.run_sla_scanner();
    assert_eq!(report.breaches, 2, "{report:?}");
    let events = app.events(&id).await;
    let breach = |metric: &str| -> Value {
        let found = of_kind(&events, "sla.breached")
            .into_iter()
            .filter(|e| e["data"]["metric"] == metric)
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!(found.len(), 1, "{events:?}");
        found[0]["data"].clone()
    };
    let first = breach("first_response");
    assert_eq!(first["breached_at"], "2026-12-07T08:00:00Z");
    assert_eq!(
        first["charged_to"],
        json!({"queue_id": manila.queue_id, "vendor_id": manila.vendor_id})
    );
    let resolution = breach("resolution");
    assert_eq!(resolution["breached_at"], "2026-12-07T11:00:00Z");
    assert_eq!(
        resolution["charged_to"],
        json!({"queue_id": berlin.queue_id, "vendor_id": berlin.vendor_id})
    );
}

// ---------------------------------------------------------------- recompute

#[actix_web::test]
async fn a_policy_edit_with_recompute_moves_running_clocks_and_leaves_finished_ones() {
    let app = TestApp::spawn().await;
    pin(&app, "2026-12-07T10:00:00Z");
    let policy = app
        .create_policy(json!({
            "name": "24/7",
            "targets": {"normal": {"first_response": 60, "resolution": 480}}
        }))
        .await;
    let policy_id = policy["id"].as_str().unwrap().to_string();
    let answered = id_of(
        &app.create_ticket(ticket_body("Answered", "a@example.com"))
            .await,
    );
    let solved = id_of(
        &app.create_ticket(ticket_body("Solved", "s@example.com"))
            .await,
    );
    // 10:10 answered, 10:20 solved: every clock of it stops under v1.
    pin(&app, "2026-12-07T10:10:00Z");
    agent_message(&app, &solved, true).await;
    pin(&app, "2026-12-07T10:20:00Z");
    app.set_status(&solved, "solved").await;
    // 10:40: answered after 40 min, met under 60.
    pin(&app, "2026-12-07T10:40:00Z");
    agent_message(&app, &answered, true).await;
    pin(&app, "2026-12-07T10:50:00Z");
    let waiting = id_of(
        &app.create_ticket(ticket_body("Waiting", "w@example.com"))
            .await,
    );

    // 11:00: first response 30 min, resolution 4 h (version 2).
    pin(&app, "2026-12-07T11:00:00Z");
    let resp = app
        .patch(&format!("/api/v1/sla/policies/{policy_id}"), &app.admin)
        .json(&json!({"targets": {"normal": {"first_response": 30, "resolution": 240}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, 200).await["version"], 2);
    // Until the recompute (or a change), the stored summaries are v1's:
    // resolution 10:00 + 8 h = 18:00; first response 10:50 + 1 h = 11:50.
    assert_eq!(
        summary(&app, &answered).await["due_at"],
        "2026-12-07T18:00:00Z"
    );
    assert_eq!(
        summary(&app, &waiting).await["due_at"],
        "2026-12-07T11:50:00Z"
    );

    assert_eq!(
        app.recompute_sla().await,
        json!({"tickets": 3, "changed": 2})
    );
    // Solved: nothing of it runs, so it keeps the version its clocks were
    // measured against, without an event.
    let sla = app.sla_of(&solved).await;
    assert_eq!(sla["policy"]["version"], 1, "{sla}");
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(
        (&resolution["state"], &resolution["target_seconds"]),
        (&json!("met"), &json!(28_800))
    );
    let events = app.events(&solved).await;
    assert!(
        of_kind(&events, "sla.policy_applied").is_empty(),
        "{events:?}"
    );

    // Answered: resolution runs on v2, 10:00 + 4 h = 14:00. The met first
    // response keeps v1's 60 min (under v2's 30 it would have breached at
    // 10:30).
    let sla = app.sla_of(&answered).await;
    assert_eq!(sla["policy"]["version"], 2);
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["policy_version"], 1);
    assert_eq!(first["target_seconds"], 3_600);
    assert_eq!(first["state"], "met");
    assert_eq!(first["stopped_at"], "2026-12-07T10:40:00Z");
    assert_eq!(first["due_at"], "2026-12-07T11:00:00Z");
    assert_eq!(first["breached_at"], Value::Null);
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["policy_version"], 2);
    assert_eq!(resolution["target_seconds"], 14_400);
    assert_eq!(resolution["due_at"], "2026-12-07T14:00:00Z");
    assert_eq!(
        summary(&app, &answered).await["due_at"],
        "2026-12-07T14:00:00Z"
    );
    let events = app.events(&answered).await;
    let applied = of_kind(&events, "sla.policy_applied");
    assert_eq!(applied.len(), 1, "{events:?}");
    assert_eq!(
        applied[0]["data"],
        json!({"from": {"policy_id": policy_id, "version": 1},
               "to": {"policy_id": policy_id, "version": 2}})
    );
    let targets: Vec<Value> = of_kind(&events, "sla.target_changed")
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(
        targets,
        [json!({"metric": "resolution", "cycle": 1, "from_seconds": 28_800, "to_seconds": 14_400})]
    );

    // Waiting: both clocks run, both move: first response 10:50 + 30 min =
    // 11:20 (10 min used, 20 left), resolution 10:50 + 4 h = 14:50.
    let sla = app.sla_of(&waiting).await;
    let first = clock(&sla, "first_response", 1);
    assert_eq!(first["policy_version"], 2);
    assert_eq!(first["target_seconds"], 1_800);
    assert_eq!(first["due_at"], "2026-12-07T11:20:00Z");
    assert_eq!(first["business_seconds_used"], 600);
    assert_eq!(
        clock(&sla, "resolution", 1)["due_at"],
        "2026-12-07T14:50:00Z"
    );
    assert_eq!(
        summary(&app, &waiting).await["due_at"],
        "2026-12-07T11:20:00Z"
    );
    let events = app.events(&waiting).await;
    let targets: Vec<Value> = of_kind(&events, "sla.target_changed")
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(
        targets,
        [
            json!({"metric": "first_response", "cycle": 1, "from_seconds": 3_600, "to_seconds": 1_800}),
            json!({"metric": "resolution", "cycle": 1, "from_seconds": 28_800, "to_seconds": 14_400})
        ]
    );

    // A later change of the answered ticket still leaves its first response
    // as measured, and a second recompute changes nothing.
    pin(&app, "2026-12-07T11:10:00Z");
    app.patch_ticket(&answered, json!({"tags": ["later"]}))
        .await;
    let first = clock(&app.sla_of(&answered).await, "first_response", 1).clone();
    assert_eq!(
        (
            &first["policy_version"],
            &first["target_seconds"],
            &first["state"]
        ),
        (&json!(1), &json!(3_600), &json!("met"))
    );
    // Re-opened at 11:10, the solved ticket's resolution resumes on v2:
    // 20 min used, 3 h 40 min left.
    app.set_status(&solved, "open").await;
    let sla = app.sla_of(&solved).await;
    assert_eq!(sla["policy"]["version"], 2, "{sla}");
    let resolution = clock(&sla, "resolution", 1);
    assert_eq!(resolution["state"], "running");
    assert_eq!(resolution["target_seconds"], 14_400);
    assert_eq!(resolution["due_at"], "2026-12-07T14:50:00Z");
    assert_eq!(
        of_kind(&app.events(&solved).await, "sla.policy_applied").len(),
        1
    );
    assert_eq!(
        app.recompute_sla().await,
        json!({"tickets": 3, "changed": 0})
    );
}
