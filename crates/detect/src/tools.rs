//! Scanning tool definitions before an agent sees them: hidden or steering instructions in a
//! tool's description and schema (the injection detectors; telling the model to keep things
//! from the user, to read credentials, or to call other tools; invisible characters), and
//! names that shadow or imitate another server's tools.

use std::sync::LazyLock;

use regex::bytes::Regex;
use serde_json::{Value, json};

use crate::FindingKind;

/// One problem in a tool definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolFinding {
    /// `injection`, `concealment`, `credentials`, `cross_tool`, `invisible`, `shadowing`.
    pub kind: &'static str,
    /// JSON pointer into the definition (`/description`, `/inputSchema/properties/x/description`).
    pub pointer: String,
    /// What was found, for a person (never more than a short excerpt).
    pub detail: String,
}

impl ToolFinding {
    /// Audit and listing form.
    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind, "pointer": self.pointer, "detail": self.detail})
    }
}

struct Rule {
    kind: &'static str,
    re: Regex,
    /// Telling the model which tool to use when: steering in a tool's description, the very
    /// purpose of a server's instructions.
    tool_guidance: bool,
}

fn rule(kind: &'static str, pattern: &str) -> Rule {
    Rule {
        kind,
        re: crate::util::pattern(pattern),
        tool_guidance: false,
    }
}

fn guidance(pattern: &str) -> Rule {
    Rule {
        tool_guidance: true,
        ..rule("cross_tool", pattern)
    }
}

/// Steering that has no place in a tool's description.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(
            "concealment",
            r"(?i)\b(?:do\s+not|don'?t|never|without)\s+(?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|reveal(?:ing)?|notify(?:ing)?|show(?:ing)?|alert(?:ing)?)\s+(?:this\s+to\s+)?(?:the\s+)?user\b",
        ),
        rule(
            "concealment",
            r"(?i)\b(?:the\s+)?user\s+(?:must|should|need)\s+(?:not|never)\s+(?:know|see|be\s+told|find\s+out)\b",
        ),
        rule(
            "concealment",
            r"(?i)\bkeep\s+(?:this|it|these)\s+(?:secret|hidden|confidential)\s+from\b",
        ),
        rule(
            "credentials",
            r"(?i)(?:~/|\$HOME/|/home/\w+/)\.(?:ssh|aws|gnupg|kube|docker|netrc|config/gcloud)\b|\bid_(?:rsa|ed25519|ecdsa)\b|\bmcp\.json\b|\.cursor/|\bclaude_desktop_config\.json\b|/etc/(?:passwd|shadow)\b",
        ),
        rule(
            "credentials",
            r"(?i)\b(?:read|send|include|pass|attach|append|upload|copy)\b[^.\n]{0,60}\b(?:private\s+keys?|ssh\s+keys?|api[\s_-]?keys?|access\s+tokens?|credentials|passwords?)\b[^.\n]{0,60}\b(?:as|in(?:to)?|to)\s+(?:the\s+)?(?:parameter|argument|field|sidenote|note|request|body)\b",
        ),
        guidance(
            r"(?i)\b(?:before|after|instead\s+of)\s+(?:using|calling|invoking|running)\s+(?:this|any|the\s+\w+|other|another)\s+tools?\b[^.\n]{0,80}\b(?:must|always|first|call|use|invoke|run)\b",
        ),
        guidance(
            r"(?i)\b(?:you\s+must|always|first)\s+(?:call|use|invoke|run)\s+(?:the\s+)?`?[a-z][\w.-]*`?\s+tool\b",
        ),
        rule(
            "cross_tool",
            r"(?i)\bwhen\s+(?:this|the)\s+tool\s+is\s+(?:available|present|installed|enabled)\b",
        ),
        rule(
            "cross_tool",
            r"(?i)<\s*/?\s*(?:important|instructions?|system|secret|hidden)\s*>",
        ),
    ]
});

/// Characters a description has no reason to hide: zero-width and joiners, bidirectional
/// controls, Unicode tags, and the rest of the invisible set the normalizer drops.
fn is_hidden(c: char) -> bool {
    matches!(c, '\u{E0000}'..='\u{E007F}') || crate::normalize::is_invisible(c)
}

/// Scans one tool definition (as listed).
pub fn scan_tool(tool: &Value) -> Vec<ToolFinding> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    for key in ["title", "description"] {
        if let Some(text) = tool.get(key).and_then(Value::as_str) {
            fields.push((format!("/{key}"), text.to_owned()));
        }
    }
    for key in ["inputSchema", "outputSchema"] {
        if let Some(schema) = tool.get(key) {
            crate::json::for_each_str(schema, &mut |pointer, text| {
                fields.push((format!("/{key}{pointer}"), text.to_owned()));
            });
        }
    }
    for (pointer, text) in &fields {
        scan_field(pointer, text, true, &mut out);
    }
    out.dedup_by(|a, b| a.kind == b.kind && a.pointer == b.pointer);
    out
}

/// Scans a server's `instructions` (its `initialize` or `server/discover` result), which
/// reach the model as a description does. Telling the model which tool to use when is what
/// instructions are for, so the two rules about that ("always call X", "before using Y") do
/// not apply; every other rule does, the `cross_tool` ones about other servers' tools and
/// hidden-instruction tags included.
pub fn scan_instructions(text: &str) -> Vec<ToolFinding> {
    let mut out = Vec::new();
    scan_field("/instructions", text, false, &mut out);
    out.dedup_by(|a, b| a.kind == b.kind && a.pointer == b.pointer);
    out
}

