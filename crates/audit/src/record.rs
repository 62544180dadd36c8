//! One stored record and the hash that chains it to the one before.

use serde::Serialize;
use sha2::{Digest, Sha256};
use warden_types::AuditKind;

/// The `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// A record as stored: the event plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Sequence number, starting at 1, without gaps.
    pub seq: i64,
    /// When the record was committed (RFC 3339 UTC).
    pub ts: String,
    /// Event kind.
    pub kind: AuditKind,
    /// Event body (a JSON object) as it was appended, large values included.
    #[serde(serialize_with = "raw_json")]
    pub body: String,
    /// The body as stored and hashed, where it differs from `body`: large values are kept
    /// beside the database and named by place and digest (see the `payload` module).
    #[serde(skip)]
    pub stored: Option<String>,
    /// Why a large value the record names could not be put back (then `body` is the stored
    /// form, which says where the value was and its digest). `verify` reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Hash of the previous record (hex on export).
    #[serde(serialize_with = "hex32")]
    pub prev_hash: [u8; 32],
    /// This record's hash.
    #[serde(serialize_with = "hex32")]
    pub hash: [u8; 32],
}

/// `SHA-256(prev_hash || seq || ts || kind || body)`, each field length-prefixed so no two
/// different records can hash the same input.
pub fn chain_hash(prev: &[u8; 32], seq: i64, ts: &str, kind: &str, body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    for part in [ts, kind, body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

impl Record {
    /// The body the chain hash covers.
    pub fn hashed_body(&self) -> &str {
        self.stored.as_deref().unwrap_or(&self.body)
    }
}

fn hex32<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn raw_json<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<&serde_json::value::RawValue>(v) {
        Ok(raw) => raw.serialize(s),
        Err(_) => s.serialize_str(v),
    }
}
