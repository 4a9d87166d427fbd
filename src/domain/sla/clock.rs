//! Every SLA clock of one ticket, computed from its policy terms, the
//! calendars it is counted on and its event history, as of an instant.
//! Pure: no I/O, one pass over the history, calendar calls only per span of
//! counted time (never per second), so recomputing from history always
//! gives the same clocks.
//!
//! Everything is to the second: every instant is floored to whole seconds
//! first. The walk keeps the ticket's status (from `new`), priority (from
//! `created`, then `priority_changed`) and holding queue (from `created`,
//! then `queue_changed`; none = outside every queue, no vendor).
//!
//! - **first_response** (cycle 1) starts at creation and stops at the first
//!   `replied` (an agent's public reply, any channel). Notes,
//!   acknowledgements and other automatic events never stop it; a ticket
//!   solved or closed before any reply stops it there.
//! - **next_response** (cycles 1, 2, …): after an agent's `replied`, the
//!   next non-automatic `customer_replied` starts a cycle, one per reply
//!   round (more customer messages while it runs, or any before the first
//!   agent reply, start nothing). It stops at the next `replied`, or when
//!   the ticket is solved or closed.
//! - **resolution** (cycle 1) starts at creation and stops when the ticket
//!   becomes solved. Leaving solved for anything but closed resumes the
//!   same clock (time spent solved never counts); closed stops it for good.
//! - While the status is one of the terms' pause statuses no clock makes
//!   progress; each pause is recorded on every clock it held (a pause that
//!   lasts no time is left out). Business seconds count while a clock runs,
//!   is not paused, and the calendar of the queue holding the ticket at
//!   that moment is open.
//! - A clock's target is its metric's target for the priority in effect
//!   when it stopped (at `as_of` while it has not): a priority change keeps
//!   the start and the time used and applies the new target, so a stricter
//!   one may breach at once, at the instant its time had been used. No
//!   target for that priority: the clock is left out.
//! - `due_at` is the instant the used time reaches the target, counted on
//!   the calendars as the history went and, past the last counted span, on
//!   the calendar in effect then (from a running clock's span start, or from
//!   a stopped clock's stop). A paused clock that has time left has none:
//!   it is the resume instant plus the time left, not known yet.
//!   `warning_at` is the same for `ceil(target × warning_percent / 100)`.
//! - A stopped clock is `met` when it stopped at or before its due time,
//!   else `breached`. One that has not stopped is `breached` once its due
//!   time is before `as_of`, else `paused` or `running`. `breached_at` is
//!   the due time of every breached clock, running, paused or stopped.
//! - `by_vendor` splits the used time between the queues (and their
//!   vendors) that held the ticket while it counted, in order of first
//!   holding; `breached_by` is whoever held it when the time ran out.
//! - `events` are the ids of the entries that moved the clock: started,
//!   paused or resumed, stopped or re-opened it, changed its target (a
//!   priority change) or its holder and so its calendar (a queue change).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::calendar::{AlwaysOpen, BusinessTime, Calendar};
use crate::domain::event::{EventData, QueueRef};
use crate::domain::{Priority, Status};

/// Business-time arithmetic a clock needs from a calendar, so a faster
/// precomputed index can stand in for [`Calendar`].
pub trait BusinessCalendar {
    /// The earliest instant `t` with `business_seconds_between(from, t) ==
    /// seconds` (`from` itself for 0); `None` when the calendar never opens.
    fn add_business_seconds(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>>;

    /// The open seconds in `[from, to)`.
    fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64;
}

/// Each way of answering business time answers as its inherent methods do.
macro_rules! business_calendar {
    ($($kind:ty),*) => {$(
        impl BusinessCalendar for $kind {
            fn add_business_seconds(
                &self,
                from: DateTime<Utc>,
                seconds: i64,
            ) -> Option<DateTime<Utc>> {
                <$kind>::add_business_seconds(self, from, seconds)
            }

            fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
                <$kind>::business_seconds_between(self, from, to)
            }
        }
    )*};
}

business_calendar!(Calendar, BusinessTime, AlwaysOpen);

/// The three measures an SLA policy may set, in the order clocks are listed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    FirstResponse,
    NextResponse,
    Resolution,
}

