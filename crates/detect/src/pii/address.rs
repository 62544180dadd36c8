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

/// Number first (`1600 Amphitheatre Parkway`, with an optional unit).
const NUMBER_FIRST: &str = concat!(
    r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){0,3}",
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Close|Alley|Loop|Plaza|Row|Walk|Gardens|Mews)\b",
    r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Floor|Fl\.?|#)\s*[\w-]{1,6})?",
);
/// Street word first (`Calle Mayor 5`).
const WORD_FIRST: &str = r"\b(?:Calle|Carrer|Avenida|Rue|Via|Viale|Piazza|Rua|Plaza|Paseo|Ulica|Strada)\s+(?:(?u:\p{Lu})(?u:[\w'.-])*\s+){0,4}\d{1,5}";
/// Compound street names (`Hauptstraße 12`).
const COMPOUND: &str = r"\b(?u:\p{Lu})(?u:[\p{L}-]){2,}(?:straße|strasse|gatan|vägen|vej|gade|weg|laan|gasse|platz|allee|plein|katu|tie)\s+\d{1,5}[A-Za-z]?\b";
/// What every [`COMPOUND`] match holds. Its letter runs cost the most to search and it seldom
/// matches: a text without this is not searched for it.
const COMPOUND_GATE: &str =
    r"(?:straße|strasse|gatan|vägen|vej|gade|weg|laan|gasse|platz|allee|plein|katu|tie)\s+\d";

/// The three forms, searched apart: as one pattern `NUMBER_FIRST|WORD_FIRST|COMPOUND` their
/// automaton ran at a third of the speed of the three on their own (see [`addresses`]).
static FORMS: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    [
        pattern(NUMBER_FIRST),
        pattern(WORD_FIRST),
        pattern(COMPOUND),
    ]
});
static GATE: LazyLock<Regex> = LazyLock::new(|| pattern(COMPOUND_GATE));

/// The matches of `NUMBER_FIRST|WORD_FIRST|COMPOUND` in `hay`, as one leftmost-first search
/// reports them: from each position, the leftmost match of any form, the first form on a tie
/// (an alternation takes its first alternative that matches at the leftmost start, with that
/// alternative's own match); the next search starts at its end. Each form's next match is kept
/// and searched again only once a reported match passes its start.
fn addresses(hay: &[u8]) -> Vec<(usize, usize)> {
    let forms = &*FORMS;
    let active = [true, true, GATE.is_match(hay)];
    let mut next: Vec<Option<(usize, usize)>> = forms
        .iter()
        .zip(active)
        .map(|(re, on)| {
            on.then(|| re.find(hay).map(|m| (m.start(), m.end())))
                .flatten()
        })
        .collect();
    let mut out = Vec::new();
    while let Some((start, end)) = next
        .iter()
        .enumerate()
        .filter_map(|(i, m)| Some((i, (*m)?)))
        .min_by_key(|&(i, (start, _))| (start, i))
        .map(|(_, m)| m)
    {
        out.push((start, end));
        // No form matches the empty string; were one to, the next search moves on a byte.
        let at = end.max(start + 1);
        for (re, m) in forms.iter().zip(next.iter_mut()) {
            if m.is_some_and(|(s, _)| s < at) {
                *m = re.find_at(hay, at).map(|m| (m.start(), m.end()));
            }
        }
    }
    out
}

impl Detector for StreetAddress {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&FORMS);
        LazyLock::force(&GATE);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            for (start, end) in addresses(view.text.as_bytes()) {
                push(out, &META, "street_address", view, start, end, 0.6);
            }
        }
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
