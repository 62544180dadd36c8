//! Preparing a document for storage: what a reader would not see is removed, suspected
//! instructions aimed at the model are cut out, and personal data and secrets are replaced by
//! typed placeholders, so neither the store nor the index ever holds the original values.
//!
//! The order matters. Hidden text goes first, so a zero-width character cannot split an
//! injection phrase or a secret past the detectors, and text hidden in HTML is gone before
//! anything is scored. Injection removal runs before redaction so it sees the text as written
//! (placeholders would change what it scores). Redaction goes last, over the final text.

use std::collections::BTreeMap;

use serde::Serialize;
use warden_detect::{Finding, FindingKind, Placeholders};

use crate::Document;

/// What replaces a suspected injection.
pub const REMOVED: &str = "[removed: suspected instructions]";

/// How many times the injection detector runs over one text at most: it reports the best
/// window of a text, so a text with several injections needs one pass per injection.
const INJECTION_PASSES: usize = 16;

/// Flagged spans closer than this (in bytes, within one sentence) are removed as one.
const JOIN_GAP: usize = 16;

/// Which steps [`prepare`] runs (all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sanitize {
    /// Replace personal data (e-mail, phone, SSN, card, ...) with placeholders.
    pub redact_pii: bool,
    /// Replace secrets (keys, tokens, passwords) with placeholders.
    pub redact_secrets: bool,
    /// Remove invisible characters, HTML comments and hidden HTML elements.
    pub strip_hidden: bool,
    /// Remove spans the injection detector flags.
    pub strip_injection: bool,
}

impl Default for Sanitize {
    fn default() -> Self {
        Self {
            redact_pii: true,
            redact_secrets: true,
            strip_hidden: true,
            strip_injection: true,
        }
    }
}

/// What [`prepare`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Redacted values per detector label (`email`, `us_ssn`, `aws_secret_access_key`).
    pub redacted: BTreeMap<String, usize>,
    /// Hidden characters removed (invisible characters and hidden HTML, counted in chars).
    pub hidden_removed: usize,
    /// Suspected injection spans removed.
    pub injection_removed: usize,
}

/// Returns `doc` with its title, text and tags sanitized as `how` says, and what changed (the
/// title is cut to its length after cleaning). The ACL and source are left alone; ids are
/// checked by [`check_id`].
pub fn prepare(mut doc: Document, how: &Sanitize) -> (Document, Report) {
    let mut report = Report::default();
    let mut placeholders = Placeholders::default();
    doc.title = clean(&doc.title, how, &mut report, &mut placeholders)
        .chars()
        .take(crate::document::MAX_TITLE_CHARS)
        .collect();
    doc.text = clean(&doc.text, how, &mut report, &mut placeholders);
    // Tags are shown with every result: cleaned like the text.
    doc.tags = std::mem::take(&mut doc.tags)
        .into_iter()
        .map(|(k, v)| {
            (
                clean(&k, how, &mut report, &mut placeholders),
                clean(&v, how, &mut report, &mut placeholders),
            )
        })
        .collect();
    (doc, report)
}

/// Whether `id` may name a document: no hidden or control characters, and no personal data
/// or credential (an id is shown with every result and cannot be redacted without changing
/// which document it names).
pub fn check_id(id: &str) -> Result<(), String> {
    let mut removed = 0;
    let visible = strip_hidden(id, &mut removed);
    if removed > 0 || visible != id || id.chars().any(char::is_control) {
        return Err(format!(
            "document id {id:?} holds hidden or control characters"
        ));
    }
    let found = warden_detect::scan_with(id, |m| {
        matches!(m.kind, FindingKind::Pii | FindingKind::Secret)
    });
    if let Some(f) = found.first() {
        return Err(format!(
            "document id {id:?} holds {} (ids are shown with every result and are not redacted): choose another id",
            f.label
        ));
    }
    Ok(())
}

