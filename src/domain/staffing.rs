//! Staffing advice: how many agents a queue needs on duty to answer within
//! its target, and how many to schedule.
//!
//! Two models (docs/DESIGN.md, "Reports"):
//! - Erlang C (an M/M/N queue) for targets under an hour (chat-like work):
//!   the fewest agents whose service level (the share answered within the
//!   target) reaches the goal without their occupancy passing the cap.
//! - Workload for targets of an hour or more (email): work may wait for
//!   its window, so the arriving work (traffic, in agent-hours per hour)
//!   is divided by the occupancy cap, with no queueing margin.
//!
//! Agents to schedule = agents on queue / (1 − shrinkage), shrinkage being
//! the share of paid time not on the queue (breaks, training, absence).
//! Pure arithmetic, no I/O.

use super::validate::{Errors, FieldError};
use serde::Serialize;

/// Targets from this long on are planned by workload, not Erlang C.
pub const WORKLOAD_FROM_SECONDS: f64 = 3600.0;
/// The largest traffic (agents' worth of work) planned: a very large
/// contact centre; bounds the search.
pub const MAX_TRAFFIC: f64 = 10_000.0;
const MAX_HANDLE_SECONDS: f64 = 86_400.0;
const MAX_ANSWER_SECONDS: f64 = 30.0 * 86_400.0;

/// The work coming in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    pub arrivals_per_hour: f64,
    /// Average handle time of one arrival.
    pub handle_seconds: f64,
    /// The answer target: answered within this long.
    pub answer_seconds: f64,
}

impl Demand {
    /// Agents' worth of work arriving (Erlangs): arrivals × handle time.
    pub fn traffic(&self) -> f64 {
        self.arrivals_per_hour * self.handle_seconds / 3600.0
    }
}

/// What the staffing must achieve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goal {
    /// The share of arrivals to answer within the target (0.8: 80 %).
    pub service_level: f64,
    /// The busiest agents may be on average (0.85).
    pub max_occupancy: f64,
    /// The share of scheduled time not on the queue (0.3).
    pub shrinkage: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    ErlangC,
    Workload,
}

/// The advice, with how the advised staffing performs.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Advice {
    /// Agents on the queue.
    pub agents: u32,
    /// Agents to schedule, shrinkage included.
    pub scheduled_agents: u32,
    pub service_level: f64,
    pub probability_of_waiting: f64,
    pub average_wait_seconds: f64,
    pub occupancy: f64,
    /// The service level with one agent fewer (null with no agents).
    pub service_level_with_one_fewer: Option<f64>,
    pub model: Model,
}

/// How `agents` perform on `traffic` (Erlang C).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Performance {
    pub probability_of_waiting: f64,
    pub service_level: f64,
    /// Infinite when the agents cannot keep up (agents ≤ traffic).
    pub average_wait_seconds: f64,
    pub occupancy: f64,
}

/// Erlang B, the blocking probability of `agents` on `traffic`, by the
/// recursion B(n) = A·B(n−1) / (n + A·B(n−1)), which stays exact where
/// the textbook form's powers and factorials overflow.
pub fn erlang_b(traffic: f64, agents: u32) -> f64 {
    (1..=agents).fold(1.0, |b, n| next_erlang_b(traffic, b, n))
}

fn next_erlang_b(traffic: f64, previous: f64, agents: u32) -> f64 {
    traffic * previous / (f64::from(agents) + traffic * previous)
}

/// Erlang C's figures for `agents` given Erlang B for them.
fn perform(demand: &Demand, agents: u32, erlang_b: f64) -> Performance {
    let traffic = demand.traffic();
    let n = f64::from(agents);
    if n <= traffic {
        return Performance {
            probability_of_waiting: 1.0,
            service_level: 0.0,
            average_wait_seconds: f64::INFINITY,
            occupancy: if agents == 0 { 0.0 } else { 1.0 },
        };
    }
    let waiting = n * erlang_b / (n - traffic * (1.0 - erlang_b));
    let spare = n - traffic;
    Performance {
        probability_of_waiting: waiting,
        service_level: 1.0
            - waiting * (-spare * demand.answer_seconds / demand.handle_seconds).exp(),
        average_wait_seconds: waiting * demand.handle_seconds / spare,
        occupancy: traffic / n,
    }
}

