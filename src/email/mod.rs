//! The email channel: mail in (one ingest pipeline behind three doors),
//! threading, loop and bounce handling, and mail out through the outbox.

pub mod acknowledgement;
pub mod classify;
pub mod compose;
pub mod imap;
pub mod ingest;
pub mod outbox;
pub mod parse;
pub mod reply_address;
pub mod satisfaction;
pub mod secrets;
pub mod send;
pub mod thread;

/// Header Relay puts on every mail it sends, so its own mail coming back is
/// recognised and ignored even when the Message-ID was rewritten.
pub const LOOP_HEADER: &str = "X-Relay-Loop";
