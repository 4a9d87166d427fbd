//! The SLA engine: policies, the clocks every ticket runs under, and the
//! scanner that warns and escalates.
//!
//! Clocks are computed by `domain::sla::clock` from a ticket's history;
//! this module chooses the policy, stores the results (`ticket_sla`,
//! `sla_clocks`) and keeps them current from the ticket seam.

pub mod compiled;
pub mod explain;
pub mod notices;
pub mod policies;
pub mod policy;
pub mod reading;
pub mod scanner;
pub mod tracking;
