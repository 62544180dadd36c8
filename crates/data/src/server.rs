//! `warden data-server`: the MCP server (stdio) in front of [`Service`]. Warden starts it as
//! an upstream and puts its own proxy in front, so every call is governed and states its
//! caller in `_meta` (see [`crate::service::PRINCIPAL_META`]).
#![expect(
    clippy::indexing_slicing,
    reason = "indexing a serde_json::Value by key yields Null, it never panics"
)]

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use warden_mcp::era::{LEGACY, META_SERVER_INFO, META_VERSION, MODERN};

use crate::service::{DOC_SCHEME, Service};

/// The hidden subcommand that runs this server.
pub const COMMAND: &str = "data-server";

/// The environment variable the settings come in (not the command line, which other users
/// of the machine can read).
pub const SETTINGS_VAR: &str = "WARDEN_DATA_SETTINGS";

fn capabilities(service: &Service) -> Value {
    if service.has_docs() {
        json!({"tools": {}, "resources": {}})
    } else {
        json!({"tools": {}})
    }
}

/// One message's answer (`None` for notifications).
pub async fn handle(service: &Service, msg: &Value) -> Option<Value> {
    let id = msg.get("id")?.clone();
    let method = msg.get("method")?.as_str()?;
    let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
    let meta = params["_meta"].clone();
    let modern = meta[META_VERSION].as_str() == Some(MODERN);
    let info = json!({"name": "warden-data", "version": env!("CARGO_PKG_VERSION")});
    let outcome: Result<Value, (i64, String)> = match method {
        "initialize" => {
            let asked = params["protocolVersion"].as_str().unwrap_or_default();
            let version = if LEGACY.contains(&asked) {
                asked
            } else {
                LEGACY[0]
            };
            Ok(
                json!({"protocolVersion": version, "capabilities": capabilities(service), "serverInfo": info}),
            )
        }
        "server/discover" => Ok(json!({
            "supportedVersions": [MODERN], "capabilities": capabilities(service), "ttlMs": 0,
            "cacheScope": "public", "_meta": {META_SERVER_INFO: info}
        })),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": service.tools()})),
        "tools/call" => match params["name"].as_str() {
            Some(name) => Ok(service.call(name, &params["arguments"], &meta).await),
            None => Err((-32602, "tools/call needs `name`".to_owned())),
        },
        "resources/list" if service.has_docs() => Ok(json!({"resources": []})),
        "resources/templates/list" if service.has_docs() => Ok(json!({"resourceTemplates": [{
            "uriTemplate": format!("{DOC_SCHEME}{{id}}"),
            "name": "document",
            "description": "A document you may read, by its id (find ids with docs.search).",
            "mimeType": "text/plain"
        }]})),
        "resources/read" if service.has_docs() => match params["uri"].as_str() {
            Some(uri) => service.read(uri, &meta).await.map_err(|e| (-32002, e)),
            None => Err((-32602, "resources/read needs `uri`".to_owned())),
        },
        _ => Err((-32601, format!("method not found: {method}"))),
    };
    Some(match outcome {
        Ok(mut result) => {
            if modern && let Some(obj) = result.as_object_mut() {
                obj.insert("resultType".into(), json!("complete"));
            }
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        }
        Err((code, message)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    })
}

/// Serves on stdin/stdout until stdin closes; calls run concurrently.
pub async fn serve(service: Service) -> std::io::Result<()> {
    let service = Arc::new(service);
    let out = Arc::new(tokio::sync::Mutex::new(tokio::io::stdout()));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(line) = lines.next_line().await? {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let (service, out) = (service.clone(), out.clone());
        tasks.spawn(async move {
            if let Some(reply) = handle(&service, &msg).await {
                let line = warden_mcp::message::line(&reply);
                let mut out = out.lock().await;
                let _ = out.write_all(&line).await;
                let _ = out.flush().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}
