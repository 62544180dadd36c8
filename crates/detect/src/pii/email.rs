//! E-mail addresses.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::MatchStr as _;

use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// E-mail addresses.
///
/// What it detects: `local@domain.tld` with a valid dot-atom local part and a domain of
/// labels ending in an alphabetic top-level domain.
/// Why it matters: an address identifies a person and is the key to their other accounts.
/// Example: `jane.doe@example.org`.
/// False positives: `user@host` without a TLD and file names like `logo@2x.png` are skipped.
#[derive(Debug)]
pub struct Email;

static META: Meta = Meta {
    id: "PII001",
    kind: FindingKind::Pii,
    name: "email",
    summary: "e-mail addresses",
};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"\b[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b",
    )
});

const IMAGE_TLDS: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "webp", "ico"];

impl Detector for Email {
    fn meta(&self) -> &Meta {
        &META
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            if !view.text.contains('@') {
                continue;
            }
            for m in EMAIL.find_iter(view.text.as_bytes()) {
                let s = m.as_str();
                let tld = s.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
                if s.contains("..") || IMAGE_TLDS.contains(&tld.as_str()) {
                    continue;
                }
                push(out, &META, "email", view, m.start(), m.end(), 0.95);
            }
        }
    }
}
