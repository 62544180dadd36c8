//! Anomaly detection on the data path: each governed call (and each tool result's size) is
//! shown to the agent's baseline ([`warden_controls::Anomalies`]); each alert goes to the
//! metrics, the alert webhooks and the audit log, and one at the configured severity pauses
//! the agent. The call that raised it is then refused, or its result withheld.

use serde_json::{Value, json};
use warden_controls::{Alert, MAX_DESTINATIONS, Seen};
use warden_types::{AuditKind, Resource};

use crate::AgentGuard;
use crate::session::Shared;

/// Deepest argument nesting searched for destinations.
const MAX_DEPTH: usize = 32;

/// The hosts and e-mail addresses in a call's arguments.
pub(crate) fn destinations_of(arguments: &Value) -> Vec<String> {
    fn walk(v: &Value, depth: usize, out: &mut Vec<String>) {
        if depth > MAX_DEPTH || out.len() >= MAX_DESTINATIONS {
            return;
        }
        match v {
            Value::String(s) => warden_controls::destinations(s, out),
            Value::Array(items) => items.iter().for_each(|i| walk(i, depth + 1, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, depth + 1, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(arguments, 0, &mut out);
    out
}

/// Bytes of text in a value (strings and numbers; the structure around them is not counted,
/// so no serialization is needed).
pub(crate) fn text_bytes(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.len() as u64,
        Value::Number(_) => 8,
        Value::Bool(_) | Value::Null => 1,
        Value::Array(items) => items.iter().map(text_bytes).sum(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| k.len() as u64 + text_bytes(v))
            .sum(),
    }
}

/// Shows a governed call to the agent's baseline. Returns why the agent was paused if an
/// alert was severe enough (the caller refuses the call).
pub(crate) async fn observe_call(
    shared: &Shared,
    guard: &AgentGuard,
    resource: &Resource,
    arguments: &Value,
    denied: bool,
) -> Option<String> {
    let anomalies = guard.anomalies.as_ref()?;
    let destinations = destinations_of(arguments);
    let alerts = anomalies.observe(&Seen {
        agent: &shared.settings.principal.id,
        target: &resource.id(),
        destinations: &destinations,
        denied,
        now: crate::outcome::now_secs(),
    });
    raise(shared, guard, alerts).await
}

/// Shows a result's size to the agent's baseline; returns why the agent was paused if an
/// alert was severe enough (the caller withholds the result).
pub(crate) async fn observe_result(
    shared: &Shared,
    guard: &AgentGuard,
    target: &str,
    result: &Value,
) -> Option<String> {
    let anomalies = guard.anomalies.as_ref()?;
    let alerts = anomalies.observe_result(
        &shared.settings.principal.id,
        target,
        text_bytes(result),
        crate::outcome::now_secs(),
    );
    raise(shared, guard, alerts).await
}

async fn raise(shared: &Shared, guard: &AgentGuard, alerts: Vec<Alert>) -> Option<String> {
    let mut paused = None;
    for alert in alerts {
        let suspend = guard.suspend_at.is_some_and(|s| alert.severity >= s);
        if let Some(m) = &shared.settings.metrics {
            m.anomaly(alert.anomaly.as_str(), alert.severity.as_str());
        }
        let why = format!("{}: {}", alert.anomaly.as_str(), alert.why);
        tracing::warn!(
            "anomaly ({}) for agent `{}`: {why}",
            alert.severity.as_str(),
            alert.agent
        );
        let kept = suspend && pause(shared, guard, &alert.agent, &why);
        if let Some(alerts) = &shared.settings.alerts {
            let action = if suspend {
                " The agent is paused until a person resumes it."
            } else {
                ""
            };
            (alerts.0)(json!({
                "kind": "anomaly",
                "severity": alert.severity.as_str(),
                "agent": alert.agent,
                "signal": alert.anomaly.as_str(),
                "why": alert.why,
                "suspended": suspend,
                "text": format!(
                    "Warden: unusual behaviour of agent `{}` ({}, {}): {}.{action}",
                    alert.agent,
                    alert.anomaly.as_str(),
                    alert.severity.as_str(),
                    alert.why
                ),
            }));
        }
        shared
            .note(
                AuditKind::Lifecycle,
                json!({
                    "event": "anomaly",
                    "agent": alert.agent,
                    "signal": alert.anomaly.as_str(),
                    "severity": alert.severity.as_str(),
                    "why": alert.why,
                    "suspended": suspend,
                    "suspended_in_store": kept,
                }),
            )
            .await;
        if suspend && paused.is_none() {
            paused = Some(why);
        }
    }
    paused
}

/// Why a paused agent's call is refused (or its result withheld), and what ends the pause:
/// where the pause is kept in the identity store (`warden serve`), an administrator resumes
/// the agent; where it is kept in memory (`warden mcp`), it lasts until Warden restarts.
pub(crate) fn paused_reason(shared: &Shared, agent: &str, why: &str) -> String {
    // Kept in the store when there is one and it took the pause; else in this process's memory.
    let stored = shared
        .settings
        .agent_guard
        .as_ref()
        .is_some_and(|g| g.on_pause.is_some() && g.breaker.paused(agent).is_none());
    if stored {
        format!(
            "agent `{agent}` is paused ({why}); an administrator must resume it (`warden agent resume {agent}`)"
        )
    } else {
        format!("agent `{agent}` is paused ({why}) until Warden restarts")
    }
}

/// Pauses an agent: through the hook (the gateway suspends it in the identity store), else in
/// memory. Returns whether the hook kept it.
pub(crate) fn pause(shared: &Shared, guard: &AgentGuard, agent: &str, why: &str) -> bool {
    if let Some(m) = &shared.settings.metrics {
        m.agent_paused();
    }
    let kept = guard.on_pause.as_ref().is_some_and(|hook| hook(agent, why));
    if !kept {
        guard.breaker.pause(agent, why);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_anywhere_in_the_arguments() {
        let args = json!({"to": ["Ann@Example.com"], "body": {"text": "see https://files.example.org/x"}, "n": 3});
        assert_eq!(
            destinations_of(&args),
            ["ann@example.com", "files.example.org"]
        );
    }

    #[test]
    fn text_bytes_counts_strings_and_keys() {
        assert_eq!(
            text_bytes(&json!({"content": [{"type": "text", "text": "hello"}]})),
            7 + 4 + 4 + 4 + 5
        );
    }
}