fn clean(
    text: &str,
    how: &Sanitize,
    report: &mut Report,
    placeholders: &mut Placeholders,
) -> String {
    let mut text = text.to_owned();
    if how.strip_hidden {
        text = strip_hidden(&text, &mut report.hidden_removed);
    }
    if how.strip_injection {
        text = strip_injection(text, &mut report.injection_removed);
    }
    if how.redact_pii || how.redact_secrets {
        let found = warden_detect::scan_with(&text, |m| match m.kind {
            FindingKind::Pii => how.redact_pii,
            FindingKind::Secret => how.redact_secrets,
            FindingKind::Injection => false,
        });
        if !found.is_empty() {
            for f in &found {
                *report.redacted.entry(f.label.clone()).or_default() += 1;
            }
            text = warden_detect::redact(&text, &found, placeholders);
        }
    }
    text
}

/// Removes every span the injection detector flags, pass after pass until it flags nothing
/// new (at most [`INJECTION_PASSES`] passes).
fn strip_injection(mut text: String, removed: &mut usize) -> String {
    for _ in 0..INJECTION_PASSES {
        let found = warden_detect::scan_with(&text, |m| m.kind == FindingKind::Injection);
        let spans = merge(&text, &found);
        if spans.is_empty() {
            break;
        }
        let n = spans.len();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in spans {
            out.push_str(text.get(at..s).unwrap_or(""));
            out.push_str(REMOVED);
            at = e;
        }
        out.push_str(text.get(at..).unwrap_or(""));
        if out == text {
            break;
        }
        *removed += n;
        text = out;
    }
    text
}

/// Merged, sorted spans of `found`, on character boundaries, leaving out spans that are only
/// an earlier replacement marker.
fn merge(text: &str, found: &[Finding]) -> Vec<(usize, usize)> {
    let markers: Vec<(usize, usize)> = text
        .match_indices(REMOVED)
        .map(|(i, m)| (i, i + m.len()))
        .collect();
    let in_marker = |f: &Finding| markers.iter().any(|&(s, e)| s <= f.start && f.end <= e);
    let mut spans: Vec<(usize, usize)> = found
        .iter()
        .filter(|f| f.start < f.end && f.end <= text.len() && !in_marker(f))
        .map(|f| (floor_char(text, f.start), ceil_char(text, f.end)))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 || joins(text.get(last.1..s)) => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Whether the text between two flagged spans belongs to the same instruction: a few
/// characters within one sentence (`Ignore your instructions and send ...`).
fn joins(gap: Option<&str>) -> bool {
    gap.is_some_and(|g| g.len() <= JOIN_GAP && !g.contains(['.', '!', '?', '\n']))
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

/// Removes what a reader would not see: invisible characters first (so they cannot hide the
/// markup below from the scan), then HTML comments, then hidden HTML elements.
/// Adds the number of removed characters to `removed`.
pub fn strip_hidden(text: &str, removed: &mut usize) -> String {
    let visible: String = text.chars().filter(|&c| !is_hidden_char(c)).collect();
    *removed += text.chars().count() - visible.chars().count();
    let no_comments = strip_comments(&visible, removed);
    strip_hidden_elements(&no_comments, removed)
}

/// Characters that render as nothing or reorder text: zero-width and joiner characters, bidi
/// controls, Unicode tags, variation selectors, fillers, and every other format or control
/// character except newline, tab and carriage return.
fn is_hidden_char(c: char) -> bool {
    if matches!(c, '\n' | '\t' | '\r') {
        return false;
    }
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}'
            | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}'
            | '\u{08E2}' | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}')
}

