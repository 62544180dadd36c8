//! Phone numbers.

use std::sync::LazyLock;

use regex::Regex;

use super::{context_before, digits, standalone};
use crate::util::{pattern, push};
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

static META: Meta = Meta { id: "PII002", kind: FindingKind::Pii, name: "phone", summary: "phone numbers" };

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"(?:\+|\b00)?(?:\(\d{1,4}\)|\b\d{1,5})(?:[ .-]{0,2}(?:\(\d{1,4}\)|\d{1,5})){1,6}(?:\s{0,2}(?:x|ext\.?|#)\s{0,2}\d{1,5}\b)?")
});
static DATE_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
});

const CONTEXT: &[&str] = &["phone", "call", "tel", "mobile", "cell", "fax", "contact", "whatsapp", "sms", "text me", "reach", "number", "dial"];

impl Detector for Phone {
    fn meta(&self) -> &Meta {
        &META
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let t = &view.text;
            for m in PHONE.find_iter(t) {
                let s = m.as_str().trim_end();
                let start = m.start();
                let end = start + s.len();
                if let Some(confidence) = judge(t, s, start, end) {
                    push(out, &META, "phone", view, start, end, confidence);
                }
            }
        }
    }
}

fn judge(t: &str, s: &str, start: usize, end: usize) -> Option<f32> {
    let main = s.split(['x', '#']).next().unwrap_or(s);
    let main = main.split("ext").next().unwrap_or(main);
    let d = digits(main);
    if !(7..=15).contains(&d.len()) || !standalone(t, start, end) || after_code_group(t, start) {
        return None;
    }
    if DATE_LIKE.is_match(main.trim()) || main.matches('.').count() == 3 && !main.contains(' ') {
        return None;
    }
    let grouped = main.contains([' ', '-', '.', '(']);
    let international = s.starts_with('+') || s.starts_with("00");
    let ssn_shape = main.len() == 11 && main.as_bytes().get(3) == Some(&b'-') && main.as_bytes().get(6) == Some(&b'-');
    if ssn_shape {
        return None;
    }
    let first = d.first().copied().unwrap_or(0);
    if d.iter().all(|&x| x == first) {
        return None;
    }
    let context = context_before(t, start, 40, CONTEXT);
    // A Luhn-valid 13+ digit run is more likely a card.
    if d.len() >= 13 && super::card::luhn(&d) {
        return None;
    }
    match (international, grouped, context) {
        (true, _, _) if d.len() >= 8 => Some(0.9),
        (_, true, true) => Some(0.9),
        (_, true, false) if d.len() >= 9 && groups_ok(main) => Some(0.7),
        (_, false, true) if d.len() >= 9 => Some(0.7),
        _ => None,
    }
}

/// Phone groups are 1 to 5 digits long and there are at least three of them, or two where
/// the first is a parenthesized area code.
fn groups_ok(main: &str) -> bool {
    let groups: Vec<&str> = main.split([' ', '-', '.', '(', ')']).filter(|g| !g.is_empty()).collect();
    groups.len() >= 3 || main.contains('(')
}

/// Whether the number follows a short uppercase or mixed code group (`GB82 WEST 1234 …`): it is
/// the tail of an account number or reference, not a phone number.
fn after_code_group(t: &str, start: usize) -> bool {
    let before = t.get(..start).unwrap_or("").trim_end_matches(' ');
    let word: String = before.chars().rev().take_while(char::is_ascii_alphanumeric).collect();
    (2..=6).contains(&word.len()) && word.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}
