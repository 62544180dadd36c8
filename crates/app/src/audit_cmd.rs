//! `warden audit tail | verify | export`.
#![expect(
    clippy::indexing_slicing,
    reason = "indexing a serde_json::Value by key yields Null, it never panics"
)]

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use warden_audit::{Reader, Record};

/// One record as a JSON line.
pub fn json_line(record: &Record) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// One record as a readable line.
pub fn text_line(record: &Record) -> String {
    let body: serde_json::Value = serde_json::from_str(&record.body).unwrap_or_default();
    let summary = match record.kind {
        warden_types::AuditKind::Decision => format!(
            "{} {} {} -> {} [{}]",
            body["agent"].as_str().unwrap_or("?"),
            body["method"].as_str().unwrap_or("?"),
            body["resource"].as_str().unwrap_or("?"),
            body["decision"]["outcome"].as_str().unwrap_or("?"),
            body["decision"]["policies"]
                .as_array()
                .map(|p| p
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(","))
                .unwrap_or_default(),
        ),
        _ => record.body.clone(),
    };
    let problem = record
        .problem
        .as_ref()
        .map(|p| format!(" (UNREADABLE: {p})"))
        .unwrap_or_default();
    format!(
        "{:>6} {} {:<9} {summary}{problem}",
        record.seq,
        record.ts,
        record.kind.as_str()
    )
}

/// Prints the last `n` records.
pub fn tail(path: &Path, n: i64, json: bool, out: &mut impl Write) -> Result<()> {
    if !path.exists() {
        bail!("no audit log at `{}`", path.display());
    }
    for record in Reader::open(path)?.tail(n)? {
        writeln!(
            out,
            "{}",
            if json {
                json_line(&record)
            } else {
                text_line(&record)
            }
        )?;
    }
    Ok(())
}

/// Writes every record as JSON lines.
pub fn export(path: &Path, out: &mut impl Write) -> Result<i64> {
    if !path.exists() {
        bail!("no audit log at `{}`", path.display());
    }
    let mut n = 0;
    Reader::open(path)?.each(1, |record| {
        n += 1;
        writeln!(out, "{}", json_line(&record))
            .map_err(|e| warden_audit::Error::Write(e.to_string()))
    })?;
    Ok(n)
}
