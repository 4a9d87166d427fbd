//! Golden cases written by hand on real calendars, and a property test over
//! random histories.

use super::*;
use crate::domain::calendar::{Definition, WeeklyInterval};
use crate::domain::validate::Errors;
use crate::domain::Channel;

fn calendar(zone: &str, weekly: &[(&str, &str, &str)], holidays: &[&str]) -> Calendar {
    let definition = Definition {
        name: "test".into(),
        timezone: zone.into(),
        weekly: weekly
            .iter()
            .map(|(day, start, end)| WeeklyInterval {
                day: (*day).into(),
                start: (*start).into(),
                end: (*end).into(),
            })
            .collect(),
        holidays: holidays.iter().map(|d| d.parse().unwrap()).collect(),
    };
    let mut errors = Errors::default();
    let calendar = definition.validate(&mut errors);
    assert!(errors.is_empty(), "{:?}", errors.0);
    calendar.unwrap()
}

/// Monday to Friday, `start` to `end` local time.
fn weekdays(zone: &str, start: &str, end: &str, holidays: &[&str]) -> Calendar {
    let weekly: Vec<_> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|day| (*day, start, end))
        .collect();
    calendar(zone, &weekly, holidays)
}

/// The office in New York, 09:00–17:00 EST: 14:00–22:00 UTC in January.
fn new_york() -> Calendar {
    weekdays("America/New_York", "09:00", "17:00", &[])
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

const HOUR: i64 = 3600;

fn queue(queue_id: &str, vendor_id: &str) -> Option<QueueRef> {
    Some(QueueRef {
        queue_id: queue_id.into(),
        vendor_id: vendor_id.into(),
    })
}

fn holder(queue_id: &str, vendor_id: &str) -> Holder {
    Holder {
        vendor_id: Some(vendor_id.into()),
        queue_id: Some(queue_id.into()),
    }
}

fn seconds(queue_id: &str, vendor_id: &str, business_seconds: i64) -> VendorSeconds {
    VendorSeconds {
        vendor_id: Some(vendor_id.into()),
        queue_id: Some(queue_id.into()),
        business_seconds,
    }
}

/// The same targets at every priority; pauses on pending and on hold; warns at 80%.
fn terms(
    first_response: Option<i64>,
    next_response: Option<i64>,
    resolution: Option<i64>,
) -> Terms {
    let each = Targets {
        first_response,
        next_response,
        resolution,
    };
    Terms {
        targets: PriorityTargets {
            low: each,
            normal: each,
            high: each,
            urgent: each,
        },
        pause_statuses: vec![Status::Pending, Status::OnHold],
        warning_percent: 80,
    }
}

/// A ticket's history, written in order; entry ids are `e1`, `e2`, ….
struct History {
    entries: Vec<Entry>,
    status: Status,
    priority: Priority,
    queue: Option<QueueRef>,
}

impl History {
    fn created(when: &str, priority: Priority, queue: Option<QueueRef>) -> History {
        History {
            entries: Vec::new(),
            status: Status::New,
            priority,
            queue: None,
        }
        .add(
            at(when),
            EventData::Created {
                channel: Channel::Email,
                priority,
                queue: queue.clone(),
                follow_up_of: None,
            },
        )
        .holding(queue)
    }

    fn holding(mut self, queue: Option<QueueRef>) -> Self {
        self.queue = queue;
        self
    }

    fn add(mut self, when: DateTime<Utc>, data: EventData) -> Self {
        self.entries.push(Entry {
            id: format!("e{}", self.entries.len() + 1),
            at: when,
            data,
        });
        self
    }

    fn status(mut self, when: &str, to: Status) -> Self {
        let from = std::mem::replace(&mut self.status, to);
        self.add(
            at(when),
            EventData::StatusChanged {
                from,
                to,
                reason: None,
            },
        )
    }

    fn priority(mut self, when: &str, to: Priority) -> Self {
        let from = std::mem::replace(&mut self.priority, to);
        self.add(at(when), EventData::PriorityChanged { from, to })
    }

    fn queue(mut self, when: &str, to: Option<QueueRef>) -> Self {
        let from = std::mem::replace(&mut self.queue, to.clone());
        let handed_off = from.as_ref().map(|q| &q.vendor_id) != to.as_ref().map(|q| &q.vendor_id);
        self.add(
            at(when),
            EventData::QueueChanged {
                from,
                to,
                handed_off,
                reason: None,
                note: None,
            },
        )
    }

    fn replied(self, when: &str) -> Self {
        self.add(
            at(when),
            EventData::Replied {
                message_id: "m".into(),
                channel: Channel::Api,
            },
        )
    }

    fn customer(self, when: &str, automatic: bool) -> Self {
        self.add(
            at(when),
            EventData::CustomerReplied {
                message_id: "m".into(),
                channel: Channel::Email,
                automatic,
                threaded_by: None,
                refused_attachments: Vec::new(),
            },
        )
    }

    fn note(self, when: &str) -> Self {
        self.add(
            at(when),
            EventData::NoteAdded {
                message_id: "m".into(),
            },
        )
    }

    fn acknowledged(self, when: &str) -> Self {
        self.add(
            at(when),
            EventData::AcknowledgementSent {
                outbox_id: "o".into(),
                to: "customer@example.com".into(),
            },
        )
    }
}

fn clock_of(clocks: &[Clock], metric: Metric, cycle: u32) -> &Clock {
    clocks
        .iter()
        .find(|c| c.metric == metric && c.cycle == cycle)
        .unwrap_or_else(|| panic!("no {metric:?} cycle {cycle} in {clocks:#?}"))
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_friday_evening_ticket_is_due_monday_morning() {
    let office = new_york();
    let terms = terms(Some(HOUR), None, None);
    // Friday 2026-01-09 16:30 EST: half an hour before closing.
    let history = History::created("2026-01-09T21:30:00Z", Priority::Normal, queue("q1", "v1"))
        .replied("2026-01-12T14:20:00Z");
    let saturday = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-10T12:00:00Z"),
    );
    assert_eq!(
        saturday,
        vec![Clock {
            metric: Metric::FirstResponse,
            cycle: 1,
            target_seconds: HOUR,
            started_at: at("2026-01-09T21:30:00Z"),
            stopped_at: None,
            // Monday 09:30 EST.
            due_at: Some(at("2026-01-12T14:30:00Z")),
            // 48 minutes: 30 on Friday, 18 on Monday.
            warning_at: Some(at("2026-01-12T14:18:00Z")),
            state: ClockState::Running,
            breached_at: None,
            breached_by: None,
            held_by: holder("q1", "v1"),
            business_seconds_used: 1800,
            pauses: vec![],
            by_vendor: vec![seconds("q1", "v1", 1800)],
            events: ids(&["e1"]),
        }]
    );
    // The reply on Monday 09:20 meets it.
    let monday = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-12T15:00:00Z"),
    );
    let first = clock_of(&monday, Metric::FirstResponse, 1);
    assert_eq!(first.state, ClockState::Met);
    assert_eq!(first.stopped_at, Some(at("2026-01-12T14:20:00Z")));
    assert_eq!(first.due_at, Some(at("2026-01-12T14:30:00Z")));
    assert_eq!(first.business_seconds_used, 3000);
    assert_eq!(first.events, ids(&["e1", "e2"]));
}

