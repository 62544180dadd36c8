//! How a governed call ends: the upstream breaker told of its outcome, the outcome's audit
//! record and latency metric, and an admitted breaker probe given back when the call does not
//! go ahead after all; with the two helpers the governed path shares with them, findings
//! counted by kind ([`count_findings`]) and the clock of limits and breakers ([`now_secs`]).

use std::time::Instant;

use serde_json::{Value, json};
use warden_mcp::Message;
use warden_types::AuditKind;

use crate::guard::Verdict;
use crate::session::Shared;

/// Adds a verdict's findings to the counters, by kind.
pub(crate) fn count_findings(metrics: &crate::Metrics, verdict: &Verdict, direction: &str) {
    let mut by_kind: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for l in &verdict.findings {
        *by_kind.entry(l.finding.kind.as_str()).or_default() += 1;
    }
    for (kind, n) in by_kind {
        metrics.findings(kind, direction, n);
    }
}

/// A call the upstream's breaker admitted does not go ahead: give back its probe (when the
/// breaker is half-open), so the breaker is not left waiting for an outcome that never comes.
pub(crate) fn cancel_probe(shared: &Shared, admitted: &mut bool) {
    if std::mem::take(admitted)
        && let Some(breaker) = &shared.settings.breaker
    {
        breaker.cancel();
    }
}

/// Now, Unix seconds with microseconds.
pub(crate) fn now_secs() -> f64 {
    warden_types::now_unix_micros() as f64 / 1e6
}

/// Tells the upstream's breaker how a governed call ended; records the breaker opening or
/// closing.
pub(crate) async fn breaker_outcome(shared: &Shared, failed: bool, started: Instant) {
    let Some(breaker) = &shared.settings.breaker else {
        return;
    };
    let now = now_secs();
    if let Some(state) = breaker.record(now, failed, started.elapsed().as_secs_f64()) {
        let event = match state {
            warden_controls::BreakerState::Open { .. } => {
                if let Some(m) = &shared.settings.metrics {
                    m.breaker_opened(&shared.settings.server);
                }
                "breaker_open"
            }
            _ => "breaker_closed",
        };
        tracing::warn!("upstream `{}`: {event}", shared.settings.server);
        if event == "breaker_open"
            && let Some(alerts) = &shared.settings.alerts
        {
            (alerts.0)(json!({
                "kind": "breaker_open",
                "severity": "high",
                "server": shared.settings.server,
                "text": format!("Warden: the circuit breaker of upstream `{}` opened: it is failing, calls to it are refused for now", shared.settings.server),
            }));
        }
        shared
            .note(
                AuditKind::Lifecycle,
                json!({"event": event, "server": shared.settings.server}),
            )
            .await;
    }
}

/// Records what came back for an allowed request (queued; committed in order).
pub(crate) async fn record_outcome(
    shared: &Shared,
    decision_seq: i64,
    msg: &Message,
    started: Instant,
    verdict: Option<&Verdict>,
) {
    let status = match (msg.value().get("error"), msg.result()) {
        (Some(err), _) => {
            json!({"status": "error", "code": err.get("code"), "message": err.get("message")})
        }
        (None, Some(r)) if r.get("isError").and_then(Value::as_bool) == Some(true) => {
            json!({"status": "tool_error"})
        }
        _ => json!({"status": "ok"}),
    };
    if let Some(m) = &shared.settings.metrics {
        m.latency(&shared.settings.server, started.elapsed().as_secs_f64());
        if let Some(v) = verdict {
            count_findings(m, v, "results");
        }
    }
    let mut body =
        json!({"decision_seq": decision_seq, "latency_us": started.elapsed().as_micros() as u64});
    if let (Some(v), Some(obj)) = (
        verdict.filter(|v| !v.findings.is_empty()),
        body.as_object_mut(),
    ) {
        obj.insert("findings".to_owned(), v.audit());
        obj.insert(
            "action".to_owned(),
            json!(format!("{:?}", v.act).to_lowercase()),
        );
    }
    if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), status) {
        obj.extend(extra);
    }
    shared.note(AuditKind::Outcome, body).await;
}
