//! The relaxed policy set used to filter listings: a resource is listed unless policy denies
//! it whatever the request's context (arguments, session, time) turns out to be.

use cedar_policy::{Effect, Policy, PolicySet};
use serde_json::Value;

/// Builds the listing set: `forbid`s whose conditions read `context` are dropped (they might
/// not apply), and `permit` conditions that read `context` are removed (they might hold).
pub(crate) fn relax(policies: &PolicySet) -> PolicySet {
    let mut out = PolicySet::new();
    for policy in policies.policies() {
        let Ok(mut est) = policy.to_json() else {
            continue;
        };
        let reads_context = |cond: &Value| mentions_context(cond);
        let conditions = est
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !conditions.iter().any(reads_context) {
            let _ = out.add(policy.clone());
            continue;
        }
        if policy.effect() == Effect::Forbid {
            continue;
        }
        let kept: Vec<Value> = conditions
            .into_iter()
            .filter(|c| !reads_context(c))
            .collect();
        if let Some(obj) = est.as_object_mut() {
            obj.insert("conditions".to_owned(), Value::Array(kept));
        }
        if let Ok(relaxed) = Policy::from_json(Some(policy.id().clone()), est) {
            let _ = out.add(relaxed);
        }
    }
    out
}

/// Whether a policy's JSON form (or a part of it) reads `context`.
pub(crate) fn mentions_context(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.get("Var").and_then(Value::as_str) == Some("context")
                || map.values().any(mentions_context)
        }
        Value::Array(items) => items.iter().any(mentions_context),
        _ => false,
    }
}

/// Whether a policy (its JSON form) reads `context.<attr>` (with `.`, `has` or `[...]`).
pub(crate) fn reads_context_attr(value: &Value, attr: &str) -> bool {
    match value {
        Value::Object(map) => {
            let on_context = map
                .get("left")
                .and_then(|l| l.get("Var"))
                .and_then(Value::as_str)
                == Some("context");
            (on_context && map.get("attr").and_then(Value::as_str) == Some(attr))
                || map.values().any(|v| reads_context_attr(v, attr))
        }
        Value::Array(items) => items.iter().any(|v| reads_context_attr(v, attr)),
        _ => false,
    }
}