#[test]
fn pending_pauses_and_a_customer_reply_resumes() {
    let office = new_york();
    let terms = terms(Some(4 * HOUR), Some(2 * HOUR), Some(8 * HOUR));
    // Monday 10:00 EST; the agent answers at 11:00 and waits on the
    // customer, who writes back on Tuesday at 10:00 (the re-open comes
    // after the message, in the same instant, as the service writes it).
    let history = History::created("2026-01-12T15:00:00Z", Priority::Normal, queue("q1", "v1"))
        .replied("2026-01-12T16:00:00Z")
        .status("2026-01-12T16:00:00Z", Status::Open)
        .status("2026-01-12T16:00:00Z", Status::Pending)
        .customer("2026-01-13T15:00:00Z", false)
        .status("2026-01-13T15:00:00Z", Status::Open);

    let waiting = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-12T20:00:00Z"),
    );
    let resolution = clock_of(&waiting, Metric::Resolution, 1);
    assert_eq!(resolution.state, ClockState::Paused);
    assert_eq!((resolution.due_at, resolution.warning_at), (None, None));
    assert_eq!(resolution.business_seconds_used, HOUR);
    assert_eq!(
        resolution.pauses,
        vec![PauseSpan {
            from: at("2026-01-12T16:00:00Z"),
            to: None
        }]
    );
    assert_eq!(
        waiting.len(),
        2,
        "no next response before the customer writes"
    );

    // Tuesday 11:30 EST.
    let clocks = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-13T16:30:00Z"),
    );
    let first = clock_of(&clocks, Metric::FirstResponse, 1);
    assert_eq!(first.state, ClockState::Met);
    assert_eq!(first.business_seconds_used, HOUR);
    // A stopped clock's due time: its stop plus the time it had left.
    assert_eq!(first.due_at, Some(at("2026-01-12T19:00:00Z")));
    assert_eq!(first.events, ids(&["e1", "e2"]));

    let next = clock_of(&clocks, Metric::NextResponse, 1);
    assert_eq!(next.state, ClockState::Running);
    assert_eq!(next.started_at, at("2026-01-13T15:00:00Z"));
    assert_eq!(next.business_seconds_used, 5400);
    assert_eq!(next.due_at, Some(at("2026-01-13T17:00:00Z")));
    assert_eq!(next.warning_at, Some(at("2026-01-13T16:36:00Z")));
    // It began in pending and resumed in the same second: no pause.
    assert_eq!(next.pauses, vec![]);
    assert_eq!(next.events, ids(&["e5"]));

    let resolution = clock_of(&clocks, Metric::Resolution, 1);
    assert_eq!(resolution.state, ClockState::Running);
    assert_eq!(resolution.business_seconds_used, HOUR + 5400);
    assert_eq!(
        resolution.pauses,
        vec![PauseSpan {
            from: at("2026-01-12T16:00:00Z"),
            to: Some(at("2026-01-13T15:00:00Z")),
        }]
    );
    // Without the pause it was due Tuesday 10:00; the paused span (7
    // business hours) moves it to Tuesday 17:00 EST.
    assert_eq!(resolution.due_at, Some(at("2026-01-13T22:00:00Z")));
    assert_eq!(resolution.warning_at, Some(at("2026-01-13T20:24:00Z")));
    assert_eq!(resolution.events, ids(&["e1", "e4", "e6"]));
}

