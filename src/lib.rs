//! Relay: help-desk ticketing for outsourced, multi-vendor customer support.
//!
//! Dependencies point one way: `http` (the only module that knows actix) ->
//! services (`intake`, `tickets`, `directory`, `auth`, `attachments`) -> `db`
//! -> `domain` (pure types).

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
pub mod telemetry;
pub mod tickets;
