//! Errors of the identity store and token checks.

use std::path::Path;

/// Why a token was refused. Each maps to one HTTP answer in the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No token was presented.
    #[error("no bearer token")]
    Missing,
    /// Not a JWT, or a JWT Warden cannot read.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The signature does not verify with any key Warden trusts.
    #[error("token signature is invalid")]
    BadSignature,
    /// Signed by an issuer Warden does not trust.
    #[error("token issuer `{0}` is not trusted")]
    UnknownIssuer(String),
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Not valid yet (`nbf` or `iat` in the future).
    #[error("token is not valid yet")]
    NotYetValid,
    /// Issued for another resource.
    #[error("token audience does not include `{0}`")]
    WrongAudience(String),
    /// Signed by Warden's key but not in its registry (minted elsewhere or replayed from a
    /// reset store).
    #[error("token `{0}` was not issued by this Warden")]
    UnknownToken(String),
    /// The token, or a token it was exchanged from, was revoked.
    #[error("token `{0}` was revoked")]
    Revoked(String),
    /// The agent no longer exists (or was removed and created again: tokens do not carry
    /// over to a new agent of the same name).
    #[error("agent `{0}` does not exist")]
    UnknownAgent(String),
    /// The agent is suspended.
    #[error("agent `{0}` is suspended")]
    Suspended(String),
    /// The token's scopes do not cover what is asked.
    #[error("token scope does not cover `{0}`")]
    InsufficientScope(String),
}

/// Errors of the identity crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite state file failed.
    #[error("state store `{path}`: {message}")]
    Store { path: String, message: String },
    /// No such agent.
    #[error("no agent named `{0}`")]
    UnknownAgent(String),
    /// An agent of that name exists.
    #[error("an agent named `{0}` already exists")]
    AgentExists(String),
    /// Bad input from the user (name, scope, ttl, attribute).
    #[error("{0}")]
    Invalid(String),
    /// No such stored secret.
    #[error("no secret named `{0}`")]
    UnknownSecret(String),
    /// Key handling failed (wrong master key, corrupt key file).
    #[error("{0}")]
    Crypto(String),
    /// A token was refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps a SQLite error to [`Error::Store`] naming the file.
pub(crate) fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}