#[test]
fn a_reopened_ticket_resumes_resolution_without_its_solved_time() {
    let office = new_york();
    let terms = terms(Some(4 * HOUR), Some(HOUR), Some(8 * HOUR));
    // Solved Monday at 12:00 EST without a reply; the customer writes on
    // Wednesday at 10:00 and re-opens it.
    let history = History::created("2026-01-12T15:00:00Z", Priority::Normal, queue("q1", "v1"))
        .status("2026-01-12T17:00:00Z", Status::Solved)
        .customer("2026-01-14T15:00:00Z", false)
        .status("2026-01-14T15:00:00Z", Status::Open)
        .replied("2026-01-14T16:15:00Z")
        .status("2026-01-14T16:30:00Z", Status::Solved)
        .status("2026-01-17T16:30:00Z", Status::Closed)
        .status("2026-01-18T16:30:00Z", Status::Open);

    let reopened = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-14T16:00:00Z"),
    );
    // Solved before any reply stops first response there; the customer's
    // message came before any agent reply, so no next response.
    let metrics: Vec<_> = reopened.iter().map(|c| (c.metric, c.cycle)).collect();
    assert_eq!(
        metrics,
        [(Metric::FirstResponse, 1), (Metric::Resolution, 1)]
    );
    let first = clock_of(&reopened, Metric::FirstResponse, 1);
    assert_eq!(
        (first.state, first.stopped_at, first.business_seconds_used),
        (ClockState::Met, Some(at("2026-01-12T17:00:00Z")), 2 * HOUR)
    );
    let resolution = clock_of(&reopened, Metric::Resolution, 1);
    assert_eq!(resolution.state, ClockState::Running);
    assert_eq!(resolution.stopped_at, None);
    assert_eq!(resolution.business_seconds_used, 3 * HOUR);
    // Wednesday 10:00 plus the 6 hours left: 16:00 EST.
    assert_eq!(resolution.due_at, Some(at("2026-01-14T21:00:00Z")));
    assert_eq!(resolution.pauses, vec![]);
    assert_eq!(resolution.events, ids(&["e1", "e2", "e4"]));

    let clocks = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-20T12:00:00Z"),
    );
    let first = clock_of(&clocks, Metric::FirstResponse, 1);
    assert_eq!(
        first.events,
        ids(&["e1", "e2"]),
        "the later reply does not move it"
    );
    let resolution = clock_of(&clocks, Metric::Resolution, 1);
    assert_eq!(resolution.state, ClockState::Met);
    assert_eq!(resolution.stopped_at, Some(at("2026-01-14T16:30:00Z")));
    assert_eq!(resolution.business_seconds_used, 3 * HOUR + 1800);
    assert_eq!(resolution.due_at, Some(at("2026-01-14T21:00:00Z")));
    // Closed stops it for good: opening a closed ticket moves nothing.
    assert_eq!(resolution.events, ids(&["e1", "e2", "e4", "e6"]));
}

