//! The governed path for `tools/call`, `resources/read` and `prompts/get`: an ordered list of
//! stages, each either continuing or answering the client itself.
//!
//! 1. **Read the request.** Malformed params are answered with `-32602`; nothing malformed is
//!    forwarded, because the policy could not have judged it.
//! 2. **Tool facts.** Labels from configuration and annotations from the upstream's own
//!    listing (fetched once if the client called before listing), so policy sees the same
//!    facts whatever order the client uses.
//! 3. **Policy.** Pure and synchronous; evaluation errors deny (fail closed).
//! 4. **Detection on arguments.** After policy (a call policy refuses is refused whatever it
//!    carries) and before the audit record (which must hold the findings and a redacted copy
//!    of the arguments, never the secret itself). Block refuses the call; redact rewrites the
//!    arguments that are forwarded; label marks the session. Results are scanned on the way
//!    back ([`crate::guard`], called from the relay).
//!    Then the agent's standing: a paused agent is refused; the call is shown to the agent's
//!    anomaly baseline ([`crate::anomaly`]), and an alert at the configured severity pauses the
//!    agent and refuses this call. Then the runtime limits (`warden_controls`): only for calls
//!    that would go ahead now, after policy and detection so a refused call spends no
//!    allowance; a limit's refusal is audited like any other.
//! 5. **Audit.** The request and the decision are committed to the audit log *before* anything
//!    is forwarded, so no call reaches the upstream unrecorded. If the log cannot commit, the
//!    call is refused (fail closed).
//! 6. **Act.** Allow forwards; deny answers the client with the reason and the deciding policy
//!    ids; approval-required holds the call for a human ([`crate::approval`]), or is refused
//!    when no approval store is configured.

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_mcp::Message;
use warden_mcp::era::{self, Era};
use warden_mcp::message::{code, error};
use warden_types::{
    Action, AuditEvent, AuditKind, Decision, Outcome, Request, Resource, SessionFacts,
};

use crate::facts_from_tool;
use crate::guard::{self, Act, DetectSettings, Verdict};
use crate::outcome::{cancel_probe, count_findings, now_secs};
use crate::relay::respond;
use crate::reply::refusal;
use crate::session::Shared;

/// Most `tools/list` pages Warden reads when it fetches tool facts itself.
const MAX_LIST_PAGES: usize = 100;

