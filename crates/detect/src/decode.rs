//! Decoders for text hidden in encodings: base64 (standard and URL-safe), hex (plain and
//! `\xNN`), percent-encoding and HTML character references.
//!
//! A decoding is kept only when the result is readable text, so random keys and hashes (which
//! are also base64 or hex alphabets) are not turned into noise.

use base64::Engine as _;

use crate::util::{ceil_char, floor_char};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// A decoded run of a view.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The decoded text.
    pub text: String,
    /// For each byte of `text`, the offset in the parent view it came from.
    pub source: Vec<u32>,
    /// The encoded run in the parent view.
    pub span: (usize, usize),
    /// Which encoding.
    pub encoding: &'static str,
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
static STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
static URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Runs of at least this many base64 characters are decoded (`[A-Za-z0-9+/_-]{16,}={0,2}`).
const BASE64_MIN: usize = 16;
/// Runs of at least this many `\xNN` escapes are decoded.
const ESCAPED_HEX_MIN: usize = 6;
/// Runs of at least this many hex digit pairs are decoded.
const HEX_PAIRS_MIN: usize = 8;

/// Decoding looks only at [`alphabet_runs`] at least this long; a view keeps them
/// ([`crate::View::alphabet_runs`]) for the pattern tables too.
pub(crate) const RUNS_MIN: usize = if BASE64_MIN < 2 * HEX_PAIRS_MIN {
    BASE64_MIN
} else {
    2 * HEX_PAIRS_MIN
};

/// Every decoding found in `text`, given its [`alphabet_runs`] of at least [`RUNS_MIN`] bytes.
pub(crate) fn decodings_in(text: &str, runs: &[(usize, usize)]) -> Vec<Decoded> {
    decode_all(text, runs, true)
}

/// Every decoding but base64 (for callers that decode base64 their own way, [`base64_any`]).
pub(crate) fn decodings_but_base64(text: &str) -> Vec<Decoded> {
    decode_all(text, &alphabet_runs(text.as_bytes(), RUNS_MIN), false)
}

fn decode_all(text: &str, runs: &[(usize, usize)], base64: bool) -> Vec<Decoded> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    if bytes.len() >= 16 {
        if base64 {
            for (start, end) in base64_runs(bytes, runs) {
                if let Some(d) = text.get(start..end).and_then(base64_run) {
                    out.push(constant(d, start, end, "base64"));
                }
            }
        }
        for (start, end) in hex_runs(bytes, runs) {
            if let Some(d) = text.get(start..end).and_then(hex_run) {
                out.push(constant(d, start, end, "hex"));
            }
        }
    }
    // Percent and HTML decodings cover the lines around their escapes, built only when they
    // change something.
    let percents: Vec<usize> = memchr::memchr_iter(b'%', bytes)
        .filter(|&i| percent_escape(bytes, i).is_some())
        .collect();
    if percents.len() >= 2 {
        for (start, end) in regions(text, &percents) {
            out.extend(percent(text, start, end));
        }
    }
    let entities: Vec<usize> = memchr::memchr_iter(b'&', bytes)
        .filter(|&i| text.get(i..).and_then(entity).is_some())
        .collect();
    for (start, end) in regions(text, &entities) {
        out.extend(html(text, start, end));
    }
    out
}

/// How far a region reaches from an escape inside a long line, in bytes.
const REACH: usize = 256;
/// Regions closer than this are one.
const REGION_GAP: usize = 256;
/// More regions than this become one, from the first to the last.
const MAX_REGIONS: usize = 8;

