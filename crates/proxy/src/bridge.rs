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
use crate::session::Shared;

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
    let client_info = meta
        .get(META_CLIENT_INFO)
        .cloned()
        .unwrap_or_else(|| json!({ "name": "warden", "version": env!("CARGO_PKG_VERSION") }));
    let init = shared
        .internal(
            "initialize",
            json!({ "protocolVersion": LEGACY_LATEST, "capabilities": {}, "clientInfo": client_info }),
            None,
        )
        .await?;
    let Some(init) = init.get("result").cloned() else {
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

/// A legacy upstream's request to its client, which a modern client cannot receive.
pub(crate) async fn answer_server_request(shared: &Shared, id: &Value, method: &str) {
    let answer = match method {
        "ping" => result(id.clone(), json!({})),
        "roots/list" => result(id.clone(), json!({ "roots": [] })),
        _ => error(
            id.clone(),
            code::METHOD_NOT_FOUND,
            &format!("the client did not declare support for `{method}`"),
            None,
        ),
    };
    shared.send_upstream(&answer).await;
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
    shared.send_client(&msg.value).await;
}

fn listening(shared: &Shared, key: &str) -> bool {
    shared
        .state()
        .listen
        .as_ref()
        .is_some_and(|(_, agreed)| agreed.get(key).and_then(Value::as_bool) == Some(true))
}
