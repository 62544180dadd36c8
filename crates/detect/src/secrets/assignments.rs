//! Secret-looking values assigned to secret-like names.

use std::sync::LazyLock;

use regex::bytes::Regex;

use super::looks_like_placeholder;
use crate::util::{entropy, pattern, push, searcher};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Values assigned to secret-like names.
///
/// What it detects: `password = "…"`, `"api_key": "…"`, `SECRET_TOKEN=…`, `--token …` where the
/// value looks like a credential: a quoted password, or a high-entropy string with mixed
/// character classes.
/// Why it matters: most leaked credentials have no provider prefix (internal services,
/// passwords); the name next to them is the signal.
/// Example: `DB_PASSWORD="Tr0ub4dor&3"` → the quoted value.
/// False positives: identifiers and code (`password = get_password()`, `token: str`),
/// placeholders and low-entropy words are skipped.
#[derive(Debug)]
pub struct Assignments;

static META: Meta = Meta {
    id: "SEC005",
    kind: FindingKind::Secret,
    name: "secret_assignments",
    summary: "credential-like values assigned to secret-like names",
};

/// The secret-like words a name must hold, in lowercase (ASCII case is ignored).
const NAME_WORDS: &str = r"passw(?:or)?d|passphrase|\bpwd|\bpass\b|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|client[_-]?secret|credentials?|signing[_-]?key|encryption[_-]?key|session[_-]?key|license[_-]?key|x-api-key";
/// What follows a name: the assignment, then the value (groups 1-4: single-quoted,
/// double-quoted, backticked, bare).
const TAIL: &str = concat!(
    r#"(?:\\?["'`]?\s{0,20}(?::=|=>|=|:|\s)\s{0,3}|["'`]\s*,\s*)"#,
    r#"(?:\\?'((?:[^'\r\n\\]|\\[^'\r\n]){6,200})\\?'|\\?"((?:[^"\r\n\\]|\\[^"\r\n]){6,200})\\?"|`([^`\r\n]{6,200})`|([^\s"'`,;)}\]<>\\]{8,200}))"#
);

/// [`NAME_WORDS`] as written (lowercase), searched in the lowercased text: the same matches
/// as ignoring ASCII case in the text itself (lowercasing keeps every offset, and only ASCII
/// bytes become ASCII letters), but case-sensitive words let the search skip ahead to them.
static WORDS: LazyLock<Regex> = LazyLock::new(|| pattern(NAME_WORDS));
static ASSIGNMENT: LazyLock<regex_automata::meta::Regex> = LazyLock::new(|| searcher(TAIL));

/// A name is a run of `[\w.-]` bytes holding one of [`NAME_WORDS`].
fn in_name(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// One assignment: the name's span, the value's span and whether the value was quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Assignment {
    name: (usize, usize),
    value: (usize, usize),
    quoted: bool,
}

/// Every assignment in `hay`, as a leftmost-first search for
/// `([\w.-]*(?:NAME_WORDS)[\w.-]*)TAIL` reports them. What follows a name cannot begin with a
/// name byte, so a name always ends where its run of name bytes ends, and whether a match
/// starts in a run depends only on that end: the words are found first (a small automaton
/// that soon stops meeting new states), then the tail is tried, anchored, once per run.
/// Searched as one pattern, the tail's counted repetitions made the lazy DFA build new states
/// on most new texts.
///
/// `lower` is `hay` lowercased with every offset kept ([`crate::View::lower`]).
fn assignments(hay: &[u8], lower: &[u8]) -> Vec<Assignment> {
    let mut out = Vec::new();
    let mut caps = ASSIGNMENT.create_captures();
    // Where the next match may start (matches do not overlap).
    let mut from = 0;
    let mut at = 0;
    while let Some(word) = WORDS.find_at(lower, at) {
        let mut start = word.start();
        while start > from && hay.get(start - 1).copied().is_some_and(in_name) {
            start -= 1;
        }
        let mut end = word.end();
        while hay.get(end).copied().is_some_and(in_name) {
            end += 1;
        }
        // Every word in this name ends by `end`.
        at = end;
        let input = regex_automata::Input::new(hay)
            .range(end..)
            .anchored(regex_automata::Anchored::Yes);
        ASSIGNMENT.search_captures(&input, &mut caps);
        let Some(m) = caps.get_match() else { continue };
        let Some((group, span)) = (1..=4).find_map(|g| Some((g, caps.get_group(g)?))) else {
            continue;
        };
        out.push(Assignment {
            name: (start, end),
            value: (span.start, span.end),
            quoted: group < 4,
        });
        from = m.end();
        at = at.max(from);
    }
    out
}

impl Detector for Assignments {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&WORDS);
        LazyLock::force(&ASSIGNMENT);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            for a in assignments(view.text.as_bytes(), view.lower().as_bytes()) {
                let (Some(name), Some(value)) = (
                    view.text.get(a.name.0..a.name.1),
                    view.text.get(a.value.0..a.value.1),
                ) else {
                    continue;
                };
                // `pass 'strict'` in prose: only blanks between the name and the value.
                let loose = view
                    .text
                    .get(a.name.1..a.value.0)
                    .is_some_and(|sep| !sep.contains([':', '=', ',']));
                let shape = Shape {
                    quoted: a.quoted,
                    loose,
                };
                if let Some(confidence) = judge(name, value, shape) {
                    push(
                        out,
                        &META,
                        "secret_assignment",
                        view,
                        a.value.0,
                        a.value.1,
                        confidence,
                    );
                }
            }
        }
    }
}

