//! Features for the injection classifier: lowercase word unigrams and bigrams, punctuation
//! tokens, and rule hits, hashed into a fixed number of buckets.
//!
//! The same code extracts features at training time and at scan time, so the committed weights
//! always mean what the scanner computes.

use crate::util::{FNV_OFFSET, fnv_byte};

/// log2 of the number of weight buckets.
pub const BUCKET_BITS: u32 = 17;
/// Number of weight buckets.
pub const BUCKETS: usize = 1 << BUCKET_BITS;
/// Tokens per window.
pub const WINDOW: usize = 40;
/// Tokens between window starts.
pub const STRIDE: usize = 10;
/// A window's weight sum is divided by the square root of its feature count, but never of
/// fewer than this many: a two-word string cannot score like a paragraph of instructions.
pub const MIN_NORM: f32 = 24.0;

/// The normalizer for a window with `features` features.
pub fn norm(features: usize) -> f32 {
    (features as f32).max(MIN_NORM).sqrt()
}

/// One token: its hash and its byte span in the scanned text.
#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub hash: u64,
    pub start: usize,
    pub end: usize,
}

/// Splits lowercase `text` into words (alphanumeric runs, with apostrophes inside) and single
/// punctuation tokens (a run of the same punctuation character is one token). A token equal to
/// the one before it is dropped: repetition is not evidence, and a window of `y y y …` (the
/// output of `yes`) would otherwise weigh one word's weight forty times.
pub fn tokenize(text: &str, out: &mut Vec<Token>) {
    out.clear();
    // Prose has a token every five bytes or so, JSON and code up to one every two: room for
    // the dense case spares the copies of growing.
    out.reserve(text.len() / 2 + 1);
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(&first) = b.get(i) {
        match class(first) {
            WORD => {
                let (h, end) = word_from(text, fnv_byte(FNV_OFFSET, first), i + 1);
                push(out, h, i, end);
                i = end;
            }
            SPACE => i += 1,
            OTHER | APOSTROPHE => {
                let mut end = i + 1;
                while b.get(end) == Some(&first) {
                    end += 1;
                }
                push(out, fnv_byte(FNV_OFFSET ^ 0x9e37_79b9, first), i, end);
                i = end;
            }
            _ => {
                let Some(c) = text.get(i..).and_then(|r| r.chars().next()) else {
                    break;
                };
                let len = c.len_utf8();
                if c.is_alphanumeric() {
                    let (h, end) = word_from(text, fnv_char(FNV_OFFSET, c), i + len);
                    push(out, h, i, end);
                    i = end;
                } else if c.is_whitespace() {
                    i += len;
                } else {
                    let mut end = i + len;
                    while text.get(end..).is_some_and(|r| r.starts_with(c)) {
                        end += len;
                    }
                    push(out, fnv_char(FNV_OFFSET ^ 0x9e37_79b9, c), i, end);
                    i = end;
                }
            }
        }
    }
}

/// Byte classes of the tokenizer: ASCII letters and digits, the apostrophe (inside words),
/// ASCII white space, other ASCII, and bytes of multi-byte characters.
const WORD: u8 = 0;
const APOSTROPHE: u8 = 1;
const SPACE: u8 = 2;
const OTHER: u8 = 3;
const MULTIBYTE: u8 = 4;

#[expect(
    clippy::indexing_slicing,
    reason = "a const loop over 0..128 into a [u8; 256]"
)]
static CLASSES: [u8; 256] = {
    let mut t = [MULTIBYTE; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            WORD
        } else if c == b'\'' {
            APOSTROPHE
        } else if matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            // `char::is_white_space` on ASCII.
            SPACE
        } else {
            OTHER
        };
        b += 1;
    }
    t
};

#[inline]
fn class(b: u8) -> u8 {
    CLASSES.get(usize::from(b)).copied().unwrap_or(MULTIBYTE)
}

/// Continues a word at byte `end` with hash `h`: letters, digits and apostrophes, ASCII or
/// not. Returns the hash and the end.
#[inline(always)]
fn word_from(text: &str, mut h: u64, mut end: usize) -> (u64, usize) {
    let b = text.as_bytes();
    while let Some(&d) = b.get(end) {
        match class(d) {
            WORD | APOSTROPHE => {
                h = fnv_byte(h, d);
                end += 1;
            }
            MULTIBYTE => match text.get(end..).and_then(|r| r.chars().next()) {
                Some(c) if c.is_alphanumeric() => {
                    h = fnv_char(h, c);
                    end += c.len_utf8();
                }
                _ => break,
            },
            _ => break,
        }
    }
    (h, end)
}

/// Appends a token unless it repeats the previous one.
fn push(out: &mut Vec<Token>, hash: u64, start: usize, end: usize) {
    if out.last().is_none_or(|t| t.hash != hash) {
        out.push(Token { hash, start, end });
    }
}

fn fnv_char(mut h: u64, c: char) -> u64 {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        h = fnv_byte(h, b);
    }
    h
}

/// Maps a 64-bit feature hash to a bucket.
pub fn bucket(h: u64) -> usize {
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKET_BITS)) as usize
}

/// Feature hash of a unigram.
pub fn unigram(t: &Token) -> u64 {
    t.hash
}

/// Feature hash of a bigram.
pub fn bigram(a: &Token, b: &Token) -> u64 {
    a.hash.rotate_left(17) ^ b.hash.wrapping_mul(31) ^ 0x5bd1_e995
}

/// The weight index of rule `index`'s feature: rules have their own weights after the hashed
/// buckets, so no word shares a rule's weight.
pub fn rule_feature(index: usize) -> usize {
    BUCKETS + index
}

/// Feature hash of a rule hit in the first weights format, where rules shared the buckets.
pub fn rule(index: usize) -> u64 {
    0xa076_1d64_78bd_642f_u64.wrapping_mul(index as u64 + 1) ^ 0xe703_7ed1_a0b4_28db
}

/// Calls `f(token_index, weight_index)` for every feature: the unigram of each token, the bigram
/// with the previous token (hashed buckets), and each rule hit (`(rule_index, byte_offset)`,
/// [`rule_feature`]) at the token it starts in.
/// `rule_hits` must be sorted by offset.
#[inline]
pub fn for_each_feature(
    tokens: &[Token],
    rule_hits: &[(usize, usize)],
    mut f: impl FnMut(usize, usize),
) {
    let mut hits = rule_hits.iter().peekable();
    let mut prev: Option<&Token> = None;
    for (i, t) in tokens.iter().enumerate() {
        f(i, bucket(unigram(t)));
        if let Some(p) = prev {
            f(i, bucket(bigram(p, t)));
        }
        while let Some(&&(rule_index, at)) = hits.peek() {
            if at >= t.end && i + 1 < tokens.len() {
                break;
            }
            f(i, rule_feature(rule_index));
            hits.next();
        }
        prev = Some(t);
    }
}

/// Window start/end token indexes over `n` tokens.
pub fn windows(n: usize) -> impl Iterator<Item = (usize, usize)> {
    let last_start = n.saturating_sub(WINDOW);
    let count = last_start.div_ceil(STRIDE) + 1;
    (0..count).map(move |k| {
        let s = (k * STRIDE).min(last_start);
        (s, (s + WINDOW).min(n))
    })
}
