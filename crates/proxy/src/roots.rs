//! MCP roots narrowed to what the upstream's sandbox may reach: a client's answer to
//! `roots/list` keeps a root inside an allowed path, replaces a wider root by the allowed
//! paths inside it, and drops the rest. Never widened (server-filesystem grants itself
//! whatever roots it is given).

use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

/// Narrows the `roots` of a `roots/list` result to `allowed`.
pub(crate) fn narrow(result: &mut Value, allowed: &[PathBuf]) {
    let Some(roots) = result.get_mut("roots").and_then(Value::as_array_mut) else {
        return;
    };
    let mut out: Vec<Value> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for root in roots.iter() {
        let Some(path) = root.get("uri").and_then(Value::as_str).and_then(file_path) else {
            continue;
        };
        let name = root.get("name").and_then(Value::as_str);
        let mut keep = |p: &Path, narrowed: bool| {
            if seen.iter().any(|s| s == p) {
                return;
            }
            seen.push(p.to_owned());
            let Ok(uri) = url::Url::from_file_path(p) else {
                return;
            };
            let mut r = if narrowed {
                json!({"uri": uri.as_str()})
            } else {
                root.clone()
            };
            if let (Some(n), Some(obj)) = (name, r.as_object_mut()) {
                obj.insert("name".to_owned(), Value::from(n));
            }
            out.push(r);
        };
        if allowed.iter().any(|a| path.starts_with(a)) {
            keep(&path, false);
            continue;
        }
        for a in allowed.iter().filter(|a| a.starts_with(&path)) {
            keep(a, true);
        }
    }
    *roots = out;
}

/// The path of a `file://` URI, if it is an absolute one without `..`.
fn file_path(uri: &str) -> Option<PathBuf> {
    let url = url::Url::parse(uri).ok()?;
    if url.scheme() != "file" {
        return None;
    }
    let path = url.to_file_path().ok()?;
    path.components()
        .all(|c| !matches!(c, Component::ParentDir))
        .then_some(path)
}

#[cfg(test)]
#[path = "roots_tests.rs"]
mod tests;
