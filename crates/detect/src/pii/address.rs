//! Street addresses.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Street addresses.
///
/// What it detects: a house number followed by one to four capitalized words and a street type
/// (`Street`, `Ave`, `Road`, `Boulevard`, `Lane`…), or a street type word first as written in
/// many European languages (`Calle`, `Rue`, `Via`, `Rua`) or compound names (`…straße`,
/// `…gatan`, `…vej`, `…weg`), with an optional unit (`Apt. 4`, `Suite 200`).
/// Why it matters: a home address locates a person.
/// Example: `1600 Amphitheatre Parkway`.
/// False positives: "3 Main Points" style phrases with a street word; confidence is moderate.
#[derive(Debug)]
pub struct StreetAddress;

static META: Meta = Meta {
    id: "PII008",
    kind: FindingKind::Pii,
    name: "street_address",
    summary: "street addresses",
};

static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    pattern(concat!(
        r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){0,3}",
        r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Close|Alley|Loop|Plaza|Row|Walk|Gardens|Mews)\b",
        r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Floor|Fl\.?|#)\s*[\w-]{1,6})?",
        r"|\b(?:Calle|Carrer|Avenida|Rue|Via|Viale|Piazza|Rua|Plaza|Paseo|Ulica|Strada)\s+(?:(?u:\p{Lu})(?u:[\w'.-])*\s+){0,4}\d{1,5}",
        r"|\b(?u:\p{Lu})(?u:[\p{L}-]){2,}(?:straße|strasse|gatan|vägen|vej|gade|weg|laan|gasse|platz|allee|plein|katu|tie)\s+\d{1,5}[A-Za-z]?\b",
    ))
});

impl Detector for StreetAddress {
    fn meta(&self) -> &Meta {
        &META
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            for m in ADDRESS.find_iter(view.text.as_bytes()) {
                push(out, &META, "street_address", view, m.start(), m.end(), 0.6);
            }
        }
    }
}
