//! Business time for SLA clocks (issue 12): how much open time lies between
//! two instants, and the instant at which a given amount of it has passed.
//!
//! [`Calendar::business_seconds_between`] and
//! [`Calendar::add_business_seconds`] walk the calendar's open intervals, so
//! they answer exactly what coverage and routing answer, for spans of any
//! length.
//!
//! Open time is counted exactly, sub-second parts included; "seconds" are its
//! whole seconds (rounded down). So `add_business_seconds(from, n)` is the
//! instant at which exactly `n` seconds of open time have passed since
//! `from`, the earliest one at which `business_seconds_between` reaches `n`.

use chrono::{DateTime, Duration, Utc};

use super::{Calendar, OpenIntervals};

impl Calendar {
    /// The instant `seconds` (>= 0) business seconds after `from`: the
    /// earliest `t` with `business_seconds_between(from, t) == seconds`.
    /// `seconds == 0` gives `from`. `None` when the calendar never opens that
    /// much (a never-open calendar), and for negative `seconds`, which no
    /// instant after `from` is.
    pub fn add_business_seconds(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        let mut remaining = match seconds {
            0 => return Some(from),
            1.. => Duration::try_seconds(seconds)?,
            _ => return None,
        };
        for (start, end) in self.open_spans(from, DateTime::<Utc>::MAX_UTC) {
            let open = end - start;
            if remaining <= open {
                return Some(start + remaining);
            }
            remaining -= open;
        }
        None
    }

    /// Open seconds in `[from, to)`; 0 when `to <= from`.
    pub fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.open_spans(from, to)
            .map(|(start, end)| end - start)
            .sum::<Duration>()
            .num_seconds()
    }

    /// The open intervals in `[from, until)`, cut to it, in order. The
    /// stream of open intervals stops [`super::SEARCH_DAYS`] ahead, and
    /// business time may span years (or a holiday season longer than the
    /// window), so this restarts it where each window ends.
    fn open_spans(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> OpenSpans<'_> {
        OpenSpans {
            calendar: self,
            // A never-open calendar would restart empty windows until the
            // end of time.
            until: if self.never_open() { from } else { until },
            given_out_until: from,
            window: self.open_intervals(from),
        }
    }
}

/// See [`Calendar::open_spans`].
struct OpenSpans<'a> {
    calendar: &'a Calendar,
    until: DateTime<Utc>,
    /// Everything before this instant has been given out.
    given_out_until: DateTime<Utc>,
    window: OpenIntervals<'a>,
}

impl Iterator for OpenSpans<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.given_out_until < self.until {
            let Some((start, end)) = self.window.next() else {
                // The window ends 401 local days after it began, so this
                // moves forward.
                self.given_out_until = self.window.window_end()?.max(self.given_out_until);
                self.window = self.calendar.open_intervals(self.given_out_until);
                continue;
            };
            // The first interval of a window may have begun before it.
            let start = start.max(self.given_out_until);
            if start >= self.until {
                break;
            }
            let end = end.min(self.until);
            self.given_out_until = end;
            return Some((start, end));
        }
        None
    }
}

/// A calendar's open time over a window of instants, indexed so that SLA
/// clocks need no time-zone arithmetic: due times for many tickets (issue 12
/// asks for 2,000,000 a second) are binary searches over open intervals with
/// running sums of their open seconds.
///
/// Build it once per calendar, [`Calendar::business_time`], over the window
/// the tickets live in (say a month back and a year ahead; a Mon–Fri calendar
/// is about 260 intervals a year) and keep it beside the calendar. It answers
/// exactly as the calendar does: inside its window from the index, and for
/// instants or targets outside it by the calendar's own walk, only slower.
#[derive(Debug, Clone)]
pub struct BusinessTime {
    /// Owned, so the index can be cached apart from whoever holds the calendar.
    calendar: Calendar,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    /// The open intervals inside the window, in order and disjoint.
    spans: Vec<IndexedSpan>,
}

/// One open interval of a [`BusinessTime`], in unix seconds: `[start, end)`.
#[derive(Debug, Clone, Copy)]
struct IndexedSpan {
    start: i64,
    end: i64,
    /// Open seconds from the window's start to `end`.
    open_until_end: i64,
}

