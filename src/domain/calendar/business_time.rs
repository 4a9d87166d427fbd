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

#[cfg(test)]
mod tests {
    use super::super::tests::{at, calendar, every_day, interval, weekdays};
    use super::*;

    const HOUR: i64 = 3600;

    #[test]
    fn friday_afternoon_plus_an_hour_is_monday_morning() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        // Friday 2026-12-04 16:30 EST; Monday 2026-12-07 09:30 EST.
        let (friday, monday) = (at("2026-12-04T21:30:00Z"), at("2026-12-07T14:30:00Z"));
        assert_eq!(new_york.add_business_seconds(friday, HOUR), Some(monday));
        assert_eq!(new_york.business_seconds_between(friday, monday), HOUR);
    }

    #[test]
    fn whole_days_are_23_and_25_hours_when_the_clocks_change() {
        // New York springs forward on Sunday 2026-03-08: 00:00–24:00 is 23 h.
        let new_york = calendar(
            "America/New_York",
            vec![interval("sun", "00:00", "24:00")],
            &[],
        );
        let saturday = at("2026-03-07T12:00:00Z");
        assert_eq!(
            new_york.add_business_seconds(saturday, 23 * HOUR),
            Some(at("2026-03-09T04:00:00Z"))
        );
        // One second more is the next Sunday's first second (EDT).
        assert_eq!(
            new_york.add_business_seconds(saturday, 23 * HOUR + 1),
            Some(at("2026-03-15T04:00:01Z"))
        );
        // Berlin falls back on Sunday 2026-10-25: 00:00–24:00 is 25 h.
        let berlin = calendar(
            "Europe/Berlin",
            vec![interval("sun", "00:00", "24:00")],
            &[],
        );
        let (sunday, monday) = (at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z"));
        assert_eq!(berlin.business_seconds_between(sunday, monday), 25 * HOUR);
        assert_eq!(berlin.add_business_seconds(sunday, 25 * HOUR), Some(monday));
        // A week of both: 23 h and 25 h, not 24 h, are counted.
        assert_eq!(
            new_york
                .business_seconds_between(at("2026-03-01T00:00:00Z"), at("2026-03-15T00:00:00Z")),
            24 * HOUR + 23 * HOUR
        );
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
        let wednesday = at("2026-12-23T15:00:00Z");
        let monday = at("2026-12-28T09:00:00Z");
        assert_eq!(
            berlin.add_business_seconds(wednesday, 2 * HOUR),
            Some(monday)
        );
        assert_eq!(berlin.business_seconds_between(wednesday, monday), 2 * HOUR);
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
        assert_eq!(
            lord_howe.business_seconds_between(sunday, monday),
            23 * HOUR + 1800
        );
        assert_eq!(
            lord_howe.add_business_seconds(sunday, 23 * HOUR + 1800),
            Some(monday)
        );
        assert_eq!(
            lord_howe.add_business_seconds(sunday, 24 * HOUR),
            Some(at("2026-10-10T13:30:00Z"))
        );
    }

    #[test]
    fn from_a_closed_time_the_clock_starts_at_the_next_opening() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        // Saturday 2026-12-05 noon; Monday 09:00 EST is 14:00 UTC.
        let saturday = at("2026-12-05T17:00:00Z");
        assert_eq!(
            new_york.add_business_seconds(saturday, 1),
            Some(at("2026-12-07T14:00:01Z"))
        );
        assert_eq!(
            new_york.business_seconds_between(saturday, at("2026-12-07T14:00:00Z")),
            0
        );
        // Zero seconds is the instant itself, closed or not.
        assert_eq!(new_york.add_business_seconds(saturday, 0), Some(saturday));
    }

    #[test]
    fn interval_edges_are_exact() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        let (opens, closes) = (at("2026-12-04T14:00:00Z"), at("2026-12-04T22:00:00Z"));
        // Reaching the target as the day closes is the closing instant, not
        // the next opening: the earliest instant with that much open time.
        assert_eq!(new_york.add_business_seconds(opens, 8 * HOUR), Some(closes));
        assert_eq!(
            new_york.add_business_seconds(closes - Duration::hours(1), HOUR),
            Some(closes)
        );
        assert_eq!(new_york.business_seconds_between(opens, closes), 8 * HOUR);
        assert_eq!(
            new_york.business_seconds_between(opens, opens + Duration::seconds(1)),
            1
        );
        assert_eq!(
            new_york.business_seconds_between(closes - Duration::seconds(1), closes),
            1
        );
        assert_eq!(
            new_york.business_seconds_between(closes, at("2026-12-07T14:00:00Z")),
            0
        );
        assert_eq!(new_york.business_seconds_between(closes, opens), 0);
        assert_eq!(new_york.business_seconds_between(opens, opens), 0);
        // From a closing instant, the next second is the next opening's.
        assert_eq!(
            new_york.add_business_seconds(closes, 1),
            Some(at("2026-12-07T14:00:01Z"))
        );
    }

    #[test]
    fn sub_second_parts_count_as_open_time() {
        let new_york = calendar("America/New_York", weekdays("09:00", "17:00"), &[]);
        // Friday 16:30:00.25: only 1799.75 s are left that day.
        let friday = at("2026-12-04T21:30:00.25Z");
        assert_eq!(
            new_york.business_seconds_between(friday, at("2026-12-04T22:00:00Z")),
            1799
        );
        assert_eq!(
            new_york.add_business_seconds(friday, 1800),
            Some(at("2026-12-07T14:00:00.25Z"))
        );
        // From a closed instant the fraction is not open time.
        assert_eq!(
            new_york.add_business_seconds(at("2026-12-05T17:00:00.5Z"), 10),
            Some(at("2026-12-07T14:00:10Z"))
        );
    }

    #[test]
    fn spans_of_years_cross_the_search_window() {
        let always = Calendar::always_open();
        let (from, to) = (at("2026-01-01T00:00:00Z"), at("2031-01-01T00:00:00Z"));
        let five_years = (to - from).num_seconds();
        assert_eq!(always.business_seconds_between(from, to), five_years);
        assert_eq!(always.add_business_seconds(from, five_years), Some(to));
        // 2026–2028 have 261 + 261 + 260 weekdays.
        let utc_office = calendar("UTC", weekdays("09:00", "17:00"), &[]);
        let weekdays_open = (261 + 261 + 260) * 8 * HOUR;
        let (from, to) = (at("2026-01-01T00:00:00Z"), at("2029-01-01T00:00:00Z"));
        assert_eq!(utc_office.business_seconds_between(from, to), weekdays_open);
        // The last open second of 2028 is Friday 29 December, 16:59:59.
        assert_eq!(
            utc_office.add_business_seconds(from, weekdays_open),
            Some(at("2028-12-29T17:00:00Z"))
        );
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
        assert_eq!(
            closed_long.add_business_seconds(from, 1),
            Some(at("2028-01-03T09:00:01Z"))
        );
        assert_eq!(
            closed_long.business_seconds_between(from, at("2028-01-04T00:00:00Z")),
            8 * HOUR
        );
    }

    #[test]
    fn a_never_open_calendar_has_no_business_time() {
        let never = calendar("UTC", vec![], &[]);
        let from = at("2026-01-01T00:00:00Z");
        assert_eq!(never.add_business_seconds(from, 1), None);
        assert_eq!(never.add_business_seconds(from, 0), Some(from));
        assert_eq!(
            never.business_seconds_between(from, at("2036-01-01T00:00:00Z")),
            0
        );
        let always = calendar("UTC", every_day("00:00", "24:00"), &[]);
        assert_eq!(always.add_business_seconds(from, -1), None);
    }
}
