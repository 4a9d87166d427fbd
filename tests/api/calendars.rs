//! Calendars: CRUD with per-field errors, versions, holiday feeds, "open now".

use crate::common::*;
use relay::domain::Role;
use serde_json::{json, Value};

fn manila_office() -> Value {
    json!({
        "name": "Manila office",
        "timezone": "Asia/Manila",
        "weekly": [
            {"day": "mon", "start": "08:00", "end": "12:00"},
            {"day": "mon", "start": "13:00", "end": "17:00"},
            {"day": "tue", "start": "08:00", "end": "24:00"}
        ],
        "holidays": ["2026-12-25"]
    })
}

impl TestApp {
    pub async fn create_calendar(&self, body: Value) -> Value {
        let resp = self
            .post("/api/v1/calendars", &self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(resp, 201).await
    }
}

#[actix_web::test]
async fn a_calendar_round_trips_and_every_change_makes_a_version() {
    let app = TestApp::spawn().await;
    let calendar = app.create_calendar(manila_office()).await;
    assert_eq!(calendar["version"], 1);
    assert_eq!(calendar["weekly"].as_array().unwrap().len(), 3);
    assert_eq!(calendar["holidays"], json!(["2026-12-25"]));
    let id = calendar["id"].as_str().unwrap();

    let changed = app
        .patch(&format!("/api/v1/calendars/{id}"), &app.admin)
        .json(&json!({"holidays": ["2027-01-01", "2026-12-25", "2027-01-01"]}))
        .send()
        .await
        .unwrap();
    let changed = expect_json(changed, 200).await;
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["holidays"], json!(["2026-12-25", "2027-01-01"]));
    let versions: i64 = app.write(|w| {
        use diesel::prelude::*;
        use relay::db::schema::calendar_versions::dsl::*;
        Ok(calendar_versions
            .filter(calendar_id.eq(id))
            .count()
            .get_result(&mut **w)?)
    });
    assert_eq!(versions, 2);