/// One priority's targets in seconds; `None`: no such clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    pub first_response: Option<i64>,
    pub next_response: Option<i64>,
    pub resolution: Option<i64>,
}

impl Targets {
    pub fn get(&self, metric: Metric) -> Option<i64> {
        match metric {
            Metric::FirstResponse => self.first_response,
            Metric::NextResponse => self.next_response,
            Metric::Resolution => self.resolution,
        }
    }
}

/// Targets for each priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityTargets {
    pub low: Targets,
    pub normal: Targets,
    pub high: Targets,
    pub urgent: Targets,
}

impl PriorityTargets {
    pub fn get(&self, priority: Priority) -> &Targets {
        match priority {
            Priority::Low => &self.low,
            Priority::Normal => &self.normal,
            Priority::High => &self.high,
            Priority::Urgent => &self.urgent,
        }
    }
}

/// What a policy version promises, as the clocks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub targets: PriorityTargets,
    /// Statuses in which no clock makes progress (typically `pending`, `on_hold`).
    pub pause_statuses: Vec<Status>,
    /// 1..=99; a value outside is taken as the nearest end.
    pub warning_percent: u8,
}

impl Terms {
    pub fn target(&self, priority: Priority, metric: Metric) -> Option<i64> {
        self.targets.get(priority).get(metric)
    }

    fn pauses(&self, status: Status) -> bool {
        self.pause_statuses.contains(&status)
    }

    /// Whether any priority has a target for `metric` (if none, the metric
    /// is not tracked at all).
    fn tracks(&self, metric: Metric) -> bool {
        Priority::ALL
            .iter()
            .any(|p| self.target(*p, metric).is_some())
    }

    /// The used time at which a clock with `target` warns: rounded up, so
    /// the warning never comes before the percentage is reached.
    fn warning_seconds(&self, target: i64) -> i64 {
        let percent = i128::from(self.warning_percent.clamp(1, 99));
        let seconds = (i128::from(target) * percent + 99) / 100;
        i64::try_from(seconds).unwrap_or(i64::MAX)
    }
}

/// One entry of a ticket's history (only events that parse; the caller
/// skips the rest), in the order they happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The event's id, named in [`Clock::events`].
    pub id: String,
    pub at: DateTime<Utc>,
    pub data: EventData,
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Running,
    Paused,
    /// Stopped at or before its due time.
    Met,
    /// Its due time passed before it stopped (it may still run or be paused).
    Breached,
}

/// A span in a pause status; `to` is `None` while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PauseSpan {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
}

/// Who held the ticket: a queue and its vendor, or (both `None`) nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Holder {
    pub vendor_id: Option<String>,
    pub queue_id: Option<String>,
}

impl Holder {
    fn of(queue: Option<&QueueRef>) -> Holder {
        Holder {
            vendor_id: queue.map(|q| q.vendor_id.clone()),
            queue_id: queue.map(|q| q.queue_id.clone()),
        }
    }
}

/// The business seconds a clock used while one holder held the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VendorSeconds {
    pub vendor_id: Option<String>,
    pub queue_id: Option<String>,
    pub business_seconds: i64,
}

/// One clock of a ticket, as of the instant it was computed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Clock {
    pub metric: Metric,
    /// 1 for first response and resolution; next response counts its rounds.
    pub cycle: u32,
    pub target_seconds: i64,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub warning_at: Option<DateTime<Utc>>,
    pub state: ClockState,
    pub breached_at: Option<DateTime<Utc>>,
    /// Who held the ticket when the due time came, for a breached clock.
    pub breached_by: Option<Holder>,
    /// Who held the ticket when the clock stopped, or holds it now while
    /// the clock runs: whom a met clock is credited to.
    pub held_by: Holder,
    pub business_seconds_used: i64,
    pub pauses: Vec<PauseSpan>,
    pub by_vendor: Vec<VendorSeconds>,
    /// Ids of the history entries that moved this clock, in order.
    pub events: Vec<String>,
}

