//! Warden's shared vocabulary: who acts ([`Principal`]), what they do ([`Action`]), on what
//! ([`Resource`]), what Warden decided ([`Decision`], [`Outcome`]) and what it records
//! ([`AuditEvent`]).
//!
//! This crate has no async runtime and no I/O but the creation of private state files
//! ([`file::create_private`]); every other crate speaks in these types.

mod audit;
mod decision;
pub mod file;
mod finding;
pub mod json;
mod request;
mod time;

pub use audit::{AuditEvent, AuditKind, Verbatim};
pub use decision::{Decision, Outcome};
pub use finding::{Finding, FindingKind};
pub use request::{Action, LimitFacts, Principal, Request, Resource, SessionFacts, ToolFacts};
pub use time::{now_rfc3339, now_unix_micros};
