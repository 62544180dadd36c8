//! Credentials inside connection strings and URLs.

use std::sync::LazyLock;

use regex::bytes::Regex;

use super::looks_like_placeholder;
use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Passwords in connection strings.
///
/// What it detects: `scheme://user:password@host` URLs (databases, brokers, HTTP, FTP, JDBC)
/// and MongoDB/Redis/AMQP connection strings; the span is the password.
/// Why it matters: database URLs end up in logs and tool arguments with the password inline.
/// Example: `postgres://app:s3cr3t@db:5432/app` → `s3cr3t`.
/// False positives: placeholders (`user:password@`, `${PASS}`, `****`) are skipped.
#[derive(Debug)]
pub struct ConnectionStrings;

static META: Meta = Meta {
    id: "SEC004",
    kind: FindingKind::Secret,
    name: "connection_strings",
    summary: "passwords inside connection strings and URLs",
};

static URL_CREDS: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"\b(?:[a-zA-Z][a-zA-Z0-9+.-]{1,20}):(?://|/)?(?:[^\s:@/'\x22<>]{1,100}):([^\s@/'\x22<>]{3,200})@[A-Za-z0-9.\-\[\]_]+",
    )
});

/// [`URL_CREDS`] with no bounds on the scheme (group 1), user (2) and password (3): what is
/// searched (see [`passwords`]).
static SEARCH: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"\b([a-zA-Z][a-zA-Z0-9+.-]+):(?://|/)?([^\s:@/'\x22<>]+):([^\s@/'\x22<>]{3,})@[A-Za-z0-9.\-\[\]_]+",
    )
});

/// The longest stretch before the `@` a match can have: scheme (21), `:`, `//`, user (100),
/// `:`, password (200).
const BEFORE_AT: usize = 325;

fn in_host(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'[' | b']' | b'_')
}

/// Where matches can be: every match holds exactly one `@` (no other part admits one), at most
/// [`BEFORE_AT`] bytes after its start, and ends where the host's run of bytes after it ends.
/// Overlapping stretches are merged, so a search of each finds what a search of the text does.
fn around_at_signs(hay: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for at in memchr::memchr_iter(b'@', hay) {
        let mut end = at + 1;
        while hay.get(end).copied().is_some_and(in_host) {
            end += 1;
        }
        crate::util::add_window(&mut out, (at.saturating_sub(BEFORE_AT), end));
    }
    out
}

/// The password spans (group 1) of [`URL_CREDS`]'s matches inside `windows` of `hay`, as
/// [`crate::util::matches_in_runs`] finds them. Its counted parts made the lazy DFA build new
/// states on most new text around `@` signs (26 MB/s on a page of random strings, 61 without
/// the counts), so [`SEARCH`] is searched. Each part ends at a delimiter its bytes exclude (the
/// scheme at `:`, the user at `:`, the password at `@`), so at a given start both patterns
/// split a text the same way: where `URL_CREDS` matches, `SEARCH` matches the same bytes. Its
/// leftmost match is `URL_CREDS`'s when the parts fit their bounds; otherwise `URL_CREDS`
/// cannot match before it and is searched from there.
fn passwords(hay: &[u8], windows: &[(usize, usize)]) -> Vec<(usize, usize)> {
    crate::util::searches_in_runs(hay, windows, |upto, at| {
        let c = SEARCH.captures_at(upto, at)?;
        let (m, scheme, user, password) = (c.get(0)?, c.get(1)?, c.get(2)?, c.get(3)?);
        if (2..=21).contains(&scheme.len())
            && (1..=100).contains(&user.len())
            && (3..=200).contains(&password.len())
        {
            return Some(((password.start(), password.end()), m.end()));
        }
        let c = URL_CREDS.captures_at(upto, m.start())?;
        let (m, password) = (c.get(0)?, c.get(1)?);
        Some(((password.start(), password.end()), m.end()))
    })
}

impl Detector for ConnectionStrings {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&URL_CREDS);
        LazyLock::force(&SEARCH);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let hay = view.text.as_bytes();
            for (start, end) in passwords(hay, &around_at_signs(hay)) {
                let Some(v) = view.text.get(start..end) else {
                    continue;
                };
                if looks_like_placeholder(v)
                    || v.eq_ignore_ascii_case("password")
                    || v.eq_ignore_ascii_case("pass")
                {
                    continue;
                }
                push(out, &META, "connection_password", view, start, end, 0.85);
            }
        }
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
