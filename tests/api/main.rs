//! Integration tests: the real HTTP app on port 0, a fresh database per test.

mod common;
mod tickets;
mod isolation;
mod bad_input;
mod directory;
mod ops;
mod support;
mod browser;
mod email;
mod demo;