#[test]
fn next_response_is_rearmed_by_each_customer_message_after_a_reply() {
    let always = Calendar::always_open();
    let terms = terms(Some(HOUR), Some(HOUR), None);
    let history = History::created("2026-01-12T15:00:00Z", Priority::Normal, queue("q1", "v1"))
        // Before any agent reply: starts nothing.
        .customer("2026-01-12T15:10:00Z", false)
        .replied("2026-01-12T15:30:00Z")
        .customer("2026-01-12T16:00:00Z", false)
        // While cycle 1 runs: nothing.
        .customer("2026-01-12T16:20:00Z", false)
        .replied("2026-01-12T16:40:00Z")
        // An out-of-office arms nothing.
        .customer("2026-01-12T17:00:00Z", true)
        .customer("2026-01-12T17:30:00Z", false)
        .replied("2026-01-12T18:45:00Z")
        .customer("2026-01-12T19:00:00Z", false);
    let clocks = compute(
        &terms,
        |_| &always,
        &history.entries,
        at("2026-01-12T19:20:00Z"),
    );
    let listed: Vec<_> = clocks
        .iter()
        .map(|c| (c.metric, c.cycle, c.state))
        .collect();
    assert_eq!(
        listed,
        [
            (Metric::FirstResponse, 1, ClockState::Met),
            (Metric::NextResponse, 1, ClockState::Met),
            (Metric::NextResponse, 2, ClockState::Breached),
            (Metric::NextResponse, 3, ClockState::Running),
        ]
    );
    let first = clock_of(&clocks, Metric::NextResponse, 1);
    assert_eq!(first.started_at, at("2026-01-12T16:00:00Z"));
    assert_eq!(first.stopped_at, Some(at("2026-01-12T16:40:00Z")));
    assert_eq!(first.business_seconds_used, 2400);
    assert_eq!(first.events, ids(&["e4", "e6"]));
    let second = clock_of(&clocks, Metric::NextResponse, 2);
    assert_eq!(second.started_at, at("2026-01-12T17:30:00Z"));
    assert_eq!(second.breached_at, Some(at("2026-01-12T18:30:00Z")));
    assert_eq!(second.stopped_at, Some(at("2026-01-12T18:45:00Z")));
    assert_eq!(second.events, ids(&["e8", "e9"]));
    let third = clock_of(&clocks, Metric::NextResponse, 3);
    assert_eq!(third.business_seconds_used, 1200);
    assert_eq!(third.due_at, Some(at("2026-01-12T20:00:00Z")));
    assert_eq!(third.warning_at, Some(at("2026-01-12T19:48:00Z")));
}

#[test]
fn notes_and_acknowledgements_do_not_stop_first_response() {
    let office = new_york();
    let terms = terms(Some(HOUR), Some(HOUR), None);
    // Monday 09:00 EST.
    let history = History::created("2026-01-12T14:00:00Z", Priority::Normal, queue("q1", "v1"))
        .acknowledged("2026-01-12T14:00:00Z")
        .note("2026-01-12T14:20:00Z")
        .customer("2026-01-12T14:30:00Z", false)
        .replied("2026-01-12T14:50:00Z");
    let before = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-12T14:40:00Z"),
    );
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].state, ClockState::Running);
    assert_eq!(before[0].business_seconds_used, 2400);
    assert_eq!(before[0].events, ids(&["e1"]));
    let after = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-12T15:00:00Z"),
    );
    assert_eq!(
        after.len(),
        1,
        "the customer wrote before the reply: no next response"
    );
    assert_eq!(after[0].state, ClockState::Met);
    assert_eq!(after[0].stopped_at, Some(at("2026-01-12T14:50:00Z")));
    assert_eq!(after[0].events, ids(&["e1", "e5"]));
}

#[test]
fn a_stricter_priority_breaches_at_once_when_its_time_had_been_used() {
    let office = new_york();
    let mut terms = terms(None, None, Some(8 * HOUR));
    terms.targets.urgent.resolution = Some(HOUR);
    // Monday 16:30 EST; urgent on Tuesday at 10:30, two business hours in.
    let history = History::created("2026-01-12T21:30:00Z", Priority::Normal, queue("q1", "v1"))
        .priority("2026-01-13T15:30:00Z", Priority::Urgent);
    let before = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-13T15:29:59Z"),
    );
    assert_eq!(before[0].state, ClockState::Running);
    assert_eq!(before[0].target_seconds, 8 * HOUR);
    assert_eq!(before[0].due_at, Some(at("2026-01-13T21:30:00Z")));

    let clocks = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-13T15:30:00Z"),
    );
    assert_eq!(
        clocks,
        vec![Clock {
            metric: Metric::Resolution,
            cycle: 1,
            target_seconds: HOUR,
            started_at: at("2026-01-12T21:30:00Z"),
            stopped_at: None,
            // Tuesday 09:30 EST: 30 minutes on Monday, 30 on Tuesday.
            due_at: Some(at("2026-01-13T14:30:00Z")),
            warning_at: Some(at("2026-01-13T14:18:00Z")),
            state: ClockState::Breached,
            breached_at: Some(at("2026-01-13T14:30:00Z")),
            breached_by: Some(holder("q1", "v1")),
            held_by: holder("q1", "v1"),
            business_seconds_used: 2 * HOUR,
            pauses: vec![],
            by_vendor: vec![seconds("q1", "v1", 2 * HOUR)],
            events: ids(&["e1", "e2"]),
        }]
    );
}

#[test]
fn a_priority_without_a_target_has_no_clock() {
    let office = new_york();
    let mut terms = terms(Some(HOUR), None, Some(8 * HOUR));
    terms.targets.low.resolution = None;
    let history = History::created("2026-01-12T15:00:00Z", Priority::Normal, queue("q1", "v1"))
        .priority("2026-01-12T16:00:00Z", Priority::Low);
    let clocks = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-12T17:00:00Z"),
    );
    let metrics: Vec<_> = clocks.iter().map(|c| c.metric).collect();
    assert_eq!(metrics, [Metric::FirstResponse]);
    // Same first-response target at both priorities: the change moved nothing.
    assert_eq!(clocks[0].events, ids(&["e1"]));
}