/// Computes every clock of one ticket as of `as_of` (see the module note
/// for what they mean). `calendar_for` gives the calendar to count on while
/// a queue (or, for `None`, no queue) holds the ticket: the policy's
/// calendar for every queue, [`Calendar::always_open`] for 24/7, or the
/// holding queue's coverage calendar (follow-the-sun); it is asked at
/// creation and at each change of holder only. `history` is in the order
/// things happened, starting with `created` (anything before it is
/// ignored; no `created`, no clocks). Entries after `as_of` are ignored;
/// the clocks come sorted by metric, then cycle.
pub fn compute<'c, C, F>(
    terms: &Terms,
    calendar_for: F,
    history: &[Entry],
    as_of: DateTime<Utc>,
) -> Vec<Clock>
where
    C: BusinessCalendar + ?Sized + 'c,
    F: Fn(Option<&QueueRef>) -> &'c C,
{
    let as_of = whole_seconds(as_of);
    let mut entries = history.iter();
    // Nothing counts before the ticket exists.
    let Some((created, created_at, priority, queue)) =
        entries.by_ref().find_map(|e| match &e.data {
            EventData::Created {
                priority, queue, ..
            } => Some((e, whole_seconds(e.at), *priority, queue.as_ref())),
            _ => None,
        })
    else {
        return Vec::new();
    };
    if created_at > as_of {
        return Vec::new();
    }
    let mut walk = Walk {
        terms,
        status: Status::New,
        priority,
        place: Place {
            holder: 0,
            calendar: calendar_for(queue),
        },
        holders: vec![queue],
        awaiting_customer: false,
        next_response_tracked: terms.tracks(Metric::NextResponse),
        clocks: Trackers {
            first_response: None,
            next_responses: Vec::new(),
            resolution: None,
        },
    };
    let paused = terms.pauses(Status::New);
    for (metric, slot) in [
        (Metric::FirstResponse, &mut walk.clocks.first_response),
        (Metric::Resolution, &mut walk.clocks.resolution),
    ] {
        if terms.tracks(metric) {
            *slot = Some(Tracker::start(
                metric,
                1,
                created_at,
                &created.id,
                paused,
                walk.place,
            ));
        }
    }
    // Entries out of order are taken as happening with the one before, so
    // no span of counted time is ever negative.
    let mut last = created_at;
    for entry in entries {
        let at = whole_seconds(entry.at).max(last);
        if at > as_of {
            break;
        }
        last = at;
        let id = entry.id.as_str();
        match &entry.data {
            EventData::StatusChanged { to, .. } => walk.status_changed(at, id, *to),
            EventData::PriorityChanged { to, .. } => walk.priority_changed(id, *to),
            // Only a change of holder moves a clock (and calls for a calendar).
            EventData::QueueChanged { to, .. } if !walk.holds(to.as_ref()) => {
                walk.holder_changed(at, id, to.as_ref(), calendar_for(to.as_ref()))
            }
            EventData::Replied { .. } => walk.agent_replied(at, id),
            EventData::CustomerReplied {
                automatic: false, ..
            } => walk.customer_wrote(at, id),
            _ => {}
        }
    }
    walk.finish(as_of)
}

/// Floors an instant to its whole second (chrono keeps the sub-second part
/// non-negative, so the timestamp is the floor).
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

/// Who holds the ticket and the calendar time counts on meanwhile.
struct Place<'c, C: ?Sized> {
    /// Index into [`Walk::holders`].
    holder: usize,
    calendar: &'c C,
}

// Not derived: a derive would ask `C: Copy`, and `C` may be unsized.
impl<C: ?Sized> Clone for Place<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: ?Sized> Copy for Place<'_, C> {}

/// A span of counted time, closed: `seconds` of business time from
/// `from`, after `used_before` seconds of the clock were already used.
struct CountedSpan<'c, C: ?Sized> {
    from: DateTime<Utc>,
    used_before: i64,
    seconds: i64,
    place: Place<'c, C>,
}

/// Where and under which priority a clock stopped (its tail past the stop
/// is counted on that calendar).
struct Stop<'c, C: ?Sized> {
    at: DateTime<Utc>,
    priority: Priority,
    place: Place<'c, C>,
}

