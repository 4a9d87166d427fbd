//! Integration tests: the real HTTP app on port 0, a fresh database per test.

mod assignment;
mod authorization;
mod bad_input;
mod browser;
mod calendars;
mod certs;
mod common;
mod demo;
mod directory;
mod email;
mod feed;
mod history;
mod imap;
mod isolation;
mod ops;
mod outbox;
mod routing;
mod smtp;
mod support;
mod tickets;
mod trust_auth;
mod trust_bodies;
mod trust_email;
mod trust_intake;
mod trust_ops;
mod trust_pii;