    let listed = app.read("/api/v1/calendars").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let gone = app
        .delete(&format!("/api/v1/calendars/{id}"), &app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let missing = app
        .get(&format!("/api/v1/calendars/{id}"), &app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(missing, 404).await;
}

#[actix_web::test]
async fn bad_calendars_are_refused_with_every_field_named() {
    let app = TestApp::spawn().await;
    let resp = app
        .post("/api/v1/calendars", &app.admin)
        .json(&json!({
            "name": "Bad",
            "timezone": "Mars/Olympus",
            "weekly": [
                {"day": "mon", "start": "09:00", "end": "17:00"},
                {"day": "mon", "start": "16:00", "end": "18:00"},
                {"day": "tue", "start": "22:00", "end": "02:00"},
                {"day": "someday", "start": "9:00", "end": "24:01"}
            ],
            "holidays": ["2026-02-30"]
        }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(resp, 422).await;
    assert_eq!(
        problem_fields(&problem),
        [
            "holidays[0]",
            "timezone",
            "weekly[2].end",
            "weekly[3].day",
            "weekly[3].start",
            "weekly[3].end",
            "weekly[1]"
        ]
    );
    let missing = app
        .post("/api/v1/calendars", &app.admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(missing, 422).await),
        ["name", "timezone"]
    );
    let none: i64 = app.write(|w| {
        use diesel::prelude::*;
        Ok(relay::db::schema::calendars::table
            .count()
            .get_result(&mut **w)?)
    });
    assert_eq!(none, 0);
}

#[actix_web::test]
async fn open_answers_now_and_at_an_instant_with_the_next_change() {
    let app = TestApp::spawn().await;
    let id = app.create_calendar(manila_office()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Monday 2026-12-07 09:00 in Manila (UTC+8) is 01:00 UTC.
    let open = app
        .read(&format!(
            "/api/v1/calendars/{id}/open?at=2026-12-07T01:00:00Z"
        ))
        .await;
    assert_eq!(
        open,
        json!({"open": true, "next_change": "2026-12-07T04:00:00Z"})
    );
    let lunch = app
        .read(&format!(
            "/api/v1/calendars/{id}/open?at=2026-12-07T12:30:00%2B08:00"
        ))
        .await;
    assert_eq!(
        lunch,
        json!({"open": false, "next_change": "2026-12-07T05:00:00Z"})
    );
    // Tuesday runs to midnight; Wednesday is closed: the next opening is Monday.
    let evening = app
        .read(&format!(
            "/api/v1/calendars/{id}/open?at=2026-12-08T15:00:00Z"
        ))
        .await;
    assert_eq!(
        evening,
        json!({"open": true, "next_change": "2026-12-08T16:00:00Z"})
    );
    // Without `at`: the app's clock.
    app.clock.pin("2026-12-14T00:30:00Z".parse().unwrap());
    let now = app.read(&format!("/api/v1/calendars/{id}/open")).await;
    assert_eq!(
        now,
        json!({"open": true, "next_change": "2026-12-14T04:00:00Z"})
    );
    let bad = app
        .get(
            &format!("/api/v1/calendars/{id}/open?at=yesterday"),
            &app.admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(problem_fields(&expect_problem(bad, 422).await), ["at"]);
}

#[actix_web::test]
async fn a_holiday_feed_adds_its_all_day_events() {
    let app = TestApp::spawn().await;
    let id = app.create_calendar(manila_office()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/calendars/{id}/holidays");
    let feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//PH//Holidays//EN\r\n\
        BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261230\r\nSUMMARY:Rizal Day\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261226\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let resp = app
        .post(&path, &app.admin)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(feed)
        .send()
        .await
        .unwrap();
    let imported = expect_json(resp, 200).await;
    assert_eq!(imported["added"], json!(["2026-12-30"]));
    assert_eq!(
        imported["calendar"]["holidays"],
        json!(["2026-12-25", "2026-12-30"])
    );
    assert_eq!(imported["calendar"]["version"], 2);

    let not_ics = app
        .post(&path, &app.admin)
        .header("content-type", "text/calendar")
        .body("Subject: hello\r\n\r\nnot a calendar")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(not_ics, 422).await;
    assert!(problem.to_string().contains("BEGIN:VCALENDAR"), "{problem}");
    let wrong_type = app
        .post(&path, &app.admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(wrong_type, 415).await;
    assert_eq!(
        app.read(&format!("/api/v1/calendars/{id}")).await["version"],
        2
    );
}

#[actix_web::test]
async fn leads_read_their_vendors_calendars_only_and_change_none() {
    let app = TestApp::spawn().await;
    let own = app.vendor_with_agent("Own Co", Role::Lead).await;
    let other = app.vendor_with_agent("Other Co", Role::Lead).await;
    let mut body = manila_office();
    body["vendor_id"] = json!(own.vendor_id);
    let theirs = app.create_calendar(body).await;
    let client = app.create_calendar(manila_office()).await;
    let path = |c: &Value| format!("/api/v1/calendars/{}", c["id"].as_str().unwrap());

    expect_json(
        app.get(&path(&theirs), &own.token).send().await.unwrap(),
        200,
    )
    .await;
    expect_problem(
        app.get(&path(&theirs), &other.token).send().await.unwrap(),
        404,
    )
    .await;
    expect_problem(
        app.get(&path(&client), &own.token).send().await.unwrap(),
        404,
    )
    .await;
    let listed = expect_json(
        app.get("/api/v1/calendars", &own.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let change = app
        .patch(&path(&theirs), &own.token)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(change, 403).await;
}

#[actix_web::test]
async fn a_calendar_in_use_is_not_deleted() {
    let app = TestApp::spawn().await;
    let fixture = app.vendor_with_agent("Busy Co", Role::Agent).await;
    let calendar = app.create_calendar(manila_office()).await;
    let id = calendar["id"].as_str().unwrap();
    let queue = app
        .patch(&format!("/api/v1/queues/{}", fixture.queue_id), &app.admin)
        .json(&json!({"coverage_calendar_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(queue, 200).await["coverage_calendar_id"], id);
    let refused = app
        .delete(&format!("/api/v1/calendars/{id}"), &app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(refused, 409).await;
    let unknown = app
        .patch(&format!("/api/v1/agents/{}", fixture.agent_id), &app.admin)
        .json(&json!({"shift_calendar_id": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_fields(&expect_problem(unknown, 422).await),
        ["shift_calendar_id"]
    );
}
