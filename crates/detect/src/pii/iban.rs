//! International Bank Account Numbers.

use std::sync::LazyLock;

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input as Haystack};

use crate::util::{push, searcher};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// IBANs.
///
/// What it detects: a country code, two check digits and a country-specific account number
/// (grouped or not, any case) whose ISO 7064 mod-97 check equals 1 and whose length matches the
/// country.
/// Why it matters: bank details enable fraud and identify a person.
/// Example: `GB82 WEST 1234 5698 7654 32`.
/// False positives: the checksum leaves about one in a hundred random strings; the country
/// length table removes most of those.
#[derive(Debug)]
pub struct Iban;

static META: Meta = Meta {
    id: "PII004",
    kind: FindingKind::Pii,
    name: "iban",
    summary: "IBANs (mod-97)",
};

static IBAN: LazyLock<Regex> =
    LazyLock::new(|| searcher(r"(?i)\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}\b"));

/// Where an IBAN can start: two letters and two digits at the start of a word. One pass over
/// the bytes (digits first: most positions fail there); the pattern runs only from these
/// places.
fn starts(b: &[u8]) -> Vec<usize> {
    let word = |i: usize| b.get(i).copied().is_some_and(crate::util::is_word);
    let mut out = Vec::new();
    let mut i = 2;
    // `i` is the first digit's position.
    while let Some(digit) = crate::util::next_digit(b, i) {
        i = digit;
        if b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && b.get(i - 2).is_some_and(u8::is_ascii_alphabetic)
            && b.get(i - 1).is_some_and(u8::is_ascii_alphabetic)
            && (i == 2 || !word(i - 3))
        {
            out.push(i - 2);
        }
        i += 1;
    }
    out
}

impl Detector for Iban {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&IBAN);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            let hay = view.text.as_bytes();
            let mut after = 0;
            for at in starts(hay) {
                if at < after {
                    continue;
                }
                let Some(m) = IBAN.find(Haystack::new(hay).range(at..).anchored(Anchored::Yes))
                else {
                    continue;
                };
                after = m.end();
                // The pattern is greedy over groups; try the longest valid prefix.
                let s = view.text.get(m.range()).unwrap_or("");
                let mut end = s.len();
                while end >= 15 {
                    if let Some(cand) = s.get(..end)
                        && valid(cand)
                    {
                        push(
                            out,
                            &META,
                            "iban",
                            view,
                            m.start(),
                            m.start() + cand.trim_end().len(),
                            0.95,
                        );
                        break;
                    }
                    end -= 1;
                }
            }
        }
    }
}

/// Checks length for the country and mod-97.
pub(crate) fn valid(s: &str) -> bool {
    let compact: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase())
        .collect();
    let Some(country) = compact.get(..2) else {
        return false;
    };
    let Some(len) = country_len(country) else {
        return false;
    };
    if compact.len() != len {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in compact.iter().skip(4).chain(compact.iter().take(4)) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn country_len(c: &[u8]) -> Option<usize> {
    Some(match c {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"CH" | b"CR" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => return None,
    })
}
