//! Small helpers shared by detectors: compiling pattern tables, pushing mapped findings,
//! entropy.

use std::sync::Mutex;

use regex::bytes::Regex;

use crate::{Finding, Meta, View};

/// Compiles a constant pattern over bytes, in ASCII mode. A broken constant pattern is a bug caught by every test run;
/// it compiles to a pattern that never matches rather than panicking on the request path.
pub(crate) fn pattern(p: &str) -> Regex {
    // ASCII mode: classes like `\s`, `\w` and `.` are ASCII-only, which keeps the automata
    // small (Unicode classes multiply DFA states); a pattern opts into Unicode with `(?u:…)`.
    let p = format!("(?-u){p}");
    regex::bytes::RegexBuilder::new(&p)
        .size_limit(64 << 20)
        .dfa_size_limit(32 << 20)
        .build()
        .unwrap_or_else(|e| {
            if let Ok(mut broken) = BROKEN.lock() {
                broken.push(e.to_string());
            }
            never()
        })
}

/// Like [`pattern`], for searches that need what `regex::bytes` does not offer: a bounded
/// range of the haystack (with look-around still seeing past it) or anchored search.
pub(crate) fn searcher(p: &str) -> regex_automata::meta::Regex {
    crate::anchored::compile(&format!("(?-u){p}"))
}

/// Patterns that failed to compile (see [`crate::self_check`]).
pub(crate) static BROKEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[expect(clippy::expect_used, reason = "a fixed, valid pattern")]
pub(crate) fn never() -> Regex {
    Regex::new(r"[^\s\S]").expect("the empty class compiles")
}

/// Appends a finding for bytes `start..end` of `view`, mapped to the original text.
pub(crate) fn push(
    out: &mut Vec<Finding>,
    meta: &Meta,
    label: &str,
    view: &View,
    start: usize,
    end: usize,
    confidence: f32,
) {
    let (start, end) = (floor_char(&view.text, start), ceil_char(&view.text, end));
    let (start, end) = view.to_original(start, end);
    out.push(Finding {
        detector: meta.id.to_owned(),
        kind: meta.kind,
        label: label.to_owned(),
        start,
        end,
        confidence,
    });
}

/// Shannon entropy in bits per character.
pub(crate) fn entropy(s: &str) -> f32 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        if let Some(c) = counts.get_mut(b as usize) {
            *c += 1;
        }
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

/// The text of a match (matches of ASCII-mode patterns may end inside a character; such a
/// match reads as empty and is skipped by every validator).
pub(crate) trait MatchStr<'h> {
    fn as_str(&self) -> &'h str;
}

impl<'h> MatchStr<'h> for regex::bytes::Match<'h> {
    fn as_str(&self) -> &'h str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// Appends window `w` to `windows` (sorted by start), merged with the last one if they touch.
pub(crate) fn add_window(windows: &mut Vec<(usize, usize)>, w: (usize, usize)) {
    match windows.last_mut() {
        Some(last) if last.1 >= w.0 => last.1 = last.1.max(w.1),
        _ => windows.push(w),
    }
}

/// An ASCII word byte, as `(?-u:\b)` sees it.
pub(crate) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The first ASCII digit in `b` at or after `from`. Text has long stretches without digits:
/// they are skipped 16 bytes at a time, with a test the compiler vectorizes.
pub(crate) fn next_digit(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = b.get(from..from + 16) {
        if chunk
            .iter()
            .fold(false, |any, &c| any | (c.wrapping_sub(b'0') < 10))
        {
            break;
        }
        from += 16;
    }
    b.get(from..)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| from + p)
}

/// Maximal runs of `member` bytes (digits among them) that hold a digit and that `keep`
/// accepts. A pattern whose matches are made of such bytes only matches inside such a run: it
/// is searched there alone ([`matches_in_runs`]).
pub(crate) fn digit_runs(
    b: &[u8],
    member: impl Fn(u8) -> bool,
    keep: impl Fn(&[u8]) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(digit) = next_digit(b, i) {
        let mut start = digit;
        while start > i && b.get(start - 1).copied().is_some_and(&member) {
            start -= 1;
        }
        let mut end = digit + 1;
        while b.get(end).copied().is_some_and(&member) {
            end += 1;
        }
        if b.get(start..end).is_some_and(&keep) {
            out.push((start, end));
        }
        i = end;
    }
    out
}

/// Every match of `re` (leftmost-first, not overlapping) inside `runs` of `hay` (sorted, apart),
/// as a search of the whole text finds them when every match lies inside one run. Look-arounds
/// see the byte on either side of a run.
pub(crate) fn matches_in_runs<'h>(
    re: &Regex,
    hay: &'h [u8],
    runs: &[(usize, usize)],
) -> Vec<regex::bytes::Captures<'h>> {
    searches_in_runs(hay, runs, |upto, at| {
        let c = re.captures_at(upto, at)?;
        let end = c.get(0)?.end();
        Some((c, end))
    })
}

