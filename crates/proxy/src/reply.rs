//! What Warden changes in answers: listings filtered by policy, era adjustments when bridging,
//! and the refusals it writes itself.

use serde_json::{Value, json};
use warden_mcp::Message;
use warden_mcp::message::code;
use warden_types::{Action, AuditKind, Decision, Outcome, Resource};

use crate::facts_from_tool;
use crate::session::{ClientCall, Shared};

/// Adjusts an upstream answer to a client request before it is relayed.
pub(crate) fn post_process(shared: &Shared, method: &str, msg: &mut Message) {
    let bridging = shared.state().bridging();
    // Only listings and bridged answers change: anything else is left as it came.
    if !bridging && listing(method).is_none() {
        return;
    }
    if let Some(result) = msg.result_mut() {
        let filtered = filter_listing(shared, method, result);
        if let Some(obj) = result.as_object_mut() {
            if bridging {
                obj.entry("resultType")
                    .or_insert_with(|| Value::String("complete".to_owned()));
                if CACHEABLE.contains(&method) {
                    obj.entry("ttlMs").or_insert_with(|| Value::from(0));
                    obj.entry("cacheScope")
                        .or_insert_with(|| Value::String("private".to_owned()));
                }
            }
            // A listing filtered for this agent must not be served to anyone else.
            if filtered && obj.contains_key("cacheScope") {
                obj.insert("cacheScope".to_owned(), Value::String("private".to_owned()));
            }
        }
    } else if bridging {
        // 2026-07-28 reports a missing resource as invalid params, not -32002.
        if let Some(err) = msg
            .value_mut()
            .get_mut("error")
            .and_then(Value::as_object_mut)
            && err.get("code").and_then(Value::as_i64) == Some(-32002)
            && method == "resources/read"
        {
            err.insert("code".to_owned(), Value::from(code::INVALID_PARAMS));
        }
    }
}

/// Withholds a server's `instructions` (in its `initialize` or `server/discover` result) that
/// carry steering a server has no business giving the model: concealment, credential paths,
/// injected overrides, steering of other tools, invisible characters. The rest of the answer
/// goes on; the finding is logged and recorded. Follows `[pinning]`: off, nothing is scanned;
/// `on_change = "flag"`, a finding is recorded and the instructions stay. Instructions that are
/// not text are dropped (nothing could scan them).
pub(crate) async fn screen_instructions(shared: &Shared, result: &mut Value) {
    let Some(pins) = &shared.settings.pins else {
        return;
    };
    let (findings, text): (Vec<Value>, bool) = match result.get("instructions") {
        None => return,
        Some(Value::String(text)) => (
            warden_detect::tools::scan_instructions(text)
                .iter()
                .map(warden_detect::tools::ToolFinding::to_json)
                .collect(),
            true,
        ),
        Some(_) => (
            vec![
                json!({"kind": "not_text", "pointer": "/instructions", "detail": "instructions that are not a string"}),
            ],
            false,
        ),
    };
    if findings.is_empty() {
        return;
    }
    let withheld = pins.block || !text;
    if withheld && let Some(obj) = result.as_object_mut() {
        obj.remove("instructions");
    }
    let shown = serde_json::to_string(&findings).unwrap_or_default();
    let event = if withheld {
        "instructions_withheld"
    } else {
        "instructions_flagged"
    };
    tracing::warn!(server = %shared.settings.server, "{event}: {shown}");
    shared
        .note(
            AuditKind::Lifecycle,
            json!({"event": event, "server": shared.settings.server, "findings": findings}),
        )
        .await;
}