impl Calendar {
    /// An index of this calendar's open time from `from` to `to` (widened to
    /// whole seconds); see [`BusinessTime`].
    pub fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BusinessTime {
        BusinessTime::new(self.clone(), from, to)
    }
}

impl BusinessTime {
    pub fn new(calendar: Calendar, from: DateTime<Utc>, to: DateTime<Utc>) -> BusinessTime {
        // The window's edges become the first and last intervals' bounds, so
        // whole seconds keep every bound whole: the calendar's own are
        // wall-clock minutes in zones whose offsets are whole seconds.
        let window_start = DateTime::from_timestamp(from.timestamp(), 0).unwrap_or(from);
        let window_end = match to.timestamp_subsec_nanos() {
            0 => to,
            _ => DateTime::from_timestamp(to.timestamp() + 1, 0).unwrap_or(to),
        }
        .max(window_start);
        let mut open_so_far = 0;
        let spans = calendar
            .open_spans(window_start, window_end)
            .map(|(start, end)| {
                debug_assert_eq!(
                    start.timestamp_subsec_nanos() + end.timestamp_subsec_nanos(),
                    0
                );
                let (start, end) = (start.timestamp(), end.timestamp());
                open_so_far += end - start;
                IndexedSpan {
                    start,
                    end,
                    open_until_end: open_so_far,
                }
            })
            .collect();
        BusinessTime {
            calendar,
            window_start,
            window_end,
            spans,
        }
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The instants the index answers for without walking the calendar:
    /// `from` and `to` of [`Self::business_seconds_between`], `from` and the
    /// result of [`Self::add_business_seconds`], from `.0` to `.1` inclusive.
    pub fn window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.window_start, self.window_end)
    }

    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.window_start <= at && at <= self.window_end
    }

    /// As [`Calendar::add_business_seconds`].
    pub fn add_business_seconds(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        let walk = || self.calendar.add_business_seconds(from, seconds);
        if seconds <= 0 || !self.covers(from) {
            return walk();
        }
        let (open_before, open_nanos) = self.open_before(from);
        let Some(target) = open_before.checked_add(seconds) else {
            return walk();
        };
        // The earliest instant with `target` seconds and `open_nanos` of open
        // time before it lies in the first interval that ends with at least
        // that much: `target` itself when there is no fraction to carry,
        // otherwise one more whole second.
        let needed = target.saturating_add(i64::from(open_nanos > 0));
        let index = self
            .spans
            .partition_point(|span| span.open_until_end < needed);
        match self.spans.get(index) {
            Some(span) => {
                DateTime::from_timestamp(span.end - (span.open_until_end - target), open_nanos)
            }
            None => walk(),
        }
    }

    /// As [`Calendar::business_seconds_between`].
    pub fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        if !(self.covers(from) && self.covers(to)) {
            return self.calendar.business_seconds_between(from, to);
        }
        let (from_seconds, from_nanos) = self.open_before(from);
        let (to_seconds, to_nanos) = self.open_before(to);
        // Whole seconds of (to_seconds + to_nanos) - (from_seconds + from_nanos).
        to_seconds - from_seconds - i64::from(to_nanos < from_nanos)
    }

    /// The open time between the window's start and `at` (inside the
    /// window): its whole seconds up to `at`'s whole second, and `at`'s
    /// nanoseconds when that second is open. Interval bounds are whole
    /// seconds, so a second is open or closed throughout.
    fn open_before(&self, at: DateTime<Utc>) -> (i64, u32) {
        let second = at.timestamp();
        let index = self.spans.partition_point(|span| span.end <= second);
        match self.spans.get(index) {
            Some(span) if span.start <= second => (
                span.open_until_end - (span.end - second),
                at.timestamp_subsec_nanos(),
            ),
            Some(span) => (span.open_until_end - (span.end - span.start), 0),
            None => (self.spans.last().map_or(0, |span| span.open_until_end), 0),
        }
    }
}

/// Business time with no calendar (24/7): every second counts, so adding
/// and measuring are plain arithmetic, as [`Calendar::always_open`] answers
/// by walking its days.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOpen;

impl AlwaysOpen {
    /// As [`Calendar::add_business_seconds`].
    pub fn add_business_seconds(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        match seconds {
            0 => Some(from),
            1.. => from.checked_add_signed(Duration::try_seconds(seconds)?),
            _ => None,
        }
    }