/// How `agents` perform on the demand (Erlang C).
pub fn performance(demand: &Demand, agents: u32) -> Performance {
    perform(demand, agents, erlang_b(demand.traffic(), agents))
}

/// Checks the inputs, every problem at once.
pub fn validate(demand: &Demand, goal: &Goal) -> Result<(), Vec<FieldError>> {
    let mut errors = Errors::default();
    let mut check = |field: &str, value: f64, ok: bool, expected: &str| {
        if !value.is_finite() || !ok {
            errors.add(field, format!("must be {expected}"));
        }
    };
    let d = demand;
    check(
        "arrivals_per_hour",
        d.arrivals_per_hour,
        d.arrivals_per_hour >= 0.0,
        "a number of arrivals per hour, 0 or more",
    );
    check(
        "handle_seconds",
        d.handle_seconds,
        d.handle_seconds > 0.0 && d.handle_seconds <= MAX_HANDLE_SECONDS,
        "a number of seconds above 0, at most 86400",
    );
    check(
        "answer_seconds",
        d.answer_seconds,
        d.answer_seconds >= 0.0 && d.answer_seconds <= MAX_ANSWER_SECONDS,
        "a number of seconds, 0 to 2592000 (30 days)",
    );
    check(
        "service_level",
        goal.service_level,
        goal.service_level > 0.0 && goal.service_level < 1.0,
        "a share between 0 and 1, such as 0.8",
    );
    check(
        "max_occupancy",
        goal.max_occupancy,
        goal.max_occupancy > 0.0 && goal.max_occupancy <= 1.0,
        "a share above 0, at most 1, such as 0.85",
    );
    check(
        "shrinkage",
        goal.shrinkage,
        goal.shrinkage >= 0.0 && goal.shrinkage < 1.0,
        "a share from 0 to below 1, such as 0.3",
    );
    if errors.is_empty() && demand.traffic() > MAX_TRAFFIC {
        errors.add(
            "arrivals_per_hour",
            format!("arrivals × handle time come to more than {MAX_TRAFFIC} agents' worth of work"),
        );
    }
    errors.finish()
}

/// The staffing advice for the demand and goal (validated first).
pub fn advise(demand: &Demand, goal: &Goal) -> Result<Advice, Vec<FieldError>> {
    validate(demand, goal)?;
    let traffic = demand.traffic();
    let model = model(demand);
    if traffic == 0.0 {
        return Ok(Advice {
            agents: 0,
            scheduled_agents: 0,
            service_level: 1.0,
            probability_of_waiting: 0.0,
            average_wait_seconds: 0.0,
            occupancy: 0.0,
            service_level_with_one_fewer: None,
            model,
        });
    }
    let (agents, performing) = match model {
        Model::ErlangC => fewest_meeting(demand, goal),
        Model::Workload => {
            // More agents than traffic, or the queue grows without end.
            let agents =
                ((traffic / goal.max_occupancy).ceil() as u32).max(traffic.floor() as u32 + 1);
            (agents, performance(demand, agents))
        }
    };
    let one_fewer = performance(demand, agents - 1).service_level;
    Ok(Advice {
        agents,
        scheduled_agents: scheduled(agents, goal.shrinkage),
        service_level: performing.service_level,
        probability_of_waiting: performing.probability_of_waiting,
        average_wait_seconds: performing.average_wait_seconds,
        occupancy: performing.occupancy,
        service_level_with_one_fewer: Some(one_fewer),
        model,
    })
}

