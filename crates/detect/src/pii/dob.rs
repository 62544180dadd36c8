//! Dates of birth.

use std::sync::LazyLock;

use super::context_before;
use crate::util::{push, searcher};
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

static DATE: LazyLock<regex_automata::meta::Regex> = LazyLock::new(|| {
    searcher(concat!(
        r"(?i)\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})",
        r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}",
        r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4})\b"
    ))
});

pub(crate) const CONTEXT: &[&str] = &[
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

/// How far past the context window a date may run.
const LONGEST_DATE: usize = 200;

impl Detector for DateOfBirth {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&DATE);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let t = &view.text;
            // A date of birth starts at most 40 bytes after a context word: only those
            // stretches are searched (all of the text if the shared literal pass is
            // unavailable).
            let windows: Vec<(usize, usize)> = match view
                .occurrences(crate::literals::Set::BirthWords)
            {
                Some(words) => {
                    let mut words: Vec<(usize, usize)> = words.map(|(_, s, e)| (s, e)).collect();
                    words.sort_unstable();
                    let mut windows: Vec<(usize, usize)> = Vec::new();
                    for (start, end) in words {
                        let w = (end, (start + 40 + LONGEST_DATE).min(t.len()));
                        crate::util::add_window(&mut windows, w);
                    }
                    windows
                }
                None => vec![(0, t.len())],
            };
            for (from, to) in windows {
                let hay = regex_automata::Input::new(t.as_bytes()).range(from..to);
                for m in DATE.find_iter(hay) {
                    let s = t.get(m.range()).unwrap_or("");
                    if plausible(s) && context_before(t, m.start(), 40, CONTEXT) {
                        push(out, &META, "date_of_birth", view, m.start(), m.end(), 0.85);
                    }
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
