//! End-to-end tests of the real `warden` binary with the built-in demo server as upstream.
#![allow(
    clippy::disallowed_methods,
    reason = "these tests start the real binary"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod support;

mod anomaly;
mod approvals;
mod audit_cli;
mod bad_input;
mod console;
mod delegation;
mod detect;
mod flow;
mod gateway;
mod kill;
mod limits;
mod pinning;
mod policy_cli;
mod proxy;
mod sandbox;
mod streams;
