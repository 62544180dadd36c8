//! Routing: what happens to each message from either side. Everything not governed is relayed
//! as is, with ids remapped so the two id spaces never mix.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use warden_mcp::era::{self, Era};
use warden_mcp::message::{code, error, result};
use warden_mcp::{Kind, Message};
use warden_types::AuditKind;

use crate::session::{ClientCall, Pending, Shared};
use crate::{bridge, pipeline, reply};

/// `_meta` key that ties a modern notification to its `subscriptions/listen` request.
pub(crate) const META_SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";

/// Handles one message from the client.
pub(crate) async fn from_client(shared: &Arc<Shared>, mut msg: Message) {
    // No client speaks for Warden: a caller stated in `_meta` is removed from every message
    // (the governed path states the real one for Warden's own servers).
    if era::meta(&msg).is_some_and(|m| m.contains_key(pipeline::PRINCIPAL_META))
        && let Some(meta) = msg
            .value_mut()
            .get_mut("params")
            .and_then(|p| p.get_mut("_meta"))
            .and_then(Value::as_object_mut)
    {
        meta.remove(pipeline::PRINCIPAL_META);
    }
    {
        let mut state = shared.state();
        if state.client_era.is_none() {
            state.client_era = Some(era::of_request(&msg).unwrap_or(Era::Legacy));
        }
    }
    match msg.kind.clone() {
        Kind::Response { id } => answer_server_request(shared, msg, &id).await,
        Kind::Notification { method } => {
            let mut msg = msg;
            if method == "notifications/cancelled" {
                // A held call is cancelled here: it never reached the upstream.
                let held = cancelled_request(&msg)
                    .and_then(|id| shared.state().held.remove(&id.to_string()));
                if let Some(task) = held {
                    task.abort();
                    return;
                }
                let upstream = cancelled_request(&msg)
                    .and_then(|id| shared.state().by_client_id.get(&id.to_string()).copied());
                match upstream {
                    Some(up) => set_cancelled_request(&mut msg, Value::from(up)),
                    // Nothing in flight under that id: the spec says to ignore it.
                    None => return,
                }
            }
            shared.send_upstream_msg(&msg).await;
        }
        Kind::Request { id, method } => {
            let modern_client = shared.state().client_era == Some(Era::Modern);
            if modern_client {
                if let Err(why) = bridge::resolve(shared, &msg).await {
                    shared
                        .send_client(&error(id, code::UPSTREAM, &why, None))
                        .await;
                    return;
                }
                if shared.state().bridging()
                    && (bridge::answer_locally(shared, &msg, &id, &method).await
                        || bridge::resume(shared, &msg, &id).await)
                {
                    return;
                }
            }
            if method == "initialize" {
                let asks = msg
                    .params()
                    .and_then(|p| p.get("capabilities"))
                    .and_then(|c| c.get("elicitation"))
                    .is_some_and(Value::is_object);
                shared.state().client_elicitation = asks;
            }
            match method.as_str() {
                "tools/call" | "resources/read" | "prompts/get" => {
                    pipeline::govern(shared, msg, id, method).await
                }
                _ => forward_request(shared, msg, id, method, None).await,
            }
        }
    }
}

/// What a governed call carries until its answer: its limit admission and its span.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    pub admission: Option<warden_controls::Admission>,
    pub span: Option<crate::trace::Open>,
}

/// Forwards a client request under a fresh upstream id.
pub(crate) async fn forward_request(
    shared: &Shared,
    msg: Message,
    client_id: Value,
    method: String,
    decision_seq: Option<i64>,
) {
    forward_carrying(
        shared,
        msg,
        client_id,
        method,
        decision_seq,
        Carried::default(),
    )
    .await;
}

/// [`forward_request`] for a governed call with what it carries to its answer.
pub(crate) async fn forward_carrying(
    shared: &Shared,
    mut msg: Message,
    client_id: Value,
    method: String,
    decision_seq: Option<i64>,
    carried: Carried,
) {
    let up = {
        let mut state = shared.state();
        let up = state.next_upstream_id();
        state.by_client_id.insert(client_id.to_string(), up);
        let target = msg
            .params()
            .and_then(|p| p.get("name").or_else(|| p.get("uri")))
            .cloned();
        let call = ClientCall {
            client_id,
            method,
            target,
            decision_seq,
            started: Instant::now(),
            admission: carried.admission,
            span: carried.span,
        };
        state.pending.insert(up, Pending::Client(Box::new(call)));
        up
    };
    msg.set_id(Value::from(up));
    shared.send_upstream_msg(&msg).await;
}