/// The parts of `text` a percent or HTML decoding covers: the lines holding the escapes at
/// `at` (sorted), at most [`REACH`] bytes either side of an escape, merged when close. A page
/// with one `&amp;` is not read twice over; an encoded payload keeps its line around it.
fn regions(text: &str, at: &[usize]) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &i in at {
        let low = i.saturating_sub(REACH);
        let start =
            memchr::memrchr(b'\n', b.get(low..i).unwrap_or(&[])).map_or(low, |n| low + n + 1);
        let high = (i + REACH).min(b.len());
        let end = memchr::memchr(b'\n', b.get(i..high).unwrap_or(&[])).map_or(high, |n| i + n);
        let (start, end) = (floor_char(text, start), ceil_char(text, end));
        match out.last_mut() {
            Some(last) if start <= last.1 + REGION_GAP => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    if out.len() > MAX_REGIONS
        && let (Some(&(start, _)), Some(&(_, end))) = (out.first(), out.last())
    {
        out = vec![(start, end)];
    }
    out
}

/// The byte a valid `%XX` escape at `i` stands for.
fn percent_escape(b: &[u8], i: usize) -> Option<u8> {
    match b.get(i..i + 3)? {
        [b'%', h, l] => {
            let hex = |c: u8| char::from(c).to_digit(16);
            u8::try_from(hex(*h)? * 16 + hex(*l)?).ok()
        }
        _ => None,
    }
}

/// Byte classes for the run finders: one table lookup per byte.
const BASE64: u8 = 1;
const HEX: u8 = 2;
#[expect(
    clippy::indexing_slicing,
    reason = "a const loop over 0..256 into a [u8; 256]"
)]
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-') {
            t[i] |= BASE64;
        }
        if b.is_ascii_hexdigit() {
            t[i] |= HEX;
        }
        i += 1;
    }
    t
};

/// Whether `b` is in a base64 alphabet (standard or URL-safe): `[A-Za-z0-9+/_-]`.
pub(crate) fn in_base64_alphabet(b: u8) -> bool {
    class(b) & BASE64 != 0
}

fn class(b: u8) -> u8 {
    CLASS.get(usize::from(b)).copied().unwrap_or(0)
}

/// Runs of base64 alphabet bytes (a superset of hex digits) at least `min` long.
///
/// Any stretch of `2k - 1` bytes holds a whole `k`-byte block at a multiple of `k`, so for
/// the largest such `k` (at most 16) a long enough run holds a block made only of alphabet
/// bytes: blocks are tested whole (a test the compiler vectorizes), and runs are walked only
/// from the blocks that pass. Prose, whose words are shorter than a block, is mostly skipped.
pub(crate) fn alphabet_runs(b: &[u8], min: usize) -> Vec<(usize, usize)> {
    let block = [16, 8, 4, 2]
        .into_iter()
        .find(|&k| 2 * k - 1 <= min)
        .unwrap_or(1);
    let mut out = Vec::new();
    // Bytes before `from` are settled (blocks are tested from there on).
    let mut from = 0;
    let mut at = 0;
    while let Some(chunk) = b.get(at..at + block) {
        if !chunk
            .iter()
            .fold(true, |all, &c| all & in_base64_alphabet(c))
        {
            at += block;
            continue;
        }
        let mut start = at;
        while start > from && b.get(start - 1).copied().is_some_and(in_base64_alphabet) {
            start -= 1;
        }
        let mut end = at + block;
        while b.get(end).copied().is_some_and(in_base64_alphabet) {
            end += 1;
        }
        if end - start >= min {
            out.push((start, end));
        }
        from = end;
        at = end.div_ceil(block) * block;
    }
    // The tail after the last whole block: a run there is shorter than `min` unless it
    // started before, and then it was found.
    out
}

/// The byte-by-byte reference for [`alphabet_runs`].
#[cfg(test)]
pub(crate) fn alphabet_runs_bytewise(b: &[u8], min: usize) -> Vec<(usize, usize)> {
    let in_alphabet = |c: &u8| in_base64_alphabet(*c);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rest) = b.get(i..) {
        let Some(skip) = rest.iter().position(in_alphabet) else {
            break;
        };
        let start = i + skip;
        let len = b
            .get(start..)
            .and_then(|r| r.iter().position(|c| !in_alphabet(c)))
            .unwrap_or(b.len() - start);
        if len >= min {
            out.push((start, start + len));
        }
        i = start + len;
    }
    out
}

