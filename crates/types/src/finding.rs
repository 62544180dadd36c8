//! What a detector found in a piece of text: its kind, type, where, and how sure.
//!
//! A finding never carries the matched text itself, only its span, so it can go into the audit
//! log as is (a secret must not be copied into the record that reports it).

use serde::{Deserialize, Serialize};

/// The family a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An instruction aimed at the agent hidden in data (prompt injection, jailbreak).
    Injection,
    /// Personal data: e-mail, phone, card, IBAN, SSN, IP address, date of birth, address.
    Pii,
    /// A credential: provider keys, private keys, tokens, passwords.
    Secret,
}

impl FindingKind {
    /// Lowercase name used in config, on the wire and in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Injection => "injection",
            Self::Pii => "pii",
            Self::Secret => "secret",
        }
    }
}

/// One detection. `start..end` are byte offsets into the text that was scanned, always on
/// character boundaries, covering every byte that carried the detected value (for an encoded
/// value, the whole encoded run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id of the detector (`SEC001`, `PII003`, `INJ001`).
    pub detector: String,
    /// Injection, PII or secret.
    pub kind: FindingKind,
    /// What was found, e.g. `email`, `credit_card`, `github_token`, `instruction_override`.
    #[serde(rename = "type")]
    pub label: String,
    /// First byte of the span.
    pub start: usize,
    /// One past the last byte of the span.
    pub end: usize,
    /// Confidence (or, for injection, the score) in `[0, 1]`.
    pub confidence: f32,
}