/// The client answers a request the upstream sent it.
async fn answer_server_request(shared: &Shared, mut msg: Message, id: &Value) {
    let own = id
        .as_i64()
        .and_then(|down| shared.state().own_requests.remove(&down));
    if let Some(waiter) = own {
        let _ = waiter.send(msg.into_value());
        return;
    }
    let mut narrow = false;
    let original = id.as_i64().and_then(|down| {
        let mut state = shared.state();
        let original = state.server_requests.remove(&down)?;
        state.server_requests_rev.remove(&original.to_string());
        narrow = state.roots_requests.remove(&down);
        Some(original)
    });
    match original {
        Some(original) => {
            // The roots a client offers are narrowed to what the upstream's sandbox reaches.
            if narrow
                && let Some(allowed) = &shared.settings.roots
                && let Some(result) = msg.value_mut().get_mut("result")
            {
                crate::roots::narrow(result, allowed);
            }
            msg.set_id(original);
            shared.send_upstream_msg(&msg).await;
        }
        None => {
            shared.note(AuditKind::Protocol, json!({"from": "client", "problem": format!("response to unknown request id {id}")})).await;
        }
    }
}

/// Handles one message from the upstream.
pub(crate) async fn from_upstream(shared: &Shared, msg: Message) {
    match msg.kind.clone() {
        Kind::Response { id } => upstream_response(shared, msg, &id).await,
        Kind::Request { id, method } => {
            if shared.state().bridging() {
                bridge::answer_server_request(shared, msg, &id, &method).await;
                return;
            }
            let mut msg = msg;
            let down = {
                let mut state = shared.state();
                let down = state.next_client_id();
                state.server_requests.insert(down, id.clone());
                state.server_requests_rev.insert(id.to_string(), down);
                if method == "roots/list" && shared.settings.roots.is_some() {
                    state.roots_requests.insert(down);
                }
                down
            };
            msg.set_id(Value::from(down));
            shared.send_client_msg(&msg).await;
        }
        Kind::Notification { method } => {
            let mut msg = msg;
            match method.as_str() {
                "notifications/cancelled" => {
                    let Some(target) = cancelled_request(&msg) else {
                        return;
                    };
                    let mapped = {
                        let state = shared.state();
                        state
                            .server_requests_rev
                            .get(&target.to_string())
                            .map(|d| Value::from(*d))
                            .or_else(|| {
                                target.as_i64().and_then(|up| match state.pending.get(&up) {
                                    Some(Pending::Client(call)) => Some(call.client_id.clone()),
                                    _ => None,
                                })
                            })
                    };
                    match mapped {
                        Some(id) => set_cancelled_request(&mut msg, id),
                        None => return,
                    }
                }
                "notifications/tools/list_changed" => {
                    let mut state = shared.state();
                    state.tools_known = false;
                    state.tools_epoch += 1;
                }
                _ => {}
            }
            if shared.state().bridging() {
                bridge::relay_notification(shared, msg, &method).await;
                return;
            }
            remap_subscription(shared, &mut msg);
            shared.send_client_msg(&msg).await;
        }
    }
}

