//! The text a detector sees: the normalized original plus every embedded encoding decoded.
//!
//! [`Input::new`] builds a list of [`View`]s. View 0 is the normalized original; further views
//! are base64, hex, percent-encoded or HTML-entity-encoded runs, decoded (recursively, to a fixed
//! depth and byte budget, so hostile nesting costs bounded time). Each view maps its bytes back
//! to the original, so a finding inside a decoded run covers the whole encoded run.

use crate::decode;
use crate::normalize::Normalized;

/// Decoding stops after this many nested layers.
pub const MAX_DEPTH: u8 = 4;
/// At most this many decoded views per input.
pub const MAX_VIEWS: usize = 64;

/// One way of reading the input.
#[derive(Debug, Clone)]
pub struct View {
    /// The text of this view, normalized.
    pub text: String,
    /// `map[i]` = original offset of byte `i`; last entry = end. Empty means identity.
    map: Vec<u32>,
    /// How this view was obtained (`plain`, `base64`, `hex`, `percent`, `html`).
    pub encoding: &'static str,
    /// Decoding layers between the original and this view.
    pub depth: u8,
    /// The text lowercased with offsets kept ([`crate::normalize::lower`]), made on first use
    /// and shared by the detectors that match case-insensitively.
    lower: std::sync::OnceLock<String>,
    /// Occurrences of the shared detector literals ([`crate::literals`]), found on first use.
    occurrences: std::sync::OnceLock<Option<Vec<crate::literals::Occurrence>>>,
    /// Maximal runs of the base64 alphabet at least [`decode::RUNS_MIN`] long, found on first
    /// use: decoding reads them, and so do patterns that only match inside such runs.
    runs: std::sync::OnceLock<Vec<(usize, usize)>>,
}

impl View {
    /// The occurrences of `set`'s literals in this view, as `(literal, start, end)`; `None` if
    /// the shared automaton is unavailable.
    pub(crate) fn occurrences(
        &self,
        set: crate::literals::Set,
    ) -> Option<impl Iterator<Item = (usize, usize, usize)> + '_> {
        let all = self
            .occurrences
            .get_or_init(|| crate::literals::occurrences(&self.text))
            .as_deref()?;
        crate::literals::of(all, set)
    }

    /// Maximal runs of base64 alphabet bytes (a superset of hex digits) at least
    /// [`decode::RUNS_MIN`] long ([`decode::alphabet_runs`]).
    pub(crate) fn alphabet_runs(&self) -> &[(usize, usize)] {
        self.runs
            .get_or_init(|| decode::alphabet_runs(self.text.as_bytes(), decode::RUNS_MIN))
    }

    /// The text lowercased, byte offsets unchanged.
    pub fn lower(&self) -> &str {
        self.lower
            .get_or_init(|| crate::normalize::lower(&self.text))
    }

    /// Maps a byte range of this view to the original text, widened to character boundaries.
    pub fn to_original(&self, start: usize, end: usize) -> (usize, usize) {
        crate::normalize::map_range(&self.map, start, end)
    }

    /// The original offset of view byte `i` (composition helper for nested decoding).
    fn origin_of(&self, i: usize) -> u32 {
        if self.map.is_empty() {
            return i as u32;
        }
        self.map.get(i).or(self.map.last()).copied().unwrap_or(0)
    }
}

/// A text prepared for scanning.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The text as received.
    pub original: &'a str,
    /// View 0 is the normalized original; the rest are decoded runs.
    pub views: Vec<View>,
}

impl<'a> Input<'a> {
    /// Normalizes `original` and decodes what is embedded in it.
    pub fn new(original: &'a str) -> Self {
        let n = Normalized::new(original);
        let mut views = vec![View {
            text: n.text,
            map: n.map,
            encoding: "plain",
            depth: 0,
            lower: std::sync::OnceLock::new(),
            occurrences: std::sync::OnceLock::new(),
            runs: std::sync::OnceLock::new(),
        }];
        let mut budget = original.len().saturating_mul(2).saturating_add(4096);
        let mut next = 0;
        while next < views.len() && views.len() < MAX_VIEWS {
            let Some(view) = views.get(next) else { break };
            next += 1;
            if view.depth >= MAX_DEPTH {
                continue;
            }
            for d in decode::decodings_in(&view.text, view.alphabet_runs()) {
                if views.len() >= MAX_VIEWS || d.text.len() > budget {
                    break;
                }
                budget -= d.text.len();
                let Some(parent) = views.get(next - 1) else {
                    break;
                };
                let child = compose(parent, d);
                views.push(child);
            }
        }
        Self { original, views }
    }
}

/// Builds the view for a decoding of `parent`, mapping through the parent to the original.
fn compose(parent: &View, d: decode::Decoded) -> View {
    let n = Normalized::new(&d.text);
    let len = n.text.len();
    let mut map = Vec::with_capacity(len + 1);
    for i in 0..len {
        let in_decoded = n.to_original(i, i).0;
        let in_parent = d.source.get(in_decoded).copied().unwrap_or(d.span.0 as u32) as usize;
        map.push(parent.origin_of(in_parent));
    }
    let (_, end) = parent.to_original(d.span.0, d.span.1);
    map.push(end as u32);
    View {
        text: n.text,
        map,
        encoding: d.encoding,
        depth: parent.depth + 1,
        lower: std::sync::OnceLock::new(),
        occurrences: std::sync::OnceLock::new(),
        runs: std::sync::OnceLock::new(),
    }
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
