//! Era bridging: a modern (2026-07-28) client in front of a legacy upstream.
//!
//! Warden finds out what the upstream speaks with `server/discover`; a legacy upstream is then
//! initialized by Warden itself, and Warden answers what a legacy server cannot:
//! `server/discover` (from the upstream's `initialize` result), `subscriptions/listen` (fed by
//! the upstream's `list_changed` notifications) and the server-to-client requests a modern
//! client never receives (Warden declared no client capabilities upstream, so only `ping` and
//! `roots/list` can arrive, and Warden answers them).

use std::time::Duration;

use serde_json::{Map, Value, json};
use warden_mcp::Message;
use warden_mcp::era::{self, Era, LEGACY_LATEST, META_CLIENT_INFO, META_SERVER_INFO, MODERN};
use warden_mcp::message::{code, error, notification, result};

use crate::relay::{META_SUBSCRIPTION, respond};
use sha2::Digest;

use crate::session::{Parked, Pending, Shared};

/// How long a `server/discover` probe may take before the upstream counts as legacy.
const DISCOVER_WAIT: Duration = Duration::from_secs(3);

/// Makes sure the upstream's era is known, initializing a legacy upstream on the way.
pub(crate) async fn resolve(shared: &Shared, msg: &Message) -> Result<(), String> {
    if shared.state().upstream_era.is_some() {
        return Ok(());
    }
    let meta = era::meta(msg).cloned().unwrap_or_default();
    let probe = shared
        .internal(
            "server/discover",
            json!({ "_meta": meta }),
            Some(DISCOVER_WAIT),
        )
        .await;
    let modern = probe
        .as_ref()
        .ok()
        .and_then(|r| {
            r.get("result")?
                .get("supportedVersions")?
                .as_array()
                .cloned()
        })
        .is_some_and(|versions| versions.iter().any(|v| v.as_str() == Some(MODERN)));
    if modern {
        shared.state().upstream_era = Some(Era::Modern);
        return Ok(());
    }
    // Offer upstream only what the client can answer through input_required results.
    let capabilities: Map<String, Value> = meta
        .get(era::META_CLIENT_CAPS)
        .and_then(Value::as_object)
        .map(|caps| {
            caps.iter()
                .filter(|(k, _)| matches!(k.as_str(), "elicitation" | "sampling"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let client_info = meta
        .get(META_CLIENT_INFO)
        .cloned()
        .unwrap_or_else(|| json!({ "name": "warden", "version": env!("CARGO_PKG_VERSION") }));
    let init = shared
        .internal(
            "initialize",
            json!({ "protocolVersion": LEGACY_LATEST, "capabilities": capabilities, "clientInfo": client_info }),
            None,
        )
        .await?;
    let Some(mut init) = init.get("result").cloned() else {
        let why = init
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("no result");
        return Err(format!(
            "upstream `{}` refused to initialize: {why}",
            shared.settings.server
        ));
    };
    crate::reply::screen_instructions(shared, &mut init).await;
    {
        let mut state = shared.state();
        state.upstream_era = Some(Era::Legacy);
        state.bridged_init = Some(init);
    }
    shared
        .send_upstream(&notification("notifications/initialized", json!({})))
        .await;
    Ok(())
}

/// Requests Warden answers itself for a modern client of a legacy upstream. Returns whether it
/// did.
pub(crate) async fn answer_locally(
    shared: &Shared,
    msg: &Message,
    id: &Value,
    method: &str,
) -> bool {
    match method {
        "server/discover" => {
            let init = shared.state().bridged_init.clone().unwrap_or_default();
            let mut out = json!({
                "supportedVersions": [MODERN],
                "capabilities": init.get("capabilities").cloned().unwrap_or_else(|| json!({})),
                "resultType": "complete",
                "ttlMs": 0,
                "cacheScope": "private",
                "_meta": { META_SERVER_INFO: init.get("serverInfo").cloned().unwrap_or_else(|| json!({"name": "upstream", "version": "0"})) },
            });
            if let (Some(text), Some(obj)) = (init.get("instructions"), out.as_object_mut()) {
                obj.insert("instructions".to_owned(), text.clone());
            }
            respond(shared, id.clone(), out).await;
            true
        }
        "subscriptions/listen" => {
            let requested = msg
                .params()
                .and_then(|p| p.get("notifications"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let agreed: Map<String, Value> = requested
                .into_iter()
                .filter(|(k, v)| {
                    matches!(
                        k.as_str(),
                        "toolsListChanged" | "promptsListChanged" | "resourcesListChanged"
                    ) && v.as_bool() == Some(true)
                })
                .collect();
            shared.state().listen = Some((id.clone(), Value::Object(agreed.clone())));
            let ack = notification(
                "notifications/subscriptions/acknowledged",
                json!({ "notifications": agreed, "_meta": { META_SUBSCRIPTION: id } }),
            );
            shared.send_client(&ack).await;
            true
        }
        _ => false,
    }
}

/// A legacy upstream's request to its client. A modern client never receives requests: an
/// elicitation or sampling request that belongs to a call in flight becomes that call's
/// `input_required` result, and the client's retry carries the answer back (see [`resume`]).
pub(crate) async fn answer_server_request(shared: &Shared, msg: Message, id: &Value, method: &str) {
    let answer = match method {
        "ping" => result(id.clone(), json!({})),
        "roots/list" => result(id.clone(), json!({ "roots": [] })),
        "elicitation/create" | "sampling/createMessage" => {
            match park(shared, msg, id, method).await {
                Ok(()) => return,
                Err(why) => error(id.clone(), code::INTERNAL_ERROR, &why, None),
            }
        }
        _ => error(
            id.clone(),
            code::METHOD_NOT_FOUND,
            &format!("the client did not declare support for `{method}`"),
            None,
        ),
    };
    shared.send_upstream(&answer).await;
}

/// Turns the upstream's request into an `input_required` answer to the client call it belongs
/// to: the newest governed call in flight (a legacy stdio server only asks its client while it
/// works on a call).
async fn park(shared: &Shared, msg: Message, id: &Value, method: &str) -> Result<(), String> {
    let token = format!("warden1.{}", random_hex());
    let key = format!("warden/{}", id.to_string().trim_matches('"'));
    let client_id = {
        let mut state = shared.state();
        let call = state
            .pending
            .iter()
            .filter_map(|(up, p)| match p {
                Pending::Client(c) if GOVERNED.contains(&c.method.as_str()) => {
                    Some((*up, c.client_id.clone(), c.target.clone()))
                }
                _ => None,
            })
            .max_by_key(|(up, _, _)| *up);
        let Some((up, client_id, target)) = call else {
            return Err(format!(
                "`{method}` outside of a call cannot reach a 2026-07-28 client"
            ));
        };
        state.by_client_id.remove(&client_id.to_string());
        state.parked.insert(
            token.clone(),
            Parked {
                call: up,
                request_id: id.clone(),
                key: key.clone(),
                target,
            },
        );
        client_id
    };
    let params = msg
        .params()
        .cloned()
        .map(Value::Object)
        .unwrap_or_else(|| json!({}));
    let answer = json!({
        "resultType": "input_required",
        "inputRequests": { key: { "method": method, "params": params } },
        "requestState": token,
    });
    respond(shared, client_id, answer).await;
    Ok(())
}

/// A modern client's retry of a call that got `input_required`: hands its answer to the
/// waiting upstream and lets the original call continue under the retry's id. Returns whether
/// the message was such a retry.
pub(crate) async fn resume(shared: &Shared, msg: &Message, id: &Value) -> bool {
    let Some(params) = msg.params() else {
        return false;
    };
    let Some(token) = params.get("requestState").and_then(Value::as_str) else {
        return false;
    };
    let target = params.get("name").or_else(|| params.get("uri")).cloned();
    let parked = {
        let mut state = shared.state();
        match state.parked.get(token) {
            Some(p) if p.target == target => state.parked.remove(token),
            _ => None,
        }
    };
    let Some(parked) = parked else {
        // Not ours (or for another call): the upstream is legacy and cannot know it either.
        let why = "unknown or mismatched `requestState`";
        shared
            .send_client(&error(id.clone(), code::INVALID_PARAMS, why, None))
            .await;
        return true;
    };
    let answer = params
        .get("inputResponses")
        .and_then(|r| r.get(&parked.key))
        .cloned();
    {
        let mut state = shared.state();
        if let Some(Pending::Client(call)) = state.pending.get_mut(&parked.call) {
            call.client_id = id.clone();
        }
        state.by_client_id.insert(id.to_string(), parked.call);
    }
    let reply = match answer {
        Some(value) => result(parked.request_id, value),
        None => error(
            parked.request_id,
            code::INVALID_PARAMS,
            "the client gave no answer",
            None,
        ),
    };
    shared.send_upstream(&reply).await;
    true
}

/// Governed methods, the only ones a legacy server asks its client about mid-call.
const GOVERNED: &[&str] = &["tools/call", "prompts/get", "resources/read"];

/// 16 random bytes as hex, from the OS.
fn random_hex() -> String {
    use std::io::Read;
    let mut buf = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_err()
    {
        // Unguessable enough without the OS source: time and address entropy, hashed.
        let seed = format!("{}{:p}", warden_types::now_unix_micros(), &buf);
        buf.copy_from_slice(
            sha2::Sha256::digest(seed.as_bytes())
                .get(..16)
                .unwrap_or(&[0; 16]),
        );
    }
    hex::encode(buf)
}

/// A legacy upstream's notification: progress (tied to a request) passes; list changes go to
/// an open subscription that asked for them; the rest has no modern equivalent.
pub(crate) async fn relay_notification(shared: &Shared, mut msg: Message, method: &str) {
    let wanted = match method {
        "notifications/progress" | "notifications/cancelled" => true,
        "notifications/tools/list_changed" => listening(shared, "toolsListChanged"),
        "notifications/prompts/list_changed" => listening(shared, "promptsListChanged"),
        "notifications/resources/list_changed" => listening(shared, "resourcesListChanged"),
        _ => false,
    };
    if !wanted {
        return;
    }
    if method.ends_with("/list_changed") {
        let Some((listen_id, _)) = shared.state().listen.clone() else {
            return;
        };
        if let Some(params) = msg.params_mut() {
            let meta = params.entry("_meta").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert(META_SUBSCRIPTION.to_owned(), listen_id);
            }
        }
    }
    shared.send_client_msg(&msg).await;
}

fn listening(shared: &Shared, key: &str) -> bool {
    shared
        .state()
        .listen
        .as_ref()
        .is_some_and(|(_, agreed)| agreed.get(key).and_then(Value::as_bool) == Some(true))
}
