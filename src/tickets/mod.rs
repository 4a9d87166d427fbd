//! Working tickets: reading, changing, conversations and the audit trail.

pub mod change;
pub mod conversation;
pub mod events;
pub mod feed;
pub mod files;
pub mod query;
pub mod recompute;
pub mod redact;
pub mod reroute;
pub mod satisfaction;
pub mod staff;
pub mod update;
pub mod view;
pub mod workload;

pub use query::{TicketFilter, TicketRef, Visibility};
