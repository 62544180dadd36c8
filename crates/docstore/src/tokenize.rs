//! The tokenizer shared by indexing and queries: NFKC, lowercase, split on anything that is
//! not a letter or digit (Unicode), tokens longer than [`MAX_TOKEN_CHARS`] dropped.

use unicode_normalization::UnicodeNormalization;

/// Longest token kept, in characters.
pub const MAX_TOKEN_CHARS: usize = 64;

/// Calls `f` with every token of `text`, in order. `buf` is scratch space.
pub(crate) fn tokens(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    buf.clear();
    let mut chars = 0usize;
    let mut flush = |buf: &mut String, chars: &mut usize| {
        if !buf.is_empty() && *chars <= MAX_TOKEN_CHARS {
            f(buf);
        }
        buf.clear();
        *chars = 0;
    };
    if text.is_ascii() {
        // ASCII is already in NFKC.
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() {
                buf.push(char::from(b.to_ascii_lowercase()));
                chars += 1;
            } else {
                flush(buf, &mut chars);
            }
        }
    } else {
        for c in text.nfkc() {
            if c.is_alphanumeric() {
                for l in c.to_lowercase() {
                    buf.push(l);
                    chars += 1;
                }
            } else {
                flush(buf, &mut chars);
            }
        }
    }
    flush(buf, &mut chars);
}

/// The tokens of a query, and whether some were dropped for their length (then no
/// document can match all of them).
pub(crate) fn query_tokens(text: &str) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut buf = String::new();
    tokens(text, &mut buf, |t| out.push(t.to_owned()));
    let dropped = out.len() < runs(text);
    (out, dropped)
}

/// Number of alphanumeric runs (tokens of any length).
fn runs(text: &str) -> usize {
    let mut n = 0;
    let mut inside = false;
    for c in text.nfkc() {
        let alnum = c.is_alphanumeric();
        if alnum && !inside {
            n += 1;
        }
        inside = alnum;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokens(text, &mut String::new(), |t| out.push(t.to_owned()));
        out
    }

    #[test]
    fn normalizes_lowercases_and_splits() {
        assert_eq!(
            all("Hello, WORLD! foo_bar 42x"),
            ["hello", "world", "foo", "bar", "42x"]
        );
        assert_eq!(
            all("Ｆｕｌｌｗｉｄｔｈ ﬁle Straße Ärger"),
            ["fullwidth", "file", "straße", "ärger"]
        );
        assert_eq!(all("東京 tōkyō"), ["東京", "tōkyō"]);
        let long = "a".repeat(65);
        assert_eq!(all(&format!("x {long} y")), ["x", "y"]);
        assert_eq!(all(&"b".repeat(64)).len(), 1);
    }

    #[test]
    fn query_tokens_report_dropped_ones() {
        assert_eq!(
            query_tokens("a b"),
            (vec!["a".to_owned(), "b".to_owned()], false)
        );
        let (t, dropped) = query_tokens(&format!("a {}", "z".repeat(70)));
        assert_eq!(t, ["a"]);
        assert!(dropped);
        assert_eq!(query_tokens("  ?? "), (vec![], false));
    }
}
