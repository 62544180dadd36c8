//! `warden scan`: findings for a text or every string of a JSON document.

use serde::Serialize;
use serde_json::Value;
use warden_detect::{Finding, Placeholders};

/// Findings in one string of the input.
#[derive(Debug, Serialize)]
pub struct Located {
    /// JSON pointer of the string (empty for plain text).
    pub pointer: String,
    /// What was found; spans are byte offsets into that string.
    #[serde(flatten)]
    pub finding: Finding,
}

/// What `scan` returns.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every finding.
    pub findings: Vec<Located>,
    /// Highest injection score seen (0 when none).
    pub injection_score: f32,
    /// The input with findings replaced by placeholders, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted: Option<Value>,
}

/// Scans `input`: as JSON when it parses as a JSON object or array, else as text.
pub fn scan(input: &str, redact: bool) -> Report {
    let trimmed = input.trim_start();
    let json = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str::<Value>(input).ok()
    } else {
        None
    };
    let mut findings = Vec::new();
    let mut score = 0f32;
    let mut placeholders = Placeholders::default();
    let redacted = match json {
        Some(mut v) => {
            warden_detect::for_each_string(&mut v, &mut |pointer, s| {
                let (f, sc) = scan_one(s);
                score = score.max(sc);
                let out = redact.then(|| redact_text(s, &f, &mut placeholders));
                findings.extend(f.into_iter().map(|finding| Located {
                    pointer: pointer.to_owned(),
                    finding,
                }));
                out
            });
            redact.then_some(v)
        }
        None => {
            let (f, sc) = scan_one(input);
            score = sc;
            let out = redact.then(|| Value::String(redact_text(input, &f, &mut placeholders)));
            findings.extend(f.into_iter().map(|finding| Located {
                pointer: String::new(),
                finding,
            }));
            out
        }
    };
    Report {
        findings,
        injection_score: score,
        redacted,
    }
}

/// Findings and the raw injection score of one string (normalized and decoded once).
fn scan_one(s: &str) -> (Vec<Finding>, f32) {
    let input = warden_detect::Input::new(s);
    let findings = warden_detect::scan_input(&input, |_| true);
    (findings, warden_detect::injection::score(&input).value)
}

/// Redacts PII and secrets (an injection finding is reported, not cut out).
fn redact_text(s: &str, f: &[Finding], placeholders: &mut Placeholders) -> String {
    let cut: Vec<Finding> = f
        .iter()
        .filter(|x| x.kind != warden_detect::FindingKind::Injection)
        .cloned()
        .collect();
    warden_detect::redact(s, &cut, placeholders)
}

/// A readable table of a report.
pub fn table(report: &Report, source: &Value) -> String {
    let _ = source;
    let mut out = String::new();
    if report.findings.is_empty() {
        out.push_str("no findings\n");
    }
    for l in &report.findings {
        let f = &l.finding;
        out.push_str(&format!(
            "{:<7} {:<9} {:<24} {:>6}..{:<6} {:.2}  {}\n",
            f.detector,
            f.kind.as_str(),
            f.label,
            f.start,
            f.end,
            f.confidence,
            if l.pointer.is_empty() { "" } else { &l.pointer }
        ));
    }
    out.push_str(&format!(
        "injection score {:.3} (threshold {:.3})\n",
        report.injection_score,
        warden_detect::injection::threshold()
    ));
    out
}
