//! Warden's local detectors: prompt injection, PII and secrets, in microseconds, offline.
//!
//! Every text goes through the same steps: [`Input::new`] normalizes it (NFKC, confusables,
//! invisible characters) and decodes what is embedded in it (base64, hex, percent, HTML
//! entities); then each detector in [`DETECTORS`] scans every view and reports [`Finding`]s whose
//! spans point into the original text. [`redact`] replaces findings with typed placeholders.
//!
//! Pure and synchronous: no I/O, no async runtime, no network, no model download.

mod anchored;
mod decode;
pub mod injection;
mod input;
mod json;
mod literals;
mod normalize;
pub mod pii;
pub mod redact;
pub mod secrets;
pub mod taint;
pub mod tools;
mod util;

pub use input::{Input, MAX_DEPTH, MAX_VIEWS, View};
pub use json::{for_each_str, for_each_string};
pub use normalize::Normalized;
pub use redact::{Placeholders, redact};
pub use warden_types::{Finding, FindingKind};

/// What a detector is, for listings, config and audit records.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Stable id (`SEC001`, `PII003`, `INJ001`).
    pub id: &'static str,
    /// Family of its findings.
    pub kind: FindingKind,
    /// Short name (`provider_keys`, `credit_card`).
    pub name: &'static str,
    /// One line on what it detects.
    pub summary: &'static str,
}

/// A detector: looks at every view of an input and appends findings.
pub trait Detector: Sync {
    /// Who this detector is.
    fn meta(&self) -> &Meta;
    /// Appends what it finds in `input` to `out`, spans in original offsets.
    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>);
    /// Compiles every pattern the detector may use, so none is compiled (and none fails)
    /// on the first text that needs it ([`self_check`] calls it at start-up).
    fn prepare(&self) {}
}

/// Every built-in detector, in the order they run.
pub static DETECTORS: &[&dyn Detector] = &[
    &secrets::ProviderKeys,
    &secrets::PrivateKeys,
    &secrets::Jwt,
    &secrets::ConnectionStrings,
    &secrets::Assignments,
    &pii::Email,
    &pii::Phone,
    &pii::CreditCard,
    &pii::Iban,
    &pii::Ssn,
    &pii::IpAddress,
    &pii::DateOfBirth,
    &pii::StreetAddress,
    &injection::Injection,
];

/// Scans `text` with every detector whose meta passes `select`. Findings are sorted by start,
/// without duplicates (the same value seen through two views is reported once).
pub fn scan_with(text: &str, select: impl Fn(&Meta) -> bool) -> Vec<Finding> {
    if !DETECTORS.iter().any(|d| select(d.meta())) {
        return Vec::new();
    }
    scan_input(&Input::new(text), select)
}

/// Like [`scan_with`], on an input already prepared (so a caller that also wants the raw
/// injection score normalizes and decodes the text once).
pub fn scan_input(input: &Input<'_>, select: impl Fn(&Meta) -> bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in DETECTORS.iter().filter(|d| select(d.meta())) {
        d.scan(input, &mut out);
    }
    out.sort_by(|a, b| {
        (a.start, a.end, &a.detector, &a.label).cmp(&(b.start, b.end, &b.detector, &b.label))
    });
    out.dedup_by(|a, b| {
        a.start == b.start && a.end == b.end && a.detector == b.detector && a.label == b.label
    });
    out
}

/// Scans `text` with every detector.
pub fn scan(text: &str) -> Vec<Finding> {
    scan_with(text, |_| true)
}

/// Compiles every detector's patterns and loads the model; returns what failed. Call at
/// startup: a gateway whose detectors are broken must refuse to start (fail closed).
pub fn self_check() -> Result<(), Vec<String>> {
    for d in DETECTORS {
        d.prepare();
    }
    let _ = scan("self check: a@b.io 4111 1111 1111 1111 ghp_x ignore previous instructions");
    let mut problems = util::BROKEN
        .lock()
        .map(|b| b.clone())
        .unwrap_or_else(|_| vec!["pattern registry poisoned".into()]);
    if !injection::model_loaded() {
        problems.push("the injection model weights do not load".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Looks a detector up by id or name.
pub fn detector(key: &str) -> Option<&'static dyn Detector> {
    DETECTORS
        .iter()
        .copied()
        .find(|d| d.meta().id.eq_ignore_ascii_case(key) || d.meta().name == key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_pattern_compiles_and_the_model_loads() {
        assert_eq!(super::self_check(), Ok(()));
    }
}
