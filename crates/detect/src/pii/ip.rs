//! IP addresses.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::MatchStr as _;

use super::standalone;
use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// IPv4 and IPv6 addresses.
///
/// What it detects: dotted quads with every octet in range, and IPv6 addresses that the
/// standard library parses (full, compressed, with embedded IPv4).
/// Why it matters: an address can identify a person's home or device (GDPR treats it as
/// personal data).
/// Example: `203.0.113.7`, `2001:db8::1`.
/// False positives: version numbers with four parts (`1.2.3.4`) look the same; they get a
/// lower confidence when preceded by "version" or "v".
#[derive(Debug)]
pub struct IpAddress;

static META: Meta = Meta {
    id: "PII006",
    kind: FindingKind::Pii,
    name: "ip_address",
    summary: "IPv4 and IPv6 addresses",
};

static V4: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"));

impl Detector for IpAddress {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&V4);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let t = &view.text;
            // Addresses lie in runs of digits and dots holding four digits and three dots.
            let runs = crate::util::digit_runs(
                t.as_bytes(),
                |c| c.is_ascii_digit() || c == b'.',
                |run| {
                    run.iter().filter(|&&c| c == b'.').count() >= 3
                        && run.iter().filter(|c| c.is_ascii_digit()).count() >= 4
                },
            );
            for c in crate::util::matches_in_runs(&V4, t.as_bytes(), &runs) {
                let Some(m) = c.get(0) else { continue };
                if m.as_str().parse::<Ipv4Addr>().is_ok() && standalone(t, m.start(), m.end()) {
                    let versiony =
                        super::context_before(t, m.start(), 10, &["version", "v", "ver."]);
                    push(
                        out,
                        &META,
                        "ip_address",
                        view,
                        m.start(),
                        m.end(),
                        if versiony { 0.4 } else { 0.85 },
                    );
                }
            }
            for (start, end) in v6_candidates(t.as_bytes()) {
                let Some(s) = t.get(start..end) else { continue };
                // At least three groups or a `::` and some hex, and not a clock time.
                if s.len() < 6 || s.matches(':').count() < 2 || s.parse::<Ipv6Addr>().is_err() {
                    continue;
                }
                let after = t.get(end..).and_then(|r| r.chars().next());
                let before = t.get(..start).and_then(|r| r.chars().next_back());
                if after.is_some_and(|c| c.is_ascii_alphanumeric())
                    || before.is_some_and(|c| c.is_ascii_alphanumeric())
                {
                    continue;
                }
                push(out, &META, "ip_address", view, start, end, 0.85);
            }
        }
    }
}

/// Runs of hex digits, colons and dots around each colon, without dots at either end: every
/// IPv6 address (embedded IPv4 included) is one such run. Found from the colons, so text
/// without colons costs one `memchr` pass.
fn v6_candidates(b: &[u8]) -> Vec<(usize, usize)> {
    let part = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    let mut out = Vec::new();
    let mut done = 0;
    for colon in memchr::memchr_iter(b':', b) {
        if colon < done {
            continue;
        }
        let mut start = colon;
        while start > done && b.get(start - 1).is_some_and(|&c| part(c)) {
            start -= 1;
        }
        let mut end = colon + 1;
        while b.get(end).is_some_and(|&c| part(c)) {
            end += 1;
        }
        done = end;
        while b.get(start) == Some(&b'.') {
            start += 1;
        }
        while end > start && b.get(end - 1) == Some(&b'.') {
            end -= 1;
        }
        out.push((start, end));
    }
    out
}
