//! Pure domain types: no framework, no I/O.

pub mod event;
pub mod role;
pub mod ticket;
pub mod validate;

pub use role::Role;
pub use ticket::{AuthorKind, Channel, Priority, Status};
