//! SLA clocks, computed from a ticket's history: pure, no I/O.

pub mod clock;
