//! Calendars: when a team works, in its own time zone. Pure: no I/O.
//!
//! A calendar is a weekly pattern of wall-clock intervals in an IANA zone,
//! minus holidays. Every question about it is answered by turning the
//! pattern into real (UTC) intervals one local date at a time, so a
//! 09:00–17:00 interval is 8 real hours on every date, and a 00:00–24:00 day
//! is 23 or 25 hours on the dates the clocks change. Queue coverage, agent
//! shifts, follow-the-sun routing and SLA business time ([`business_time`])
//! all read the same stream of open intervals, [`Calendar::open_intervals`].
//!
//! Wall-clock times the zone skips or repeats resolve one way, so the mapping
//! from wall clock to real time never goes backwards: a time that does not
//! exist (in the spring gap) means the first instant after the gap, and a
//! time that happens twice (in the autumn overlap) means its first
//! occurrence.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::validate::Errors;

pub mod business_time;
pub use business_time::{AlwaysOpen, BusinessTime};

/// Minutes in a day: the end of an interval that runs to midnight (`24:00`).
pub const DAY_MINUTES: u16 = 24 * 60;
/// Intervals a calendar may have in a week.
pub const MAX_WEEKLY_INTERVALS: usize = 7 * 48;
/// Holidays a calendar may list (decades of a national feed).
pub const MAX_HOLIDAYS: usize = 5_000;
/// How far ahead a search for the next opening or closing looks: a year and
/// a month, so a calendar closed for a long holiday season still answers,
/// and one that is always open answers "no change" instead of looping.
pub const SEARCH_DAYS: i64 = 400;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One weekly interval as clients write it: `{"day": "mon", "start":
/// "09:00", "end": "17:00"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyInterval {
    /// `mon` … `sun`.
    pub day: String,
    /// `HH:MM`, from `00:00`.
    pub start: String,
    /// `HH:MM`, after `start`, up to `24:00`.
    pub end: String,
}

/// What a calendar is, as stored in each of its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub name: String,
    pub timezone: String,
    pub weekly: Vec<WeeklyInterval>,
    pub holidays: Vec<NaiveDate>,
}

/// An open interval of a local day, in minutes since its midnight: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct DayInterval {
    start: u16,
    end: u16,
}

/// A calendar ready for arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    zone: Tz,
    /// Monday first; each day's intervals sorted and disjoint.
    weekly: [Vec<DayInterval>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// Parses `HH:MM`; `24:00` only where `allow_midnight_end`.
fn parse_clock(text: &str, allow_midnight_end: bool) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    match (hours, minutes) {
        (24, 0) if allow_midnight_end => Some(DAY_MINUTES),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

fn format_clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Parses an IANA zone name such as `Europe/Berlin`.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

impl Definition {
    /// Checks every field, naming each problem (`weekly[2].end`,
    /// `holidays[0]`), and builds the calendar.
    pub fn validate(&self, errors: &mut Errors) -> Option<Calendar> {
        let zone = parse_zone(&self.timezone);
        if zone.is_none() {
            errors.add(
                "timezone",
                format!(
                    "'{}' is not an IANA time zone such as Europe/Berlin",
                    self.timezone
                ),
            );
        }
        let weekly = self.validate_weekly(errors);
        if self.holidays.len() > MAX_HOLIDAYS {
            errors.add("holidays", format!("at most {MAX_HOLIDAYS} holidays"));
        }
        let holidays = self.holidays.iter().copied().collect();
        if !errors.is_empty() {
            return None;
        }
        Some(Calendar {
            zone: zone?,
            weekly,
            holidays,
        })
    }

    fn validate_weekly(&self, errors: &mut Errors) -> [Vec<DayInterval>; 7] {
        let mut weekly: [Vec<(DayInterval, usize)>; 7] = Default::default();
        if self.weekly.len() > MAX_WEEKLY_INTERVALS {
            errors.add(
                "weekly",
                format!("at most {MAX_WEEKLY_INTERVALS} intervals"),
            );
        }
        for (index, interval) in self.weekly.iter().enumerate() {
            let field = |name: &str| format!("weekly[{index}].{name}");
            let day = DAY_NAMES.iter().position(|d| *d == interval.day);
            if day.is_none() {
                errors.add(
                    &field("day"),
                    "must be one of mon, tue, wed, thu, fri, sat, sun",
                );
            }
            let start = parse_clock(&interval.start, false);
            if start.is_none() {
                errors.add(&field("start"), "must be a time HH:MM from 00:00 to 23:59");
            }
            let end = parse_clock(&interval.end, true);
            if end.is_none() {
                errors.add(&field("end"), "must be a time HH:MM from 00:01 to 24:00");
            }
            let (Some(day), Some(start), Some(end)) = (day, start, end) else {
                continue;
            };
            if end <= start {
                errors.add(
                    &field("end"),
                    "must be after start; an interval may not cross midnight (write two, the first ending at 24:00)",
                );
                continue;
            }
            weekly[day].push((DayInterval { start, end }, index));
        }
        weekly.map(|mut day| {
            day.sort();
            for pair in day.windows(2) {
                let ((earlier, first), (later, second)) = (pair[0], pair[1]);
                if later.start < earlier.end {
                    errors.add(
                        &format!("weekly[{second}]"),
                        format!("overlaps weekly[{first}] on the same day"),
                    );
                }
            }
            day.into_iter().map(|(interval, _)| interval).collect()
        })
    }
}

impl Calendar {
    /// Open all day, every day, in UTC: what "no calendar" means.
    pub fn always_open() -> Calendar {
        Calendar {
            zone: Tz::UTC,
            weekly: std::array::from_fn(|_| {
                vec![DayInterval {
                    start: 0,
                    end: DAY_MINUTES,
                }]
            }),
            holidays: BTreeSet::new(),
        }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The instant a wall-clock time of a local date means (see the module
    /// note for times the zone skips or repeats).
    fn instant(&self, date: NaiveDate, minute: u16) -> DateTime<Utc> {
        let mut local = date.and_hms_opt(0, 0, 0).expect("midnight exists")
            + Duration::minutes(i64::from(minute));
        // A skipped time: walk to the first wall-clock minute after the gap.
        // Gaps are at most a day long (Samoa, 2011), so this ends.
        for _ in 0..=DAY_MINUTES * 2 {
            match self.zone.from_local_datetime(&local) {
                LocalResult::Single(at) => return at.with_timezone(&Utc),
                LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                LocalResult::None => local += Duration::minutes(1),
            }
        }
        unreachable!("time zone {} skips more than two days", self.zone)
    }

    /// The real intervals a local date is open, in order.
    fn date_intervals(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let day = if self.holidays.contains(&date) {
            &[][..]
        } else {
            &self.weekly[date.weekday().num_days_from_monday() as usize][..]
        };
        day.iter()
            .map(move |i| (self.instant(date, i.start), self.instant(date, i.end)))
            .filter(|(start, end)| start < end)
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    fn never_open(&self) -> bool {
        self.weekly.iter().all(Vec::is_empty)
    }

    /// The open intervals `[start, end)` that end after `from`, in order,
    /// within [`SEARCH_DAYS`] of it. Touching intervals (Monday 24:00 and
    /// Tuesday 00:00) are joined, so consecutive items have closed time
    /// between them; an interval that is open for the whole search window
    /// ends at its edge.
    pub fn open_intervals(&self, from: DateTime<Utc>) -> OpenIntervals<'_> {
        // The previous local date too: its last interval may reach past
        // midnight in real time, or `from` may sit in a skipped hour.
        let first = self.local_date(from).pred_opt().unwrap_or(NaiveDate::MIN);
        OpenIntervals {
            calendar: self,
            from,
            next_date: first,
            last_date: self
                .local_date(from)
                .checked_add_signed(Duration::days(SEARCH_DAYS))
                .unwrap_or(NaiveDate::MAX),
            pending: Vec::new(),
        }
    }

    /// Whether the calendar is open at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.open_intervals(at)
            .next()
            .is_some_and(|(start, _)| start <= at)
    }

    /// The next instant after `at` at which the calendar opens (when it is
    /// closed at `at`) or closes (when open); `None` when nothing changes
    /// within [`SEARCH_DAYS`].
    pub fn next_change(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (start, end) = self.open_intervals(at).next()?;
        if start > at {
            return Some(start);
        }
        let horizon = at + Duration::days(SEARCH_DAYS);
        (end < horizon).then_some(end)
    }

    /// The weekly pattern as clients write it (for views).
    pub fn weekly_view(&self) -> Vec<WeeklyInterval> {
        self.weekly
            .iter()
            .zip(DAY_NAMES)
            .flat_map(|(intervals, day)| {
                intervals.iter().map(move |i| WeeklyInterval {
                    day: day.to_string(),
                    start: format_clock(i.start),
                    end: format_clock(i.end),
                })
            })
            .collect()
    }
}

/// See [`Calendar::open_intervals`].
pub struct OpenIntervals<'a> {
    calendar: &'a Calendar,
    from: DateTime<Utc>,
    next_date: NaiveDate,
    last_date: NaiveDate,
    /// Intervals of dates read but not yet given out, oldest first.
    pending: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl OpenIntervals<'_> {
    /// Reads the next local date's intervals; false past the search window.
    fn read_date(&mut self) -> bool {
        if self.next_date > self.last_date || self.calendar.never_open() {
            return false;
        }
        let date = self.next_date;
        self.pending.extend(self.calendar.date_intervals(date));
        self.next_date = date.succ_opt().unwrap_or(NaiveDate::MAX);
        if date == NaiveDate::MAX {
            self.last_date = NaiveDate::MIN;
        }
        true
    }

    /// Where the search window ends: every open interval before this instant
    /// has been given out or skipped, so a search that must go further
    /// restarts here. `None` when the window reaches the end of time.
    fn window_end(&self) -> Option<DateTime<Utc>> {
        // `read_date` marks the end of time by setting `last_date` to MIN.
        let reached_end_of_time = self.last_date == NaiveDate::MIN;
        let after_window = self.last_date.succ_opt().filter(|_| !reached_end_of_time)?;
        Some(self.calendar.instant(after_window, 0))
    }
}

impl Iterator for OpenIntervals<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // Drop what ended before the search began.
            self.pending.retain(|(_, end)| *end > self.from);
            if self.pending.is_empty() {
                if !self.read_date() {
                    return None;
                }
                continue;
            }
            let (start, mut end) = self.pending.remove(0);
            loop {
                if self.pending.is_empty() && !self.read_date() {
                    return Some((start, end));
                }
                match self.pending.first() {
                    Some(&(next_start, next_end)) if next_start <= end => {
                        end = end.max(next_end);
                        self.pending.remove(0);
                    }
                    Some(_) => return Some((start, end)),
                    None => {}
                }
            }
        }
    }
}

/// What an iCalendar holiday feed holds for a calendar.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HolidayFeed {
    /// Every date an all-day event covers (a three-day event gives three).
    pub dates: BTreeSet<NaiveDate>,
    /// Events that are not all-day (a meeting, a half day), not imported.
    pub timed_events: usize,
    /// Events with a recurrence rule, imported as their first occurrence
    /// only: national feeds list each year's dates, and a rule would need
    /// an end to be expanded.
    pub recurring_events: usize,
}

/// Reads the all-day events of an iCalendar file (RFC 5545) as holidays.
/// The error says why the text is not an iCalendar file.
pub fn holidays_from_icalendar(text: &str) -> Result<HolidayFeed, String> {
    use icalendar::{Component, DatePerhapsTime};
    if !text
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("BEGIN:VCALENDAR")
    {
        return Err("an iCalendar file starts with BEGIN:VCALENDAR".into());
    }
    let calendar: icalendar::Calendar = text
        .parse()
        .map_err(|e: String| format!("not a valid iCalendar file: {}", e.trim()))?;
    let mut feed = HolidayFeed::default();
    for event in calendar.components.iter().filter_map(|c| c.as_event()) {
        let (Some(DatePerhapsTime::Date(first)), end) = (event.get_start(), event.get_end()) else {
            feed.timed_events += 1;
            continue;
        };
        if event.property_value("RRULE").is_some() {
            feed.recurring_events += 1;
        }
        // DTEND of an all-day event is exclusive; without one it is one day.
        let last = match end {
            Some(DatePerhapsTime::Date(end)) if end > first => end.pred_opt().unwrap_or(first),
            _ => first,
        };
        let mut date = first;
        while date <= last && feed.dates.len() <= MAX_HOLIDAYS {
            feed.dates.insert(date);
            date = date.succ_opt().unwrap_or(NaiveDate::MAX);
            if date == NaiveDate::MAX {
                break;
            }
        }
    }
    Ok(feed)
}

/// The weekday names clients write, Monday first.
pub fn day_name(day: Weekday) -> &'static str {
    DAY_NAMES[day.num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn interval(day: &str, start: &str, end: &str) -> WeeklyInterval {
        WeeklyInterval {
            day: day.into(),
            start: start.into(),
            end: end.into(),
        }
    }

    pub(super) fn calendar(zone: &str, weekly: Vec<WeeklyInterval>, holidays: &[&str]) -> Calendar {
        let definition = Definition {
            name: "test".into(),
            timezone: zone.into(),
            weekly,
            holidays: holidays.iter().map(|d| d.parse().unwrap()).collect(),
        };
        let mut errors = Errors::default();
        let calendar = definition.validate(&mut errors);
        assert!(errors.is_empty(), "{:?}", errors.0);
        calendar.unwrap()
    }

    pub(super) fn every_day(start: &str, end: &str) -> Vec<WeeklyInterval> {
        DAY_NAMES.iter().map(|d| interval(d, start, end)).collect()
    }

    pub(super) fn weekdays(start: &str, end: &str) -> Vec<WeeklyInterval> {
        DAY_NAMES[..5]
            .iter()
            .map(|d| interval(d, start, end))
            .collect()
    }

    pub(super) fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn errors_of(definition: Definition) -> Vec<(String, String)> {
        let mut errors = Errors::default();
        definition.validate(&mut errors);
        errors.0.into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn a_working_day_is_eight_real_hours_on_every_date() {
        let berlin = calendar("Europe/Berlin", every_day("09:00", "17:00"), &[]);
        for day in ["2026-03-28", "2026-03-29", "2026-03-30", "2026-10-25"] {
            let noon = at(&format!("{day}T12:00:00+00:00"));
            let (start, end) = berlin.open_intervals(noon).next().unwrap();
            assert_eq!(end - start, Duration::hours(8), "{day}");
        }
    }

    #[test]
    fn a_whole_day_is_23_or_25_hours_when_the_clocks_change() {
        let new_york = calendar(
            "America/New_York",
            vec![interval("sun", "00:00", "24:00")],
            &[],
        );
        let spring = new_york
            .open_intervals(at("2026-03-08T12:00:00Z"))
            .next()
            .unwrap();
        assert_eq!(
            spring,
            (at("2026-03-08T05:00:00Z"), at("2026-03-09T04:00:00Z"))
        );
        assert_eq!(spring.1 - spring.0, Duration::hours(23));
        let autumn = new_york
            .open_intervals(at("2026-11-01T12:00:00Z"))
            .next()
            .unwrap();
        assert_eq!(autumn.1 - autumn.0, Duration::hours(25));
    }

    #[test]
    fn lord_howe_shifts_by_half_an_hour() {
        // Lord Howe moves from +10:30 to +11:00 at 02:00 on 2026-10-04.
        let lord_howe = calendar("Australia/Lord_Howe", every_day("00:00", "24:00"), &[]);
        let day = lord_howe
            .date_intervals("2026-10-04".parse().unwrap())
            .next()
            .unwrap();
        assert_eq!(day.1 - day.0, Duration::minutes(23 * 60 + 30));
    }

    #[test]
    fn a_time_the_zone_skips_means_the_first_instant_after_the_gap() {
        // New York skips 02:00–03:00 on 2026-03-08: 02:30 means 03:00 EDT.
        let new_york = calendar(
            "America/New_York",
            vec![interval("sun", "02:30", "04:00")],
            &[],
        );
        let (start, end) = new_york
            .open_intervals(at("2026-03-08T00:00:00Z"))
            .next()
            .unwrap();
        assert_eq!(start, at("2026-03-08T07:00:00Z"));
        assert_eq!(end, at("2026-03-08T08:00:00Z"));
        // An interval entirely inside the gap is never open.
        let gap = calendar(
            "America/New_York",
            vec![interval("sun", "02:00", "02:59")],
            &[],
        );
        let next = gap
            .open_intervals(at("2026-03-08T00:00:00Z"))
            .next()
            .unwrap();
        assert_eq!(next.0, at("2026-03-15T06:00:00Z"));
    }

    #[test]
    fn a_repeated_time_means_its_first_occurrence() {
        // New York repeats 01:00–02:00 on 2026-11-01 (EDT, then EST).
        let new_york = calendar(
            "America/New_York",
            vec![interval("sun", "01:00", "02:00")],
            &[],
        );
        let (start, end) = new_york
            .open_intervals(at("2026-11-01T00:00:00Z"))
            .next()
            .unwrap();
        assert_eq!(start, at("2026-11-01T05:00:00Z"));
        assert_eq!(end, at("2026-11-01T07:00:00Z"));
    }

    #[test]
    fn open_and_next_change_follow_the_pattern() {
        let manila = calendar(
            "Asia/Manila",
            vec![
                interval("mon", "08:00", "12:00"),
                interval("mon", "13:00", "17:00"),
            ],
            &[],
        );
        // Monday 2026-12-07 09:00 in Manila is 01:00 UTC.
        assert!(manila.is_open(at("2026-12-07T01:00:00Z")));
        assert_eq!(
            manila.next_change(at("2026-12-07T01:00:00Z")),
            Some(at("2026-12-07T04:00:00Z"))
        );
        // Lunch.
        assert!(!manila.is_open(at("2026-12-07T04:00:00Z")));
        assert_eq!(
            manila.next_change(at("2026-12-07T04:00:00Z")),
            Some(at("2026-12-07T05:00:00Z"))
        );
        // After Monday: next Monday.
        assert_eq!(
            manila.next_change(at("2026-12-07T09:00:00Z")),
            Some(at("2026-12-14T00:00:00Z"))
        );
    }

    #[test]
    fn holidays_are_closed_all_day() {
        let berlin = calendar(
            "Europe/Berlin",
            weekdays("09:00", "17:00"),
            &["2026-12-24", "2026-12-25"],
        );
        assert!(!berlin.is_open(at("2026-12-24T10:00:00Z")));
        // Thursday 24th and Friday 25th off, then the weekend: Monday 28th, 09:00 CET.
        assert_eq!(
            berlin.next_change(at("2026-12-23T17:00:00Z")),
            Some(at("2026-12-28T08:00:00Z"))
        );
    }

    #[test]
    fn touching_days_are_one_interval() {
        let support = calendar(
            "Europe/Berlin",
            vec![
                interval("mon", "18:00", "24:00"),
                interval("tue", "00:00", "06:00"),
            ],
            &[],
        );
        // Monday 2026-12-07 20:00 CET: open until Tuesday 06:00 CET.
        assert_eq!(
            support.next_change(at("2026-12-07T19:00:00Z")),
            Some(at("2026-12-08T05:00:00Z"))
        );
    }

    #[test]
    fn always_open_and_never_open_have_no_next_change() {
        let always = calendar("UTC", every_day("00:00", "24:00"), &[]);
        assert!(always.is_open(at("2026-06-01T00:00:00Z")));
        assert_eq!(always.next_change(at("2026-06-01T00:00:00Z")), None);
        assert_eq!(
            Calendar::always_open().next_change(at("2026-06-01T00:00:00Z")),
            None
        );
        let never = calendar("UTC", vec![], &[]);
        assert!(!never.is_open(at("2026-06-01T00:00:00Z")));
        assert_eq!(never.next_change(at("2026-06-01T00:00:00Z")), None);
    }

    #[test]
    fn each_bad_field_is_named() {
        let errors = errors_of(Definition {
            name: "x".into(),
            timezone: "Mars/Olympus".into(),
            weekly: vec![
                interval("mon", "09:00", "17:00"),
                interval("mon", "12:00", "13:00"),
                interval("tue", "17:00", "09:00"),
                interval("funday", "25:00", "24:30"),
                interval("wed", "24:00", "24:00"),
            ],
            holidays: vec![],
        });
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "timezone",
                "weekly[2].end",
                "weekly[3].day",
                "weekly[3].start",
                "weekly[3].end",
                "weekly[4].start",
                "weekly[1]",
            ]
        );
        assert!(errors[1].1.contains("may not cross midnight"));
    }

    #[test]
    fn the_weekly_view_writes_what_was_read() {
        let weekly = vec![
            interval("mon", "00:00", "24:00"),
            interval("sun", "09:30", "10:00"),
        ];
        assert_eq!(calendar("UTC", weekly.clone(), &[]).weekly_view(), weekly);
    }

    #[test]
    fn a_holiday_feed_gives_the_dates_of_its_all_day_events() {
        let feed = holidays_from_icalendar(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
             BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:2\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260101\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:3\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nSUMMARY:Meeting\r\nEND:VEVENT\r\n\
             END:VCALENDAR\r\n",
        )
        .unwrap();
        let dates: Vec<String> = feed.dates.iter().map(|d| d.to_string()).collect();
        assert_eq!(dates, ["2026-01-01", "2026-12-25", "2026-12-26"]);
        assert_eq!(feed.timed_events, 1);
    }

    #[test]
    fn text_that_is_not_icalendar_is_refused_with_a_reason() {
        assert!(holidays_from_icalendar("hello")
            .unwrap_err()
            .contains("BEGIN:VCALENDAR"));
        assert!(holidays_from_icalendar("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n").is_err());
    }

    pub(super) mod reference {
        //! Openness by reading the wall clock, the obvious way, at instants
        //! whose wall-clock time happens once.
        use super::*;
        use chrono::{NaiveDateTime, Timelike};
        use proptest::prelude::*;

        pub(in crate::domain::calendar) fn reference_open(
            definition: &Definition,
            zone: Tz,
            at: DateTime<Utc>,
        ) -> bool {
            wall_clock_open(definition, at.with_timezone(&zone).naive_local())
        }

        /// Whether the definition is open at a wall-clock time.
        pub(in crate::domain::calendar) fn wall_clock_open(
            definition: &Definition,
            local: NaiveDateTime,
        ) -> bool {
            if definition.holidays.contains(&local.date()) {
                return false;
            }
            let minute = (local.hour() * 60 + local.minute()) as u16;
            let day = day_name(local.weekday());
            definition.weekly.iter().any(|i| {
                i.day == day
                    && parse_clock(&i.start, false).unwrap() <= minute
                    && minute < parse_clock(&i.end, true).unwrap()
            })
        }

        pub(in crate::domain::calendar) fn zones() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "America/New_York",
                "Europe/Berlin",
                "Asia/Manila",
                "Australia/Lord_Howe",
                "UTC",
            ])
        }

        pub(in crate::domain::calendar) fn weekly() -> impl Strategy<Value = Vec<WeeklyInterval>> {
            // Per day, up to two disjoint intervals on a 30-minute grid.
            prop::collection::vec(
                (0usize..7, prop::collection::btree_set(0u16..=48, 0..=4)),
                0..7,
            )
            .prop_map(|days| {
                let mut out = Vec::new();
                let mut seen = BTreeSet::new();
                for (day, marks) in days {
                    if !seen.insert(day) {
                        continue;
                    }
                    let marks: Vec<u16> = marks.into_iter().collect();
                    for pair in marks.chunks_exact(2) {
                        out.push(interval(
                            DAY_NAMES[day],
                            &format_clock(pair[0] * 30),
                            &format_clock(pair[1] * 30),
                        ));
                    }
                }
                out
            })
        }

        proptest! {
            #[test]
            fn is_open_agrees_with_reading_the_wall_clock(
                zone in zones(),
                weekly in weekly(),
                holiday_offsets in prop::collection::vec(0i64..30, 0..4),
                minutes in 0i64..(60 * 24 * 365 * 2),
            ) {
                let base = at("2026-01-01T00:00:00Z");
                let instant = base + Duration::minutes(minutes) + Duration::seconds(minutes % 60);
                let tz = parse_zone(zone).unwrap();
                let today = instant.with_timezone(&tz).date_naive();
                let definition = Definition {
                    name: "p".into(),
                    timezone: zone.into(),
                    weekly,
                    holidays: holiday_offsets.iter().map(|d| today + Duration::days(d - 15)).collect(),
                };
                let local = instant.with_timezone(&tz).naive_local();
                prop_assume!(matches!(tz.from_local_datetime(&local), LocalResult::Single(_)));
                let mut errors = Errors::default();
                let calendar = definition.validate(&mut errors).unwrap();
                prop_assert_eq!(calendar.is_open(instant), reference_open(&definition, tz, instant));
                // Nothing changes between an instant and its next change.
                if let Some(change) = calendar.next_change(instant) {
                    prop_assert!(change > instant);
                    let before = change - Duration::seconds(1);
                    prop_assert_eq!(calendar.is_open(before), calendar.is_open(instant));
                    prop_assert_ne!(calendar.is_open(change), calendar.is_open(instant));
                }
            }
        }
    }
}
