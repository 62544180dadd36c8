//! Payment card numbers.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::MatchStr as _;

use super::{digits, standalone};
use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Payment card numbers (PAN).
///
/// What it detects: 13 to 19 digits, optionally grouped by spaces or dashes, that pass the
/// Luhn checksum and start with an issuer prefix (Visa, Mastercard, Amex, Discover, JCB,
/// Diners, UnionPay, Maestro).
/// Why it matters: PCI DSS forbids card numbers in logs and prompts.
/// Example: `4111 1111 1111 1111`.
/// False positives: one in ten random digit strings passes Luhn; the issuer prefix and length
/// rule out most of them.
#[derive(Debug)]
pub struct CreditCard;

static META: Meta = Meta {
    id: "PII003",
    kind: FindingKind::Pii,
    name: "credit_card",
    summary: "payment card numbers (Luhn)",
};

static CARD: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b\d(?:[ -]?\d){11,18}\b"));

impl Detector for CreditCard {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&CARD);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            for m in CARD.find_iter(view.text.as_bytes()) {
                let d = digits(m.as_str());
                if standalone(&view.text, m.start(), m.end()) && luhn(&d) && issuer(&d) {
                    push(out, &META, "credit_card", view, m.start(), m.end(), 0.9);
                }
            }
        }
    }
}

/// The Luhn checksum.
pub(crate) fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                if x * 2 > 9 { x * 2 - 9 } else { x * 2 }
            } else {
                x
            }
        })
        .sum();
    !d.is_empty() && sum.is_multiple_of(10)
}

/// Known issuer prefixes with their lengths.
fn issuer(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |k: usize| {
        d.iter()
            .take(k)
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
    };
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
    match p1 {
        4 => matches!(n, 13 | 16 | 19),
        5 => {
            ((51..=55).contains(&p2) && n == 16)
                || (matches!(p2, 50 | 56..=59) && (12..=19).contains(&n))
        }
        2 => ((2221..=2720).contains(&p4) && n == 16) || (p4 == 2131 && n == 15),
        3 => {
            (matches!(p2, 34 | 37) && n == 15)
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&n))
                || ((matches!(p2, 36 | 38 | 39) || (300..=305).contains(&p3) || p3 == 309)
                    && (14..=19).contains(&n))
        }
        6 => {
            (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) || (622126..=622925).contains(&p6))
                && (16..=19).contains(&n)
                || (p2 == 62 && (16..=19).contains(&n))
                || (matches!(p2, 60 | 63 | 67 | 68 | 69) && (12..=19).contains(&n))
        }
        1 => p4 == 1800 && n == 15,
        0 => p4 == 604 && (12..=19).contains(&n),
        _ => false,
    }
}