/// Runs the stages for one governed request.
pub(crate) async fn govern(shared: &Arc<Shared>, mut msg: Message, id: Value, method: String) {
    stamp_principal(shared, &mut msg);
    // Stage 1: read what is asked. The arguments are taken out of the message (they can be
    // megabytes) and put back once recorded.
    let (action, target, arguments) = match read(&mut msg, &method) {
        Ok(parts) => parts,
        Err(why) => {
            shared
                .note(
                    AuditKind::Protocol,
                    json!({"from": "client", "method": method, "problem": why}),
                )
                .await;
            shared
                .send_client(&error(id, code::INVALID_PARAMS, &why, None))
                .await;
            return;
        }
    };
    let mut span = shared.settings.spans.as_ref().map(|_| {
        let server = &shared.settings.server;
        let mut name = String::with_capacity(method.len() + server.len() + target.len() + 2);
        name.push_str(&method);
        name.push(' ');
        name.push_str(server);
        name.push('/');
        name.push_str(&target);
        crate::trace::Open::start(era::meta(&msg), name)
    });
    // Stage 2: tool facts.
    let tool_or_target = target.clone();
    let resource = resource_for(shared, &msg, action, target).await;
    // Stage 3: policy.
    let tool = target_name(&resource);
    let mut request = shared.request(action, resource, arguments);
    // Flow tracking: which of the session's values the arguments carry, for policy and audit.
    let flow = flow_matches(shared, &request.arguments);
    request.session.carries = flow.kinds();
    if shared.engine.reads_limits()
        && let Some(limits) = &shared.settings.limits
    {
        request.session.limits = standing(shared, limits, &request);
    }
    let mut decision = shared.engine.evaluate(&request);
    // A tool that changed since it was approved, or was flagged, waits for a person.
    if decision.outcome != Outcome::Deny
        && action == Action::CallTool
        && let Some(why) = crate::pins::refusal(shared, &tool_or_target).await
    {
        decision = Decision::refuse(why);
    }
    // Stage 4: detection on the arguments.
    let settings = shared.detect_settings(tool.as_deref());
    // Scanned in place unless findings are redacted: the forwarded copy is then rewritten and
    // the request keeps the agent's own arguments (for the audit copy).
    let mut scanned = settings
        .arguments
        .redacts()
        .then(|| request.arguments.clone());
    let verdict = {
        let mut state = shared.state();
        let v = guard::apply(
            scanned.as_mut().unwrap_or(&mut request.arguments),
            &settings.arguments,
            settings.injection_threshold,
            &mut state.placeholders,
            "arguments",
        );
        state.labels.extend(v.labels.iter().cloned());
        v
    };
    if decision.is_allow() {
        if verdict.act == Act::Block {
            decision = Decision::refuse(verdict.reason("arguments"));
        } else if verdict.act == Act::Redact
            && let Some(scanned) = scanned
            && let Some(params) = msg.params_mut()
        {
            params.insert("arguments".to_owned(), scanned);
        }
    }
    // Stage 4 also: a URL in the arguments the upstream's sandbox could not reach refuses the
    // call here, with the reason in the decision, rather than as a tool error later.
    if decision.is_allow()
        && let Some(egress) = &shared.settings.egress
        && let Some((pointer, url, why)) =
            warden_egress::args::first_refusal(&egress.rules, &request.arguments)
    {
        decision = Decision::refuse(format!(
            "the arguments name `{url}` at `{pointer}`, which sandbox profile `{}` may not reach: {why}",
            egress.profile
        ));
    }
    // Stage 4b: a paused agent is refused before any limit or breaker counts the call (a
    // half-open breaker's probe taken here would never be given back). Otherwise the call is
    // shown to the agent's baseline: an alert severe enough pauses the agent and refuses this
    // very call (the one that strayed: a send to an unknown address, a burst), still before
    // the limits, so a call refused here spends no allowance.
    let agent_guard = shared.settings.agent_guard.as_ref();
    let mut paused = agent_guard.and_then(|g| g.breaker.paused(&request.principal.id));
    if paused.is_none()
        && let Some(guard) = agent_guard
    {
        paused = crate::anomaly::observe_call(
            shared,
            guard,
            &request.resource,
            &request.arguments,
            decision.outcome == Outcome::Deny,
        )
        .await;
    }
    if let Some(why) = &paused {
        decision = Decision::refuse(crate::anomaly::paused_reason(
            shared,
            &request.principal.id,
            why,
        ));
    }
    let paused = paused.is_some();
    // Then the upstream's circuit breaker and the runtime limits, for calls that would go ahead
    // now ([`gate`]).
    let mut gated = Gated::default();
    if decision.is_allow() {
        match as_limited(shared, &request, |call| gate(shared, call)) {
            Ok(g) => gated = g,
            Err(refused) => decision = refused,
        }
    }
    let mut breaker_admitted = gated.breaker_admitted;
    let admission = gated.admission;
    // A denial or a finding counts towards pausing the agent.
    if let Some(guard) = &shared.settings.agent_guard
        && !paused
    {
        agent_signals(shared, guard, &request.principal.id, &decision, &verdict).await;
    }
    // Stage 5: durable audit record before anything moves.
    let hidden = guard::audit_copy(&request.arguments, &verdict);
    let findings = verdict.audit();
    // A held call meets the breaker and the limits when it is approved.
    let classes = if decision.outcome == Outcome::ApprovalRequired {
        as_limited(shared, &request, |call| call.classes.to_vec())
    } else {
        Vec::new()
    };
    let (mut event, moved) = decision_event(
        shared,
        &mut request,
        hidden,
        &verdict,
        &decision,
        &method,
        &id,
    );
    if !flow.audit.is_empty()
        && let Some(body) = event.body.as_object_mut()
    {
        body.insert("flow".to_owned(), Value::Array(flow.audit));
    }
    // The record holds the agent's arguments unchanged: the log may keep the text they came
    // as (large ones are then neither serialized nor copied again).
    if moved {
        event.verbatim = msg.param_text("arguments");
    }
    let committed = shared.audit.append_ref(&event);
    // The record is serialized: the arguments go back where the upstream will find them.
    let arguments = match event.body.get_mut("arguments") {
        Some(recorded) if moved => std::mem::take(recorded),
        _ => std::mem::take(&mut request.arguments),
    };
    put_back(&mut msg, arguments);
    drop(event);
    let seq = match committed.await {
        Ok(seq) => seq,
        Err(e) => {
            cancel_probe(shared, &mut breaker_admitted);
            if let (Some(span), Some(sink)) = (span.take(), &shared.settings.spans) {
                span.finish(sink, true);
            }
            tracing::error!("audit failed, refusing `{method}`: {e}");
            let refused = Decision::refuse(format!(
                "the audit log is unavailable, so the request is refused: {e}"
            ));
            refuse(shared, id, &method, &refused, None).await;
            return;
        }
    };
    shared.state().calls += 1;
    if let Some(m) = &shared.settings.metrics {
        m.call(&shared.settings.server, &method, decision.outcome.as_str());
        count_findings(m, &verdict, "arguments");
    }
    if let Some(span) = span.as_mut() {
        span.set("warden.agent", shared.settings.principal.id.clone());
        span.set("warden.server", shared.settings.server.clone());
        span.set("warden.method", method.clone());
        span.set("warden.target", tool_or_target.clone());
        span.set("warden.decision", decision.outcome.as_str());
        span.set("warden.policies", decision.policies.join(","));
        span.set("warden.audit_seq", seq);
    }
    // Stage 6: act.
    if decision.outcome == Outcome::Allow {
        let mut carried = crate::relay::Carried {
            admission,
            span: None,
        };
        if let Some(span) = span {
            // The upstream continues the trace under Warden's span.
            if let Some(params) = msg.params_mut() {
                let meta = params
                    .entry("_meta")
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert("traceparent".to_owned(), Value::String(span.traceparent()));
                }
            }
            carried.span = Some(span);
        }
        return crate::relay::forward_carrying(shared, msg, id, method, Some(seq), carried).await;
    }
    // Refused or held: the span covers the decision.
    if let (Some(span), Some(sink)) = (span, &shared.settings.spans) {
        span.finish(sink, decision.outcome == Outcome::Deny);
    }
    match decision.outcome {
        Outcome::ApprovalRequired if let Some(hub) = shared.settings.approvals.clone() => {
            let call = crate::approval::Held {
                msg,
                id,
                method,
                target: tool_or_target,
                decision,
                decision_seq: seq,
                findings,
                classes,
            };
            crate::approval::held(shared, hub, call).await;
        }
        _ => refuse(shared, id, &method, &decision, Some(seq)).await,
    }
}

