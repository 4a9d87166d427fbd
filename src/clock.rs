//! The app's one source of wall-clock time.
//!
//! Every service and worker reads "now" from the [`Clock`] the app was built
//! with, never from the system directly (`clippy.toml` forbids
//! `Utc::now()` and friends elsewhere), so tests can pin time or move it
//! forward to see what happens later: a reminder that falls due, a read
//! that no longer coalesces, a lease that runs out.
//!
//! Ids that sort by time (UUID v7) come from the same clock, so an id
//! bound computed from a time ([`first_id_at`]) agrees with the rows that
//! time wrote.

#![allow(clippy::disallowed_methods)] // the one place that reads the system clock

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeDelta, Utc};
use std::sync::{Arc, Mutex, PoisonError};
use uuid::{ContextV7, Timestamp, Uuid};

/// What time it is, for the whole app. Cheap to clone; clones share the
/// time of a [`SettableClock`] and the order of the ids they make.
#[derive(Clone)]
pub struct Clock {
    settable: Option<Arc<Mutex<Setting>>>,
    /// Keeps ids of one millisecond in the order they were made. One per
    /// clock, not per process: a clock moved forward in one test must not
    /// drag the ids of another test's clock with it.
    ids: Arc<Mutex<ContextV7>>,
}

/// How a settable clock differs from the system's.
#[derive(Clone, Copy)]
enum Setting {
    /// System time moved by this much: time still flows.
    Shifted(TimeDelta),
    /// Stopped at this instant until moved.
    Pinned(DateTime<Utc>),
}

impl Clock {
    /// The system's clock, for production.
    pub fn system() -> Clock {
        Clock {
            settable: None,
            ids: new_id_context(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let setting = self
            .settable
            .as_ref()
            .map(|s| *s.lock().unwrap_or_else(PoisonError::into_inner));
        match setting {
            None => Utc::now(),
            Some(Setting::Shifted(by)) => Utc::now() + by,
            Some(Setting::Pinned(at)) => at,
        }
    }

    /// Now as the database stores it: UTC, to the microsecond (both
    /// backends keep microseconds, so a value read back compares equal).
    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc().trunc_subsecs(6)
    }

    /// A new id that sorts after every id this process made before it at an
    /// earlier or equal time (UUID v7 on this clock's time).
    pub fn new_id(&self) -> Uuid {
        let at = self.now();
        let secs = u64::try_from(at.timestamp()).unwrap_or(0);
        Uuid::new_v7(Timestamp::from_unix(
            &*self.ids,
            secs,
            at.timestamp_subsec_nanos(),
        ))
    }
}

fn new_id_context() -> Arc<Mutex<ContextV7>> {
    Arc::new(Mutex::new(ContextV7::new()))
}

/// The smallest UUID v7 made at or after `at`: ids compare as text in time
/// order because v7 starts with the millisecond timestamp in hex.
pub fn first_id_at(at: NaiveDateTime) -> String {
    let millis = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10])
        .into_uuid()
        .to_string()
}

/// A UUID v7 for a row of history made after the fact (an import, the
/// demo's simulated months): it carries the row's own instant `at`, then
/// `seq`, so rows of one ticket at the same millisecond sort (by time,
/// then id) in the order they happened, then `random` bits.
pub fn historical_id(at: NaiveDateTime, seq: u16, random: [u8; 10]) -> String {
    let millis = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
    let mut bytes = random;
    let [high, low] = seq.to_be_bytes();
    bytes[0] = high & 0x0f;
    bytes[1] = low;
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .to_string()
}

/// A clock that tests set: it starts at the system's time and flows with it
/// until moved forward or pinned.
#[derive(Clone)]
pub struct SettableClock {
    setting: Arc<Mutex<Setting>>,
}

impl Default for SettableClock {
    fn default() -> Self {
        SettableClock {
            setting: Arc::new(Mutex::new(Setting::Shifted(TimeDelta::zero()))),
        }
    }
}

impl SettableClock {
    pub fn new() -> SettableClock {
        SettableClock::default()
    }

    /// The clock to build the app with; it follows this one.
    pub fn clock(&self) -> Clock {
        Clock {
            settable: Some(self.setting.clone()),
            ids: new_id_context(),
        }
    }

    /// Moves time forward. (Moved back, time goes back but ids keep
    /// sorting after the ones already made.)
    pub fn advance(&self, by: TimeDelta) {
        let mut setting = self.setting.lock().unwrap_or_else(PoisonError::into_inner);
        *setting = match *setting {
            Setting::Shifted(shift) => Setting::Shifted(shift + by),
            Setting::Pinned(at) => Setting::Pinned(at + by),
        };
    }

    /// Stops time at `at` until moved again.
    pub fn pin(&self, at: DateTime<Utc>) {
        *self.setting.lock().unwrap_or_else(PoisonError::into_inner) = Setting::Pinned(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settable_clock_moves_every_clone() {
        let settable = SettableClock::new();
        let clock = settable.clock();
        let before = clock.now();
        settable.advance(TimeDelta::hours(3));
        let moved = clock.clone().now();
        assert!(moved - before >= TimeDelta::hours(3), "{before} {moved}");
        assert!(moved - before < TimeDelta::hours(3) + TimeDelta::minutes(1));

        let at = DateTime::parse_from_rfc3339("2030-03-31T00:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        settable.pin(at);
        assert_eq!(clock.now(), at);
        settable.advance(TimeDelta::seconds(1));
        assert_eq!(clock.now(), at + TimeDelta::seconds(1));
        assert!(Clock::system().now() < at, "the system clock is not moved");
    }

    #[test]
    fn ids_follow_the_clock_and_keep_their_order_within_a_millisecond() {
        let settable = SettableClock::new();
        let at = Utc::now() + TimeDelta::days(400);
        settable.pin(at);
        let clock = settable.clock();
        let ids: Vec<String> = (0..50).map(|_| clock.new_id().to_string()).collect();
        let bound = first_id_at(at.naive_utc());
        assert!(ids.iter().all(|id| *id >= bound), "{bound} {ids:?}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let earlier = first_id_at((at - TimeDelta::milliseconds(1)).naive_utc());
        assert!(earlier < bound);
    }

    #[test]
    fn the_first_id_of_an_instant_sorts_between_earlier_and_later_ids() {
        let at = Clock::system().now_naive();
        let bound = first_id_at(at);
        let millis = at.and_utc().timestamp_millis() as u64;
        let same_ms = uuid::Builder::from_unix_timestamp_millis(millis, &[0xff; 10])
            .into_uuid()
            .to_string();
        let before = uuid::Builder::from_unix_timestamp_millis(millis - 1, &[0xff; 10])
            .into_uuid()
            .to_string();
        assert!(
            before < bound && bound <= same_ms,
            "{before} {bound} {same_ms}"
        );
    }
}
