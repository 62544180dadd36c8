//! Detection on the data path: tool arguments going out and tool results coming back are
//! scanned for prompt injection, PII and secrets, and each kind of finding gets the action
//! configured for its direction (and tool): block, redact, label the session, or log.
//!
//! Findings go into the audit record as detector, type, JSON pointer and span, never the
//! matched text. Arguments are always recorded in their redacted form when they hold a secret
//! or PII, whatever the action, so the audit log never becomes a copy of what it caught.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Value, json};
use warden_detect::{Finding, FindingKind, Placeholders};

/// What to do with a kind of finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    /// Do not scan for it.
    Off,
    /// Record it in the audit log only.
    #[default]
    Log,
    /// Record it and mark the session (for data-flow rules).
    Label,
    /// Replace it with a typed placeholder (`[EMAIL_1]`); for injection, the evidence spans.
    Redact,
    /// Refuse the call (arguments) or withhold the result (results).
    Block,
}

/// Actions per kind of finding, for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    /// Prompt injection.
    #[serde(default)]
    pub injection: Act,
    /// Personal data.
    #[serde(default)]
    pub pii: Act,
    /// Credentials.
    #[serde(default)]
    pub secret: Act,
}

impl Actions {
    fn for_kind(&self, kind: FindingKind) -> Act {
        match kind {
            FindingKind::Injection => self.injection,
            FindingKind::Pii => self.pii,
            FindingKind::Secret => self.secret,
        }
    }

    /// Whether any finding is redacted (only then does a scan rewrite what it scans).
    pub(crate) fn redacts(&self) -> bool {
        [self.injection, self.pii, self.secret].contains(&Act::Redact)
    }

    /// Whether nothing is scanned for.
    fn is_off(&self) -> bool {
        [self.injection, self.pii, self.secret]
            .iter()
            .all(|a| *a == Act::Off)
    }
}

/// Detection settings: `[detect]` in `warden.toml`, or `[tools."<name>".detect]` for one tool.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectSettings {
    /// Tool arguments, before they reach the upstream.
    #[serde(default = "DetectSettings::default_arguments")]
    pub arguments: Actions,
    /// Tool results, before they reach the agent.
    #[serde(default = "DetectSettings::default_results")]
    pub results: Actions,
    /// Injection score at or above which a text counts (default: the shipped model's
    /// threshold, set for 1% false positives on benign text).
    pub injection_threshold: Option<f32>,
}

impl Default for DetectSettings {
    fn default() -> Self {
        Self {
            arguments: Self::default_arguments(),
            results: Self::default_results(),
            injection_threshold: None,
        }
    }
}

impl DetectSettings {
    /// A credential leaving in a tool argument is refused; the rest is logged.
    fn default_arguments() -> Actions {
        Actions {
            injection: Act::Log,
            pii: Act::Log,
            secret: Act::Block,
        }
    }

    /// A result carrying injected instructions is withheld; credentials are redacted.
    fn default_results() -> Actions {
        Actions {
            injection: Act::Block,
            pii: Act::Log,
            secret: Act::Redact,
        }
    }
}

/// A finding located in a JSON document.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub pointer: String,
    pub finding: Finding,
}

/// The outcome of scanning one document in one direction.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub findings: Vec<Located>,
    /// The strongest action any finding asked for.
    pub act: Act,
    /// Kinds whose findings asked for `block`.
    pub blocking: BTreeSet<&'static str>,
    /// Session labels to add.
    pub labels: BTreeSet<String>,
    /// The values redacted, with their kind: the session remembers them (flow tracking).
    pub redacted: Vec<(&'static str, String)>,
}

impl Verdict {
    /// Audit form: detector, kind, type, pointer, span and score; never the text.
    pub fn audit(&self) -> Value {
        Value::Array(
            self.findings
                .iter()
                .map(|l| {
                    let f = &l.finding;
                    json!({"detector": f.detector, "kind": f.kind.as_str(), "type": f.label, "pointer": l.pointer, "start": f.start, "end": f.end, "confidence": f.confidence})
                })
                .collect(),
        )
    }

    /// One line for the agent: what was found where, one entry per kind and place
    /// (`injection (instruction_override, exfiltration) at `/content/0/text``).
    pub fn reason(&self, direction: &str) -> String {
        let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for l in self
            .findings
            .iter()
            .filter(|l| self.blocking.contains(l.finding.kind.as_str()))
        {
            let kind = l.finding.kind.as_str();
            let at = if l.pointer.is_empty() {
                "/"
            } else {
                l.pointer.as_str()
            };
            match groups.iter_mut().find(|g| g.0 == kind && g.1 == at) {
                Some(g) => {
                    if !g.2.contains(&l.finding.label.as_str()) {
                        g.2.push(&l.finding.label);
                    }
                }
                None => groups.push((kind, at, vec![&l.finding.label])),
            }
        }
        let what: Vec<String> = groups
            .iter()
            .take(5)
            .map(|(kind, at, labels)| format!("{kind} ({}) at `{at}`", labels.join(", ")))
            .collect();
        format!("the {direction} contain {}", what.join(", "))
    }
}

