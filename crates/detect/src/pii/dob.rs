//! Dates of birth.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::MatchStr as _;

use super::context_before;
use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Dates of birth: a calendar date with birth context before it.
///
/// What it detects: dates (`1984-03-07`, `07/03/1984`, `March 7, 1984`, `7 Mar 1984`) within a
/// few words after "born", "birth", "DOB", "birthday".
/// Why it matters: with a name, a date of birth identifies a person and answers security
/// questions.
/// Example: `DOB: 03/07/1984`.
/// False positives: other dates are not reported; the context words are required.
#[derive(Debug)]
pub struct DateOfBirth;

static META: Meta = Meta {
    id: "PII007",
    kind: FindingKind::Pii,
    name: "date_of_birth",
    summary: "dates of birth (in context)",
};

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(concat!(
        r"(?i)\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})",
        r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}",
        r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4})\b"
    ))
});

static GATE: super::Gate = super::Gate::new(|| {
    super::keywords(&[
        "born",
        "birth",
        "dob",
        "d.o.b",
        "né",
        "geboren",
        "nacimiento",
    ])
});

const CONTEXT: &[&str] = &[
    "born",
    "birth",
    "dob",
    "d.o.b",
    "birthday",
    "né le",
    "née le",
    "geboren",
    "nacimiento",
];

impl Detector for DateOfBirth {
    fn meta(&self) -> &Meta {
        &META
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let t = &view.text;
            if !GATE.open(t) {
                continue;
            }
            for m in DATE.find_iter(t.as_bytes()) {
                if plausible(m.as_str()) && context_before(t, m.start(), 40, CONTEXT) {
                    push(out, &META, "date_of_birth", view, m.start(), m.end(), 0.85);
                }
            }
        }
    }
}

/// Month and day in range, year between 1900 and 2030 when written with four digits.
fn plausible(s: &str) -> bool {
    let nums: Vec<u32> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect();
    let year_ok = nums
        .iter()
        .filter(|&&n| n >= 1000)
        .all(|&n| (1900..=2030).contains(&n));
    let small: Vec<u32> = nums.iter().copied().filter(|&n| n < 1000).collect();
    year_ok
        && small
            .iter()
            .all(|&n| (1..=31).contains(&n) || small.len() > 2)
}
