//! The hash an approval is bound to.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// What identifies one call.
#[derive(Debug, Clone, Copy)]
pub struct CallKey<'a> {
    /// The agent making the call.
    pub agent: &'a str,
    /// The upstream server.
    pub server: &'a str,
    /// `tools/call`, `resources/read` or `prompts/get`.
    pub method: &'a str,
    /// Tool or prompt name, or resource URI.
    pub target: &'a str,
    /// The arguments as they would be forwarded.
    pub arguments: &'a Value,
}

/// Hex SHA-256 of the canonical JSON of the call: the same call always hashes the same,
/// whatever order its argument keys arrived in; any other call (another number, another
/// agent, `80` for `80.0`) hashes differently.
pub fn call_hash(key: CallKey<'_>) -> String {
    let mut text = String::new();
    canonical_json(
        &serde_json::json!({
            "agent": key.agent,
            "server": key.server,
            "method": key.method,
            "target": key.target,
            "arguments": key.arguments,
        }),
        &mut text,
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// JSON with object keys sorted (by their UTF-8 bytes) at every level and no whitespace.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    canonical_json(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key<'a>(agent: &'a str, arguments: &'a Value) -> CallKey<'a> {
        CallKey {
            agent,
            server: "shop",
            method: "tools/call",
            target: "refund",
            arguments,
        }
    }

    #[test]
    fn key_order_does_not_matter_but_everything_else_does() {
        let a = json!({"amount": 80, "order": {"id": "o-1", "note": "x"}});
        let b: Value =
            serde_json::from_str(r#"{"order": {"note": "x", "id": "o-1"}, "amount": 80}"#)
                .unwrap_or_default();
        assert_eq!(call_hash(key("a", &a)), call_hash(key("a", &b)));
        let c = json!({"amount": 81, "order": {"id": "o-1", "note": "x"}});
        assert_ne!(call_hash(key("a", &a)), call_hash(key("a", &c)));
        let d = json!({"amount": 80.0, "order": {"id": "o-1", "note": "x"}});
        assert_ne!(call_hash(key("a", &a)), call_hash(key("a", &d)));
        assert_ne!(call_hash(key("a", &a)), call_hash(key("b", &a)));
    }

    #[test]
    fn strings_are_escaped_so_fields_cannot_run_together() {
        let mut out = String::new();
        canonical_json(&json!({"k\"": "v\n", "a": [1, null, true]}), &mut out);
        assert_eq!(out, r#"{"a":[1,null,true],"k\"":"v\n"}"#);
    }
}
