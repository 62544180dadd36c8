//! Agent identities for the gateway: a registry of agents with attributes and status,
//! short-lived EdDSA tokens with audience, expiry and scopes, delegation by RFC 8693 token
//! exchange (scopes and lifetime only shrink, the chain is recorded), revocation, and
//! upstream credentials sealed with a master key. Pure and synchronous over one SQLite file.

mod approver;
mod crypto;
mod error;
pub mod scope;
mod store;
pub mod token;

pub use approver::ApproverAccount;
pub use crypto::MasterKey;
pub use error::{Error, Refusal, Result};
pub use scope::Scope;
pub use store::{Agent, Status, Store, TokenRecord, valid_name};
pub use token::{Claims, External, Issued, Verified, parse_ttl};

/// Now, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// 128 random bits as hex (session ids and the like).
pub fn random_id() -> Result<String> {
    Ok(hex::encode(crypto::random::<16>()?))
}
