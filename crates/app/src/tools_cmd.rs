//! `warden tools`: the tools Warden has pinned, with their capability labels (and where each
//! came from), their standing and what the description scan found; `warden tools approve`
//! accepts a changed or flagged definition after showing what changed.

use std::io::Write;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use warden_approvals::{Pin, PinStatus, Store};
use warden_types::{AuditEvent, AuditKind};

use crate::config::Loaded;
use crate::env::Env;

fn store(loaded: &Loaded) -> Result<Store> {
    let path = loaded.approvals_path();
    Store::open(&path).with_context(|| format!("tool pins in `{}`", path.display()))
}

/// Each label of a pinned tool with where it came from: `config` (a `[tools.<name>]` label)
/// or `annotations` (what the tool's flags imply).
fn labels(loaded: &Loaded, pin: &Pin) -> Vec<(String, &'static str)> {
    let config = loaded.config.tools.get(&pin.name);
    let facts = warden_proxy::facts_from_tool(Some(&pin.definition), config);
    facts
        .labels
        .into_iter()
        .map(|l| {
            let from = if config.is_some_and(|c| c.labels.contains(&l)) {
                "config"
            } else {
                "annotations"
            };
            (l, from)
        })
        .collect()
}

/// `warden tools`.
pub fn list(loaded: &Loaded, json_out: bool, out: &mut impl Write) -> Result<()> {
    let pins = store(loaded)?.pins()?;
    if json_out {
        let rows: Vec<Value> = pins
            .iter()
            .map(|p| {
                let labels: Vec<Value> = labels(loaded, p)
                    .into_iter()
                    .map(|(l, from)| json!({"label": l, "from": from}))
                    .collect();
                json!({"server": p.server, "tool": p.name, "status": p.status, "hash": p.hash,
                       "labels": labels, "findings": p.findings, "first_seen": p.first_seen,
                       "changed_at": p.changed_at, "decided_by": p.decided_by})
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    if pins.is_empty() {
        writeln!(
            out,
            "no tools pinned yet (tools are pinned when an upstream lists them)"
        )?;
    }
    for p in &pins {
        let labels: Vec<String> = labels(loaded, p)
            .into_iter()
            .map(|(l, from)| format!("{l} ({from})"))
            .collect();
        writeln!(
            out,
            "{}/{}  {}  {}",
            p.server,
            p.name,
            p.status.as_str(),
            labels.join(", ")
        )?;
        for f in p.findings.as_array().into_iter().flatten() {
            writeln!(
                out,
                "    finding: {} at {}: {}",
                f["kind"].as_str().unwrap_or_default(),
                f["pointer"].as_str().unwrap_or_default(),
                f["detail"].as_str().unwrap_or_default()
            )?;
        }
        if p.status != PinStatus::Approved {
            writeln!(
                out,
                "    waits for review: warden tools approve {}/{}",
                p.server, p.name
            )?;
        }
    }
    Ok(())
}

/// `warden tools approve SERVER/TOOL`: shows what changed, approves the definition last seen,
/// and records who did.
pub async fn approve(loaded: &Loaded, env: &Env, target: &str, out: &mut impl Write) -> Result<()> {
    let Some((server, name)) = target.split_once('/') else {
        bail!("name the tool as SERVER/TOOL (see `warden tools`)");
    };
    let store = store(loaded)?;
    let Some(pin) = store
        .pins()?
        .into_iter()
        .find(|p| p.server == server && p.name == name)
    else {
        bail!("no pinned tool `{target}` (see `warden tools`)");
    };
    if pin.status == PinStatus::Approved {
        writeln!(out, "`{target}` is already approved")?;
        return Ok(());
    }
    writeln!(out, "{target}: {}", pin.status.as_str())?;
    for line in warden_approvals::diff(pin.approved.as_ref(), &pin.definition) {
        writeln!(out, "  {line}")?;
    }
    let user = env.get("USER").unwrap_or("operator");
    let by = format!("cli:{user}");
    let Some(approved) =
        store.approve_tool(server, name, &pin.hash, &by, warden_approvals::now())?
    else {
        bail!("`{target}` changed again while being approved; look again with `warden tools`");
    };
    let log = warden_audit::Log::open(&loaded.audit_path(), loaded.config.audit.durability)?;
    log.append(AuditEvent::new(
        AuditKind::Approval,
        json!({"event": "tool_approved", "server": server, "tool": name, "hash": approved.hash, "by": by}),
    ))
    .await?;
    writeln!(out, "approved `{target}` ({})", approved.hash)?;
    Ok(())
}