async fn upstream_response(shared: &Shared, mut msg: Message, id: &Value) {
    let pending = id.as_i64().and_then(|up| {
        let mut state = shared.state();
        let pending = state.pending.remove(&up)?;
        if let Pending::Client(call) = &pending {
            state.by_client_id.remove(&call.client_id.to_string());
        }
        Some(pending)
    });
    match pending {
        None => {
            shared.note(AuditKind::Protocol, json!({"from": "upstream", "problem": format!("response to unknown request id {id}")})).await;
        }
        Some(Pending::Internal(waiter)) => {
            let _ = waiter.send(msg.into_value());
        }
        Some(Pending::Client(mut call)) => {
            let admission = call.admission.take();
            // The span records the upstream's own outcome; it is ended after the client has its
            // answer (telemetry stays off the answer's path).
            let span = call.span.take().map(|mut span| {
                let result = if msg.value().get("error").is_some() {
                    "error"
                } else if msg
                    .result()
                    .and_then(|r| r.get("isError"))
                    .and_then(Value::as_bool)
                    == Some(true)
                {
                    "tool_error"
                } else {
                    "ok"
                };
                span.set("warden.result", result);
                (span, result != "ok")
            });
            reply::post_process(shared, &call.method, &mut msg);
            if matches!(call.method.as_str(), "initialize" | "server/discover")
                && let Some(result) = msg.result_mut()
            {
                reply::screen_instructions(shared, result).await;
            }
            if call.method == "tools/list"
                && let Some(result) = msg.result_mut()
            {
                crate::pins::review_listing(shared, result).await;
            }
            let verdict =
                (call.method == "tools/call").then(|| reply::guard_result(shared, &call, &mut msg));
            // The result's size against the agent's baseline; an alert severe enough pauses the
            // agent and the result is withheld.
            if call.decision_seq.is_some()
                && let Some(guard) = &shared.settings.agent_guard
                && let (Some(result), Some(tool)) =
                    (msg.result(), call.target.as_ref().and_then(Value::as_str))
            {
                let target = format!("{}/{tool}", shared.settings.server);
                let paused = crate::anomaly::observe_result(shared, guard, &target, result).await;
                if let Some(why) = paused
                    && let Some(result) = msg.result_mut()
                {
                    let reason =
                        crate::anomaly::paused_reason(shared, &shared.settings.principal.id, &why);
                    reply::withhold(result, &reason, Value::Array(Vec::new()));
                }
            }
            msg.set_id(call.client_id);
            shared.send_client_msg(&msg).await;
            // The rest is bookkeeping that does not change the answer, so the client has it
            // first: every microsecond between reading the upstream's answer and writing it out
            // is on the call's path (and costs more than a microsecond when the client waits on
            // another vCPU).
            if let Some(a) = admission.filter(warden_controls::Admission::counts_results) {
                let tool = call.target.as_ref().and_then(Value::as_str);
                let cost = tool
                    .and_then(|t| shared.settings.tools.get(t))
                    .and_then(|o| o.cost)
                    .unwrap_or(0.0);
                let bytes = msg.result().map_or(0, warden_types::json::encoded_len);
                a.record(bytes as u64, cost);
            }
            if let Some(seq) = call.decision_seq {
                let failed = msg.value().get("error").is_some();
                crate::outcome::breaker_outcome(shared, failed, call.started).await;
                crate::outcome::record_outcome(shared, seq, &msg, call.started, verdict.as_ref())
                    .await;
            }
            if let (Some((span, failed)), Some(sink)) = (span, &shared.settings.spans) {
                span.finish(sink, failed);
            }
        }
    }
}

/// The upstream's message for request `id` could not be used: answer whoever waits for it.
pub(crate) async fn fail_upstream_request(shared: &Shared, id: &Value, why: &str) {
    let pending = id
        .as_i64()
        .and_then(|up| shared.state().pending.remove(&up));
    match pending {
        Some(Pending::Client(mut call)) => {
            shared
                .state()
                .by_client_id
                .remove(&call.client_id.to_string());
            call.admission = None;
            if let (Some(mut span), Some(sink)) = (call.span.take(), &shared.settings.spans) {
                span.set("warden.result", "error");
                span.finish(sink, true);
            }
            if call.decision_seq.is_some() {
                crate::outcome::breaker_outcome(shared, true, call.started).await;
            }
            shared
                .send_client(&error(call.client_id, code::UPSTREAM, why, None))
                .await;
        }
        Some(Pending::Internal(waiter)) => {
            let _ = waiter.send(error(id.clone(), code::UPSTREAM, why, None));
        }
        None => {}
    }
}

/// A modern upstream tags subscription notifications with the listen request's id, which is
/// Warden's upstream id: put the client's id back.
fn remap_subscription(shared: &Shared, msg: &mut Message) {
    if !era::meta(msg).is_some_and(|m| m.contains_key(META_SUBSCRIPTION)) {
        return;
    }
    let Some(meta) = msg
        .params_mut()
        .and_then(|p| p.get_mut("_meta"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(up) = meta.get(META_SUBSCRIPTION).and_then(Value::as_i64) else {
        return;
    };
    if let Some(Pending::Client(call)) = shared.state().pending.get(&up) {
        meta.insert(META_SUBSCRIPTION.to_owned(), call.client_id.clone());
    }
}

fn cancelled_request(msg: &Message) -> Option<Value> {
    msg.params()?.get("requestId").cloned()
}

fn set_cancelled_request(msg: &mut Message, id: Value) {
    if let Some(params) = msg.params_mut() {
        params.insert("requestId".to_owned(), id);
    }
}

/// A success response to the client.
pub(crate) async fn respond(shared: &Shared, id: Value, value: Value) {
    shared.send_client(&result(id, value)).await;
}
