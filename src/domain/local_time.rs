//! Local days, weeks and hours of the week in a time zone, as the
//! database can group by them without knowing time zones.
//!
//! Within a period a zone's UTC offset is piecewise constant: it changes
//! only at its transitions (DST, or a change of the zone's rules). Cut at
//! those instants, local time is UTC plus a fixed offset in each piece, so
//! an instant's local day is `(epoch seconds + offset) div 86,400`, its
//! Monday-based week `(day + 3) div 7` (1 January 1970 was a Thursday) and
//! its hour of the week `(local hour + 72) mod 168`. A statement given the
//! pieces as bound instants and offsets groups by exactly the zone's local
//! days: a 23- or 25-hour day is one day, a skipped hour has no bucket and
//! a repeated one is counted once as one hour of the week.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// From `from` on (until the next piece), local time is UTC plus
/// `offset_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPiece {
    pub from: DateTime<Utc>,
    pub offset_seconds: i64,
}

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
/// Hours from Monday 00:00 to Thursday 00:00 (the epoch's weekday).
const EPOCH_HOUR_OF_WEEK: i64 = 72;
/// Days from the epoch's Thursday back to its week's Monday, negated.
const EPOCH_DAY_OF_WEEK: i64 = 3;

fn offset_at(zone: Tz, at: DateTime<Utc>) -> i64 {
    i64::from(
        zone.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// The zone's offset pieces covering `[from, to)`, the first starting at
/// `from`. Transitions are found by stepping a day at a time and then
/// halving to the second, so a zone that changed its offset twice within
/// one day (none does) would show only the net change.
pub fn offset_pieces(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<OffsetPiece> {
    let mut pieces = vec![OffsetPiece {
        from,
        offset_seconds: offset_at(zone, from),
    }];
    let mut at = from;
    while at < to {
        let next = (at + Duration::days(1)).min(to);
        let offset = offset_at(zone, next);
        let current = pieces.last().expect("one piece at least").offset_seconds;
        if offset != current {
            // The first whole second with the new offset, between at and
            // next (transitions fall on whole seconds).
            let second = |t: i64| DateTime::from_timestamp(t, 0).expect("in range");
            let (mut before, mut after) = (at.timestamp(), next.timestamp());
            while after - before > 1 {
                let middle = before + (after - before) / 2;
                if offset_at(zone, second(middle)) == current {
                    before = middle;
                } else {
                    after = middle;
                }
            }
            pieces.push(OffsetPiece {
                from: second(after),
                offset_seconds: offset_at(zone, second(after)),
            });
        }
        at = next;
    }
    pieces
}

/// Seconds since the epoch on the local clock, under the piece's offset.
fn local_seconds(at: DateTime<Utc>, offset_seconds: i64) -> i64 {
    at.timestamp() + offset_seconds
}

/// The local day (days since 1970-01-01) of an instant under an offset.
pub fn day_number(at: DateTime<Utc>, offset_seconds: i64) -> i64 {
    local_seconds(at, offset_seconds).div_euclid(DAY)
}

/// The local Monday-based week (weeks since the one of 1970-01-01) of a
/// day number.
pub fn week_of_day(day: i64) -> i64 {
    (day + EPOCH_DAY_OF_WEEK).div_euclid(7)
}

/// The hour of the week (0 = Monday 00:00–01:00, 167 = Sunday 23:00) of
/// an instant under an offset.
pub fn hour_of_week(at: DateTime<Utc>, offset_seconds: i64) -> i64 {
    (local_seconds(at, offset_seconds).div_euclid(HOUR) + EPOCH_HOUR_OF_WEEK).rem_euclid(168)
}

/// The date of a day number.
pub fn date_of_day(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date") + Duration::days(day)
}

/// The Monday that starts a week number.
pub fn monday_of_week(week: i64) -> NaiveDate {
    date_of_day(week * 7 - EPOCH_DAY_OF_WEEK)
}

/// The instant a local date begins in the zone: its midnight, or where
/// midnight is skipped, the first local instant of that date.
pub fn start_of_day(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight");
    // Local times are tried an hour at a time: no zone skips more than one
    // (the largest gaps are an hour, or a day in Samoa's 2011 change,
    // where the date itself does not exist and its next day's start is
    // the answer).
    (0..=48)
        .find_map(|hour| {
            zone.from_local_datetime(&(midnight + Duration::hours(hour)))
                .earliest()
        })
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// Local hours of the week counted over `[from, to)`: how many times each
/// of the 168 occurred (an hour skipped by DST did not occur; a repeated
/// one occurred twice). Averages per hour of the week divide by these.
pub fn hours_of_week_in(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> [u32; 168] {
    let mut counts = [0u32; 168];
    let pieces = offset_pieces(zone, from, to);
    // Each UTC hour that starts in the period is one local hour; the start
    // is taken at whole UTC hours from `from` (a period starting mid-hour
    // counts that hour).
    let mut piece = 0;
    let mut at = from;
    while at < to {
        while piece + 1 < pieces.len() && pieces[piece + 1].from <= at {
            piece += 1;
        }
        let hour = hour_of_week(at, pieces[piece].offset_seconds);
        counts[usize::try_from(hour).expect("0..168")] += 1;
        at += Duration::hours(1);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn london() -> Tz {
        "Europe/London".parse().unwrap()
    }

    #[test]
    fn london_s_year_has_its_two_transitions_to_the_second() {
        let pieces = offset_pieces(
            london(),
            at("2026-01-01T00:00:00Z"),
            at("2027-01-01T00:00:00Z"),
        );
        assert_eq!(
            pieces,
            vec![
                OffsetPiece {
                    from: at("2026-01-01T00:00:00Z"),
                    offset_seconds: 0
                },
                OffsetPiece {
                    from: at("2026-03-29T01:00:00Z"),
                    offset_seconds: 3600
                },
                OffsetPiece {
                    from: at("2026-10-25T01:00:00Z"),
                    offset_seconds: 0
                },
            ]
        );
    }

    #[test]
    fn a_zone_without_dst_is_one_piece() {
        let manila: Tz = "Asia/Manila".parse().unwrap();
        let pieces = offset_pieces(
            manila,
            at("2026-01-01T00:00:00Z"),
            at("2026-07-01T00:00:00Z"),
        );
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].offset_seconds, 8 * 3600);
    }

    #[test]
    fn october_in_london_has_all_its_days_and_the_long_one_is_one_day() {
        // Zammad's yearly report lost October in Europe/London: every one
        // of its 31 days is a bucket here, and the 25th is 25 hours long.
        let zone = london();
        let from = start_of_day(zone, NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        let to = start_of_day(zone, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        let pieces = offset_pieces(zone, from, to);
        let mut days = std::collections::BTreeMap::new();
        let mut instant = from;
        while instant < to {
            let piece = pieces.iter().rev().find(|p| p.from <= instant).unwrap();
            *days
                .entry(day_number(instant, piece.offset_seconds))
                .or_insert(0) += 1;
            instant += Duration::minutes(30);
        }
        assert_eq!(days.len(), 31);
        let long_day = day_number(at("2026-10-25T12:00:00Z"), 0);
        assert_eq!(days[&long_day], 50, "25 hours of half-hours");
        assert_eq!(
            date_of_day(long_day),
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let day = (monday - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days();
        assert_eq!(monday_of_week(week_of_day(day)), monday);
        assert_eq!(monday_of_week(week_of_day(day + 6)), monday);
        assert_eq!(week_of_day(day + 7), week_of_day(day) + 1);
        assert_eq!(week_of_day(day - 1), week_of_day(day) - 1);
    }

    #[test]
    fn a_dst_week_has_every_hour_that_exists_once() {
        // The week of 23 March 2026 has no DST change in London; the week
        // of 30 March (Monday after the change) neither; the week of the
        // change (23–29 March) loses Sunday 01:00.
        let zone = london();
        let week = |d| start_of_day(zone, NaiveDate::from_ymd_opt(2026, 3, d).unwrap());
        let counts = hours_of_week_in(zone, week(23), week(30));
        let sunday_one = 6 * 24 + 1;
        assert_eq!(counts[sunday_one], 0);
        assert_eq!(counts.iter().filter(|&&c| c == 1).count(), 167);
        let autumn = |d| start_of_day(zone, NaiveDate::from_ymd_opt(2026, 10, d).unwrap());
        let counts = hours_of_week_in(zone, autumn(19), autumn(26));
        assert_eq!(counts[sunday_one], 2, "the repeated hour happened twice");
        assert_eq!(counts.iter().sum::<u32>(), 169);
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_at_its_first_instant() {
        // Santiago moved its clocks from 00:00 to 01:00 on 6 September 2026.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let start = start_of_day(santiago, date);
        assert_eq!(start.with_timezone(&santiago).date_naive(), date);
        assert_eq!(
            start.with_timezone(&santiago).format("%H:%M").to_string(),
            "01:00"
        );
    }

    proptest! {
        #[test]
        fn local_days_and_hours_match_chrono(
            zone in prop::sample::select(vec!["Europe/London", "America/New_York", "Asia/Manila",
                "Europe/Warsaw", "America/Bogota", "Australia/Lord_Howe", "Asia/Kathmandu"]),
            start in 1_700_000_000i64..1_900_000_000,
            probe in 0i64..(400 * 86_400),
        ) {
            let zone: Tz = zone.parse().unwrap();
            let from = DateTime::from_timestamp(start, 0).unwrap();
            let to = from + Duration::days(400);
            let instant = from + Duration::seconds(probe);
            let pieces = offset_pieces(zone, from, to);
            let piece = pieces.iter().rev().find(|p| p.from <= instant).unwrap();
            let local = instant.with_timezone(&zone).naive_local();
            prop_assert_eq!(date_of_day(day_number(instant, piece.offset_seconds)), local.date());
            let hour = local.weekday().num_days_from_monday() as i64 * 24
                + chrono::Timelike::hour(&local) as i64;
            prop_assert_eq!(hour_of_week(instant, piece.offset_seconds), hour);
        }
    }
}