pub(crate) async fn refuse(
    shared: &Shared,
    id: Value,
    method: &str,
    decision: &Decision,
    seq: Option<i64>,
) {
    let modern = shared.state().client_era == Some(Era::Modern);
    match refusal(method, decision, seq, modern) {
        Ok(result) => respond(shared, id, result).await,
        Err((code, message, data)) => {
            shared
                .send_client(&error(id, code, &message, Some(data)))
                .await
        }
    }
}

/// The `_meta` key under which Warden's own servers learn who calls.
pub const PRINCIPAL_META: &str = "dev.warden/principal";

/// Removes any client's claim of who calls, and states it for Warden's own servers.
fn stamp_principal(shared: &Shared, msg: &mut Message) {
    let stated = warden_mcp::era::meta(msg).is_some_and(|m| m.contains_key(PRINCIPAL_META));
    // Left alone (and relayed as received) when there is nothing to state or remove.
    if !shared.settings.principal_meta && !stated {
        return;
    }
    let Some(params) = msg.params_mut() else {
        return;
    };
    let principal = shared.settings.principal_meta.then(|| {
        let p = &shared.settings.principal;
        json!({"id": p.id, "attributes": p.attributes, "delegation": shared.settings.delegation})
    });
    match principal {
        Some(p) => {
            let meta = params
                .entry("_meta")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert(PRINCIPAL_META.to_owned(), p);
            }
        }
        None => {
            if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
                meta.remove(PRINCIPAL_META);
            }
        }
    }
}