    /// As [`Calendar::business_seconds_between`].
    pub fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        (to - from).num_seconds().max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{at, calendar, every_day, interval, weekdays};
    use super::*;

    const HOUR: i64 = 3600;

    #[test]
    fn always_open_answers_as_the_always_open_calendar() {
        let calendar = Calendar::always_open();
        let from = at("2026-03-08T06:59:59.250Z");
        for seconds in [0, 1, 59, 3600, 86_399, 86_400, 40 * 86_400 + 7] {
            assert_eq!(
                AlwaysOpen.add_business_seconds(from, seconds),
                calendar.add_business_seconds(from, seconds),
                "{seconds}"
            );
            let to = from + Duration::milliseconds(seconds * 1000 + 999);
            assert_eq!(
                AlwaysOpen.business_seconds_between(from, to),
                calendar.business_seconds_between(from, to),
                "{seconds}"
            );
        }
        assert_eq!(AlwaysOpen.add_business_seconds(from, -1), None);
        assert_eq!(
            AlwaysOpen.business_seconds_between(from, from - Duration::hours(1)),
            0
        );
    }

    /// Business time either way: the golden cases check both.
    trait BusinessClock {
        fn add(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>>;
        fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64;
    }

    impl BusinessClock for Calendar {
        fn add(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
            self.add_business_seconds(from, seconds)
        }
        fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
            self.business_seconds_between(from, to)
        }
    }