/// Maximal runs of the base64 alphabets (at least [`BASE64_MIN`] long) with up to two `=`.
/// `runs` are [`alphabet_runs`] of at least [`BASE64_MIN`] bytes.
fn base64_runs(b: &[u8], runs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    runs.iter()
        .filter(|(start, end)| end - start >= BASE64_MIN)
        .map(|&(start, end)| {
            let pad = b
                .get(end..)
                .unwrap_or_default()
                .iter()
                .take(2)
                .take_while(|&&c| c == b'=')
                .count();
            (start, end + pad)
        })
        .collect()
}

/// Runs of `\xNN` escapes (at least [`ESCAPED_HEX_MIN`]) or of hex digit pairs (at least
/// [`HEX_PAIRS_MIN`]), in order, as a leftmost-first search for either would find them.
/// `runs` are [`alphabet_runs`] of at least `2 * HEX_PAIRS_MIN` bytes.
fn hex_runs(b: &[u8], runs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let escape = |at: usize| matches!(b.get(at..at + 4), Some([b'\\', b'x', h, l]) if class(*h) & class(*l) & HEX != 0);
    let mut escaped = Vec::new();
    let mut after = 0;
    for i in memchr::memchr_iter(b'\\', b) {
        if i < after {
            continue;
        }
        let mut n = 0;
        while escape(i + 4 * n) {
            n += 1;
        }
        if n >= ESCAPED_HEX_MIN {
            escaped.push((i, i + 4 * n));
            after = i + 4 * n;
        }
    }
    let mut out = Vec::new();
    for &(run_start, run_end) in runs.iter().filter(|(s, e)| e - s >= 2 * HEX_PAIRS_MIN) {
        let mut i = run_start;
        while i < run_end {
            let start = i;
            while i < run_end && b.get(i).is_some_and(|&c| class(c) & HEX != 0) {
                i += 1;
            }
            // Digits that end an escape run belong to it; the plain run starts after it.
            let start = escaped
                .iter()
                .find(|&&(s, e)| s < start && start < e)
                .map_or(start, |&(_, e)| e.max(start));
            let pairs = i.saturating_sub(start) / 2;
            if pairs >= HEX_PAIRS_MIN {
                out.push((start, start + 2 * pairs));
            }
            i += 1;
        }
    }
    out.extend(escaped);
    out.sort_unstable();
    out
}

fn constant(text: String, start: usize, end: usize, encoding: &'static str) -> Decoded {
    let source = vec![start as u32; text.len()];
    Decoded {
        text,
        source,
        span: (start, end),
        encoding,
    }
}

/// Readable text: valid UTF-8, at least 6 characters, nearly all printable, and with letters.
fn readable(bytes: Vec<u8>) -> Option<String> {
    let s = String::from_utf8(bytes).ok()?;
    let total = s.chars().count();
    if total < 6 {
        return None;
    }
    let printable = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    (printable * 100 >= total * 97 && letters * 2 >= total).then_some(s)
}

fn base64_run(run: &str) -> Option<String> {
    let trimmed = run.trim_end_matches('=');
    // Base64 of text mixes upper and lower case throughout; words, snake_case identifiers and
    // hex digests do not, and are not worth decoding.
    let upper = trimmed.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = trimmed.bytes().filter(u8::is_ascii_lowercase).count();
    if upper * 8 < trimmed.len() || lower * 8 < trimmed.len() {
        return None;
    }
    let engine = if trimmed.contains(['-', '_']) {
        &URL_SAFE
    } else {
        &STANDARD
    };
    // A length of 4n+1 cannot be base64; drop the stray character (a truncated run).
    let body = if trimmed.len() % 4 == 1 {
        trimmed.get(..trimmed.len() - 1)?
    } else {
        trimmed
    };
    readable(engine.decode(body).ok()?)
}

