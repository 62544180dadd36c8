//! The store key: 32 bytes from which every other key is derived (sealing, id MAC, key check,
//! cursors), each under its own label so no two uses share a key.

use aws_lc_rs::hmac;
use base64::Engine as _;

use crate::{Error, Result};

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// The document store key. Its `Debug` form never shows the bytes.
#[derive(Clone)]
pub struct Key([u8; KEY_LEN]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// Parses 64 hex digits, or base64 (standard or url-safe alphabet, padded or not) of
    /// exactly 32 bytes. Surrounding whitespace is ignored. Errors never repeat the text.
    pub fn parse(s: &str) -> Result<Key> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::Key("the key is empty".to_owned()));
        }
        if s.len() == 2 * KEY_LEN && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes = hex::decode(s).map_err(|_| bad_format())?;
            return Self::from_slice(&bytes);
        }
        let engines = [
            base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT,
            base64::engine::general_purpose::URL_SAFE_PAD_INDIFFERENT,
        ];
        let bytes = engines
            .iter()
            .find_map(|e| e.decode(s).ok())
            .ok_or_else(bad_format)?;
        Self::from_slice(&bytes)
    }

    fn from_slice(bytes: &[u8]) -> Result<Key> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
            Error::Key(format!(
                "the key decodes to {} bytes; it must be {KEY_LEN}",
                bytes.len()
            ))
        })?;
        Ok(Key(bytes))
    }

    /// A new random key from the system generator.
    pub fn generate() -> Result<Key> {
        Ok(Key(random::<KEY_LEN>()?))
    }

    /// The key as 64 lowercase hex digits (what [`Key::parse`] reads back).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A key for [`crate::Index::build`] cursors derived from this key, so every process
    /// sharing the store accepts the same cursors.
    pub fn cursor_key(&self) -> [u8; KEY_LEN] {
        self.derive("cursor")
    }

    /// A subkey for one purpose: HMAC-SHA256 of a distinct label under the key.
    pub(crate) fn derive(&self, label: &str) -> [u8; KEY_LEN] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(b"warden-docstore/v1/");
        ctx.update(label.as_bytes());
        let tag = ctx.sign();
        let mut out = [0u8; KEY_LEN];
        for (o, b) in out.iter_mut().zip(tag.as_ref()) {
            *o = *b;
        }
        out
    }
}

fn bad_format() -> Error {
    Error::Key("expected 64 hex digits or base64 of 32 bytes".to_owned())
}

/// `N` random bytes from the system generator.
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out)
        .map_err(|_| Error::Crypto("the system random generator failed".to_owned()))?;
    Ok(out)
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