    impl BusinessClock for BusinessTime {
        fn add(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
            self.add_business_seconds(from, seconds)
        }
        fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
            self.business_seconds_between(from, to)
        }
    }

    /// The calendar's walk, and an index over 2025–2031, which holds every
    /// golden case.
    fn both_ways(calendar: &Calendar) -> [(&'static str, Box<dyn BusinessClock>); 2] {
        let index = calendar.business_time(at("2025-01-01T00:00:00Z"), at("2032-01-01T00:00:00Z"));
        [
            ("walk", Box::new(calendar.clone())),
            ("index", Box::new(index)),
        ]
    }

    #[test]
    fn friday_afternoon_plus_an_hour_is_monday_morning() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        // Friday 2026-12-04 16:30 EST; Monday 2026-12-07 09:30 EST.
        let (friday, monday) = (at("2026-12-04T21:30:00Z"), at("2026-12-07T14:30:00Z"));
        for (way, clock) in both_ways(&new_york) {
            assert_eq!(clock.add(friday, HOUR), Some(monday), "{way}");
            assert_eq!(clock.between(friday, monday), HOUR, "{way}");
        }
    }

    #[test]
    fn whole_days_are_23_and_25_hours_when_the_clocks_change() {
        // New York springs forward on Sunday 2026-03-08: 00:00–24:00 is 23 h.
        let sundays = vec![interval("sun", "00:00", "24:00")];
        let new_york = calendar("America/New_York", sundays.clone(), &[]);
        let saturday = at("2026-03-07T12:00:00Z");
        for (way, clock) in both_ways(&new_york) {
            let monday = at("2026-03-09T04:00:00Z");
            assert_eq!(clock.add(saturday, 23 * HOUR), Some(monday), "{way}");
            // One second more is the next Sunday's first second (EDT).
            let next_sunday = at("2026-03-15T04:00:01Z");
            assert_eq!(
                clock.add(saturday, 23 * HOUR + 1),
                Some(next_sunday),
                "{way}"
            );
            // Two Sundays: 24 h and 23 h.
            let (first, last) = (at("2026-03-01T00:00:00Z"), at("2026-03-15T00:00:00Z"));
            assert_eq!(clock.between(first, last), 24 * HOUR + 23 * HOUR, "{way}");
        }
        // Berlin falls back on Sunday 2026-10-25: 00:00–24:00 is 25 h.
        let berlin = calendar("Europe/Berlin", sundays, &[]);
        let (sunday, monday) = (at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z"));
        for (way, clock) in both_ways(&berlin) {
            assert_eq!(clock.between(sunday, monday), 25 * HOUR, "{way}");
            assert_eq!(clock.add(sunday, 25 * HOUR), Some(monday), "{way}");
        }
    }

    #[test]
    fn holidays_are_skipped() {
        let berlin = calendar(
            "Europe/Berlin",
            weekdays("09:00", "17:00"),
            &["2026-12-24", "2026-12-25"],
        );
        // Wednesday 23rd 16:00 CET + 2 h: one hour left that day, then
        // Thursday and Friday off and the weekend: Monday 28th 10:00 CET.
        let (wednesday, monday) = (at("2026-12-23T15:00:00Z"), at("2026-12-28T09:00:00Z"));
        for (way, clock) in both_ways(&berlin) {
            assert_eq!(clock.add(wednesday, 2 * HOUR), Some(monday), "{way}");
            assert_eq!(clock.between(wednesday, monday), 2 * HOUR, "{way}");
        }
    }

    #[test]
    fn lord_howe_shifts_by_half_an_hour() {
        // Lord Howe moves from +10:30 to +11:00 on Sunday 2026-10-04: that
        // Sunday is 23.5 h long.
        let lord_howe = calendar(
            "Australia/Lord_Howe",
            vec![interval("sun", "00:00", "24:00")],
            &[],
        );
        // Sunday 00:00 +10:30, Monday 00:00 +11:00.
        let (sunday, monday) = (at("2026-10-03T13:30:00Z"), at("2026-10-04T13:00:00Z"));
        let sunday_long = 23 * HOUR + 1800;
        for (way, clock) in both_ways(&lord_howe) {
            assert_eq!(clock.between(sunday, monday), sunday_long, "{way}");
            assert_eq!(clock.add(sunday, sunday_long), Some(monday), "{way}");
            let next_sunday = at("2026-10-10T13:30:00Z");
            assert_eq!(clock.add(sunday, 24 * HOUR), Some(next_sunday), "{way}");
        }
    }

    #[test]
    fn from_a_closed_time_the_clock_starts_at_the_next_opening() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        // Saturday 2026-12-05 noon; Monday 09:00 EST is 14:00 UTC.
        let (saturday, monday) = (at("2026-12-05T17:00:00Z"), at("2026-12-07T14:00:00Z"));
        for (way, clock) in both_ways(&new_york) {
            let first_second = monday + Duration::seconds(1);
            assert_eq!(clock.add(saturday, 1), Some(first_second), "{way}");
            assert_eq!(clock.between(saturday, monday), 0, "{way}");
            // Zero seconds is the instant itself, closed or not.
            assert_eq!(clock.add(saturday, 0), Some(saturday), "{way}");
        }
    }

    #[test]
    fn interval_edges_are_exact() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        // Friday 2026-12-04 09:00 and 17:00 EST, Monday 09:00 EST.
        let (opens, closes) = (at("2026-12-04T14:00:00Z"), at("2026-12-04T22:00:00Z"));
        let monday = at("2026-12-07T14:00:00Z");
        let second = Duration::seconds(1);
        for (way, clock) in both_ways(&new_york) {
            // Reaching the target as the day closes is the closing instant,
            // not the next opening: the earliest instant with that much
            // open time.
            assert_eq!(clock.add(opens, 8 * HOUR), Some(closes), "{way}");
            let hour_before = closes - Duration::hours(1);
            assert_eq!(clock.add(hour_before, HOUR), Some(closes), "{way}");
            assert_eq!(clock.between(opens, closes), 8 * HOUR, "{way}");
            assert_eq!(clock.between(opens, opens + second), 1, "{way}");
            assert_eq!(clock.between(closes - second, closes), 1, "{way}");
            assert_eq!(clock.between(closes, monday), 0, "{way}");
            assert_eq!(clock.between(closes, opens), 0, "{way}");
            assert_eq!(clock.between(opens, opens), 0, "{way}");
            // From a closing instant, the next second is the next opening's.
            assert_eq!(clock.add(closes, 1), Some(monday + second), "{way}");
        }
    }

    #[test]
    fn sub_second_parts_count_as_open_time() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        // Friday 16:30:00.25 EST: only 1799.75 s are left that day.
        let friday = at("2026-12-04T21:30:00.25Z");
        let closes = at("2026-12-04T22:00:00Z");
        let saturday = at("2026-12-05T17:00:00.5Z");
        for (way, clock) in both_ways(&new_york) {
            assert_eq!(clock.between(friday, closes), 1799, "{way}");
            assert_eq!(
                clock.add(friday, 1799),
                Some(closes - Duration::milliseconds(750)),
                "{way}"
            );
            let monday = at("2026-12-07T14:00:00.25Z");
            assert_eq!(clock.add(friday, 1800), Some(monday), "{way}");
            assert_eq!(clock.between(friday, monday), 1800, "{way}");
            // From a closed instant the fraction is not open time.
            assert_eq!(
                clock.add(saturday, 10),
                Some(at("2026-12-07T14:00:10Z")),
                "{way}"
            );
        }
    }

    #[test]
    fn spans_of_years_cross_the_search_window() {
        let (from, to) = (at("2026-01-01T00:00:00Z"), at("2031-01-01T00:00:00Z"));
        let five_years = (to - from).num_seconds();
        for (way, clock) in both_ways(&Calendar::always_open()) {
            assert_eq!(clock.between(from, to), five_years, "{way}");
            assert_eq!(clock.add(from, five_years), Some(to), "{way}");
        }
        // 2026–2028 have 261 + 261 + 260 weekdays.
        let utc_office = calendar("UTC", weekdays("09:00", "17:00"), &[]);
        let weekdays_open = (261 + 261 + 260) * 8 * HOUR;
        let to = at("2029-01-01T00:00:00Z");
        // The last open second of 2028 is Friday 29 December, 16:59:59.
        let last_closing = at("2028-12-29T17:00:00Z");
        for (way, clock) in both_ways(&utc_office) {
            assert_eq!(clock.between(from, to), weekdays_open, "{way}");
            assert_eq!(clock.add(from, weekdays_open), Some(last_closing), "{way}");
        }
    }

    #[test]
    fn a_closed_stretch_longer_than_the_search_window_is_crossed() {
        // Open on Mondays only, and every Monday of 2026 and 2027 a holiday.
        let mondays: Vec<String> = (0..104)
            .map(|week| {
                (at("2026-01-05T00:00:00Z") + Duration::weeks(week))
                    .date_naive()
                    .to_string()
            })
            .collect();
        let mondays: Vec<&str> = mondays.iter().map(String::as_str).collect();
        let closed_long = calendar("UTC", vec![interval("mon", "09:00", "17:00")], &mondays);
        let from = at("2026-01-01T00:00:00Z");
        // The first Monday after the holidays: 2028-01-03.
        let reopens = at("2028-01-03T09:00:00Z");
        for (way, clock) in both_ways(&closed_long) {
            assert_eq!(
                clock.add(from, 1),
                Some(reopens + Duration::seconds(1)),
                "{way}"
            );
            assert_eq!(
                clock.between(from, reopens + Duration::days(1)),
                8 * HOUR,
                "{way}"
            );
        }
    }

    #[test]
    fn a_never_open_calendar_has_no_business_time() {
        let never = calendar("UTC", vec![], &[]);
        let from = at("2026-01-01T00:00:00Z");
        for (way, clock) in both_ways(&never) {
            assert_eq!(clock.add(from, 1), None, "{way}");
            assert_eq!(clock.add(from, 0), Some(from), "{way}");
            assert_eq!(clock.between(from, at("2036-01-01T00:00:00Z")), 0, "{way}");
        }
        let always = calendar("UTC", every_day("00:00", "24:00"), &[]);
        for (way, clock) in both_ways(&always) {
            assert_eq!(clock.add(from, -1), None, "{way}");
        }
    }

    #[test]
    fn an_index_answers_inside_its_window_and_walks_outside_it() {
        let new_york = calendar(
            "America/New_York",
            weekdays("09:00", "17:00"),
            &["2026-12-25"],
        );
        let december =
            new_york.business_time(at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z"));
        let (friday, monday) = (at("2026-12-04T21:30:00Z"), at("2026-12-07T14:30:00Z"));
        assert_eq!(december.add_business_seconds(friday, HOUR), Some(monday));
        assert_eq!(december.business_seconds_between(friday, monday), HOUR);
        // December 2026 has 23 weekdays; the 25th is a holiday.
        let whole_month = 22 * 8 * HOUR;
        let (first, last) = december.window();
        assert_eq!(december.business_seconds_between(first, last), whole_month);
        // The last open second ends on Thursday 31st, 17:00 EST.
        assert_eq!(
            december.add_business_seconds(first, whole_month),
            Some(at("2026-12-31T22:00:00Z"))
        );
        // Past the window, the calendar's walk answers: Friday 1 January.
        assert_eq!(
            december.add_business_seconds(first, whole_month + 1),
            Some(at("2027-01-01T14:00:01Z"))
        );
        let november = at("2026-11-30T14:00:00Z");
        assert_eq!(
            december.business_seconds_between(november, friday),
            new_york.business_seconds_between(november, friday)
        );
        assert_eq!(
            december.add_business_seconds(november, 9 * HOUR),
            Some(at("2026-12-01T15:00:00Z"))
        );
    }

    mod properties {
        //! Business time against counting minutes on the wall clock, the
        //! walk against the index, and adding against measuring.
        use super::super::super::tests::reference::{wall_clock_open, weekly, zones};
        use super::*;
        use crate::domain::calendar::{parse_zone, Definition, WeeklyInterval};
        use crate::domain::validate::Errors;
        use chrono::{LocalResult, NaiveDate, TimeZone};
        use chrono_tz::Tz;
        use proptest::prelude::*;
        use proptest::sample::Index;

        /// Whether the minute that starts at `at` is open, read from the wall
        /// clock. Repeated wall-clock times mean their first occurrence, so
        /// an interval `[a, b)` of a date with an autumn overlap ending at
        /// wall-clock `E` runs from `a`'s first occurrence to `b`'s first:
        /// it covers the overlap's second pass when `a < E <= b`, which is
        /// when the minute before `E` is open.
        fn minute_open(definition: &Definition, zone: Tz, at: DateTime<Utc>) -> bool {
            let local = at.with_timezone(&zone).naive_local();
            match zone.from_local_datetime(&local) {
                LocalResult::Ambiguous(first, _) if first != at => {
                    let mut overlap_end = local;
                    while !matches!(
                        zone.from_local_datetime(&overlap_end),
                        LocalResult::Single(_)
                    ) {
                        overlap_end += Duration::minutes(1);
                    }
                    wall_clock_open(definition, overlap_end - Duration::minutes(1))
                }
                _ => wall_clock_open(definition, local),
            }
        }

        /// Mostly a few weeks before the clocks change in New York, Berlin
        /// or Lord Howe (2026: 8 March and 1 November, 29 March and 25
        /// October, 5 April and 4 October), so 60-day spans cross them.
        fn base_dates() -> impl Strategy<Value = DateTime<Utc>> {
            prop_oneof![
                3 => prop::sample::select(vec![
                    "2026-02-25", "2026-03-20", "2026-09-20", "2026-10-15", "2027-02-25",
                    "2027-10-10",
                ])
                .prop_map(|date| at(&format!("{date}T00:00:00Z"))),
                1 => (0i64..730).prop_map(|days| at("2026-01-01T00:00:00Z") + Duration::days(days)),
            ]
        }

        fn build(
            zone: &str,
            weekly: Vec<WeeklyInterval>,
            holidays: Vec<NaiveDate>,
        ) -> (Definition, Calendar) {
            let definition = Definition {
                name: "p".into(),
                timezone: zone.into(),
                weekly,
                holidays,
            };
            let calendar = definition.validate(&mut Errors::default()).unwrap();
            (definition, calendar)
        }

        /// The walk and the index give the same answers, inside the index's
        /// window or not, and adding and measuring are inverse: for any
        /// number of seconds up to an hour past `to` (so the walk stays
        /// short on calendars open half an hour a week).
        fn add_and_between_agree(
            calendar: &Calendar,
            index: &BusinessTime,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
            seconds_to_add: Index,
        ) -> Result<(), TestCaseError> {
            let between = calendar.business_seconds_between(from, to);
            prop_assert_eq!(index.business_seconds_between(from, to), between);
            let seconds = seconds_to_add.index(between as usize + 3601) as i64;
            let due = calendar.add_business_seconds(from, seconds);
            prop_assert_eq!(index.add_business_seconds(from, seconds), due);
            match due {
                Some(due) => prop_assert_eq!(calendar.business_seconds_between(from, due), seconds),
                None => prop_assert!(calendar.never_open() && seconds > 0),
            }
            let due_of_between = calendar.add_business_seconds(from, between);
            prop_assert!(due_of_between.is_some_and(|due| due <= to));
            prop_assert_eq!(index.add_business_seconds(from, between), due_of_between);
            // Targets at the end of the first open interval, and a second
            // past it, are the edges of the index's search (with or without
            // a fraction of a second to carry over the closed time).
            if let Some((_, closes)) = calendar.open_intervals(from).next() {
                let to_close = calendar.business_seconds_between(from, closes);
                for seconds in [to_close, to_close + 1] {
                    let due = calendar.add_business_seconds(from, seconds);
                    prop_assert_eq!(index.add_business_seconds(from, seconds), due);
                }
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn business_time_counts_the_open_minutes_of_the_wall_clock(
                zone in zones(),
                weekly in weekly(),
                base in base_dates(),
                holiday_days in prop::collection::vec(0i64..80, 0..6),
                offset_minutes in 0i64..(14 * 24 * 60),
                span_minutes in 0i64..=(60 * 24 * 60),
                minutes_to_add in any::<Index>(),
                seconds_to_add in any::<Index>(),
                window_margins in (-3000i64..3000, -3000i64..3000),
            ) {
                let tz = parse_zone(zone).unwrap();
                let first_date = base.with_timezone(&tz).date_naive();
                let holidays =
                    holiday_days.iter().map(|d| first_date + Duration::days(*d)).collect();
                let (definition, calendar) = build(zone, weekly, holidays);
                let from = base + Duration::minutes(offset_minutes);
                let to = from + Duration::minutes(span_minutes);
                let open_minutes: Vec<i64> = (0..span_minutes)
                    .filter(|m| minute_open(&definition, tz, from + Duration::minutes(*m)))
                    .collect();
                let between = calendar.business_seconds_between(from, to);
                prop_assert_eq!(between, open_minutes.len() as i64 * 60);

                // k minutes of business time have passed when the k-th open
                // minute ends.
                let k = minutes_to_add.index(open_minutes.len() + 1);
                let due = match k {
                    0 => from,
                    k => from + Duration::minutes(open_minutes[k - 1] + 1),
                };
                let seconds = k as i64 * 60;
                prop_assert_eq!(calendar.add_business_seconds(from, seconds), Some(due));

                let index = calendar.business_time(
                    from + Duration::minutes(window_margins.0),
                    to + Duration::minutes(window_margins.1),
                );
                prop_assert_eq!(index.add_business_seconds(from, seconds), Some(due));
                add_and_between_agree(&calendar, &index, from, to, seconds_to_add)?;
            }

            #[test]
            fn the_index_answers_as_the_walk_does_over_years(
                zone in zones(),
                weekly in weekly(),
                holiday_days in prop::collection::vec(0i64..1100, 0..30),
                from_seconds in 0i64..(3 * 365 * 86400),
                span_seconds in 0i64..(3 * 365 * 86400),
                nanos in (0u32..1_000_000_000, 0u32..1_000_000_000),
                window_margins in (-(400 * 86400i64)..86400, -86400i64..(400 * 86400)),
                seconds_to_add in any::<Index>(),
                split in any::<Index>(),
            ) {
                let start = at("2026-01-01T00:00:00Z");
                let first_date = start.date_naive();
                let holidays =
                    holiday_days.iter().map(|d| first_date + Duration::days(*d)).collect();
                let (_, calendar) = build(zone, weekly, holidays);
                let from = start
                    + Duration::seconds(from_seconds)
                    + Duration::nanoseconds(nanos.0.into());
                let to =
                    from + Duration::seconds(span_seconds) + Duration::nanoseconds(nanos.1.into());
                let index = calendar.business_time(
                    from + Duration::seconds(window_margins.0),
                    to + Duration::seconds(window_margins.1),
                );
                add_and_between_agree(&calendar, &index, from, to, seconds_to_add)?;
                // Measured in two parts, a span of years is the same: each
                // part restarts the 400-day stream elsewhere.
                let whole_from = start + Duration::seconds(from_seconds);
                let whole_to = whole_from + Duration::seconds(span_seconds);
                let middle =
                    whole_from + Duration::seconds(split.index(span_seconds as usize + 1) as i64);
                prop_assert_eq!(
                    calendar.business_seconds_between(whole_from, middle)
                        + calendar.business_seconds_between(middle, whole_to),
                    calendar.business_seconds_between(whole_from, whole_to)
                );
            }
        }
    }
}