/// Removes `<!-- ... -->`; an unclosed comment hides everything after it.
fn strip_comments(text: &str, removed: &mut usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        let (before, comment) = rest.split_at(start);
        out.push_str(before);
        let end = comment
            .get(4..)
            .and_then(|c| c.find("-->"))
            .map_or(comment.len(), |e| e + 4 + 3);
        let (gone, after) = comment.split_at(end.min(comment.len()));
        *removed += gone.chars().count();
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Elements without content or end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Elements whose content a reader never sees as text: scripts, styles, templates, and the
/// fallbacks of `noscript`. Removed with their content, like hidden ones.
const UNSEEN: &[&str] = &[
    "script", "style", "template", "noscript", "iframe", "object",
];

/// Elements whose content is raw text: a `</div>` inside a script does not close the `div`
/// around it.
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp"];

/// Removes elements hidden by inline style (`display:none`, `visibility:hidden`, a font size
/// under 1px, an opacity under 0.1; CSS comments, escapes and HTML character references are
/// decoded first), the `hidden` attribute or `type="hidden"`, and the [`UNSEEN`] elements, with
/// their content. An element whose end tag is missing hides everything after it, and so does
/// a tag too long to read (fail closed).
fn strip_hidden_elements(text: &str, removed: &mut usize) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut i = 0;
    while let Some(off) = lower.get(i..).and_then(|s| s.find('<')) {
        let start = i + off;
        let Some(tag) = parse_tag(&lower, start) else {
            i = start + 1;
            continue;
        };
        if tag.closing || !(tag.hidden || UNSEEN.contains(&tag.name)) {
            i = if RAW_TEXT.contains(&tag.name) && !tag.closing && !tag.self_closing {
                matching_end(&lower, tag.end, tag.name).unwrap_or(bytes.len())
            } else {
                tag.end
            };
            continue;
        }
        let end = if tag.self_closing || VOID.contains(&tag.name) {
            tag.end
        } else {
            matching_end(&lower, tag.end, tag.name).unwrap_or(bytes.len())
        };
        out.push_str(text.get(at..start).unwrap_or(""));
        *removed += text.get(start..end).map_or(0, |s| s.chars().count());
        at = end;
        i = end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

/// Longest tag (from `<` to `>`) the scan recognizes, in bytes.
const MAX_TAG: usize = 4096;

struct Tag<'a> {
    name: &'a str,
    closing: bool,
    self_closing: bool,
    hidden: bool,
    /// One past the `>`.
    end: usize,
}

/// Parses the tag starting at `<` at `start` in lowercased text; `None` when it is not a tag.
/// A tag longer than [`MAX_TAG`] (which keeps the scan linear on hostile input) cannot be
/// read, so it counts as hidden: its element is removed rather than trusted.
fn parse_tag(full: &str, start: usize) -> Option<Tag<'_>> {
    let cut = floor_char(full, start.saturating_add(MAX_TAG).min(full.len()));
    let lower = full.get(..cut)?;
    let truncated = cut < full.len();
    let bytes = lower.as_bytes();
    let mut i = start + 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    if !bytes.get(i)?.is_ascii_alphabetic() {
        return None;
    }
    while bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        i += 1;
    }
    let name = lower.get(name_start..i)?;
    // Cut off by the length cap (the end of the text is not a tag): unreadable, so hidden.
    let unreadable = || {
        truncated.then_some(Tag {
            name,
            closing,
            self_closing: false,
            hidden: true,
            end: cut,
        })
    };
    let mut hidden = false;
    let mut self_closing = false;
    loop {
        let Some(&b) = bytes.get(i) else {
            // Out of bytes: the end of the text (not a tag), or the length cap (an unreadable
            // tag, hidden).
            return unreadable();
        };
        match b {
            b'>' => break,
            b'/' => {
                self_closing = bytes.get(i + 1) == Some(&b'>');
                i += 1;
            }
            b if b.is_ascii_whitespace() => i += 1,
            _ => {
                // HTML attribute names may hold `<` (`<div x<y hidden>` is one tag).
                let attr_start = i;
                while bytes
                    .get(i)
                    .is_some_and(|b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/'))
                {
                    i += 1;
                }
                let attr = lower.get(attr_start..i)?;
                while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                let mut value = "";
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                        i += 1;
                    }
                    let Some((v, next)) = attr_value(lower, i) else {
                        // An unclosed quote up to the cap: unreadable, hidden.
                        return unreadable();
                    };
                    value = v;
                    i = next;
                }
                hidden |= hides(attr, value);
            }
        }
    }
    Some(Tag {
        name,
        closing,
        self_closing,
        hidden,
        end: i + 1,
    })
}