#[test]
fn a_follow_the_sun_hand_off_charges_both_vendors() {
    // Manila 09:00–17:00 (01:00–09:00 UTC), Berlin 09:00–17:00 CET
    // (08:00–16:00 UTC); each queue counts on its own team's hours.
    let manila = weekdays("Asia/Manila", "09:00", "17:00", &[]);
    let berlin = weekdays("Europe/Berlin", "09:00", "17:00", &[]);
    let always = Calendar::always_open();
    let coverage = |q: Option<&QueueRef>| match q.map(|q| q.queue_id.as_str()) {
        Some("manila") => &manila,
        Some("berlin") => &berlin,
        _ => &always,
    };
    let terms = terms(Some(HOUR), None, Some(4 * HOUR));
    let history = History::created(
        "2026-01-12T07:00:00Z",
        Priority::High,
        queue("manila", "va"),
    )
    .queue("2026-01-12T09:00:00Z", queue("berlin", "vb"))
    .replied("2026-01-12T10:00:00Z");
    let clocks = compute(
        &terms,
        coverage,
        &history.entries,
        at("2026-01-12T12:00:00Z"),
    );

    let first = clock_of(&clocks, Metric::FirstResponse, 1);
    assert_eq!(first.state, ClockState::Breached);
    assert_eq!(first.breached_at, Some(at("2026-01-12T08:00:00Z")));
    assert_eq!(first.breached_by, Some(holder("manila", "va")));
    // Berlin answered it: the reply's holder is who the stop is credited to.
    assert_eq!(first.held_by, holder("berlin", "vb"));
    assert_eq!(first.stopped_at, Some(at("2026-01-12T10:00:00Z")));
    assert_eq!(
        first.by_vendor,
        [
            seconds("manila", "va", 2 * HOUR),
            seconds("berlin", "vb", HOUR)
        ]
    );
    assert_eq!(first.business_seconds_used, 3 * HOUR);
    assert_eq!(first.events, ids(&["e1", "e2", "e3"]));

    let resolution = clock_of(&clocks, Metric::Resolution, 1);
    // Two hours in Manila, two in Berlin: Berlin let it run out.
    assert_eq!(resolution.state, ClockState::Breached);
    assert_eq!(resolution.stopped_at, None);
    assert_eq!(resolution.breached_at, Some(at("2026-01-12T11:00:00Z")));
    assert_eq!(resolution.breached_by, Some(holder("berlin", "vb")));
    assert_eq!(resolution.held_by, holder("berlin", "vb"));
    assert_eq!(resolution.warning_at, Some(at("2026-01-12T10:12:00Z")));
    assert_eq!(
        resolution.by_vendor,
        [
            seconds("manila", "va", 2 * HOUR),
            seconds("berlin", "vb", 3 * HOUR)
        ]
    );
    assert_eq!(resolution.events, ids(&["e1", "e2"]));
}

#[test]
fn targets_span_the_dst_changes_in_berlin() {
    let berlin = weekdays("Europe/Berlin", "09:00", "17:00", &[]);
    // Spring: Friday 2026-03-27 15:00 CET; the clocks go forward on Sunday
    // the 29th, so Monday opens at 07:00 UTC, not 08:00.
    let spring = History::created("2026-03-27T14:00:00Z", Priority::Normal, None)
        .replied("2026-03-30T08:30:00Z");
    let clocks = compute(
        &terms(Some(4 * HOUR), None, None),
        |_| &berlin,
        &spring.entries,
        at("2026-03-28T12:00:00Z"),
    );
    assert_eq!(clocks[0].due_at, Some(at("2026-03-30T09:00:00Z")));
    assert_eq!(clocks[0].business_seconds_used, 2 * HOUR);
    assert_eq!(
        clocks[0].by_vendor,
        [VendorSeconds {
            vendor_id: None,
            queue_id: None,
            business_seconds: 2 * HOUR
        }]
    );
    let met = compute(
        &terms(Some(4 * HOUR), None, None),
        |_| &berlin,
        &spring.entries,
        at("2026-03-30T12:00:00Z"),
    );
    assert_eq!(met[0].state, ClockState::Met);
    assert_eq!(met[0].business_seconds_used, 2 * HOUR + 5400);

    // Autumn: Friday 2026-10-23 16:00 CEST; back to CET on Sunday the
    // 25th, so Monday opens at 08:00 UTC.
    let autumn = History::created("2026-10-23T14:00:00Z", Priority::Normal, None);
    let clocks = compute(
        &terms(Some(2 * HOUR), None, None),
        |_| &berlin,
        &autumn.entries,
        at("2026-10-24T12:00:00Z"),
    );
    assert_eq!(clocks[0].due_at, Some(at("2026-10-26T09:00:00Z")));
    assert_eq!(clocks[0].business_seconds_used, HOUR);
}

