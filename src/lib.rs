//! Relay: help-desk ticketing for outsourced, multi-vendor customer support.
//!
//! Dependencies point one way: `http` (the only module that knows actix) and
//! `app`/`cli` -> `jobs` -> `email` (the mail channel) -> `intake` (opening
//! tickets, the customer page) -> `tickets` (reading and changing them, the
//! one seam `tickets::change`) -> `attachments` -> `auth`; `directory` ->
//! `auth`; all of them -> `db` -> `clock`, `domain` (pure types). Where a
//! lower service needs a channel's help (an acknowledgement mail for a new
//! ticket, the email of an agent's reply), the caller hands it in as a
//! function, so the lower one never names the higher.

pub mod app;
pub mod attachments;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod directory;
pub mod domain;
pub mod email;
pub mod error;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod mailgate;
pub mod metrics;
pub mod reports;
pub mod routing;
pub mod sla;
pub mod telemetry;
pub mod tickets;
