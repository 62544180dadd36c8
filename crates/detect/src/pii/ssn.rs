//! US Social Security numbers.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::MatchStr as _;

use super::{context_before, standalone};
use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// US Social Security numbers.
///
/// What it detects: `AAA-GG-SSSS` (dashes or spaces) obeying the SSA's allocation rules (area
/// not 000, 666 or 900–999; group not 00; serial not 0000), and nine bare digits only next to
/// "SSN" or "social security".
/// Why it matters: the key to identity theft in the US.
/// Example: `SSN 123-45-6789`.
/// False positives: other 3-2-4 numbers (some part numbers); bare digits need context.
#[derive(Debug)]
pub struct Ssn;

static META: Meta = Meta {
    id: "PII005",
    kind: FindingKind::Pii,
    name: "us_ssn",
    summary: "US Social Security numbers",
};

/// `\b\d{3}[- ]\d{2}[- ]\d{4}\b`, as [`dashed`] finds it.
#[cfg(test)]
const DASHED: &str = r"\b(\d{3})([- ])(\d{2})([- ])(\d{4})\b";
static BARE: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b(\d{3})(\d{2})(\d{4})\b"));

pub(crate) const CONTEXT: &[&str] = &[
    "ssn",
    "social security",
    "social sec",
    "ss#",
    "ss #",
    "taxpayer",
];

impl Detector for Ssn {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&BARE);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let t = &view.text;
            for start in dashed(t.as_bytes()) {
                let end = start + 11;
                let (Some(a), Some(s1), Some(g), Some(s2), Some(s)) = (
                    t.get(start..start + 3),
                    t.get(start + 3..start + 4),
                    t.get(start + 4..start + 6),
                    t.get(start + 6..start + 7),
                    t.get(start + 7..end),
                ) else {
                    continue;
                };
                if s1 != s2 || !standalone(t, start, end) || !allocated(a, g, s) {
                    continue;
                }
                let confidence = if context_before(t, start, 40, CONTEXT) {
                    0.95
                } else {
                    0.75
                };
                push(out, &META, "us_ssn", view, start, end, confidence);
            }
            // Bare nine digits count only with a context word before them: texts without one
            // are not searched (all are, if the shared literal pass is unavailable).
            let has_context = view
                .occurrences(crate::literals::Set::SsnWords)
                .is_none_or(|mut o| o.next().is_some());
            if !has_context {
                continue;
            }
            for c in BARE.captures_iter(t.as_bytes()) {
                let (Some(m), Some(a), Some(g), Some(s)) = (c.get(0), c.get(1), c.get(2), c.get(3))
                else {
                    continue;
                };
                if standalone(t, m.start(), m.end())
                    && allocated(a.as_str(), g.as_str(), s.as_str())
                    && context_before(t, m.start(), 30, CONTEXT)
                {
                    push(out, &META, "us_ssn", view, m.start(), m.end(), 0.85);
                }
            }
        }
    }
}

/// Where `\b\d{3}[- ]\d{2}[- ]\d{4}\b` matches in `b` (each match is 11 bytes), found from
/// the runs of digits: three digits after a non-word byte, a dash or blank, two digits, a dash
/// or blank, four digits and a non-word byte. Digit-free text is skipped 16 bytes at a time,
/// where the pattern's automaton read every byte.
fn dashed(b: &[u8]) -> Vec<usize> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let sep = |i: usize| matches!(b.get(i), Some(b'-' | b' '));
    let word = |i: usize| b.get(i).copied().is_some_and(crate::util::is_word);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(start) = crate::util::next_digit(b, i) {
        let mut end = start + 1;
        while digit(end) {
            end += 1;
        }
        i = end;
        if end - start != 3 || (start > 0 && word(start - 1)) {
            continue;
        }
        if sep(start + 3)
            && digit(start + 4)
            && digit(start + 5)
            && sep(start + 6)
            && (start + 7..start + 11).all(digit)
            && !word(start + 11)
        {
            out.push(start);
            i = start + 11;
        }
    }
    out
}

fn allocated(area: &str, group: &str, serial: &str) -> bool {
    let area: u32 = area.parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && group != "00" && serial != "0000"
}

#[cfg(test)]
#[path = "ssn_tests.rs"]
mod tests;
