//! Value-level data flow: the strings a session received from chosen sources (private-data
//! tools, values Warden redacted) are fingerprinted; outgoing arguments are checked for them.
//!
//! A fingerprint is the hash of every [`WINDOW`]-byte window of a string after normalization
//! (NFKC, lower case, whitespace dropped), so any shared substring of at least that many
//! normalized bytes matches, whatever its case or spacing. Arguments are checked as written and
//! as decoded (percent-encoding, base64, hex, HTML references): an encoded copy of a value
//! matches too. Short values never match; a window that occurs in many distinct source strings
//! (a domain, a signature, a greeting) is common and ignored.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// Normalized bytes a shared substring needs before it counts.
pub const WINDOW: usize = 16;
/// A window found in more distinct source strings than this is common, not a value.
pub const COMMON: u32 = 3;
/// Most fingerprints a session keeps; sources beyond it are not recorded (and say so).
pub const MAX_PRINTS: usize = 1 << 20;
/// Longest string (bytes) fingerprinted or checked; the rest of a longer one is ignored.
const MAX_STRING: usize = 256 * 1024;

/// Where fingerprinted values came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// What kind of source (`private`, `secret`, `pii`, ...): what policy sees.
    pub kind: String,
    /// The tool whose result it was (or what redacted it).
    pub tool: String,
    /// Audit sequence number of the call, when known.
    pub seq: Option<i64>,
}

/// One match of an outgoing string against the session's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Index of the source in [`Taint::source`].
    pub source: usize,
    /// JSON pointer of the outgoing string.
    pub pointer: String,
    /// `plain`, or the encoding it was found under (`base64`, `percent`, ...).
    pub view: &'static str,
    /// Normalized bytes shared (at least [`WINDOW`]; a lower bound for long runs).
    pub length: usize,
}

/// A u64 hash used as its own hash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Clone, Copy)]
struct Print {
    /// The first source it came from.
    source: u32,
    /// Distinct source strings it occurred in.
    strings: u32,
}

/// One session's fingerprints.
#[derive(Debug, Default)]
pub struct Taint {
    prints: HashMap<u64, Print, BuildHasherDefault<Identity>>,
    sources: Vec<Source>,
    /// Whether a source was not (fully) recorded because the session is full.
    pub full: bool,
}

impl Taint {
    /// Number of fingerprints held.
    pub fn len(&self) -> usize {
        self.prints.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.prints.is_empty()
    }

    /// A recorded source.
    pub fn source(&self, index: usize) -> Option<&Source> {
        self.sources.get(index)
    }

    /// Fingerprints every string value of `doc` (not its keys, its shape) as coming from `source`.
    pub fn add(&mut self, source: Source, doc: &Value) {
        let id = self.new_source(source);
        crate::json::for_each_value_str(doc, &mut |_, text| self.add_string(id, text));
    }

    /// Fingerprints `text` as coming from `source`.
    pub fn add_text(&mut self, source: Source, text: &str) {
        let id = self.new_source(source);
        self.add_string(id, text);
    }

    fn new_source(&mut self, source: Source) -> u32 {
        self.sources.push(source);
        u32::try_from(self.sources.len() - 1).unwrap_or(u32::MAX)
    }

    fn add_string(&mut self, source: u32, text: &str) {
        let normalized = normalize(text);
        let mut seen = windows(&normalized);
        seen.sort_unstable();
        seen.dedup();
        for hash in seen {
            if let Some(p) = self.prints.get_mut(&hash) {
                p.strings = p.strings.saturating_add(1);
            } else if self.prints.len() < MAX_PRINTS {
                self.prints.insert(hash, Print { source, strings: 1 });
            } else {
                self.full = true;
            }
        }
    }

    /// The session's values found in the strings of `doc`: at most one match per string and
    /// source, the longest run first found.
    pub fn check(&self, doc: &Value) -> Vec<Match> {
        let mut out = Vec::new();
        if self.prints.is_empty() {
            return out;
        }
        crate::json::for_each_str(doc, &mut |pointer, text| {
            self.check_string(pointer, text, &mut out);
        });
        out
    }

    fn check_string(&self, pointer: &str, text: &str, out: &mut Vec<Match>) {
        let mut views: Vec<(&'static str, String)> = vec![("plain", text.to_owned())];
        views.extend(
            crate::decode::decodings_but_base64(text)
                .into_iter()
                .map(|d| (d.encoding, d.text)),
        );
        views.extend(
            crate::decode::base64_any(text)
                .into_iter()
                .map(|bytes| ("base64", String::from_utf8_lossy(&bytes).into_owned())),
        );
        let first = out.len();
        for (view, text) in views {
            let normalized = normalize(&text);
            // Consecutive matching windows of one source make one run.
            let mut run: Option<(u32, usize)> = None;
            let mut best: Vec<(u32, usize)> = Vec::new();
            for hash in windows(&normalized) {
                let hit = self
                    .prints
                    .get(&hash)
                    .filter(|p| p.strings <= COMMON)
                    .map(|p| p.source);
                run = match (run, hit) {
                    (Some((s, n)), Some(h)) if s == h => Some((s, n + 1)),
                    (_, Some(h)) => Some((h, 1)),
                    (_, None) => None,
                };
                if let Some((s, n)) = run {
                    match best.iter_mut().find(|(b, _)| *b == s) {
                        Some(entry) => entry.1 = entry.1.max(n),
                        None => best.push((s, n)),
                    }
                }
            }
            for (source, n) in best {
                let already = out
                    .get(first..)
                    .is_some_and(|found| found.iter().any(|m| m.source == source as usize));
                if !already {
                    out.push(Match {
                        source: source as usize,
                        pointer: pointer.to_owned(),
                        view,
                        length: n + WINDOW - 1,
                    });
                }
            }
        }
    }
}

/// NFKC, lower case, no whitespace or format characters; at most [`MAX_STRING`] bytes read.
fn normalize(text: &str) -> Vec<u8> {
    let mut end = text.len().min(MAX_STRING);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = text.get(..end).unwrap_or_default();
    if text.is_ascii() {
        // ASCII is its own NFKC form.
        return text
            .bytes()
            .filter(|&b| {
                let c = char::from(b);
                !c.is_whitespace() && !crate::normalize::is_invisible(c)
            })
            .map(|b| b.to_ascii_lowercase())
            .collect();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        if c.is_whitespace() || crate::normalize::is_invisible(c) {
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.into_bytes()
}

/// The hash of every [`WINDOW`]-byte window (a polynomial rolling hash, then mixed).
fn windows(b: &[u8]) -> Vec<u64> {
    const BASE: u64 = 0x0100_0000_01b3;
    if b.len() < WINDOW {
        return Vec::new();
    }
    let mut top = 1u64;
    for _ in 1..WINDOW {
        top = top.wrapping_mul(BASE);
    }
    let mut h = 0u64;
    let mut out = Vec::with_capacity(b.len() + 1 - WINDOW);
    for (i, &byte) in b.iter().enumerate() {
        if i >= WINDOW {
            let old = b.get(i - WINDOW).copied().unwrap_or(0);
            h = h.wrapping_sub((u64::from(old) + 1).wrapping_mul(top));
        }
        h = h.wrapping_mul(BASE).wrapping_add(u64::from(byte) + 1);
        if i + 1 >= WINDOW {
            out.push(mix(h));
        }
    }
    out
}

/// A finalizer so nearby rolling hashes spread over the table.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
#[path = "taint_tests.rs"]
mod tests;