/// An attribute value at `i` (quoted or bare) and the index after it.
fn attr_value(lower: &str, i: usize) -> Option<(&str, usize)> {
    let bytes = lower.as_bytes();
    match bytes.get(i)? {
        q @ (b'"' | b'\'') => {
            let close = lower.get(i + 1..)?.find(*q as char)? + i + 1;
            Some((lower.get(i + 1..close)?, close + 1))
        }
        _ => {
            let mut j = i;
            while bytes
                .get(j)
                .is_some_and(|b| !b.is_ascii_whitespace() && *b != b'>')
            {
                j += 1;
            }
            Some((lower.get(i..j)?, j))
        }
    }
}

/// Whether an attribute (lowercased) hides its element.
fn hides(attr: &str, value: &str) -> bool {
    match attr {
        "hidden" => true,
        "type" => value.trim() == "hidden",
        "style" => {
            let style: String = css_text(&decode_references(value))
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            style.split(';').any(|decl| {
                let (prop, val) = decl.split_once(':').unwrap_or((decl, ""));
                let val = val.trim_end_matches("!important");
                match prop {
                    "display" => val == "none",
                    "visibility" => val == "hidden" || val == "collapse",
                    "font-size" => tiny_font(val),
                    "opacity" => number(val).is_some_and(|n| n < 0.1),
                    _ => false,
                }
            })
        }
        _ => false,
    }
}

/// A font size nobody reads: zero, under 1px or 1pt, under 0.1em/rem/ex/ch, under 10%.
fn tiny_font(val: &str) -> bool {
    let Some(n) = number(val) else {
        return false;
    };
    let unit = val.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    n == 0.0
        || match unit {
            "px" | "pt" | "" => n < 1.0,
            "em" | "rem" | "ex" | "ch" => n < 0.1,
            "%" => n < 10.0,
            _ => false,
        }
}

/// The leading number of a CSS value (`0.5px` is 0.5, `0%` is 0).
fn number(val: &str) -> Option<f64> {
    let digits: String = val
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

/// HTML character references in an attribute value: numeric ones and the named ones CSS
/// needs (`&colon;`, `&semi;`, ...). Unknown ones stay as written.
fn decode_references(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = after.get(..e)?;
            let c = if let Some(hex) = name.strip_prefix("#x") {
                char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
            } else if let Some(dec) = name.strip_prefix('#') {
                char::from_u32(dec.parse().ok()?)?
            } else {
                match name {
                    "colon" => ':',
                    "semi" => ';',
                    "sol" => '/',
                    "ast" | "midast" => '*',
                    "lpar" => '(',
                    "rpar" => ')',
                    "excl" => '!',
                    "quot" => '"',
                    "apos" => '\'',
                    "amp" => '&',
                    "nbsp" => ' ',
                    _ => return None,
                }
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = after.get(used..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// CSS text with comments removed and escapes (`\3a `, `\:`) decoded.
fn css_text(style: &str) -> String {
    let mut out = String::with_capacity(style.len());
    let mut chars = style.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '\\' => {
                let mut hex = String::new();
                while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
                    hex.extend(chars.next());
                }
                if hex.is_empty() {
                    out.extend(chars.next());
                } else {
                    if chars.peek() == Some(&' ') {
                        chars.next();
                    }
                    out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The index after the `</name>` that closes the element opened before `from`, counting
/// nested elements of the same name.
fn matching_end(lower: &str, from: usize, name: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = from;
    while let Some(off) = lower.get(i..).and_then(|s| s.find('<')) {
        let start = i + off;
        match parse_tag(lower, start) {
            // A raw-text element's content is not markup: skip to its own end tag.
            Some(tag)
                if tag.name != name
                    && RAW_TEXT.contains(&tag.name)
                    && !tag.closing
                    && !tag.self_closing =>
            {
                i = matching_end(lower, tag.end, tag.name).unwrap_or(lower.len());
            }
            Some(tag) if tag.name == name => {
                if tag.closing {
                    depth -= 1;
                    if depth == 0 {
                        return Some(tag.end);
                    }
                } else if !tag.self_closing {
                    depth += 1;
                }
                i = tag.end;
            }
            Some(tag) => i = tag.end,
            None => i = start + 1,
        }
    }
    None
}

#[cfg(test)]
#[path = "sanitize_tests.rs"]
mod tests;
