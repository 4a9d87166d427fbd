//! SLA due times (issue 12): `add_business_seconds` on a Mon–Fri
//! 09:00–17:00 America/New_York calendar with about 12 holidays a year, for
//! targets from a minute to 30 days (30 × 24 × 3600 business seconds, about
//! four months of office hours), through the calendar's index
//! (`BusinessTime`) and by its walk through the time zone.
//!
//!   cargo bench --bench sla
//!
//! Besides criterion's estimates it prints the due times per second of
//! both, timed in the same run, their ratio, and PASS/FAIL against issue
//! 12's target of 2,000,000 a second.

use chrono::{DateTime, NaiveDate, Utc};
use criterion::measurement::WallTime;
use criterion::{black_box, BenchmarkGroup, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use relay::domain::calendar::{BusinessTime, Calendar, Definition, WeeklyInterval};
use relay::domain::validate::Errors;
use std::time::{Duration, Instant};

const TARGET_PER_SECOND: f64 = 2_000_000.0;
const MAX_TARGET_SECONDS: i64 = 30 * 24 * 3600;
const YEARS: std::ops::RangeInclusive<i32> = 2026..=2028;
/// Month and day of each year's holidays (some fall on weekends, as real
/// ones do).
const HOLIDAYS: [(u32, u32); 12] = [
    (1, 1),
    (1, 19),
    (2, 16),
    (4, 3),
    (5, 25),
    (6, 19),
    (7, 3),
    (9, 7),
    (10, 12),
    (11, 11),
    (11, 26),
    (12, 25),
];

fn office_calendar() -> Calendar {
    let weekly = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|day| WeeklyInterval {
            day: day.to_string(),
            start: "09:00".into(),
            end: "17:00".into(),
        })
        .collect();
    let holidays = YEARS
        .flat_map(|year| {
            HOLIDAYS
                .iter()
                .map(move |&(month, day)| NaiveDate::from_ymd_opt(year, month, day).unwrap())
        })
        .collect();
    Definition {
        name: "office".into(),
        timezone: "America/New_York".into(),
        weekly,
        holidays,
    }
    .validate(&mut Errors::default())
    .expect("calendar")
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("RFC 3339 instant")
}

/// Tickets opened at random whole seconds of 2026, each with a target from
/// a minute to 30 days of business time.
fn tickets(count: usize) -> Vec<(DateTime<Utc>, i64)> {
    let mut rng = StdRng::seed_from_u64(12);
    let year_start = utc("2026-01-01T00:00:00Z").timestamp();
    (0..count)
        .map(|_| {
            let opened = year_start + rng.random_range(0..365 * 24 * 3600);
            let target = rng.random_range(60..=MAX_TARGET_SECONDS);
            (DateTime::from_timestamp(opened, 0).unwrap(), target)
        })
        .collect()
}

fn due_all(
    tickets: &[(DateTime<Utc>, i64)],
    due: &impl Fn(DateTime<Utc>, i64) -> Option<DateTime<Utc>>,
) {
    for &(opened, target) in tickets {
        black_box(due(black_box(opened), black_box(target)));
    }
}

/// Due times per second of `due`, over `tickets` repeated for at least
/// `at_least`.
fn per_second(
    tickets: &[(DateTime<Utc>, i64)],
    at_least: Duration,
    due: impl Fn(DateTime<Utc>, i64) -> Option<DateTime<Utc>>,
) -> f64 {
    let (started, mut computed) = (Instant::now(), 0usize);
    while computed == 0 || started.elapsed() < at_least {
        due_all(tickets, &due);
        computed += tickets.len();
    }
    computed as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let calendar = office_calendar();
    let started = Instant::now();
    // 2026's tickets are due by mid-2027; the index covers both years.
    let index: BusinessTime =
        calendar.business_time(utc("2026-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z"));
    println!(
        "business_time: index of 2026-2027 built in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let many = tickets(100_000);
    let few = &many[..500];
    for &(opened, target) in few {
        assert_eq!(
            index.add_business_seconds(opened, target),
            calendar.add_business_seconds(opened, target),
            "{opened} + {target} s"
        );
    }

    let by_index = |opened, target| index.add_business_seconds(opened, target);
    let by_walk = |opened, target| calendar.add_business_seconds(opened, target);
    let index_rate = per_second(&many, Duration::from_secs(2), by_index);
    let walk_rate = per_second(few, Duration::from_secs(2), by_walk);
    println!(
        "business_time/index: {index_rate:.0} due times/s (target >= {TARGET_PER_SECOND:.0}/s): {}",
        if index_rate >= TARGET_PER_SECOND {
            "PASS"
        } else {
            "FAIL"
        }
    );
    println!("business_time/walk: {walk_rate:.0} due times/s");
    println!(
        "business_time: the index computes {:.0}x as many due times a second as the walk",
        index_rate / walk_rate
    );

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut group = criterion.benchmark_group("business_time");
    // 50 samples fit the 3 s each path is measured for.
    group.sample_size(50);
    // The walk takes tens of microseconds a ticket: fewer per iteration.
    bench_due_times(&mut group, "index", &many[..10_000], by_index);
    bench_due_times(&mut group, "walk", &many[..100], by_walk);
    group.finish();
    criterion.final_summary();
}

fn bench_due_times(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    tickets: &[(DateTime<Utc>, i64)],
    due: impl Fn(DateTime<Utc>, i64) -> Option<DateTime<Utc>>,
) {
    group.throughput(Throughput::Elements(tickets.len() as u64));
    group.bench_function(format!("add_business_seconds/{name}"), |b| {
        b.iter(|| due_all(tickets, &due))
    });
}