#[test]
fn a_holiday_is_closed_all_day() {
    // Monday 2026-01-19 is Martin Luther King Jr. Day.
    let office = weekdays("America/New_York", "09:00", "17:00", &["2026-01-19"]);
    let history = History::created("2026-01-16T21:30:00Z", Priority::Normal, queue("q1", "v1"));
    let clocks = compute(
        &terms(Some(HOUR), None, None),
        |_| &office,
        &history.entries,
        at("2026-01-19T18:00:00Z"),
    );
    assert_eq!(clocks[0].state, ClockState::Running);
    assert_eq!(clocks[0].business_seconds_used, 1800);
    // Tuesday 09:30 EST.
    assert_eq!(clocks[0].due_at, Some(at("2026-01-20T14:30:00Z")));
}

#[test]
fn as_of_in_the_middle_ignores_later_entries_and_floors_to_seconds() {
    let always = Calendar::always_open();
    let terms = terms(Some(HOUR), None, None);
    let history = History::created("2026-01-12T15:00:00.700Z", Priority::Normal, None)
        .replied("2026-01-12T16:30:00Z");
    let middle = at("2026-01-12T15:45:30.999Z");
    let clocks = compute(&terms, |_| &always, &history.entries, middle);
    assert_eq!(clocks[0].started_at, at("2026-01-12T15:00:00Z"));
    assert_eq!(clocks[0].business_seconds_used, 45 * 60 + 30);
    assert_eq!(clocks[0].due_at, Some(at("2026-01-12T16:00:00Z")));
    assert_eq!(clocks[0].state, ClockState::Running);
    assert_eq!(
        clocks,
        compute(&terms, |_| &always, &history.entries[..1], middle),
        "what happens after as_of changes nothing"
    );
    // Past its due time and still unanswered: breached while it runs.
    let late = compute(
        &terms,
        |_| &always,
        &history.entries,
        at("2026-01-12T16:10:00Z"),
    );
    assert_eq!(late[0].state, ClockState::Breached);
    assert_eq!(late[0].stopped_at, None);
    assert_eq!(late[0].breached_at, Some(at("2026-01-12T16:00:00Z")));
    // Before the ticket existed: no clocks.
    assert_eq!(
        compute(
            &terms,
            |_| &always,
            &history.entries,
            at("2026-01-12T14:00:00Z")
        ),
        vec![]
    );
}

#[test]
fn a_clock_stopped_late_is_breached_with_its_stop() {
    let office = new_york();
    let terms = terms(Some(HOUR), None, None);
    // Monday 09:00 EST, answered at 11:00.
    let history = History::created("2026-01-12T14:00:00Z", Priority::Normal, queue("q1", "v1"))
        .replied("2026-01-12T16:00:00Z");
    let clocks = compute(
        &terms,
        |_| &office,
        &history.entries,
        at("2026-01-13T00:00:00Z"),
    );
    assert_eq!(clocks[0].state, ClockState::Breached);
    assert_eq!(clocks[0].stopped_at, Some(at("2026-01-12T16:00:00Z")));
    assert_eq!(clocks[0].breached_at, Some(at("2026-01-12T15:00:00Z")));
    assert_eq!(clocks[0].due_at, Some(at("2026-01-12T15:00:00Z")));
    assert_eq!(clocks[0].breached_by, Some(holder("q1", "v1")));
    assert_eq!(clocks[0].business_seconds_used, 2 * HOUR);

    // Monday 16:00 EST, answered at 17:30 after closing: only the hour to
    // 17:00 counted, but the due time (17:00) passed before the reply.
    let evening = History::created("2026-01-12T21:00:00Z", Priority::Normal, queue("q1", "v1"))
        .replied("2026-01-12T22:30:00Z");
    let clocks = compute(
        &terms,
        |_| &office,
        &evening.entries,
        at("2026-01-13T00:00:00Z"),
    );
    assert_eq!(clocks[0].business_seconds_used, HOUR);
    assert_eq!(clocks[0].state, ClockState::Breached);
    assert_eq!(clocks[0].breached_at, Some(at("2026-01-12T22:00:00Z")));
}

#[test]
fn clocks_serialise_in_snake_case_with_utc_times() {
    let office = new_york();
    let history = History::created("2026-01-09T21:30:00Z", Priority::Normal, queue("q1", "v1"));
    let clocks = compute(
        &terms(Some(HOUR), None, None),
        |_| &office,
        &history.entries,
        at("2026-01-10T12:00:00Z"),
    );
    let json = serde_json::to_value(&clocks[0]).unwrap();
    assert_eq!(json["metric"], "first_response");
    assert_eq!(json["state"], "running");
    assert_eq!(json["started_at"], "2026-01-09T21:30:00Z");
    assert_eq!(json["due_at"], "2026-01-12T14:30:00Z");
    assert_eq!(json["stopped_at"], serde_json::Value::Null);
    assert_eq!(
        json["by_vendor"],
        serde_json::json!([{"vendor_id": "v1", "queue_id": "q1", "business_seconds": 1800}])
    );
}