/// One clock while the history is walked.
struct Tracker<'h, 'c, C: ?Sized> {
    metric: Metric,
    cycle: u32,
    started_at: DateTime<Utc>,
    /// The span being counted now: running and not paused.
    counting: Option<(DateTime<Utc>, Place<'c, C>)>,
    stop: Option<Stop<'c, C>>,
    /// Closed: resolution never resumes.
    stopped_for_good: bool,
    used: i64,
    spans: Vec<CountedSpan<'c, C>>,
    pauses: Vec<PauseSpan>,
    /// The event that began the open pause, taken back from `events` if
    /// the pause ends up lasting no time.
    pause_noted: Option<&'h str>,
    events: Vec<&'h str>,
    /// Priority changes while resolution is solved: they moved its target
    /// only if it re-opens under a target other than the one it stopped at.
    target_changes_while_stopped: Vec<&'h str>,
}

impl<'h, 'c, C: BusinessCalendar + ?Sized> Tracker<'h, 'c, C> {
    fn start(
        metric: Metric,
        cycle: u32,
        at: DateTime<Utc>,
        id: &'h str,
        paused: bool,
        place: Place<'c, C>,
    ) -> Self {
        let mut tracker = Tracker {
            metric,
            cycle,
            started_at: at,
            counting: None,
            stop: None,
            stopped_for_good: false,
            used: 0,
            spans: Vec::new(),
            pauses: Vec::new(),
            pause_noted: None,
            events: vec![id],
            target_changes_while_stopped: Vec::new(),
        };
        tracker.go_on(at, paused, place);
        tracker
    }

    fn is_live(&self) -> bool {
        self.stop.is_none()
    }

    fn note(&mut self, id: &'h str) {
        if self.events.last() != Some(&id) {
            self.events.push(id);
        }
    }

    /// Starts counting at `at`, or a pause there when the status pauses.
    fn go_on(&mut self, at: DateTime<Utc>, paused: bool, place: Place<'c, C>) {
        if paused {
            self.pauses.push(PauseSpan { from: at, to: None });
            self.pause_noted = None;
        } else {
            self.counting = Some((at, place));
        }
    }

    /// Ends the counted span at `at`: one calendar call per span.
    fn close_span(&mut self, at: DateTime<Utc>) {
        let Some((from, place)) = self.counting.take() else {
            return;
        };
        if at > from {
            let seconds = place.calendar.business_seconds_between(from, at).max(0);
            self.spans.push(CountedSpan {
                from,
                used_before: self.used,
                seconds,
                place,
            });
            self.used += seconds;
        }
    }

    /// Ends the open pause at `at`; false if there was none or it lasted no
    /// time (then it is dropped with the event that began it).
    fn end_pause(&mut self, at: DateTime<Utc>) -> bool {
        let Some(open) = self.pauses.last_mut().filter(|p| p.to.is_none()) else {
            return false;
        };
        if open.from < at {
            open.to = Some(at);
            return true;
        }
        self.pauses.pop();
        if let Some(id) = self.pause_noted.take() {
            if self.events.last() == Some(&id) {
                self.events.pop();
            }
        }
        false
    }

    fn pause(&mut self, at: DateTime<Utc>, id: &'h str) {
        self.close_span(at);
        self.pauses.push(PauseSpan { from: at, to: None });
        self.pause_noted = (self.events.last() != Some(&id)).then_some(id);
        self.note(id);
    }

    fn resume(&mut self, at: DateTime<Utc>, id: &'h str, place: Place<'c, C>) {
        if self.end_pause(at) {
            self.note(id);
        }
        self.counting = Some((at, place));
    }

    fn stop(&mut self, at: DateTime<Utc>, id: &'h str, priority: Priority, place: Place<'c, C>) {
        self.close_span(at);
        self.end_pause(at);
        self.stop = Some(Stop {
            at,
            priority,
            place,
        });
        self.note(id);
    }

    /// Resumes a solved resolution clock.
    fn reopen(
        &mut self,
        at: DateTime<Utc>,
        id: &'h str,
        paused: bool,
        place: Place<'c, C>,
        target_changed: bool,
    ) {
        self.stop = None;
        let changes = std::mem::take(&mut self.target_changes_while_stopped);
        if target_changed {
            self.events.extend(changes);
        }
        self.note(id);
        self.go_on(at, paused, place);
    }

    /// A new holder from `at`: the span so far is charged to the old one.
    fn change_place(&mut self, at: DateTime<Utc>, id: &'h str, place: Place<'c, C>) {
        if self.counting.is_some() {
            self.close_span(at);
            self.counting = Some((at, place));
        }
        self.note(id);
    }

