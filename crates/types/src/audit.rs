//! Audit events: what Warden records, before it is chained and stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kind of an audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A session started or ended, an upstream started or stopped.
    Lifecycle,
    /// A request and the decision on it, written before the request is forwarded.
    Decision,
    /// What came back for an allowed request.
    Outcome,
    /// Bad input on a wire: malformed, oversized or unexpected messages.
    Protocol,
    /// A held call: requested, approved or denied (by whom and why), expired, used.
    Approval,
}

impl AuditKind {
    /// Lowercase name stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lifecycle => "lifecycle",
            Self::Decision => "decision",
            Self::Outcome => "outcome",
            Self::Protocol => "protocol",
            Self::Approval => "approval",
        }
    }

    /// Parses a stored kind name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lifecycle" => Some(Self::Lifecycle),
            "decision" => Some(Self::Decision),
            "outcome" => Some(Self::Outcome),
            "protocol" => Some(Self::Protocol),
            "approval" => Some(Self::Approval),
            _ => None,
        }
    }
}

/// One event to append to the audit log. The store adds the sequence number, the time and the
/// hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// What kind of event.
    pub kind: AuditKind,
    /// The event body: a JSON object whose fields depend on the kind.
    pub body: Value,
    /// One top-level field of `body` as the JSON text it was received as (a tool call's
    /// arguments), which the store may keep instead of serializing the value again.
    #[serde(skip)]
    pub verbatim: Option<Verbatim>,
}

impl AuditEvent {
    /// Builds an event.
    pub fn new(kind: AuditKind, body: Value) -> Self {
        Self {
            kind,
            body,
            verbatim: None,
        }
    }
}

/// A body field's value as JSON text, a range of a shared buffer (the message it came in).
/// Whoever attaches it vouches that the text means exactly the field's value: no duplicate
/// key, no number other than a 64-bit integer (see `warden_mcp::Message::param_text`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verbatim {
    /// The body field it stands for.
    pub key: String,
    /// The buffer holding the text.
    pub buffer: std::sync::Arc<Vec<u8>>,
    /// Where the text is in `buffer`.
    pub range: std::ops::Range<usize>,
}

impl Verbatim {
    /// The text's bytes (empty when the range is out of the buffer).
    pub fn bytes(&self) -> &[u8] {
        self.buffer.get(self.range.clone()).unwrap_or_default()
    }
}
