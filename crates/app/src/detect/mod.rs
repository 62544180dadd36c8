//! `warden scan`, `warden eval` and `warden train`: the detectors from the command line.
//!
//! `scan` reads text or JSON and prints findings; `eval` measures the detectors on labelled
//! JSONL corpora (precision, recall, F1, recall at 1% false positives, throughput); `train`
//! fits the injection classifier and writes the weights file that ships compiled in.

pub mod eval;
pub mod scan;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// Reads a JSONL file; a bad line is an error naming file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a JSON object", path.display(), i + 1))?;
        rows.push(v);
    }
    Ok(rows)
}

/// A string field of a JSON object, or "".
pub fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}