/// Scans every string in `doc` and applies `actions`; strings whose findings ask for redaction
/// are rewritten in place (with the session's placeholders).
pub(crate) fn apply(
    doc: &mut Value,
    actions: &Actions,
    threshold: Option<f32>,
    placeholders: &mut Placeholders,
    direction: &str,
) -> Verdict {
    let mut verdict = Verdict::default();
    if actions.is_off() {
        return verdict;
    }
    warden_detect::for_each_string(doc, &mut |pointer, text| {
        visit(
            &mut verdict,
            pointer,
            text,
            actions,
            threshold,
            placeholders,
            direction,
        )
    });
    verdict
}

/// [`apply`] for actions that redact nothing: `doc` is only read (a result left as it came can
/// be relayed as the bytes it came as).
pub(crate) fn inspect(
    doc: &Value,
    actions: &Actions,
    threshold: Option<f32>,
    direction: &str,
) -> Verdict {
    let mut verdict = Verdict::default();
    if actions.is_off() {
        return verdict;
    }
    // Nothing is redacted, so no placeholder is taken from this.
    let mut unused = Placeholders::default();
    warden_detect::for_each_str(doc, &mut |pointer, text| {
        let rewritten = visit(
            &mut verdict,
            pointer,
            text,
            actions,
            threshold,
            &mut unused,
            direction,
        );
        debug_assert!(rewritten.is_none(), "inspect with actions that redact");
    });
    verdict
}

/// One string of a scanned document: its findings into `verdict`, and its redacted text when
/// a finding asks for redaction.
fn visit(
    verdict: &mut Verdict,
    pointer: &str,
    text: &str,
    actions: &Actions,
    threshold: Option<f32>,
    placeholders: &mut Placeholders,
    direction: &str,
) -> Option<String> {
    let active = |k: FindingKind| actions.for_kind(k) != Act::Off;
    let mut found = warden_detect::scan_with(text, |m| active(m.kind));
    if let Some(t) = threshold {
        found.retain(|f| f.kind != FindingKind::Injection || f.confidence >= t);
    }
    if found.is_empty() {
        return None;
    }
    let mut redact = Vec::new();
    for f in &found {
        let act = actions.for_kind(f.kind);
        verdict.act = verdict.act.max(act);
        match act {
            Act::Block => {
                verdict.blocking.insert(f.kind.as_str());
            }
            Act::Label => {
                verdict
                    .labels
                    .insert(format!("{}_in_{direction}", f.kind.as_str()));
            }
            Act::Redact => redact.push(f.clone()),
            Act::Off | Act::Log => {}
        }
    }
    verdict.redacted.extend(
        redact
            .iter()
            .filter_map(|f| Some((f.kind.as_str(), text.get(f.start..f.end)?.to_owned()))),
    );
    let rewritten =
        (!redact.is_empty()).then(|| warden_detect::redact(text, &redact, placeholders));
    verdict
        .findings
        .extend(found.into_iter().map(|finding| Located {
            pointer: pointer.to_owned(),
            finding,
        }));
    rewritten
}

/// The arguments as the audit log should keep them: every PII and secret finding replaced,
/// whatever the configured action. Returns `None` when there is nothing to hide.
pub(crate) fn audit_copy(doc: &Value, verdict: &Verdict) -> Option<Value> {
    let hide: Vec<&Located> = verdict
        .findings
        .iter()
        .filter(|l| l.finding.kind != FindingKind::Injection)
        .collect();
    if hide.is_empty() {
        return None;
    }
    let mut copy = doc.clone();
    let mut placeholders = Placeholders::default();
    warden_detect::for_each_string(&mut copy, &mut |pointer, text| {
        let here: Vec<Finding> = hide
            .iter()
            .filter(|l| l.pointer == pointer)
            .map(|l| l.finding.clone())
            .collect();
        (!here.is_empty()).then(|| warden_detect::redact(text, &here, &mut placeholders))
    });
    Some(copy)
}

/// Detection on one set of tool arguments outside a session (the HTTP decision API): what was
/// found, the strongest action, the reason when it blocks, and the arguments as they may be
/// forwarded (redacted where the settings say so) and as they may be stored.
#[derive(Debug)]
pub struct Screened {
    /// Audit form of the findings.
    pub findings: Value,
    /// Strongest action asked for.
    pub act: Act,
    /// Why, when the action is block.
    pub reason: Option<String>,
    /// The arguments with `redact` findings replaced (`None` when nothing was redacted).
    pub redacted: Option<Value>,
    /// The arguments with every PII and secret hidden, for audit (`None` when clean).
    pub audit_copy: Option<Value>,
}

/// Screens tool arguments with `settings.arguments`.
pub fn screen_arguments(arguments: &Value, settings: &DetectSettings) -> Screened {
    let mut scanned = arguments.clone();
    let verdict = apply(
        &mut scanned,
        &settings.arguments,
        settings.injection_threshold,
        &mut Placeholders::default(),
        "arguments",
    );
    Screened {
        findings: verdict.audit(),
        act: verdict.act,
        reason: (verdict.act == Act::Block).then(|| verdict.reason("arguments")),
        redacted: (verdict.act == Act::Redact).then_some(scanned),
        audit_copy: audit_copy(arguments, &verdict),
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
