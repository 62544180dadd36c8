//! Composition: configuration, environment, start-up and shutdown of each `warden` command.
//! The CLI crate only parses arguments and calls into here.

pub mod anomaly;
pub mod approvals;
pub mod audit_cmd;
pub mod config;
pub mod data;
pub mod demo;
pub mod demo_server;
pub mod detect;
pub mod env;
pub mod exec_server;
pub mod gateway;
pub mod identity_cmd;
pub mod init;
pub mod mcp;
pub mod policy_cmd;
pub mod sandbox;
pub mod telemetry;
pub mod tools_cmd;

/// Process exit codes shared by every command.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Something failed (bad config, I/O, upstream crash).
    pub const FAILURE: i32 = 1;
    /// A check ran and found a problem: policy tests that did not pass, a broken audit chain.
    pub const CHECK_FAILED: i32 = 3;
}