/// Results that carry caching hints in the modern era.
const CACHEABLE: &[&str] = &[
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// The listings Warden filters: the result's key that holds the items, and the action an
/// item is for.
fn listing(method: &str) -> Option<(&'static str, Action)> {
    match method {
        "tools/list" => Some(("tools", Action::CallTool)),
        "resources/list" => Some(("resources", Action::ReadResource)),
        "resources/templates/list" => Some(("resourceTemplates", Action::ReadResource)),
        "prompts/list" => Some(("prompts", Action::GetPrompt)),
        _ => None,
    }
}

/// Removes from a listing what policy would deny whatever the arguments; remembers tool
/// definitions for later decisions. Returns whether anything was removed.
fn filter_listing(shared: &Shared, method: &str, result: &mut Value) -> bool {
    let Some((key, action)) = listing(method) else {
        return false;
    };
    let last_page = result.get("nextCursor").is_none_or(Value::is_null);
    let Some(items) = result.get_mut(key).and_then(Value::as_array_mut) else {
        return false;
    };
    let before = items.len();
    if action == Action::CallTool {
        let mut state = shared.state();
        for tool in items.iter() {
            if let Some(name) = tool.get("name").and_then(Value::as_str) {
                state.tools.insert(name.to_owned(), tool.clone());
            }
        }
        if last_page {
            state.tools_known = true;
        }
    }
    let server = shared.settings.server.clone();
    items.retain(|item| {
        let text = |k: &str| {
            item.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let resource = match action {
            Action::CallTool => {
                let name = text("name");
                let facts = facts_from_tool(Some(item), shared.settings.tools.get(&name));
                Resource::Tool {
                    server: server.clone(),
                    name,
                    facts,
                }
            }
            Action::GetPrompt => Resource::Prompt {
                server: server.clone(),
                name: text("name"),
            },
            Action::ReadResource => {
                let uri = if key == "resourceTemplates" {
                    text("uriTemplate")
                } else {
                    text("uri")
                };
                Resource::Resource {
                    server: server.clone(),
                    uri,
                }
            }
        };
        shared
            .engine
            .may_list(&shared.request(action, resource, Value::Null))
    });
    items.len() != before
}

/// The answer to a refused request. For `tools/call` it is a tool result with `isError` (the
/// agent's model reads it and can explain it to its user); for other methods a JSON-RPC error
/// `-32001` with the decision in `data`.
pub(crate) fn refusal(
    method: &str,
    decision: &Decision,
    audit_seq: Option<i64>,
    modern: bool,
) -> Result<Value, (i64, String, Value)> {
    let text = match decision.outcome {
        Outcome::ApprovalRequired if decision.approval_async => {
            format!("Warden: this call needs approval: {}.", decision.reason)
        }
        Outcome::ApprovalRequired => format!(
            "Warden: approval required. {}. No approval channel is configured, so the call was not made.",
            decision.reason
        ),
        _ if decision.policies.is_empty() => {
            format!("Warden denied this request: {}.", decision.reason)
        }
        _ => format!(
            "Warden denied this request: {} (policy: {}).",
            decision.reason,
            decision.policies.join(", ")
        ),
    };
    let detail = json!({
        "outcome": decision.outcome.as_str(),
        "reason": decision.reason,
        "policies": decision.policies,
        "approval_groups": decision.approval_groups,
        "audit_seq": audit_seq,
    });
    let mut detail = detail;
    if let (Some(secs), Some(obj)) = (decision.retry_after_secs, detail.as_object_mut()) {
        obj.insert("retry_after_secs".to_owned(), Value::from(secs));
    }
    if method != "tools/call" {
        return Err((code::REFUSED, text, detail));
    }
    let mut result = json!({
        "content": [{ "type": "text", "text": text }],
        "isError": true,
        "_meta": { "dev.warden/decision": detail },
    });
    if modern && let Some(obj) = result.as_object_mut() {
        obj.insert(
            "resultType".to_owned(),
            Value::String("complete".to_owned()),
        );
    }
    Ok(result)
}

/// Scans a `tools/call` result on its way to the agent and applies the configured actions:
/// redaction rewrites it, block replaces it with a tool error that says why (the agent never
/// sees the withheld content), label marks the session. The session also takes in what the
/// result brings ([`session_labels`]).
pub(crate) fn guard_result(
    shared: &Shared,
    call: &ClientCall,
    msg: &mut Message,
) -> crate::guard::Verdict {
    let tool = call.target.as_ref().and_then(Value::as_str);
    let settings = shared.detect_settings(tool);
    if msg.result().is_none() {
        return crate::guard::Verdict::default();
    }
    let verdict = {
        let mut state = shared.state();
        // Only a redaction changes the result (a block replaces it below): otherwise it is
        // read, and can be relayed as the bytes it came as.
        let v = if settings.results.redacts()
            && let Some(result) = msg.result_mut()
        {
            crate::guard::apply(
                result,
                &settings.results,
                settings.injection_threshold,
                &mut state.placeholders,
                "results",
            )
        } else {
            crate::guard::inspect(
                msg.result().unwrap_or(&Value::Null),
                &settings.results,
                settings.injection_threshold,
                "results",
            )
        };
        let result = msg.result().unwrap_or(&Value::Null);
        state.labels.extend(v.labels.iter().cloned());
        let facts =
            tool.map(|t| crate::facts_from_tool(state.tools.get(t), shared.settings.tools.get(t)));
        let delivered = v.act != crate::guard::Act::Block
            && result.get("isError").and_then(Value::as_bool) != Some(true);
        let taken = session_labels(&v, facts.as_ref(), delivered);
        let private = taken.contains(&crate::facts::capability::PRIVATE);
        state.labels.extend(taken.into_iter().map(str::to_owned));
        // Flow tracking: what a private tool returned, and every value redacted on the way.
        let source = |kind: &str| warden_detect::taint::Source {
            kind: kind.to_owned(),
            tool: tool.unwrap_or_default().to_owned(),
            seq: call.decision_seq,
        };
        if private && v.act != crate::guard::Act::Block {
            state
                .taint
                .add(source(crate::facts::capability::PRIVATE), result);
        }
        for (kind, value) in &v.redacted {
            state.taint.add_text(source(kind), value);
        }
        v
    };
    if verdict.act == crate::guard::Act::Block
        && let Some(result) = msg.result_mut()
    {
        withhold(result, &verdict.reason("results"), verdict.audit());
    }
    verdict
}

/// What a result brings into the session: each kind of finding (`injection`, `pii`,
/// `secret`), even in a result withheld (the session was targeted); and, when the agent gets
/// the result, the tool's `private` or `untrusted` capability (a result with an injection
/// finding is `untrusted` whatever the tool).
pub(crate) fn session_labels(
    verdict: &crate::guard::Verdict,
    facts: Option<&warden_types::ToolFacts>,
    delivered: bool,
) -> Vec<&'static str> {
    use crate::facts::capability::{PRIVATE, UNTRUSTED};
    let mut out: Vec<&'static str> = verdict
        .findings
        .iter()
        .map(|l| l.finding.kind.as_str())
        .collect();
    if delivered {
        let has = |label: &str| facts.is_some_and(|f| f.labels.iter().any(|l| l == label));
        if has(PRIVATE) {
            out.push(PRIVATE);
        }
        if has(UNTRUSTED) || out.contains(&"injection") {
            out.push(UNTRUSTED);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Replaces a tool result with a tool error saying why Warden withheld it.
pub(crate) fn withhold(result: &mut Value, reason: &str, findings: Value) {
    let modern = result.get("resultType").is_some();
    *result = json!({
        "content": [{ "type": "text", "text": format!("Warden withheld this tool result: {reason}.") }],
        "isError": true,
        "_meta": { "dev.warden/decision": { "outcome": "deny", "reason": reason, "findings": findings } },
    });
    if modern && let Some(obj) = result.as_object_mut() {
        obj.insert(
            "resultType".to_owned(),
            Value::String("complete".to_owned()),
        );
    }
}