/// Stage 1: the action, the tool/uri/prompt name and the arguments, taken out of the message
/// (`null` is left in their place, see [`put_back`]).
fn read(msg: &mut Message, method: &str) -> Result<(Action, String, Value), String> {
    // Servers that match keys regardless of case (Go's `encoding/json` into a struct) would
    // read `"Name":"delete"` where policy judged `"name":"read"`.
    if msg.has_case_twins() {
        return Err(format!(
            "`{method}` has an object with two keys that differ only in case; some servers read them as one key, so Warden cannot judge what the server would do"
        ));
    }
    let params = msg
        .params()
        .ok_or_else(|| format!("`{method}` needs params"))?;
    let text = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("`{method}` needs a string `{key}`"))
    };
    let (action, target) = match method {
        "tools/call" => (Action::CallTool, text("name")?),
        "prompts/get" => (Action::GetPrompt, text("name")?),
        _ => return Ok((Action::ReadResource, text("uri")?, Value::Null)),
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(_)) => msg.lend_param("arguments").unwrap_or_default(),
        Some(_) => return Err(format!("`{method}` `arguments` must be an object")),
    };
    Ok((action, target, arguments))
}

/// Puts the arguments [`read`] took back into the message, unless something else (a redacted
/// copy) took their place.
fn put_back(msg: &mut Message, arguments: Value) {
    if !arguments.is_null() {
        msg.restore_param("arguments", arguments);
    }
}

/// Stage 2: the resource with its facts.
async fn resource_for(shared: &Shared, msg: &Message, action: Action, target: String) -> Resource {
    let server = shared.settings.server.clone();
    match action {
        Action::CallTool => {
            if !shared.state().tools_known {
                fetch_tools(shared, msg).await;
            }
            let facts = {
                let state = shared.state();
                facts_from_tool(state.tools.get(&target), shared.settings.tools.get(&target))
            };
            Resource::Tool {
                server,
                name: target,
                facts,
            }
        }
        Action::GetPrompt => Resource::Prompt {
            server,
            name: target,
        },
        Action::ReadResource => Resource::Resource {
            server,
            uri: target,
        },
    }
}

/// Lists the upstream's tools with Warden's own requests. A failure leaves the facts unknown,
/// which policy sees as the MCP defaults (destructive, open world).
async fn fetch_tools(shared: &Shared, msg: &Message) {
    let modern = shared.state().upstream_era == Some(Era::Modern);
    let meta = if modern {
        era::meta(msg).cloned().map(Value::Object)
    } else {
        None
    };
    let epoch = shared.state().tools_epoch;
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_LIST_PAGES {
        let mut params = serde_json::Map::new();
        if let Some(meta) = &meta {
            params.insert("_meta".to_owned(), meta.clone());
        }
        if let Some(c) = cursor.take() {
            params.insert("cursor".to_owned(), c);
        }
        let Ok(mut response) = shared
            .internal("tools/list", Value::Object(params), None)
            .await
        else {
            return;
        };
        let Some(result) = response.get_mut("result") else {
            return;
        };
        let tools = match result.get_mut("tools") {
            Some(Value::Array(tools)) => std::mem::take(tools),
            _ => Vec::new(),
        };
        // Reviewed, but every definition is kept: a tool that waits is refused by name, and
        // its facts are there once it is approved.
        let (_, tools) = crate::pins::review(shared, tools).await;
        {
            let mut state = shared.state();
            for tool in tools {
                if let Some(name) = tool.get("name").and_then(Value::as_str).map(str::to_owned) {
                    state.tools.insert(name, tool);
                }
            }
        }
        match result.get("nextCursor").filter(|c| !c.is_null()) {
            Some(next) => cursor = Some(next.clone()),
            None => {
                let mut state = shared.state();
                state.tools_known = state.tools_epoch == epoch;
                return;
            }
        }
    }
}

/// What flow tracking found in a call's arguments: the kinds for policy, the audit form.
#[derive(Default)]
struct Flow {
    kinds: std::collections::BTreeSet<String>,
    audit: Vec<Value>,
}

impl Flow {
    fn kinds(&self) -> Vec<String> {
        self.kinds.iter().cloned().collect()
    }
}

