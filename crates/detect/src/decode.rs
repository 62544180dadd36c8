//! Decoders for text hidden in encodings: base64 (standard and URL-safe), hex (plain and
//! `\xNN`), percent-encoding and HTML character references.
//!
//! A decoding is kept only when the result is readable text, so random keys and hashes (which
//! are also base64 or hex alphabets) are not turned into noise.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use regex::Regex;

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

#[expect(clippy::expect_used, reason = "constant patterns, covered by tests")]
static BASE64_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_-]{16,}={0,2}").expect("valid pattern"));
#[expect(clippy::expect_used, reason = "constant patterns, covered by tests")]
static HEX_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\\x[0-9A-Fa-f]{2}){6,}|(?:[0-9A-Fa-f]{2}){8,}").expect("valid pattern")
});

/// Every decoding found in `text`.
pub fn decodings(text: &str) -> Vec<Decoded> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    if bytes.len() >= 16 {
        for m in BASE64_RUN.find_iter(text) {
            if let Some(d) = base64_run(m.as_str()) {
                out.push(constant(d, m.start(), m.end(), "base64"));
            }
        }
        for m in HEX_RUN.find_iter(text) {
            if let Some(d) = hex_run(m.as_str()) {
                out.push(constant(d, m.start(), m.end(), "hex"));
            }
        }
    }
    if memchr_count(b'%', bytes) >= 2
        && let Some(d) = percent(text)
    {
        out.push(d);
    }
    if bytes.contains(&b'&')
        && let Some(d) = html(text)
    {
        out.push(d);
    }
    out
}

fn memchr_count(needle: u8, hay: &[u8]) -> usize {
    hay.iter().filter(|&&b| b == needle).count()
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

/// Percent-decodes the whole text, keeping a per-byte source map. Invalid sequences stay.
fn percent(text: &str) -> Option<Decoded> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut source = Vec::with_capacity(b.len());
    let mut changed = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
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
    if changed < 2 {
        return None;
    }
    let text = String::from_utf8(out).ok()?;
    Some(Decoded {
        text,
        source,
        span: (0, b.len()),
        encoding: "percent",
    })
}

/// Decodes HTML character references (`&#112;`, `&#x70;`, `&lt;` and friends).
fn html(text: &str) -> Option<Decoded> {
    let mut out = String::with_capacity(text.len());
    let mut source = Vec::with_capacity(text.len());
    let mut changed = 0;
    let mut i = 0;
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
        span: (0, text.len()),
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
