//! E-mail addresses.

use std::sync::LazyLock;

use regex::bytes::Regex;

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

/// What an address is: a local part of at most 64 characters, `@`, a domain.
const ADDRESS: &str = r"\b[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b";
/// [`ADDRESS`] with a local part of any length: what is searched (see [`addresses`]).
const ANY_LOCAL: &str = r"\b[A-Za-z0-9][A-Za-z0-9._%+'-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b";
/// The local part's most characters.
const LOCAL_MAX: usize = 64;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| pattern(ADDRESS));
static SEARCH: LazyLock<Regex> = LazyLock::new(|| pattern(ANY_LOCAL));

/// The matches of [`ADDRESS`] in `hay`, as its own search finds them. Its counted local part,
/// searched backwards from each `@`, made the lazy DFA build a state per count on new text
/// (250 µs for one 4 KB page of random strings holding `@`s, a fifth of that without the
/// count). So [`ANY_LOCAL`] is searched: wherever `ADDRESS` matches, it matches the same
/// bytes (the local part runs from the start to the `@`, the domain is the same), so its
/// leftmost match is `ADDRESS`'s unless its local part is too long, and then `ADDRESS` cannot
/// match before it and is searched from there.
fn addresses(hay: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(m) = SEARCH.find_at(hay, at) {
        let local = hay
            .get(m.start()..m.end())
            .and_then(|s| memchr::memchr(b'@', s))
            .unwrap_or(usize::MAX);
        let found = if local <= LOCAL_MAX {
            m
        } else {
            match EMAIL.find_at(hay, m.start()) {
                Some(m) => m,
                None => break,
            }
        };
        out.push((found.start(), found.end()));
        // Every match holds an `@`: none is empty.
        at = found.end().max(found.start() + 1);
    }
    out
}

const IMAGE_TLDS: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "webp", "ico"];

impl Detector for Email {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&EMAIL);
        LazyLock::force(&SEARCH);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            if !view.text.contains('@') {
                continue;
            }
            for (start, end) in addresses(view.text.as_bytes()) {
                let Some(s) = view.text.get(start..end) else {
                    continue;
                };
                let tld = s.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
                if s.contains("..") || IMAGE_TLDS.contains(&tld.as_str()) {
                    continue;
                }
                push(out, &META, "email", view, start, end, 0.95);
            }
        }
    }
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