/// Checks `arguments` against the session's fingerprints.
fn flow_matches(shared: &Shared, arguments: &Value) -> Flow {
    let state = shared.state();
    let mut flow = Flow::default();
    for m in state.taint.check(arguments) {
        let Some(source) = state.taint.source(m.source) else {
            continue;
        };
        flow.kinds.insert(source.kind.clone());
        flow.audit.push(json!({
            "kind": source.kind,
            "pointer": m.pointer,
            "view": m.view,
            "length": m.length,
            "source": {"tool": source.tool, "seq": source.seq},
        }));
    }
    flow
}

/// The decision's record, and whether the request's arguments moved into it (rather than
/// being copied: they can be megabytes) and must be taken back.
fn decision_event(
    shared: &Shared,
    request: &mut Request,
    hidden: Option<Value>,
    verdict: &Verdict,
    decision: &Decision,
    method: &str,
    id: &Value,
) -> (AuditEvent, bool) {
    let resource = request.resource.id();
    let mut moved = false;
    let arguments = if let Some(redacted) = hidden.filter(|_| shared.settings.audit_arguments) {
        redacted
    } else if shared.settings.audit_arguments || request.arguments.is_null() {
        moved = true;
        std::mem::take(&mut request.arguments)
    } else {
        json!({ "sha256": hex::encode(Sha256::digest(warden_types::json::to_vec(&request.arguments))) })
    };
    // Built field by field: `json!` would copy `arguments` (it serializes each value it is
    // given), where here they move.
    let mut body = serde_json::Map::with_capacity(9);
    for (key, value) in [
        ("session", json!(shared.session_id)),
        ("agent", json!(request.principal.id)),
        ("method", json!(method)),
        ("request_id", id.clone()),
        ("resource", json!(resource)),
        ("arguments", arguments),
        ("decision", json!(decision)),
        ("findings", verdict.audit()),
    ] {
        body.insert(key.to_owned(), value);
    }
    // What policy saw of the limits, so a decision that depended on them can be explained.
    if !request.session.limits.is_empty()
        && let Ok(limits) = serde_json::to_value(&request.session.limits)
    {
        body.insert("limits".to_owned(), limits);
    }
    (
        AuditEvent::new(AuditKind::Decision, Value::Object(body)),
        moved,
    )
}

