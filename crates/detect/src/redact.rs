//! Redaction: replaces findings with typed placeholders (`[EMAIL_1]`, `[GITHUB_TOKEN_2]`).
//!
//! The same value gets the same placeholder for as long as one [`Placeholders`] lives (a
//! session), so an agent can still tell two customers apart without seeing either. Overlapping
//! findings are merged first, so no byte of any detected value survives.

use std::collections::HashMap;

use crate::Finding;
use crate::util::{ceil_char, floor_char};

/// Placeholder numbering, per session.
#[derive(Debug, Default, Clone)]
pub struct Placeholders {
    by_value: HashMap<(String, String), String>,
    next: HashMap<String, usize>,
}

impl Placeholders {
    /// The placeholder for `value` of type `label`.
    pub fn get(&mut self, label: &str, value: &str) -> String {
        let key = (label.to_owned(), value.to_owned());
        if let Some(p) = self.by_value.get(&key) {
            return p.clone();
        }
        let n = self.next.entry(label.to_owned()).or_insert(0);
        *n += 1;
        let p = format!("[{}_{}]", label.to_ascii_uppercase(), n);
        self.by_value.insert(key, p.clone());
        p
    }
}

/// Returns `text` with every finding replaced by its placeholder. Overlapping or touching
/// spans become one replacement (typed after the longest finding in the group).
pub fn redact(text: &str, findings: &[Finding], placeholders: &mut Placeholders) -> String {
    let mut spans: Vec<(usize, usize, &str)> = findings
        .iter()
        .filter(|f| f.start < f.end && f.end <= text.len())
        .map(|f| (f.start, f.end, f.label.as_str()))
        .collect();
    spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
    let mut merged: Vec<(usize, usize, &str)> = Vec::new();
    for (s, e, label) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => {
                if e - s > last.1 - last.0 {
                    last.2 = label;
                }
                last.1 = last.1.max(e);
            }
            _ => merged.push((s, e, label)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e, label) in merged {
        let (s, e) = (floor_char(text, s), ceil_char(text, e));
        if s < at {
            continue;
        }
        out.push_str(text.get(at..s).unwrap_or(""));
        out.push_str(&placeholders.get(label, text.get(s..e).unwrap_or("")));
        at = e;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
