//! What the console shows of audit records: one summary line per record, filters, alerts.

use serde::Serialize;
use serde_json::Value;
use warden_audit::Record;
use warden_types::AuditKind;

/// One audit record as a table row.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub seq: i64,
    pub ts: String,
    pub kind: &'static str,
    pub agent: Option<String>,
    pub resource: Option<String>,
    /// Decision outcome (`allow`, `deny`, `approval_required`) or approval event.
    pub decision: Option<String>,
    pub summary: String,
}

fn text(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn finding_kinds(findings: Option<&Value>) -> Vec<String> {
    let mut kinds: Vec<String> = findings
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| {
            f.get("type")
                .or_else(|| f.get("kind"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Summarizes a record.
pub(crate) fn row(rec: &Record) -> Row {
    let body: Value = serde_json::from_str(&rec.body).unwrap_or(Value::Null);
    let mut row = Row {
        seq: rec.seq,
        ts: rec.ts.get(..19).unwrap_or(&rec.ts).replace('T', " "),
        kind: rec.kind.as_str(),
        agent: text(&body, "agent"),
        resource: text(&body, "resource"),
        decision: None,
        summary: String::new(),
    };
    match rec.kind {
        AuditKind::Decision => {
            let d = body.get("decision");
            row.decision = d.and_then(|d| text(d, "outcome"));
            let reason = d.and_then(|d| text(d, "reason")).unwrap_or_default();
            let kinds = finding_kinds(body.get("findings"));
            row.summary = if kinds.is_empty() {
                reason
            } else {
                format!("{reason} — findings: {}", kinds.join(", "))
            };
        }
        AuditKind::Outcome => {
            let status = text(&body, "status").unwrap_or_default();
            let ms = body
                .get("latency_us")
                .and_then(Value::as_u64)
                .map_or(0.0, |us| us as f64 / 1000.0);
            let seq = body
                .get("decision_seq")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let kinds = finding_kinds(body.get("findings"));
            row.summary = format!("result of #{seq}: {status} in {ms:.1} ms");
            if !kinds.is_empty() {
                let action = text(&body, "action").unwrap_or_default();
                row.summary
                    .push_str(&format!(" — {action} findings: {}", kinds.join(", ")));
            }
        }
        AuditKind::Approval => {
            let event = text(&body, "event").unwrap_or_default();
            let id = text(&body, "approval").unwrap_or_default();
            row.summary = match (text(&body, "by"), text(&body, "reason")) {
                (Some(by), Some(r)) if !r.is_empty() && event != "used" => {
                    format!("{id} {event} by {by}: {r}")
                }
                (Some(by), _) => format!("{id} {event} by {by}"),
                _ => format!("{id} {event}"),
            };
            row.decision = Some(event);
        }
        AuditKind::Lifecycle => {
            let event = text(&body, "event").unwrap_or_default();
            let more = text(&body, "reason")
                .or_else(|| text(&body, "server"))
                .unwrap_or_default();
            row.summary = format!("{event} {more}").trim().to_owned();
        }
        AuditKind::Protocol => {
            let from = text(&body, "from").unwrap_or_default();
            let problem = text(&body, "problem").unwrap_or_default();
            row.summary = format!("from {from}: {problem}");
        }
    }
    row
}

/// Activity filters (`?agent=&tool=&decision=`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub(crate) struct Filter {
    #[serde(default)]
    pub agent: String,
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub decision: String,
}

impl Filter {
    /// Whether a row passes.
    pub fn passes(&self, row: &Row) -> bool {
        let agent = self.agent.trim();
        let tool = self.tool.trim();
        let decision = self.decision.trim();
        (agent.is_empty() || row.agent.as_deref() == Some(agent))
            && (tool.is_empty()
                || row.resource.as_deref().is_some_and(|r| {
                    r == tool || r.rsplit('/').next() == Some(tool) || r.contains(tool)
                }))
            && (decision.is_empty() || row.decision.as_deref() == Some(decision))
    }

    /// As a query string (for the stream URL and links).
    pub fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("agent", self.agent.trim())
            .append_pair("tool", self.tool.trim())
            .append_pair("decision", self.decision.trim())
            .finish()
    }
}

/// Something a person should look at.
#[derive(Debug, Clone)]
pub(crate) struct Alert {
    pub seq: i64,
    pub ts: String,
    /// `high`, `medium`, `low`.
    pub severity: &'static str,
    pub title: String,
    pub detail: String,
}

/// The alert a record raises, if any.
pub(crate) fn alert(rec: &Record) -> Option<Alert> {
    let body: Value = serde_json::from_str(&rec.body).ok()?;
    let r = row(rec);
    let who = r.agent.clone().unwrap_or_else(|| "an agent".to_owned());
    let what = r.resource.clone().unwrap_or_default();
    let (severity, title) = match rec.kind {
        AuditKind::Decision => {
            let kinds = finding_kinds(body.get("findings"));
            if kinds.is_empty() {
                return None;
            }
            let denied = r.decision.as_deref() == Some("deny");
            let severity = if denied { "high" } else { "medium" };
            let verb = if denied { "Blocked" } else { "Flagged" };
            (
                severity,
                format!("{verb} {} in arguments of {what} ({who})", kinds.join(", ")),
            )
        }
        AuditKind::Outcome => {
            let kinds = finding_kinds(body.get("findings"));
            if kinds.is_empty() {
                return None;
            }
            let action = text(&body, "action").unwrap_or_default();
            let severity = if action == "block" { "high" } else { "medium" };
            (
                severity,
                format!("Tool result {action}: {}", kinds.join(", ")),
            )
        }
        AuditKind::Approval if text(&body, "event").as_deref() == Some("expired") => (
            "medium",
            format!("Approval expired: {what} for {who} was not decided in time"),
        ),
        AuditKind::Protocol => ("low", "Malformed or unexpected message".to_owned()),
        AuditKind::Lifecycle if text(&body, "event").as_deref() == Some("agent_paused") => (
            "high",
            format!(
                "Agent `{}` paused: {}",
                text(&body, "agent").unwrap_or_default(),
                text(&body, "why").unwrap_or_default()
            ),
        ),
        AuditKind::Lifecycle if text(&body, "event").as_deref() == Some("anomaly") => (
            match text(&body, "severity").as_deref() {
                Some("critical") => "critical",
                Some("high") => "high",
                Some("low") => "low",
                _ => "medium",
            },
            format!(
                "Unusual behaviour of agent `{}` ({}): {}{}",
                text(&body, "agent").unwrap_or_default(),
                text(&body, "signal").unwrap_or_default().replace('_', " "),
                text(&body, "why").unwrap_or_default(),
                if body.get("suspended").and_then(Value::as_bool) == Some(true) {
                    "; the agent is paused"
                } else {
                    ""
                }
            ),
        ),
        AuditKind::Lifecycle if text(&body, "event").as_deref() == Some("breaker_open") => (
            "high",
            format!(
                "Circuit breaker opened: upstream `{}` is failing",
                text(&body, "server").unwrap_or_default()
            ),
        ),
        _ => return None,
    };
    Some(Alert {
        seq: rec.seq,
        ts: r.ts,
        severity,
        title,
        detail: r.summary,
    })
}