/// Every run of at least 16 base64 characters decoded, whatever it decodes to (for matching
/// known values, where the match itself is the filter). A run may carry a prefix the encoding
/// does not (`id-`, `order`): each piece between `-` and `_` is also decoded with the standard
/// alphabet, and every piece at each of the four alignments.
pub(crate) fn base64_any(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (start, end) in alphabet_runs(text.as_bytes(), BASE64_MIN) {
        let Some(run) = text.get(start..end) else {
            continue;
        };
        let run = run.trim_end_matches('=');
        let mut pieces: Vec<(&str, &GeneralPurpose)> = Vec::new();
        if run.contains(['-', '_']) {
            pieces.push((run, &URL_SAFE));
            pieces.extend(
                run.split(['-', '_'])
                    .filter(|p| p.len() >= BASE64_MIN)
                    .map(|p| (p, &STANDARD)),
            );
        } else {
            pieces.push((run, &STANDARD));
        }
        for (piece, engine) in pieces {
            for skip in 0..4 {
                let Some(body) = piece.get(skip..) else {
                    break;
                };
                // A length of 4n+1 cannot be base64: drop the stray last character.
                let body = body.get(..body.len() - usize::from(body.len() % 4 == 1));
                if let Some(bytes) = body.and_then(|b| engine.decode(b).ok()) {
                    out.push(bytes);
                }
            }
        }
    }
    out
}

fn hex_run(run: &str) -> Option<String> {
    let digits: String = run.chars().filter(char::is_ascii_hexdigit).collect();
    let digits = if run.contains("\\x") {
        run.split("\\x")
            .filter(|p| !p.is_empty())
            .collect::<String>()
    } else {
        digits
    };
    readable(hex::decode(digits).ok()?)
}

/// Percent-decodes `text[start..end]`, keeping a per-byte source map. Invalid sequences stay.
fn percent(text: &str, start: usize, end: usize) -> Option<Decoded> {
    let b = text.as_bytes().get(..end)?;
    let mut out = Vec::with_capacity(end - start);
    let mut source = Vec::with_capacity(end - start);
    let mut changed = 0;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let Some(v) = percent_escape(b, i)
        {
            out.push(v);
            source.push(i as u32);
            changed += 1;
            i += 3;
            continue;
        }
        out.push(c);
        source.push(i as u32);
        i += 1;
    }
    if changed == 0 {
        return None;
    }
    let text = String::from_utf8(out).ok()?;
    Some(Decoded {
        text,
        source,
        span: (start, end),
        encoding: "percent",
    })
}

/// Decodes HTML character references (`&#112;`, `&#x70;`, `&lt;` and friends) in
/// `text[start..end]`.
fn html(text: &str, start: usize, end: usize) -> Option<Decoded> {
    let mut out = String::with_capacity(end - start);
    let mut source = Vec::with_capacity(end - start);
    let mut changed = 0;
    let mut i = start;
    let text = text.get(..end)?;
    while i < text.len() {
        let rest = text.get(i..)?;
        if rest.starts_with('&')
            && let Some((ch, used)) = entity(rest)
        {
            let at = out.len();
            out.push(ch);
            source.extend(std::iter::repeat_n(i as u32, out.len() - at));
            changed += 1;
            i += used;
            continue;
        }
        let ch = rest.chars().next()?;
        out.push(ch);
        source.extend(std::iter::repeat_n(i as u32, ch.len_utf8()));
        i += ch.len_utf8();
    }
    (changed > 0).then_some(Decoded {
        text: out,
        source,
        span: (start, end),
        encoding: "html",
    })
}

fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.get(..12.min(s.len()))?.find(';')?;
    let name = s.get(1..end)?;
    let ch = if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        char::from_u32(u32::from_str_radix(num, 16).ok()?)?
    } else if let Some(num) = name.strip_prefix('#') {
        char::from_u32(num.parse().ok()?)?
    } else {
        match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "colon" => ':',
            "sol" => '/',
            "period" => '.',
            "lpar" => '(',
            "rpar" => ')',
            "equals" => '=',
            _ => return None,
        }
    };
    Some((ch, end + 1))
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
