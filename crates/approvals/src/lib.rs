//! Approvals: calls that policy says need a human's yes (`@approval("group")`), stored until
//! an approver of one of the named groups decides, they expire, or they are used.
//!
//! A request is bound to the SHA-256 of the exact call ([`call_hash`]: agent, server, method,
//! target and arguments, keys sorted). An approver decides on the hash they were shown, so a
//! decision cannot land on a call that changed underneath it; an approval is used once
//! ([`Store::consume`]), so it cannot be replayed. Pure and synchronous over one SQLite file
//! (WAL, `synchronous = FULL`: a decision the approver saw acknowledged survives a crash).

mod error;
mod hash;
mod pins;
mod store;

pub use error::{Error, Result};
pub use hash::{CallKey, call_hash, canonical_json};
pub use pins::{Listed, Other, Pin, PinStatus, Seen, definition, definition_hash, diff};
pub use store::{Approval, Approver, Mode, NewApproval, Status, Store};

/// Now, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