/// Runs `f` on the call as limits see it: agent, server, tool (or uri, or prompt) name and
/// action classes.
fn as_limited<R>(
    shared: &Shared,
    request: &Request,
    f: impl FnOnce(&warden_controls::Call<'_>) -> R,
) -> R {
    use warden_controls::Class;
    let (name, classes) = match &request.resource {
        Resource::Tool { name, facts, .. } => (
            name.as_str(),
            Class::of(facts.read_only, facts.destructive, facts.open_world),
        ),
        Resource::Prompt { name, .. } => (name.as_str(), vec![Class::Read]),
        Resource::Resource { uri, .. } => (uri.as_str(), vec![Class::Read]),
    };
    f(&warden_controls::Call {
        agent: &request.principal.id,
        server: &shared.settings.server,
        tool: name,
        classes: &classes,
    })
}

/// Stage 3, for policies that read `context.limits`: where the call stands.
fn standing(
    shared: &Shared,
    limits: &warden_controls::Limits,
    request: &Request,
) -> warden_types::LimitFacts {
    let s = as_limited(shared, request, |call| limits.standing(call, now_secs()));
    let long = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    warden_types::LimitFacts {
        rules: s.rules,
        rate_left: s.rate_left.map(long),
        slots_free: s.slots_free.map(long),
        calls_left: s.calls_left.map(long),
        bytes_left: s.bytes_left.map(long),
        cost_left: s.cost_left.map(|c| c.floor() as i64),
    }
}

/// What a call that passed the breaker and the limits holds.
#[derive(Debug, Default)]
pub(crate) struct Gated {
    /// Its limit admission (concurrency slots, budgets to record the answer in).
    pub admission: Option<warden_controls::Admission>,
    /// The breaker let it through (a half-open probe to give back if it does not go ahead).
    pub breaker_admitted: bool,
}

/// Stage 4b, for a call that would go ahead now: the upstream's circuit breaker first (a
/// failing upstream is not called at all, and a call it refuses spends no limit), then the
/// limits (nothing is taken from any unless the call passes them all; a call they refuse gives
/// back its breaker probe). A refusal names what refused and when to retry.
pub(crate) fn gate(shared: &Shared, call: &warden_controls::Call<'_>) -> Result<Gated, Decision> {
    let mut gated = Gated::default();
    if let Some(breaker) = &shared.settings.breaker {
        match breaker.admit(now_secs()) {
            Ok(()) => gated.breaker_admitted = true,
            Err(open) => {
                let mut refused = Decision::refuse(format!(
                    "upstream `{}` is failing ({}), so its circuit breaker is open; retry after {:.0} s",
                    shared.settings.server,
                    open.why,
                    open.retry_after_secs.ceil()
                ));
                refused.retry_after_secs = Some(open.retry_after_secs.ceil() as u64);
                return Err(refused);
            }
        }
    }
    if let Some(limits) = &shared.settings.limits {
        match limits.admit(call, now_secs()) {
            Ok(a) => gated.admission = Some(a),
            Err(exceeded) => {
                if let Some(m) = &shared.settings.metrics {
                    m.limited(&exceeded.rule);
                }
                let mut refused = Decision::refuse(exceeded.to_string());
                refused.retry_after_secs = Some(exceeded.retry_after_secs.ceil() as u64);
                cancel_probe(shared, &mut gated.breaker_admitted);
                return Err(refused);
            }
        }
    }
    Ok(gated)
}

/// Counts a denial or findings against the agent; pauses it when its breaker trips.
async fn agent_signals(
    shared: &Shared,
    guard: &crate::AgentGuard,
    agent: &str,
    decision: &Decision,
    verdict: &Verdict,
) {
    use warden_controls::Signal;
    let mut tripped = None;
    if decision.outcome == Outcome::Deny {
        tripped = guard.breaker.record(agent, Signal::Denial, now_secs());
    }
    if tripped.is_none() && !verdict.findings.is_empty() {
        tripped = guard.breaker.record(agent, Signal::Finding, now_secs());
    }
    let Some(why) = tripped else { return };
    let kept = crate::anomaly::pause(shared, guard, agent, &why);
    tracing::warn!("agent `{agent}` paused: {why}");
    if let Some(alerts) = &shared.settings.alerts {
        (alerts.0)(json!({
            "kind": "agent_paused",
            "severity": "high",
            "agent": agent,
            "why": why,
            "suspended": kept,
            "text": format!("Warden paused agent `{agent}`: {why}. A person must resume it."),
        }));
    }
    shared
        .note(
            AuditKind::Lifecycle,
            json!({"event": "agent_paused", "agent": agent, "why": why, "suspended": kept}),
        )
        .await;
}

/// The tool name of a `tools/call` resource.
fn target_name(resource: &Resource) -> Option<String> {
    match resource {
        Resource::Tool { name, .. } => Some(name.clone()),
        _ => None,
    }
}

impl Shared {
    /// Detection settings for a tool: its own `[tools."<name>".detect]`, else `[detect]`.
    pub(crate) fn detect_settings(&self, tool: Option<&str>) -> DetectSettings {
        tool.and_then(|t| self.settings.tools.get(t))
            .and_then(|o| o.detect)
            .unwrap_or(self.settings.detect)
    }

    /// A policy request for this session's agent, now.
    pub(crate) fn request(&self, action: Action, resource: Resource, arguments: Value) -> Request {
        let (era, calls, labels) = {
            let state = self.state();
            (
                state.client_era.unwrap_or(Era::Legacy).as_str().to_owned(),
                state.calls,
                state.labels.iter().cloned().collect(),
            )
        };
        Request {
            principal: self.settings.principal.clone(),
            action,
            resource,
            arguments,
            session: SessionFacts {
                id: self.session_id.clone(),
                era,
                calls,
                delegation: self.settings.delegation.clone(),
                limits: Default::default(),
                labels,
                carries: Vec::new(),
            },
            time_unix: warden_types::now_unix_micros() / 1_000_000,
        }
    }
}