/// Counts the questions a clock asks its calendar.
struct Counting<'a> {
    calendar: &'a dyn BusinessCalendar,
    adds: std::cell::Cell<usize>,
    betweens: std::cell::Cell<usize>,
}

impl BusinessCalendar for Counting<'_> {
    fn add_business_seconds(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        self.adds.set(self.adds.get() + 1);
        self.calendar.add_business_seconds(from, seconds)
    }

    fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.betweens.set(self.betweens.get() + 1);
        self.calendar.business_seconds_between(from, to)
    }
}

#[test]
fn the_calendar_is_asked_once_per_counted_span_not_per_event() {
    let office = new_york();
    let counting = Counting {
        calendar: &office,
        adds: Default::default(),
        betweens: Default::default(),
    };
    let mut history = History::created("2026-01-12T14:00:00Z", Priority::Normal, queue("q1", "v1"));
    for minute in 0..500 {
        let when = at("2026-01-12T14:00:00Z") + chrono::Duration::minutes(minute);
        history = history.add(
            when,
            EventData::NoteAdded {
                message_id: "m".into(),
            },
        );
    }
    let history = history
        .status("2026-01-13T15:00:00Z", Status::Pending)
        .status("2026-01-14T15:00:00Z", Status::Open);
    // Any calendar behind the trait: here a trait object.
    let calendar: &dyn BusinessCalendar = &counting;
    let clocks = compute(
        &terms(None, None, Some(40 * HOUR)),
        |_| calendar,
        &history.entries,
        at("2026-01-15T15:00:00Z"),
    );
    assert_eq!(clocks[0].state, ClockState::Running);
    // Two spans (before and after the pause), and one addition each for
    // the due and the warning time.
    assert_eq!((counting.betweens.get(), counting.adds.get()), (2, 2));
}

mod random_histories {
    use super::*;
    use proptest::prelude::*;

    /// One random step of a history: seconds after the previous one (a
    /// few go back, as out-of-order rows would), and what happened.
    #[derive(Debug, Clone)]
    enum Step {
        Status(Status),
        Priority(Priority),
        Queue(Option<&'static str>),
        Replied,
        Customer { automatic: bool },
        Note,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => prop::sample::select(Status::ALL.to_vec()).prop_map(Step::Status),
            1 => prop::sample::select(Priority::ALL.to_vec()).prop_map(Step::Priority),
            1 => prop::sample::select(vec![None, Some("manila"), Some("berlin")]).prop_map(Step::Queue),
            2 => Just(Step::Replied),
            2 => any::<bool>().prop_map(|automatic| Step::Customer { automatic }),
            1 => Just(Step::Note),
        ]
    }

    fn targets() -> impl Strategy<Value = Targets> {
        let target = || prop::option::of(0i64..40 * HOUR);
        (target(), target(), target()).prop_map(|(first_response, next_response, resolution)| {
            Targets {
                first_response,
                next_response,
                resolution,
            }
        })
    }

    fn terms() -> impl Strategy<Value = Terms> {
        let pauses = prop_oneof![
            Just(vec![]),
            prop::sample::subsequence(Status::ALL.to_vec(), 0..=3),
        ];
        (targets(), targets(), targets(), targets(), pauses, 1u8..=99).prop_map(
            |(low, normal, high, urgent, pause_statuses, warning_percent)| Terms {
                targets: PriorityTargets {
                    low,
                    normal,
                    high,
                    urgent,
                },
                pause_statuses,
                warning_percent,
            },
        )
    }

    fn history(
        start_priority: Priority,
        steps: &[(i64, u32, Step)],
    ) -> (Vec<Entry>, DateTime<Utc>) {
        let mut when = at("2026-03-26T06:00:00Z");
        let mut history = History::created(
            "2026-03-26T06:00:00Z",
            start_priority,
            queue("manila", "va"),
        );
        for (gap, nanos, step) in steps {
            when +=
                chrono::Duration::seconds(*gap) + chrono::Duration::nanoseconds(i64::from(*nanos));
            let data = match step {
                Step::Status(to) => EventData::StatusChanged {
                    from: history.status,
                    to: *to,
                    reason: None,
                },
                Step::Priority(to) => EventData::PriorityChanged {
                    from: history.priority,
                    to: *to,
                },
                Step::Queue(to) => EventData::QueueChanged {
                    from: history.queue.clone(),
                    to: to.and_then(|q| queue(q, &format!("vendor-{q}"))),
                    handed_off: true,
                    reason: None,
                    note: None,
                },
                Step::Replied => EventData::Replied {
                    message_id: "m".into(),
                    channel: Channel::Api,
                },
                Step::Customer { automatic } => EventData::CustomerReplied {
                    message_id: "m".into(),
                    channel: Channel::Web,
                    automatic: *automatic,
                    threaded_by: None,
                    refused_attachments: vec![],
                },
                Step::Note => EventData::NoteAdded {
                    message_id: "m".into(),
                },
            };
            match &data {
                EventData::StatusChanged { to, .. } => history.status = *to,
                EventData::PriorityChanged { to, .. } => history.priority = *to,
                EventData::QueueChanged { to, .. } => history.queue = to.clone(),
                _ => {}
            }
            history = history.add(when, data);
        }
        (history.entries, when)
    }

