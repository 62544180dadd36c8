//! Phone numbers.

use std::sync::LazyLock;

use regex::bytes::Regex;

use super::{context_before, digits, standalone};
use crate::util::{pattern, push, searcher};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Phone numbers, national and international.
///
/// What it detects: `+44 20 7946 0958`, `(415) 555-2671`, `001-202-555-0143x123`,
/// `06 12 34 56 78`: an optional `+`/`00` prefix, 7 to 15 digits in groups separated by spaces,
/// dots or dashes, optional parenthesized area code and extension.
/// Why it matters: a phone number reaches a person directly and is a common account recovery
/// factor.
/// Example: `call me at +1-202-555-0143`.
/// False positives: dates, card numbers, SSNs and IPs are excluded; ungrouped digit strings
/// need a word like "phone" or "call" nearby.
#[derive(Debug)]
pub struct Phone;

static META: Meta = Meta {
    id: "PII002",
    kind: FindingKind::Pii,
    name: "phone",
    summary: "phone numbers",
};

static PHONE: LazyLock<regex_automata::meta::Regex> = LazyLock::new(|| {
    searcher(
        r"(?:\+|\b00)?(?:\(\d{1,4}\)|\b\d{1,5})(?:[ .-]{0,2}(?:\(\d{1,4}\)|\d{1,5})){1,6}(?:\s{0,2}(?:x|ext\.?|#)\s{0,2}\d{1,5}\b)?",
    )
});
static NANP: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"^(?:1[-. ]?)?(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}$"));
static DATE_PREFIX: LazyLock<Regex> = LazyLock::new(|| pattern(r"^\d{4}-\d{1,2}-\d{1,2}"));
static DATE_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
});

const CONTEXT: &[&str] = &[
    "phone", "call", "tel", "mobile", "cell", "fax", "contact", "whatsapp", "sms", "text me",
    "reach", "dial", "desk",
];

impl Detector for Phone {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&PHONE);
        LazyLock::force(&NANP);
        LazyLock::force(&DATE_PREFIX);
        LazyLock::force(&DATE_LIKE);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let t = &view.text;
            for (from, to) in number_runs(t.as_bytes()) {
                let input = regex_automata::Input::new(t.as_bytes()).range(from..to);
                for m in PHONE.find_iter(input) {
                    let Some(s) = t.get(m.range()).map(str::trim_end) else {
                        continue;
                    };
                    let start = m.start();
                    let end = start + s.len();
                    if let Some(confidence) = judge(t, s, start, end) {
                        push(out, &META, "phone", view, start, end, confidence);
                    }
                }
            }
        }
    }
}

/// Longest extension suffix (`  ext. 12345`).
const EXTENSION: usize = 16;

/// Where a phone number can be: runs of digits, blanks, dots, dashes, parentheses and `+` that
/// hold at least seven digits (a number's main part lies in one run), with room for an
/// extension after. Text without such runs is not searched.
fn number_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let part = |c: u8| c.is_ascii_digit() || matches!(c, b' ' | b'.' | b'-' | b'(' | b')' | b'+');
    let enough = |run: &[u8]| run.iter().filter(|c| c.is_ascii_digit()).count() >= 7;
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (start, end) in crate::util::digit_runs(b, part, enough) {
        crate::util::add_window(&mut out, (start, (end + EXTENSION).min(b.len())));
    }
    out
}

fn judge(t: &str, s: &str, start: usize, end: usize) -> Option<f32> {
    // Most candidates in digit-rich text (dates, times, amounts) are too short: no allocation
    // for them.
    if s.bytes().filter(u8::is_ascii_digit).count() < 7 {
        return None;
    }
    let main = s.split(['x', '#']).next().unwrap_or(s);
    let main = main.split("ext").next().unwrap_or(main).trim();
    let d = digits(main);
    if !(7..=15).contains(&d.len()) || !standalone(t, start, end) || after_code_group(t, start) {
        return None;
    }
    let after = t.get(end..).unwrap_or("");
    if DATE_LIKE.is_match(main.as_bytes())
        || DATE_PREFIX.is_match(main.as_bytes())
        || after.starts_with(':')
        || (main.matches('.').count() == 3 && !main.contains(' '))
    {
        return None;
    }
    let ssn_shape = main.len() == 11
        && main.as_bytes().get(3) == Some(&b'-')
        && main.as_bytes().get(6) == Some(&b'-');
    let first = d.first().copied().unwrap_or(0);
    if ssn_shape || d.iter().all(|&x| x == first) || (d.len() >= 13 && super::card::luhn(&d)) {
        return None;
    }
    let international = s.starts_with('+') || s.starts_with("00");
    let grouped = main.contains([' ', '-', '.', '(']);
    let context = context_before(t, start, 40, CONTEXT) || context_after(after);
    if international && d.len() >= 8 {
        return Some(0.9);
    }
    if context && (grouped || d.len() >= 9) {
        return Some(0.9);
    }
    if NANP.is_match(main.as_bytes()) {
        return Some(0.8);
    }
    if main.starts_with(['0', '(']) && grouped && (10..=12).contains(&d.len()) {
        return Some(0.7);
    }
    None
}

/// A label right after the number (`555-0100 office`, `-Fax`).
fn context_after(after: &str) -> bool {
    let head: String = after.chars().take(12).collect::<String>().to_lowercase();
    let head = head.trim_start_matches([' ', '-', '(', ',']);
    [
        "office", "fax", "mobile", "cell", "home", "work", "phone", "tel",
    ]
    .iter()
    .any(|w| head.starts_with(w))
}

/// Whether the number follows a short uppercase or mixed code group (`GB82 WEST 1234 …`): it is
/// the tail of an account number or reference, not a phone number.
fn after_code_group(t: &str, start: usize) -> bool {
    let before = t.get(..start).unwrap_or("").trim_end_matches(' ');
    let word: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    (2..=6).contains(&word.len())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}