    /// The instant the used time reached `threshold`, and where the ticket
    /// was then: inside a counted span, or past them all from `tail` (the
    /// last span's start while running, the stop once stopped).
    fn reached(
        &self,
        threshold: i64,
        tail: Option<(DateTime<Utc>, i64, Place<'c, C>)>,
    ) -> Option<(DateTime<Utc>, usize)> {
        let (from, used_before, place) = match self
            .spans
            .iter()
            .find(|s| s.used_before + s.seconds >= threshold)
        {
            Some(span) => (span.from, span.used_before, span.place),
            None => tail?,
        };
        let at = place
            .calendar
            .add_business_seconds(from, (threshold - used_before).max(0))?;
        Some((at, place.holder))
    }

    fn finish(
        mut self,
        terms: &Terms,
        priority_now: Priority,
        holders: &[Option<&QueueRef>],
        holder_now: usize,
        as_of: DateTime<Utc>,
    ) -> Option<Clock> {
        let priority = self.stop.as_ref().map_or(priority_now, |s| s.priority);
        let target = terms.target(priority, self.metric)?.max(0);
        let tail = match (&self.counting, &self.stop) {
            (Some((from, place)), _) => Some((*from, self.used, *place)),
            (None, Some(stop)) => Some((stop.at, self.used, stop.place)),
            (None, None) => None,
        };
        let paused = self.is_live() && self.counting.is_none();
        let held_by = self.stop.as_ref().map_or(holder_now, |s| s.place.holder);
        self.close_span(as_of);
        let due = self.reached(target, tail);
        let warning = self.reached(terms.warning_seconds(target), tail);
        let ends = self.stop.as_ref().map_or(as_of, |s| s.at);
        let breach = due.filter(|(at, _)| *at < ends);
        let state = match (&self.stop, breach) {
            (_, Some(_)) => ClockState::Breached,
            (Some(_), None) => ClockState::Met,
            (None, None) if paused => ClockState::Paused,
            (None, None) => ClockState::Running,
        };
        let mut by_vendor: Vec<(usize, i64)> = Vec::new();
        for span in &self.spans {
            match by_vendor.iter_mut().find(|(h, _)| *h == span.place.holder) {
                Some((_, seconds)) => *seconds += span.seconds,
                None => by_vendor.push((span.place.holder, span.seconds)),
            }
        }
        Some(Clock {
            metric: self.metric,
            cycle: self.cycle,
            target_seconds: target,
            started_at: self.started_at,
            stopped_at: self.stop.as_ref().map(|s| s.at),
            due_at: due.map(|(at, _)| at),
            warning_at: warning.map(|(at, _)| at),
            state,
            breached_at: breach.map(|(at, _)| at),
            breached_by: breach.map(|(_, holder)| Holder::of(holders[holder])),
            held_by: Holder::of(holders[held_by]),
            business_seconds_used: self.used,
            pauses: self.pauses,
            by_vendor: by_vendor
                .into_iter()
                .map(|(holder, business_seconds)| VendorSeconds {
                    vendor_id: holders[holder].map(|q| q.vendor_id.clone()),
                    queue_id: holders[holder].map(|q| q.queue_id.clone()),
                    business_seconds,
                })
                .collect(),
            events: self.events.into_iter().map(str::to_string).collect(),
        })
    }
}

struct Trackers<'h, 'c, C: ?Sized> {
    first_response: Option<Tracker<'h, 'c, C>>,
    /// Every cycle so far; only the last may still run.
    next_responses: Vec<Tracker<'h, 'c, C>>,
    resolution: Option<Tracker<'h, 'c, C>>,
}

impl<'h, 'c, C: BusinessCalendar + ?Sized> Trackers<'h, 'c, C> {
    /// The clocks that may still move.
    fn current(&mut self) -> impl Iterator<Item = &mut Tracker<'h, 'c, C>> {
        self.first_response
            .iter_mut()
            .chain(self.next_responses.last_mut())
            .chain(self.resolution.iter_mut())
    }
}

/// The ticket's state as the history is walked, and its clocks.
struct Walk<'t, 'h, 'c, C: ?Sized> {
    terms: &'t Terms,
    status: Status,
    priority: Priority,
    place: Place<'c, C>,
    /// Everyone who held the ticket, in order of first holding (named as
    /// the history does; copied only into the clocks at the end).
    holders: Vec<Option<&'h QueueRef>>,
    /// An agent replied and no customer message has started a cycle since.
    awaiting_customer: bool,
    next_response_tracked: bool,
    clocks: Trackers<'h, 'c, C>,
}

impl<'h, 'c, C: BusinessCalendar + ?Sized> Walk<'_, 'h, 'c, C> {
    fn status_changed(&mut self, at: DateTime<Utc>, id: &'h str, to: Status) {
        let from = std::mem::replace(&mut self.status, to);
        if from == to {
            return;
        }
        let ends = matches!(to, Status::Solved | Status::Closed);
        let (was_paused, now_paused) = (self.terms.pauses(from), self.terms.pauses(to));
        for clock in self.clocks.current() {
            if clock.is_live() {
                if ends {
                    clock.stop(at, id, self.priority, self.place);
                    clock.stopped_for_good = to == Status::Closed;
                } else if now_paused && !was_paused {
                    clock.pause(at, id);
                } else if was_paused && !now_paused {
                    clock.resume(at, id, self.place);
                }
            } else if clock.metric == Metric::Resolution && !clock.stopped_for_good {
                // Stopped but not for good: it was solved, and is leaving it.
                if to == Status::Closed {
                    clock.stopped_for_good = true;
                } else {
                    let stopped_under = clock.stop.as_ref().map(|s| s.priority);
                    let target_changed = stopped_under.is_some_and(|p| {
                        self.terms.target(p, Metric::Resolution)
                            != self.terms.target(self.priority, Metric::Resolution)
                    });
                    clock.reopen(at, id, now_paused, self.place, target_changed);
                }
            }
        }
    }