/// One text field of a definition (or a server's instructions); `guidance`: whether the rules
/// about which tool to use when apply.
fn scan_field(pointer: &str, text: &str, guidance: bool, out: &mut Vec<ToolFinding>) {
    let hidden = text.chars().filter(|c| is_hidden(*c)).count();
    if hidden > 0 {
        out.push(ToolFinding {
            kind: "invisible",
            pointer: pointer.to_owned(),
            detail: format!("{hidden} invisible character(s)"),
        });
    }
    for r in RULES.iter().filter(|r| guidance || !r.tool_guidance) {
        if let Some(m) = r.re.find(text.as_bytes()) {
            out.push(ToolFinding {
                kind: r.kind,
                pointer: pointer.to_owned(),
                detail: excerpt(&String::from_utf8_lossy(m.as_bytes())),
            });
        }
    }
    // The injection rules, not the classifier's whole-text score: a description is addressed
    // to the model by nature ("this tool now grants you internet access"), so only what the
    // rules name (an override, a redirection, an exfiltration) counts.
    for f in crate::scan_with(text, |m| m.kind == FindingKind::Injection)
        .into_iter()
        .filter(|f| f.label != "prompt_injection")
    {
        out.push(ToolFinding {
            kind: "injection",
            pointer: pointer.to_owned(),
            detail: format!("{} ({:.2})", f.label, f.confidence),
        });
    }
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Whether tool `name` shadows or imitates a tool of another server in `others` (its name):
/// the same name, the same once case, separators and look-alike characters are folded, or one
/// edit away for names of five bytes to [`MAX_EDITED`] characters.
pub fn shadows<'a>(name: &str, others: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let others: Vec<&str> = others.into_iter().collect();
    let index = NameIndex::new(others.iter().copied());
    index
        .close(name)
        .first()
        .and_then(|&i| others.get(i))
        .map(|o| (*o).to_owned())
}

/// Names longer than this (folded, in characters) are matched only when they fold to the
/// same name, not one edit apart: the MCP specification suggests tool names of at most 128
/// characters, and indexing every one-character deletion of a longer name would cost memory
/// and time quadratic in a length a hostile server chooses (up to 128, the keys are bounded by
/// the listing's size).
pub const MAX_EDITED: usize = 128;

/// Tool names folded once, to find which of them each of many names shadows ([`shadows`])
/// without comparing every pair: a listing's names are checked against every other server's.
/// Names one edit apart share a string once one character (or none) is deleted from each, so
/// the index keeps those deletions (their hashes) and a lookup checks only the names that
/// share one.
#[derive(Debug, Default)]
pub struct NameIndex {
    folded: Vec<String>,
    /// (hash of a key, position of the name), sorted: each folded name, and each of its
    /// one-character deletions (names of five bytes to [`MAX_EDITED`] characters).
    keys: Vec<(u64, usize)>,
}

impl NameIndex {
    /// Indexes `names` (positions as given).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = Self::default();
        for (i, name) in names.into_iter().enumerate() {
            let folded = fold_name(name);
            let edited = folded.chars().count() <= MAX_EDITED;
            index
                .keys
                .extend(deletions(&folded, edited).map(|key| (key, i)));
            index.folded.push(folded);
        }
        index.keys.sort_unstable();
        index.keys.dedup();
        index
    }

    /// Positions, in order, of the indexed names that `name` shadows or imitates.
    pub fn close(&self, name: &str) -> Vec<usize> {
        self.close_folded(&fold_name(name))
    }

    /// [`close`](Self::close) for a name already folded ([`fold_name`]).
    pub fn close_folded(&self, folded: &str) -> Vec<usize> {
        // A name one longer than the longest edited ones may be one insertion from them.
        let edited = folded.chars().count() <= MAX_EDITED + 1;
        let mut out: Vec<usize> = deletions(folded, edited)
            .flat_map(|key| {
                let from = self.keys.partition_point(|(k, _)| *k < key);
                self.keys
                    .get(from..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(move |(k, _)| *k == key)
                    .map(|(_, i)| *i)
            })
            .filter(|&i| {
                self.folded.get(i).is_some_and(|o| {
                    o == folded || (folded.len() >= 5 && o.len() >= 5 && one_edit(folded, o))
                })
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The hash of `folded` itself, then (with `edited`, when it is five bytes or more) of each
/// string one character shorter.
fn deletions(folded: &str, edited: bool) -> impl Iterator<Item = u64> + '_ {
    let shorter = (edited && folded.len() >= 5).then(|| {
        folded.char_indices().map(move |(at, c)| {
            let (head, tail) = folded.as_bytes().split_at(at);
            fnv1a(
                head.iter()
                    .chain(tail.get(c.len_utf8()..).unwrap_or_default()),
            )
        })
    });
    std::iter::once(fnv1a(folded.as_bytes())).chain(shorter.into_iter().flatten())
}

/// A key's hash, FNV-1a (names that share one are compared in full).
fn fnv1a<'a>(bytes: impl IntoIterator<Item = &'a u8>) -> u64 {
    use crate::util::{FNV_OFFSET, fnv_byte};
    bytes.into_iter().fold(FNV_OFFSET, |h, &b| fnv_byte(h, b))
}

/// A tool name as names are compared for shadowing: lower case, NFKC, confusable skeleton,
/// no separators.
pub fn fold_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_security::skeleton;
    let nfkc: String = name.nfkc().collect();
    skeleton(&nfkc)
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .collect()
}

/// Whether `a` and `b` differ by exactly one insertion, deletion or substitution.
fn one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 || a == b {
        return false;
    }
    let mut i = 0;
    while i < short.len() && short.get(i) == long.get(i) {
        i += 1;
    }
    if short.len() == long.len() {
        short.get(i + 1..) == long.get(i + 1..)
    } else {
        short.get(i..) == long.get(i + 1..)
    }
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
