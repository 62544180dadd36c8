//! Normalization: the text a detector scans is the text the reader would see.
//!
//! Removes zero-width and bidi control characters, decodes Unicode tag characters (the
//! "ASCII smuggling" block) to the ASCII they stand for, applies NFKC (full-width and other
//! compatibility forms), and folds non-ASCII confusables (Cyrillic `а`, Greek `ο`) to the ASCII
//! letters they imitate. ASCII characters are never changed, so patterns need no extra folding.
//!
//! Every byte of the output remembers the byte offset of the original character it came from,
//! so a finding maps back to the original text exactly.

use unicode_normalization::UnicodeNormalization;

/// Text after normalization, with the way back to the original.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalized text.
    pub text: String,
    /// `map[i]` is the original offset of the character that produced byte `i`; the last
    /// entry is the original length. Empty when normalization changed nothing (identity).
    pub(crate) map: Vec<u32>,
}

impl Normalized {
    /// Normalizes `original`.
    pub fn new(original: &str) -> Self {
        if !needs_work(original) {
            return Self {
                text: unescape_whitespace(original),
                map: Vec::new(),
            };
        }
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len() + 1);
        let mut buf = [0u8; 4];
        let mut rest = original;
        while !rest.is_empty() {
            // ASCII runs are copied in bulk; other characters go one at a time.
            let offset = original.len() - rest.len();
            let ascii = rest
                .bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(ascii);
            text.push_str(run);
            map.extend((offset..offset + ascii).map(|i| i as u32));
            let mut chars = tail.chars();
            let Some(c) = chars.next() else { break };
            rest = chars.as_str();
            let at = (offset + ascii) as u32;
            let mut push = |ch: char, text: &mut String, map: &mut Vec<u32>| {
                text.push_str(ch.encode_utf8(&mut buf));
                map.extend(std::iter::repeat_n(at, ch.len_utf8()));
            };
            if is_invisible(c) {
                continue;
            } else if let Some(ascii) = tag_to_ascii(c) {
                push(ascii, &mut text, &mut map);
            } else {
                for n in std::iter::once(c).nfkc() {
                    if n.is_ascii() || is_invisible(n) {
                        if !is_invisible(n) {
                            push(n, &mut text, &mut map);
                        }
                        continue;
                    }
                    match fold_confusable(n) {
                        Some(folded) => {
                            for f in folded.chars() {
                                push(f, &mut text, &mut map);
                            }
                        }
                        None => push(n, &mut text, &mut map),
                    }
                }
            }
        }
        map.push(original.len() as u32);
        Self {
            text: unescape_whitespace(&text),
            map,
        }
    }

    /// Whether the normalized text is byte-for-byte the original.
    pub fn is_identity(&self) -> bool {
        self.map.is_empty()
    }

    /// Maps a byte range of the normalized text to the smallest original range covering every
    /// character that produced it.
    pub fn to_original(&self, start: usize, end: usize) -> (usize, usize) {
        map_range(&self.map, start, end)
    }
}

/// Literal `\n`, `\r`, `\t` escapes (text copied out of JSON or code) become two spaces, so
/// words and numbers next to them stand apart; byte offsets do not move.
fn unescape_whitespace(s: &str) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let mut changed = false;
    for i in memchr::memchr_iter(b'\\', s.as_bytes()) {
        if matches!(bytes.get(i + 1), Some(b'n' | b'r' | b't'))
            && let Some(pair) = bytes.get_mut(i..i + 2)
        {
            pair.copy_from_slice(b"  ");
            changed = true;
        }
    }
    if !changed {
        return s.to_owned();
    }
    // ASCII replaced by ASCII: still valid UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| s.to_owned())
}

/// Maps `start..end` through an offset map (`map[i]` = original offset of byte `i`, last entry
/// = original end; empty = identity) to the smallest original range covering every character
/// that produced those bytes.
pub(crate) fn map_range(map: &[u32], start: usize, end: usize) -> (usize, usize) {
    if map.is_empty() {
        return (start, end);
    }
    let last = map.len().saturating_sub(1);
    let s = map.get(start.min(last)).copied().unwrap_or(0);
    if end <= start {
        return (s as usize, s as usize);
    }
    let from = map.get(end - 1).copied().unwrap_or(0);
    let e = map
        .get(end..)
        .and_then(|rest| rest.iter().find(|&&m| m > from))
        .copied();
    (
        s as usize,
        e.unwrap_or_else(|| map.last().copied().unwrap_or(0)) as usize,
    )
}

/// Whether any character would change: ASCII never does, and most non-ASCII text (accents,
/// CJK, typographic quotes) is already in the normalized form.
fn needs_work(s: &str) -> bool {
    !s.is_ascii() && s.chars().any(|c| !c.is_ascii() && changes(c))
}

/// Whether normalization changes the non-ASCII character `c`.
fn changes(c: char) -> bool {
    if is_invisible(c) || tag_to_ascii(c).is_some() {
        return true;
    }
    let mut nfkc = std::iter::once(c).nfkc();
    match (nfkc.next(), nfkc.next()) {
        (Some(n), None) if n == c => fold_confusable(c).is_some(),
        _ => true,
    }
}

/// Zero-width characters, bidi controls, soft hyphen, variation selectors and other format
/// characters that render as nothing but split words for a pattern matcher.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}' | '\u{E0001}' | '\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// Unicode tag characters U+E0020..U+E007E mirror printable ASCII and are invisible: text
/// hidden in them is still read by a model, so it is decoded.
fn tag_to_ascii(c: char) -> Option<char> {
    let cp = c as u32;
    (0xE0020..=0xE007E)
        .contains(&cp)
        .then(|| char::from_u32(cp - 0xE0000))
        .flatten()
}

/// Folds a non-ASCII character to the ASCII it is confusable with, if its confusable skeleton
/// is ASCII (Cyrillic `а` → `a`, mathematical `𝐚` → `a`). Letters with diacritics stay.
fn fold_confusable(c: char) -> Option<String> {
    if c.is_alphanumeric() || is_confusable_punct(c) {
        let mut tmp = [0u8; 4];
        let skel: String = unicode_security::skeleton(c.encode_utf8(&mut tmp)).collect();
        if !skel.is_empty() && skel.is_ascii() && skel.len() <= 3 {
            return Some(skel);
        }
    }
    None
}

fn is_confusable_punct(c: char) -> bool {
    matches!(c, '\u{2010}'..='\u{2015}' | '\u{2018}'..='\u{201F}' | '\u{2024}' | '\u{2039}' | '\u{203A}' | '\u{2212}' | '\u{FF0E}' | '\u{3002}')
}

/// Lowercases without changing byte offsets (characters whose lowercase has another length
/// stay as they are).
pub fn lower(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // ASCII runs are copied in bulk; other characters one at a time.
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(ascii);
        let at = out.len();
        out.push_str(run);
        if let Some(copied) = out.get_mut(at..) {
            copied.make_ascii_lowercase();
        }
        let mut chars = tail.chars();
        if let Some(c) = chars.next() {
            let mut l = c.to_lowercase();
            out.push(match (l.next(), l.next()) {
                (Some(one), None) if one.len_utf8() == c.len_utf8() => one,
                _ => c,
            });
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
