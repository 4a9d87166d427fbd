//! Routing: which queue, priority, tags, SLA policy and agent a ticket gets.
//!
//! `rule` (the JSON contract) and `engine` (compiled evaluation) are pure;
//! `rules` stores rule sets, `compiled` keeps each process's compiled copy
//! current. The ticket seam (`tickets::change`) calls in here; nothing else
//! applies a routing decision.

pub mod assignment;
pub mod compiled;
pub mod dry_run;
pub mod engine;
pub mod placement;
pub mod replay;
pub mod rule;
pub mod rules;