fn model(demand: &Demand) -> Model {
    if demand.answer_seconds < WORKLOAD_FROM_SECONDS {
        Model::ErlangC
    } else {
        Model::Workload
    }
}

/// The fewest agents above the traffic whose service level meets the goal
/// within the occupancy cap, stepping Erlang B up one agent at a time.
/// Service level grows and occupancy falls with every agent added, so the
/// first that meets both is the answer; it is at most a few times the
/// square root of the traffic above it.
fn fewest_meeting(demand: &Demand, goal: &Goal) -> (u32, Performance) {
    let traffic = demand.traffic();
    let mut agents = traffic.floor() as u32 + 1;
    let mut b = erlang_b(traffic, agents);
    loop {
        let performing = perform(demand, agents, b);
        if performing.service_level >= goal.service_level
            && performing.occupancy <= goal.max_occupancy
        {
            return (agents, performing);
        }
        agents += 1;
        b = next_erlang_b(traffic, b, agents);
    }
}

/// Agents to schedule so that `agents` are on the queue after shrinkage.
/// The division is rounded up, but a quotient within floating-point noise
/// of a whole number is that number (14 / 0.7 is 20, not 21).
pub fn scheduled(agents: u32, shrinkage: f64) -> u32 {
    let exact = f64::from(agents) / (1.0 - shrinkage);
    (exact - 1e-9).ceil().max(0.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    const GOAL: Goal = Goal {
        service_level: 0.8,
        max_occupancy: 0.85,
        shrinkage: 0.3,
    };

    #[test]
    fn erlang_b_matches_the_published_table() {
        // Erlang B tables: 10 Erlangs on 10 lines block 21.46 %; 2 on 3, 21.05 %.
        assert!(
            close(erlang_b(10.0, 10), 0.2146, 5e-5),
            "{}",
            erlang_b(10.0, 10)
        );
        assert!(close(erlang_b(2.0, 3), 4.0 / 19.0, 1e-12));
        assert_eq!(erlang_b(5.0, 0), 1.0);
    }

    #[test]
    fn erlang_c_matches_the_textbook_cases() {
        // Two Erlangs on three agents wait with probability 4/9.
        let two = Demand {
            arrivals_per_hour: 40.0,
            handle_seconds: 180.0,
            answer_seconds: 20.0,
        };
        assert!(close(
            performance(&two, 3).probability_of_waiting,
            4.0 / 9.0,
            1e-12
        ));
        // Ten Erlangs on eleven agents: 68.21 % wait (Erlang C tables).
        let ten = Demand {
            arrivals_per_hour: 200.0,
            handle_seconds: 180.0,
            answer_seconds: 20.0,
        };
        assert!(close(
            performance(&ten, 11).probability_of_waiting,
            0.6821,
            5e-5
        ));
    }

    /// pyworkforce's documented example: 100 contacts per 30 minutes, 3
    /// minutes' handle time, 80 % within 20 s, occupancy at most 85 %,
    /// shrinkage 30 %: 14 agents on the queue, 20 to schedule.
    #[test]
    fn advice_matches_pyworkforce_s_example() {
        let demand = Demand {
            arrivals_per_hour: 200.0,
            handle_seconds: 180.0,
            answer_seconds: 20.0,
        };
        let advice = advise(&demand, &GOAL).unwrap();
        assert_eq!((advice.agents, advice.scheduled_agents), (14, 20));
        assert!(
            close(advice.service_level, 0.888_350_019_179_466_9, 1e-9),
            "{advice:?}"
        );
        assert!(close(advice.occupancy, 0.714_285_714_285_714_3, 1e-12));
        assert!(close(
            advice.probability_of_waiting,
            0.174_131_933_595_049_8,
            1e-9
        ));
        assert!(close(
            advice.average_wait_seconds,
            0.174_131_933_595_049_8 * 180.0 / 4.0,
            1e-9
        ));
        assert_eq!(advice.model, Model::ErlangC);
        let fewer = advice.service_level_with_one_fewer.unwrap();
        assert!(fewer < 0.8, "13 agents miss the goal: {fewer}");
        assert!(close(fewer, performance(&demand, 13).service_level, 1e-12));
    }

    #[test]
    fn long_targets_are_planned_by_workload() {
        // 30 emails an hour at 10 minutes each: 5 agents' worth of work,
        // at most 85 % busy: 6 on the queue, 9 scheduled at 30 % shrinkage.
        let email = Demand {
            arrivals_per_hour: 30.0,
            handle_seconds: 600.0,
            answer_seconds: 8.0 * 3600.0,
        };
        let advice = advise(&email, &GOAL).unwrap();
        assert_eq!(
            (advice.agents, advice.scheduled_agents, advice.model),
            (6, 9, Model::Workload)
        );
        assert!(advice.service_level > 0.999);
        // At full occupancy allowed, still more agents than work.
        let full = Goal {
            max_occupancy: 1.0,
            ..GOAL
        };
        assert_eq!(advise(&email, &full).unwrap().agents, 6);
    }

    #[test]
    fn no_arrivals_need_no_one() {
        let none = Demand {
            arrivals_per_hour: 0.0,
            handle_seconds: 300.0,
            answer_seconds: 60.0,
        };
        let advice = advise(&none, &GOAL).unwrap();
        assert_eq!((advice.agents, advice.scheduled_agents), (0, 0));
        assert_eq!(advice.service_level_with_one_fewer, None);
    }

    #[test]
    fn bad_inputs_are_named_together() {
        let demand = Demand {
            arrivals_per_hour: -1.0,
            handle_seconds: 0.0,
            answer_seconds: f64::NAN,
        };
        let goal = Goal {
            service_level: 1.0,
            max_occupancy: 0.0,
            shrinkage: 1.0,
        };
        let fields: Vec<String> = advise(&demand, &goal)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "arrivals_per_hour",
                "handle_seconds",
                "answer_seconds",
                "service_level",
                "max_occupancy",
                "shrinkage"
            ]
        );
        let huge = Demand {
            arrivals_per_hour: 1e9,
            handle_seconds: 600.0,
            answer_seconds: 60.0,
        };
        assert_eq!(
            advise(&huge, &GOAL).unwrap_err()[0].field,
            "arrivals_per_hour"
        );
    }

    #[test]
    fn scheduling_rounds_up_but_not_past_a_whole_number() {
        assert_eq!(scheduled(14, 0.3), 20);
        assert_eq!(scheduled(15, 0.3), 22);
        assert_eq!(scheduled(7, 0.0), 7);
        assert_eq!(scheduled(0, 0.5), 0);
    }

    proptest! {
        /// The advice is the fewest agents that meet the goal: they meet
        /// it, and one fewer does not (a linear search from one agent is
        /// the reference).
        #[test]
        fn erlang_c_advice_is_the_fewest_that_meet_the_goal(
            arrivals in 0.5f64..2000.0,
            handle in 10.0f64..1800.0,
            answer in 0.0f64..3599.0,
            level in 0.5f64..0.99,
            occupancy in 0.5f64..1.0,
        ) {
            let demand = Demand { arrivals_per_hour: arrivals, handle_seconds: handle, answer_seconds: answer };
            let goal = Goal { service_level: level, max_occupancy: occupancy, shrinkage: 0.0 };
            prop_assume!(demand.traffic() <= 500.0);
            let advice = advise(&demand, &goal).unwrap();
            let meets = |n: u32| {
                let p = performance(&demand, n);
                p.service_level >= level && p.occupancy <= occupancy && f64::from(n) > demand.traffic()
            };
            let reference = (1..).find(|n| meets(*n)).unwrap();
            prop_assert_eq!(advice.agents, reference);
            prop_assert!(advice.service_level_with_one_fewer.unwrap() <= advice.service_level);
        }
    }
}
