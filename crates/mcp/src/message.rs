//! JSON-RPC 2.0 messages as MCP uses them, kept as `serde_json::Value` so unknown fields pass
//! through untouched.

use serde_json::{Map, Value, json};

/// A JSON-RPC id: a string or an integer (never null).
pub type Id = Value;

/// JSON-RPC and Warden error codes.
pub mod code {
    /// The bytes are not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON, but not a valid JSON-RPC message.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Warden refused the request (policy, approval, audit failure). In the implementation-
    /// defined range both protocol eras leave free.
    pub const REFUSED: i64 = -32001;
    /// The upstream server failed (exited, wrote garbage, timed out, sent too much).
    pub const UPSTREAM: i64 = -32002;
    /// Modern era: unsupported protocol version.
    pub const UNSUPPORTED_VERSION: i64 = -32022;
}

/// What a message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Has a method and an id: expects a response.
    Request {
        /// Request id.
        id: Id,
        /// Method name.
        method: String,
    },
    /// Has a method and no id.
    Notification {
        /// Method name.
        method: String,
    },
    /// Has an id and a result or an error.
    Response {
        /// The id of the request it answers.
        id: Id,
    },
}

/// A parsed, classified message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The whole message object.
    pub value: Value,
    /// What it is.
    pub kind: Kind,
}

/// Why bytes are not a usable message, and the error response to send back.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// `-32700` (not JSON) or `-32600` (not JSON-RPC).
    pub code: i64,
    /// Human-readable reason.
    pub message: String,
    /// The request id, when it could be read.
    pub id: Option<Id>,
}

impl Invalid {
    /// The JSON-RPC error response for this problem (`id: null` when unknown).
    pub fn response(&self) -> Value {
        error(
            self.id.clone().unwrap_or(Value::Null),
            self.code,
            &self.message,
            None,
        )
    }
}

fn valid_id(id: &Value) -> bool {
    id.is_string() || id.as_i64().is_some() || id.as_u64().is_some()
}

impl Message {
    /// Parses one frame. Invalid UTF-8, bad JSON, excessive nesting, batches and malformed
    /// envelopes are all reported as [`Invalid`] with a clear reason.
    pub fn parse(bytes: &[u8]) -> Result<Self, Invalid> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| Invalid {
            code: code::PARSE_ERROR,
            message: format!("parse error: {e}"),
            id: None,
        })?;
        Self::classify(value)
    }

    /// Classifies an already parsed value.
    pub fn classify(value: Value) -> Result<Self, Invalid> {
        let invalid = |message: &str, id: Option<Id>| Invalid {
            code: code::INVALID_REQUEST,
            message: message.to_owned(),
            id,
        };
        let Value::Object(obj) = &value else {
            return Err(invalid(
                if value.is_array() {
                    "invalid request: JSON-RPC batches are not supported"
                } else {
                    "invalid request: a message must be a JSON object"
                },
                None,
            ));
        };
        let id = obj.get("id").cloned();
        let usable_id = id.clone().filter(valid_id);
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(invalid(
                "invalid request: `jsonrpc` must be \"2.0\"",
                usable_id,
            ));
        }
        if let Some(method) = obj.get("method") {
            let Some(method) = method.as_str() else {
                return Err(invalid(
                    "invalid request: `method` must be a string",
                    usable_id,
                ));
            };
            if let Some(params) = obj.get("params")
                && !params.is_object()
                && !params.is_array()
            {
                return Err(invalid(
                    "invalid request: `params` must be an object",
                    usable_id,
                ));
            }
            let method = method.to_owned();
            return match id {
                None => Ok(Self {
                    kind: Kind::Notification { method },
                    value,
                }),
                Some(id) if valid_id(&id) => Ok(Self {
                    kind: Kind::Request { id, method },
                    value,
                }),
                Some(_) => Err(invalid(
                    "invalid request: `id` must be a string or an integer",
                    None,
                )),
            };
        }
        match (
            usable_id,
            obj.contains_key("result"),
            obj.contains_key("error"),
        ) {
            (Some(id), true, false) | (Some(id), false, true) => Ok(Self {
                kind: Kind::Response { id },
                value,
            }),
            (id, _, _) => Err(invalid(
                "invalid message: neither a request, a notification nor a response",
                id,
            )),
        }
    }

    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        match &self.kind {
            Kind::Request { method, .. } | Kind::Notification { method } => Some(method),
            Kind::Response { .. } => None,
        }
    }

    /// The `params` object, if any.
    pub fn params(&self) -> Option<&Map<String, Value>> {
        self.value.get("params").and_then(Value::as_object)
    }

    /// Mutable `params` object, created if absent.
    pub fn params_mut(&mut self) -> Option<&mut Map<String, Value>> {
        let obj = self.value.as_object_mut()?;
        obj.entry("params")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
    }

    /// The `result` of a response.
    pub fn result(&self) -> Option<&Value> {
        self.value.get("result")
    }

    /// Mutable `result` of a response.
    pub fn result_mut(&mut self) -> Option<&mut Value> {
        self.value.get_mut("result")
    }

    /// Whether this is an error response.
    pub fn is_error(&self) -> bool {
        self.value.get("error").is_some()
    }

    /// Replaces the id (requests and responses).
    pub fn set_id(&mut self, id: Id) {
        if let Some(obj) = self.value.as_object_mut() {
            obj.insert("id".to_owned(), id.clone());
        }
        match &mut self.kind {
            Kind::Request { id: own, .. } | Kind::Response { id: own } => *own = id,
            Kind::Notification { .. } => {}
        }
    }

    /// Serializes as one stdio line (with the trailing newline).
    pub fn to_line(&self) -> Vec<u8> {
        line(&self.value)
    }
}

/// Serializes a value as one stdio line (JSON has no raw newlines, so one line is one message).
pub fn line(value: &Value) -> Vec<u8> {
    let mut out = warden_types::json::to_vec(value);
    out.push(b'\n');
    out
}

/// An error response.
pub fn error(id: Id, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut err = json!({ "code": code, "message": message });
    if let (Some(data), Some(obj)) = (data, err.as_object_mut()) {
        obj.insert("data".to_owned(), data);
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": err })
}

/// A success response.
pub fn result(id: Id, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// A request.
pub fn request(id: Id, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// A notification.
pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
