//! Coverage arithmetic: when people were on shift, when a queue should have
//! been staffed, the time it was not, and how those seconds fall into the
//! 168 local hours of the week.
//!
//! Times are half-open UTC intervals `[start, end)`; a list of them is
//! "normal" when sorted, non-empty each and disjoint (touching ones
//! merged), which `union` returns and `subtract` expects.

use super::calendar::Calendar;
use super::local_time::{hour_of_week, OffsetPiece};
use chrono::{DateTime, Duration, Utc};

pub type Interval = (DateTime<Utc>, DateTime<Utc>);

/// When the calendar is open within `[from, to)`; a missing calendar is
/// always open.
pub fn open_within(
    calendar: Option<&Calendar>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Interval> {
    let Some(calendar) = calendar else {
        return if from < to { vec![(from, to)] } else { vec![] };
    };
    let mut open = Vec::new();
    let mut at = from;
    // A calendar's intervals are searched a bounded window at a time:
    // search again from the last end until the period is covered.
    while at < to {
        let mut progressed = false;
        for (start, end) in calendar.open_intervals(at) {
            if start >= to {
                at = to;
                break;
            }
            let clipped = (start.max(at), end.min(to));
            if clipped.0 < clipped.1 {
                open.push(clipped);
            }
            progressed = end > at;
            at = end.max(at);
        }
        if !progressed {
            break;
        }
    }
    union(open)
}

/// The normal form of any intervals: sorted, joined where they overlap or
/// touch.
pub fn union(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.retain(|(start, end)| start < end);
    intervals.sort_unstable();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The time in `a` outside `b` (both normal).
pub fn subtract(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut left = Vec::new();
    let mut holes = b.iter().peekable();
    for &(mut start, end) in a {
        while let Some(&&(hole_start, hole_end)) = holes.peek() {
            if hole_end <= start {
                holes.next();
                continue;
            }
            if hole_start >= end {
                break;
            }
            if hole_start > start {
                left.push((start, hole_start));
            }
            start = start.max(hole_end);
            if hole_end >= end {
                break;
            }
            holes.next();
        }
        if start < end {
            left.push((start, end));
        }
    }
    left
}

/// Seconds of the intervals in each local hour of the week (0 = Monday
/// 00:00), local time following the offset pieces.
pub fn seconds_by_hour_of_week(intervals: &[Interval], pieces: &[OffsetPiece]) -> [i64; 168] {
    let mut seconds = [0i64; 168];
    for &(start, end) in intervals {
        let mut at = start;
        while at < end {
            let offset = pieces
                .iter()
                .rev()
                .find(|p| p.from <= at)
                .or(pieces.first())
                .map_or(0, |p| p.offset_seconds);
            let next_piece = pieces.iter().map(|p| p.from).find(|&from| from > at);
            let into_hour = (at.timestamp() + offset).rem_euclid(3600);
            let hour_end = at + Duration::seconds(3600 - into_hour);
            let until = [Some(end), Some(hour_end), next_piece]
                .into_iter()
                .flatten()
                .min()
                .expect("end is there");
            let hour = usize::try_from(hour_of_week(at, offset)).expect("0..168");
            seconds[hour] += (until - at).num_seconds();
            at = until;
        }
    }
    seconds
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        // Monday 2026-11-30 00:00 UTC plus minutes.
        DateTime::from_timestamp(1_795_996_800 + minute * 60, 0).unwrap()
    }

    fn intervals(pairs: &[(i64, i64)]) -> Vec<Interval> {
        pairs.iter().map(|&(a, b)| (at(a), at(b))).collect()
    }

    #[test]
    fn union_joins_overlapping_and_touching_times() {
        assert_eq!(
            union(intervals(&[
                (50, 60),
                (0, 10),
                (10, 20),
                (15, 30),
                (40, 40)
            ])),
            intervals(&[(0, 30), (50, 60)])
        );
    }

    #[test]
    fn subtract_leaves_the_uncovered_time() {
        let open = intervals(&[(0, 100), (200, 300)]);
        let staffed = intervals(&[(10, 20), (90, 210), (250, 260)]);
        assert_eq!(
            subtract(&open, &staffed),
            intervals(&[(0, 10), (20, 90), (210, 250), (260, 300)])
        );
        assert_eq!(subtract(&open, &[]), open);
        assert_eq!(subtract(&open, &intervals(&[(0, 300)])), vec![]);
    }

    #[test]
    fn seconds_fall_into_local_hours() {
        // 23:30 Monday to 01:30 Tuesday UTC, seen from UTC+01:00: 00:30 to
        // 02:30 Tuesday local.
        let pieces = [OffsetPiece {
            from: at(0),
            offset_seconds: 3600,
        }];
        let seconds = seconds_by_hour_of_week(&intervals(&[(23 * 60 + 30, 25 * 60 + 30)]), &pieces);
        assert_eq!((seconds[24], seconds[25], seconds[26]), (1800, 3600, 1800));
        assert_eq!(seconds.iter().sum::<i64>(), 7200);
    }

    /// Which of the first `n` minutes the intervals hold.
    fn minutes(list: &[Interval], n: i64) -> Vec<bool> {
        (0..n)
            .map(|m| list.iter().any(|&(a, b)| a <= at(m) && at(m) < b))
            .collect()
    }

    fn arbitrary_intervals() -> impl Strategy<Value = Vec<Interval>> {
        prop::collection::vec((0i64..600, 1i64..120), 0..8).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(a, len)| (at(a), at(a + len)))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn union_and_subtract_agree_with_counting_minutes(a in arbitrary_intervals(), b in arbitrary_intervals()) {
            let (ua, ub) = (union(a.clone()), union(b.clone()));
            prop_assert_eq!(minutes(&ua, 720), minutes(&a, 720));
            prop_assert!(ua.windows(2).all(|w| w[0].1 < w[1].0));
            let left = subtract(&ua, &ub);
            let expected: Vec<bool> = minutes(&a, 720)
                .into_iter()
                .zip(minutes(&b, 720))
                .map(|(x, y)| x && !y)
                .collect();
            prop_assert_eq!(minutes(&left, 720), expected);
            let total: i64 = left.iter().map(|(s, e)| (*e - *s).num_seconds()).sum();
            let pieces = [OffsetPiece { from: at(0), offset_seconds: 5 * 3600 + 45 * 60 }];
            prop_assert_eq!(seconds_by_hour_of_week(&left, &pieces).iter().sum::<i64>(), total);
        }
    }
}
