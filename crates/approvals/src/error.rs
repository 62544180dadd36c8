//! Errors of the approval store.

use std::path::Path;

/// Errors of the approvals crate. Refusals an approver sees carry a reason they can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The SQLite file failed.
    #[error("approval store `{path}`: {message}")]
    Store { path: String, message: String },
    /// No request with that id.
    #[error("no approval request `{0}`")]
    Unknown(String),
    /// Already approved, denied, expired or used.
    #[error("approval request `{id}` is already {status}")]
    Settled { id: String, status: String },
    /// Past its expiry (now marked expired).
    #[error("approval request `{0}` has expired")]
    Expired(String),
    /// The approver decided on another call than the one stored.
    #[error(
        "the call hash does not match approval request `{0}`: the call shown is not the call held"
    )]
    HashMismatch(String),
    /// The approver is in none of the request's groups.
    #[error("`{approver}` is not in any group that may decide `{id}` (needs one of: {groups})")]
    NotApprover {
        approver: String,
        id: String,
        groups: String,
    },
    /// Randomness failed (no id could be made).
    #[error("no randomness for an approval id")]
    Random,
}

/// Result of the approvals crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}
