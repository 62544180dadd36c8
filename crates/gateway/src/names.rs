//! Namespacing in the gateway: every upstream's tools and prompts are `<server>__<name>` and
//! its resource URIs `<server>+<uri>`, so one agent session can reach several upstreams.

use serde_json::{Value, json};

use crate::settings::NAME_SEPARATOR;

/// `fs__read_file` -> (`fs`, `read_file`).
pub(crate) fn split_name(full: &str) -> Option<(&str, &str)> {
    let (server, name) = full.split_once(NAME_SEPARATOR)?;
    (!server.is_empty() && !name.is_empty()).then_some((server, name))
}

/// `fs+file:///x` -> (`fs`, `file:///x`).
pub(crate) fn split_uri(full: &str) -> Option<(&str, &str)> {
    let (server, uri) = full.split_once('+')?;
    (!server.is_empty() && !uri.is_empty() && crate::settings::valid_upstream_name(server))
        .then_some((server, uri))
}

pub(crate) fn set_param(msg: &mut Value, key: &str, value: Value) {
    if let Some(obj) = msg.as_object_mut() {
        let params = obj.entry("params").or_insert_with(|| json!({}));
        if let Some(p) = params.as_object_mut() {
            p.insert(key.to_owned(), value);
        }
    }
}

pub(crate) fn namespace_item(server: &str, key: &str, item: &mut Value) {
    let Some(obj) = item.as_object_mut() else {
        return;
    };
    let (field, sep) = match key {
        "tools" | "prompts" => ("name", NAME_SEPARATOR),
        "resources" => ("uri", "+"),
        _ => ("uriTemplate", "+"),
    };
    if let Some(v) = obj.get(field).and_then(Value::as_str).map(str::to_owned) {
        obj.insert(field.to_owned(), Value::String(format!("{server}{sep}{v}")));
    }
}

/// Resource URIs inside results (read contents, resource links, embedded resources) get the
/// server prefix, so the client can read them back through the gateway.
pub(crate) fn namespace_result(server: &str, response: &mut Value) {
    let Some(result) = response.get_mut("result") else {
        return;
    };
    for key in ["contents", "content"] {
        if let Some(items) = result.get_mut(key).and_then(Value::as_array_mut) {
            for item in items {
                let Some(obj) = item.as_object_mut() else {
                    continue;
                };
                let is_link = obj.get("type").and_then(Value::as_str) == Some("resource_link");
                if (key == "contents" || is_link)
                    && let Some(uri) = obj.get("uri").and_then(Value::as_str).map(str::to_owned)
                {
                    obj.insert("uri".to_owned(), Value::String(format!("{server}+{uri}")));
                }
                if let Some(res) = obj.get_mut("resource").and_then(Value::as_object_mut)
                    && let Some(uri) = res.get("uri").and_then(Value::as_str).map(str::to_owned)
                {
                    res.insert("uri".to_owned(), Value::String(format!("{server}+{uri}")));
                }
            }
        }
    }
}