/// How the value was written.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// In quotes or backticks.
    quoted: bool,
    /// Separated from the name by blanks only (no `=`, `:` or `,`).
    loose: bool,
}

/// Decides whether `value`, assigned to `name`, is a credential; returns the confidence.
fn judge(name: &str, value: &str, shape: Shape) -> Option<f32> {
    let Shape { quoted, loose } = shape;
    let name = name.to_ascii_lowercase();
    let v = value.trim();
    // `"'$VAR'"`: the inner quotes belong to a shell, not to the value.
    let unquoted = v.trim_matches(|c| matches!(c, '\'' | '"' | '`'));
    if looks_like_placeholder(unquoted) || looks_like_code(unquoted) {
        return None;
    }
    // Prose: "pass 'strict' to raise", "the token 'abcdef'": a plain lowercase word after a
    // name with no assignment sign is an argument, not a credential.
    if loose && v.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    // Names that hold a reference to a secret, not the secret.
    if [
        "_file", "_path", "_env", "_name", "_type", "_url", "_id", "_length", "_len", "_count",
        "_expires", "_at",
    ]
    .iter()
    .any(|s| name.ends_with(s))
        || name.contains("tokenizer")
        || name.contains("token_type")
    {
        return None;
    }
    let password = name.contains("pass") || name.contains("pwd");
    let classes = classes(v);
    let h = entropy(v);
    if password && (!v.contains(' ') || (quoted && v.len() <= 40)) {
        if quoted && v.len() >= 6 && !v.contains('.') && !v.eq_ignore_ascii_case("password") {
            return Some(0.8);
        }
        if !quoted && v.len() >= 8 && classes >= 2 && !is_identifier(v) {
            return Some(0.7);
        }
        return None;
    }
    if v.contains(' ') {
        return None;
    }
    if v.len() >= 16 && h >= 3.3 && classes >= 2 && !is_identifier(v) {
        return Some(if v.len() >= 24 && h >= 3.8 { 0.85 } else { 0.7 });
    }
    if quoted
        && v.len() >= 12
        && h >= 3.0
        && classes >= 2
        && v.chars().any(|c| c.is_ascii_digit())
        && !is_identifier(v)
    {
        return Some(0.6);
    }
    None
}

/// Number of character classes present: lower, upper, digit, symbol.
fn classes(v: &str) -> u32 {
    u32::from(v.chars().any(|c| c.is_ascii_lowercase()))
        + u32::from(v.chars().any(|c| c.is_ascii_uppercase()))
        + u32::from(v.chars().any(|c| c.is_ascii_digit()))
        + u32::from(v.chars().any(|c| !c.is_ascii_alphanumeric()))
}

/// `snake_case`, `camelCase` or dotted identifiers: variable names, not values.
fn is_identifier(v: &str) -> bool {
    let parts: Vec<&str> = v.split(['_', '.', '-']).collect();
    let wordy = parts
        .iter()
        .all(|p| p.chars().all(|c| c.is_ascii_alphabetic()) && p.len() <= 12);
    let camel_words = v.chars().all(|c| c.is_ascii_alphabetic())
        && v.chars().filter(char::is_ascii_uppercase).count() <= v.len() / 4;
    wordy || camel_words
}

/// Code, not a value: calls, member access, environment lookups, type annotations, paths.
fn looks_like_code(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    v.contains('(')
        || v.starts_with("self.")
        || v.starts_with("this.")
        || v.starts_with("process.env")
        || lower.starts_with("os.environ")
        || lower.starts_with("env.")
        || v.starts_with('$')
        || v.starts_with('#')
        || v.starts_with("\\$")
        || v.ends_with(':')
        || v.contains("#{")
        || array_access(v)
        || lower.starts_with("arn:")
        || (v.contains('/')
            && v.split('/').all(|seg| {
                seg.chars().all(|c| {
                    c.is_ascii_alphabetic() || c == '#' || c == '_' || c == '-' || c == ':'
                })
            }))
        || v.starts_with('/')
        || v.starts_with("./")
        || lower.starts_with("http://")
        || lower.starts_with("https://")
        || matches!(
            lower.as_str(),
            "none"
                | "null"
                | "nil"
                | "true"
                | "false"
                | "undefined"
                | "string"
                | "str"
                | "optional[str]"
                | "required"
                | "optional"
        )
}

/// `$_POST["x"]`, `params['key']`: a lookup, not a value.
fn array_access(v: &str) -> bool {
    let Some(at) = v.find('[') else { return false };
    let head = v.get(..at).unwrap_or("");
    !head.is_empty()
        && head
            .trim_start_matches(['$', '\\'])
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
#[path = "assignments_tests.rs"]
mod tests;