    fn priority_changed(&mut self, id: &'h str, to: Priority) {
        let from = std::mem::replace(&mut self.priority, to);
        for clock in self.clocks.current() {
            if self.terms.target(from, clock.metric) == self.terms.target(to, clock.metric) {
                continue;
            }
            if clock.is_live() {
                clock.note(id);
            } else if !clock.stopped_for_good && clock.metric == Metric::Resolution {
                clock.target_changes_while_stopped.push(id);
            }
        }
    }

    fn holds(&self, queue: Option<&QueueRef>) -> bool {
        self.holders[self.place.holder] == queue
    }

    fn holder_changed(
        &mut self,
        at: DateTime<Utc>,
        id: &'h str,
        queue: Option<&'h QueueRef>,
        calendar: &'c C,
    ) {
        let holder = match self.holders.iter().position(|h| *h == queue) {
            Some(known) => known,
            None => {
                self.holders.push(queue);
                self.holders.len() - 1
            }
        };
        let place = Place { holder, calendar };
        self.place = place;
        for clock in self.clocks.current().filter(|c| c.is_live()) {
            clock.change_place(at, id, place);
        }
    }

    fn agent_replied(&mut self, at: DateTime<Utc>, id: &'h str) {
        let (priority, place) = (self.priority, self.place);
        let responses = self
            .clocks
            .first_response
            .iter_mut()
            .chain(self.clocks.next_responses.last_mut());
        for clock in responses.filter(|c| c.is_live()) {
            clock.stop(at, id, priority, place);
        }
        self.awaiting_customer = true;
    }

    fn customer_wrote(&mut self, at: DateTime<Utc>, id: &'h str) {
        if !self.awaiting_customer || self.status == Status::Closed {
            return;
        }
        self.awaiting_customer = false;
        if self.next_response_tracked {
            let cycle = self.clocks.next_responses.len() as u32 + 1;
            self.clocks.next_responses.push(Tracker::start(
                Metric::NextResponse,
                cycle,
                at,
                id,
                self.terms.pauses(self.status),
                self.place,
            ));
        }
    }

    fn finish(self, as_of: DateTime<Utc>) -> Vec<Clock> {
        let Walk {
            terms,
            priority,
            holders,
            clocks,
            place,
            ..
        } = self;
        clocks
            .first_response
            .into_iter()
            .chain(clocks.next_responses)
            .chain(clocks.resolution)
            .filter_map(|clock| clock.finish(terms, priority, &holders, place.holder, as_of))
            .collect()
    }
}

#[cfg(test)]
mod tests;