/// [`matches_in_runs`] with the search given: `search(upto, at)` finds the next match at or
/// after `at` in `upto` (the text up to just past the run) and returns what to keep and where
/// the match ends; the next search starts there.
pub(crate) fn searches_in_runs<'h, T>(
    hay: &'h [u8],
    runs: &[(usize, usize)],
    mut search: impl FnMut(&'h [u8], usize) -> Option<(T, usize)>,
) -> Vec<T> {
    let mut out = Vec::new();
    for &(start, end) in runs {
        let Some(upto) = hay.get(..(end + 1).min(hay.len())) else {
            continue;
        };
        let mut at = start;
        while let Some((found, end)) = search(upto, at) {
            at = end.max(at + 1);
            out.push(found);
        }
    }
    out
}

/// `i` moved down to a character boundary of `t`.
pub(crate) fn floor_char(t: &str, mut i: usize) -> usize {
    i = i.min(t.len());
    while i > 0 && !t.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `i` moved up to a character boundary of `t`.
pub(crate) fn ceil_char(t: &str, mut i: usize) -> usize {
    i = i.min(t.len());
    while i < t.len() && !t.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Deterministic test texts: `count` concatenations of up to `max_pieces` `fragments` each,
/// drawn by xorshift from `seed`, for tests that compare two implementations on many inputs.
#[cfg(test)]
pub(crate) fn fragment_texts(
    seed: u64,
    fragments: &[&str],
    count: usize,
    max_pieces: u64,
) -> Vec<String> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let n = next() % (max_pieces + 1);
            (0..n)
                .filter_map(|_| {
                    let i = usize::try_from(next() % fragments.len() as u64).ok()?;
                    fragments.get(i).copied()
                })
                .collect()
        })
        .collect()
}

/// 64-bit FNV-1a's starting value.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a: `h` with byte `b` added.
pub(crate) fn fnv_byte(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

#[cfg(test)]
mod tests {
    use super::{Regex, digit_runs, matches_in_runs, pattern};

    fn spans(found: Vec<regex::bytes::Captures<'_>>) -> Vec<Vec<Option<(usize, usize)>>> {
        found
            .iter()
            .map(|c| c.iter().map(|g| g.map(|m| (m.start(), m.end()))).collect())
            .collect()
    }

    fn whole(re: &Regex, hay: &[u8]) -> Vec<Vec<Option<(usize, usize)>>> {
        spans(re.captures_iter(hay).collect())
    }

    #[test]
    fn searching_digit_runs_finds_what_searching_the_text_finds() {
        let pieces = [
            "123",
            "45",
            "6789",
            "1",
            "0",
            "-",
            " ",
            ".",
            "a",
            "x1",
            "_",
            "\n",
            "192.168",
            ".0.1",
            "255.255.255.255",
            "123-45-6789",
            "123 45 6789",
            "é",
            "1234567890",
        ];
        let ssn = pattern(r"\b(\d{3})([- ])(\d{2})([- ])(\d{4})\b");
        let v4 = pattern(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b");
        let digits = |r: &[u8]| r.iter().filter(|c| c.is_ascii_digit()).count();
        let mut found = 0;
        for t in super::fragment_texts(0x5eed_0f5e_ed00_0001, &pieces, 3000, 20) {
            let b = t.as_bytes();
            let runs = digit_runs(
                b,
                |c| c.is_ascii_digit() || c == b'-' || c == b' ',
                |r| digits(r) >= 9,
            );
            let want = whole(&ssn, b);
            found += want.len();
            assert_eq!(spans(matches_in_runs(&ssn, b, &runs)), want, "{t:?}");
            let runs = digit_runs(
                b,
                |c| c.is_ascii_digit() || c == b'.',
                |r| r.iter().filter(|&&c| c == b'.').count() >= 3 && digits(r) >= 4,
            );
            let want = whole(&v4, b);
            found += want.len();
            assert_eq!(spans(matches_in_runs(&v4, b, &runs)), want, "{t:?}");
        }
        assert!(found > 500, "{found}");
    }

    #[test]
    fn next_digit_finds_what_a_byte_loop_finds() {
        let pieces = [
            "abc",
            "0",
            "9",
            "/",
            ":",
            "x".repeat(20).leak(),
            "é",
            "\u{0660}",
            " ",
        ];
        for t in super::fragment_texts(0x9e37_79b9_7f4a_7c15, &pieces, 500, 40) {
            let b = t.as_bytes();
            for from in 0..=b.len() + 2 {
                let want = (from..b.len()).find(|&i| b[i].is_ascii_digit());
                assert_eq!(super::next_digit(b, from), want, "{t:?} from {from}");
            }
        }
    }
}
