//! Cedar-based authorization for Warden: pure and sync.
//!
//! [`Engine::load`] parses a Cedar schema and policy files, validates every policy against the
//! schema (errors name the file and line) and builds the set used at run time.
//! [`Engine::evaluate`] answers one [`warden_types::Request`] with a
//! [`warden_types::Decision`]: allow, deny or approval required, with the ids of the deciding
//! policies. Any evaluation error fails closed (deny).
//!
//! Policy annotations Warden understands:
//! - `@id("refunds-small")`: the policy's id in decisions and audit records;
//! - `@reason("...")`: the text an agent sees when this `forbid` denies it;
//! - `@approval("finance")`: a `permit` that only allows after a human of that group approves.

mod context;
mod convert;
mod engine;
mod error;
mod guard;
mod listing;
mod reads;
mod slice;
mod source;

pub use engine::{Engine, PolicyInfo};
pub use error::{Error, Result};
pub use source::Source;

/// The starter schema `warden init` writes.
pub const STARTER_SCHEMA: &str = include_str!("../starter/warden.cedarschema");
/// The starter policies `warden init` writes.
pub const STARTER_POLICIES: &str = include_str!("../starter/policies.cedar");
