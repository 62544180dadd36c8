//! Secrets: provider keys, private keys, JWTs, credentials in connection strings and
//! high-entropy values assigned to secret-like names.
//!
//! Every finding's span is the secret value itself (not the name next to it), widened to the
//! whole encoded run when the secret was found inside an encoding, so redaction removes every
//! byte of it and nothing else.

mod assignments;
mod connection;
mod jwt;
mod private_keys;
pub(crate) mod rules;

use std::sync::LazyLock;

use crate::anchored::Table;
use crate::util::push;
use crate::{Detector, Finding, FindingKind, Input, Meta};

pub use assignments::Assignments;
pub use connection::ConnectionStrings;
pub use jwt::Jwt;
pub use private_keys::PrivateKeys;

/// Provider key formats (cloud, VCS, chat, payment, LLM providers, SaaS), one table.
///
/// What it detects: tokens whose format a provider documents: a fixed prefix (`ghp_`,
/// `sk_live_`, `AKIA`, `xoxb-`), a fixed length and alphabet, or a provider name right before a
/// value of that provider's shape.
/// Why it matters: a leaked key is an account takeover; agents paste them into tickets, chats
/// and tool arguments.
/// Example: `token = "ghp_…36 chars…"` → `github_token`.
/// False positives: prefix-less formats need the provider's name within a few characters.
#[derive(Debug)]
pub struct ProviderKeys;

static PROVIDER_KEYS: Meta = Meta {
    id: "SEC001",
    kind: FindingKind::Secret,
    name: "provider_keys",
    summary: "API keys and tokens in documented provider formats",
};

/// The provider-key table (its literals are part of [`crate::literals`]).
pub(crate) fn table() -> &'static Table {
    &TABLE
}

static TABLE: LazyLock<Table> =
    LazyLock::new(|| Table::new(rules::RULES.iter().map(|r| r.pattern)));

impl Detector for ProviderKeys {
    fn meta(&self) -> &Meta {
        &PROVIDER_KEYS
    }

    fn prepare(&self) {
        LazyLock::force(&TABLE);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let hay = view.text.as_bytes();
            let hits = match view.occurrences(crate::literals::Set::ProviderKeys) {
                Some(occurrences) => TABLE.find_from(hay, occurrences, Some(view.alphabet_runs())),
                None => TABLE.find(hay),
            };
            for hit in hits {
                let Some(rule) = rules::RULES.get(hit.pattern) else {
                    continue;
                };
                let (start, end) = hit.group;
                let value = view.text.get(start..end).unwrap_or("");
                if !IDENTIFIERS.contains(&rule.label)
                    && (looks_like_placeholder(value) || is_fragment(hay, start, end))
                {
                    continue;
                }
                push(out, &PROVIDER_KEYS, rule.label, view, start, end, 0.9);
            }
        }
    }
}

/// Labels that name infrastructure (buckets, ARNs, shop domains) rather than carry a
/// credential: documentation-style names (`example-bucket`) are still names.
const IDENTIFIERS: &[&str] = &[
    "s3_bucket",
    "gcs_bucket",
    "aws_arn",
    "shopify_domain",
    "aws_account_id",
    "azure_storage_account",
];

/// Whether `start..end` is a piece of a longer token: joined by `-` or `_` to more of a
/// base64url run on either side, as a key-shaped run inside a random base64url string (a
/// pagination cursor, a nonce) is. A pasted key is set off by blanks, quotes or `=`.
fn is_fragment(hay: &[u8], start: usize, end: usize) -> bool {
    let joined = |joint: Option<&u8>, beyond: Option<&u8>| {
        matches!(joint, Some(b'-' | b'_'))
            && beyond.is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    let before = start.checked_sub(1).and_then(|i| hay.get(i));
    let before2 = start.checked_sub(2).and_then(|i| hay.get(i));
    joined(before, before2) || joined(hay.get(end), hay.get(end + 1))
}

/// Values that stand for a secret without being one: `xxxx`, `<token>`, `${TOKEN}`, `****`.
pub(crate) fn looks_like_placeholder(v: &str) -> bool {
    let t = v.trim_matches(|c: char| matches!(c, '"' | '\'' | '`'));
    if t.len() < 4 {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    if t.starts_with("${")
        || t.starts_with("{{")
        || t.starts_with('<')
        || t.starts_with('%')
        || t.starts_with("$(")
        || t.starts_with("&lt;")
    {
        return true;
    }
    if [
        "example",
        "placeholder",
        "changeme",
        "your_",
        "your-",
        "yourkey",
        "redacted",
        "dummy",
        "sample",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return true;
    }
    // A shell or CI variable standing in for the value (`$DB_PASSWORD`, `$REACT_APP_URL/x`).
    if let Some(var) = t.strip_prefix('$') {
        let len = var.bytes().take_while(|&c| crate::util::is_word(c)).count();
        let name = var.as_bytes().get(..len).unwrap_or_default();
        if len >= 3 && !name.iter().any(u8::is_ascii_lowercase) {
            return true;
        }
    }
    let first = t.chars().next().unwrap_or('x');
    // One character repeated (`xxxxxxxx`, `********`, `00000000`).
    t.chars().all(|c| c == first)
        || t.chars()
            .filter(|&c| c == 'x' || c == 'X' || c == '*')
            .count()
            * 2
            > t.len()
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