    /// Resolution time on a 24/7 calendar with no pauses, the obvious way:
    /// every second from creation to `as_of` the ticket was neither solved
    /// nor closed, up to its first close.
    fn open_seconds(entries: &[Entry], as_of: DateTime<Utc>) -> i64 {
        let mut status = Status::New;
        let mut since = whole_seconds(entries[0].at);
        let mut total = 0;
        for entry in &entries[1..] {
            let when = whole_seconds(entry.at).max(since);
            if when > as_of {
                break;
            }
            if !matches!(status, Status::Solved | Status::Closed) {
                total += (when - since).num_seconds();
            }
            since = when;
            if status == Status::Closed {
                return total;
            }
            if let EventData::StatusChanged { to, .. } = entry.data {
                status = to;
            }
        }
        if !matches!(status, Status::Solved | Status::Closed) {
            total += (as_of - since).num_seconds();
        }
        total
    }

    proptest! {
        #[test]
        fn random_histories_keep_the_clock_invariants(
            terms in terms(),
            start_priority in prop::sample::select(Priority::ALL.to_vec()),
            steps in prop::collection::vec((-600i64..30_000, 0u32..1_000_000_000, step()), 0..25),
            as_of_back in 0i64..200_000,
            calendars in 0usize..3,
        ) {
            let manila = weekdays("Asia/Manila", "09:00", "17:00", &["2026-03-31"]);
            let berlin = weekdays("Europe/Berlin", "09:00", "17:00", &[]);
            let always = Calendar::always_open();
            let (entries, last) = history(start_priority, &steps);
            // From the middle of the history to well after it.
            let as_of = whole_seconds(last + chrono::Duration::seconds(100_000 - as_of_back));
            let clocks = compute(
                &terms,
                |q: Option<&QueueRef>| match (calendars, q.map(|q| q.queue_id.as_str())) {
                    (0, _) => &always,
                    (1, _) => &berlin,
                    (_, Some("manila")) => &manila,
                    (_, Some("berlin")) => &berlin,
                    (_, _) => &always,
                },
                &entries,
                as_of,
            );
            let order: Vec<_> = clocks.iter().map(|c| (c.metric, c.cycle)).collect();
            let mut sorted = order.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(&order, &sorted);
            let position = |id: &str| entries.iter().position(|e| e.id == id);
            for clock in &clocks {
                let ends = clock.stopped_at.unwrap_or(as_of);
                prop_assert!(clock.started_at <= ends);
                prop_assert_eq!(
                    clock.business_seconds_used,
                    clock.by_vendor.iter().map(|v| v.business_seconds).sum::<i64>()
                );
                prop_assert!(clock.business_seconds_used <= (ends - clock.started_at).num_seconds());
                match clock.state {
                    ClockState::Met => {
                        prop_assert!(clock.stopped_at.is_some());
                        prop_assert!(clock.due_at.is_none_or(|due| ends <= due));
                    }
                    ClockState::Breached => {
                        let breached = clock.breached_at.unwrap();
                        prop_assert_eq!(clock.due_at, Some(breached));
                        prop_assert!(breached < ends);
                        prop_assert!(clock.breached_by.is_some());
                    }
                    ClockState::Running | ClockState::Paused => {
                        prop_assert!(clock.stopped_at.is_none());
                        prop_assert!(clock.due_at.is_none_or(|due| due >= as_of));
                    }
                }
                if clock.state != ClockState::Breached {
                    prop_assert!(clock.business_seconds_used <= clock.target_seconds);
                    prop_assert_eq!(clock.breached_at, None);
                }
                if let (Some(warning), Some(due)) = (clock.warning_at, clock.due_at) {
                    prop_assert!(warning <= due);
                }
                let mut previous = clock.started_at;
                for (index, pause) in clock.pauses.iter().enumerate() {
                    prop_assert!(pause.from >= previous);
                    match pause.to {
                        Some(to) => {
                            prop_assert!(pause.from < to && to <= ends);
                            previous = to;
                        }
                        None => {
                            prop_assert_eq!(index, clock.pauses.len() - 1);
                            prop_assert!(clock.stopped_at.is_none());
                        }
                    }
                }
                let places: Vec<_> = clock.events.iter().map(|id| position(id)).collect();
                prop_assert!(places.iter().all(Option::is_some), "{:?}", clock.events);
                prop_assert!(places.windows(2).all(|w| w[0] < w[1]), "{:?}", clock.events);
                if calendars == 0 && terms.pause_statuses.is_empty() {
                    let expected = match clock.metric {
                        Metric::Resolution => open_seconds(&entries, as_of),
                        _ => (ends - clock.started_at).num_seconds(),
                    };
                    prop_assert_eq!(clock.business_seconds_used, expected);
                }
            }
        }
    }
}
