//! JSON-RPC 2.0 messages as MCP uses them, kept as `serde_json::Value` so unknown fields pass
//! through untouched.

use std::sync::Arc;

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
#[derive(Debug, Clone)]
pub struct Message {
    /// The whole message object.
    value: Value,
    /// What it is.
    pub kind: Kind,
    /// The bytes it arrived as, while they mean exactly `value` apart from the id (see
    /// [`crate::faithful`]): relaying them saves serializing a large message again.
    raw: Option<Box<Raw>>,
    /// Some object in it has two keys that differ only in case (see
    /// [`Message::has_case_twins`]).
    case_twins: bool,
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.value == other.value
    }
}

/// A message's bytes (one line, no surrounding whitespace) and where its id's value is in
/// them (`None`: it has no id).
#[derive(Debug, Clone)]
struct Raw {
    bytes: Arc<Vec<u8>>,
    id: Option<(usize, usize)>,
    /// A parameter is out on loan ([`Message::lend_param`]): the value is not whole.
    lent: bool,
}

/// A message as one stdio line, in up to four pieces (written in order): the bytes it
/// arrived as around its current id, or Warden's serialization of it.
#[derive(Debug)]
pub struct Wire<'a> {
    before: &'a [u8],
    own: Vec<u8>,
    after: &'a [u8],
}

impl Wire<'_> {
    /// The pieces, the last of them the newline.
    pub fn pieces(&self) -> [&[u8]; 4] {
        [self.before, &self.own, self.after, b"\n"]
    }

    /// Length in bytes, newline included.
    pub fn byte_len(&self) -> usize {
        self.before.len() + self.own.len() + self.after.len() + 1
    }

    /// The whole line in one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.byte_len());
        for piece in self.pieces() {
            out.extend_from_slice(piece);
        }
        out
    }
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

/// Reads a JSON document the way Warden reads messages (one reader everywhere): serde_json's
/// private keys are refused, and so is an object with two keys that differ only in case
/// (readers that match keys regardless of case could act on either). For request bodies
/// that are not MCP messages, such as the decision API's.
pub fn read_json(bytes: &[u8]) -> Result<Value, String> {
    let (value, reading) = crate::faithful::parse(bytes).map_err(|e| e.to_string())?;
    if reading.case_twins {
        return Err(
            "an object has two keys that differ only in case; some readers take them as one key"
                .to_owned(),
        );
    }
    Ok(value)
}

fn parse_error(e: serde_json::Error) -> Invalid {
    Invalid {
        code: code::PARSE_ERROR,
        message: format!("parse error: {e}"),
        id: None,
    }
}

fn valid_id(id: &Value) -> bool {
    id.is_string() || id.as_i64().is_some() || id.as_u64().is_some()
}

impl Message {
    /// Parses one frame. Invalid UTF-8, bad JSON, excessive nesting, batches and malformed
    /// envelopes are all reported as [`Invalid`] with a clear reason.
    pub fn parse(bytes: &[u8]) -> Result<Self, Invalid> {
        Self::read(bytes).map(|(msg, _)| msg)
    }

    /// Parses and classifies with the one reader every message goes through; also says
    /// whether the bytes are faithful ([`crate::faithful`]).
    fn read(bytes: &[u8]) -> Result<(Self, bool), Invalid> {
        let (value, reading) = crate::faithful::parse(bytes).map_err(parse_error)?;
        let mut msg = Self::classify(value)?;
        msg.case_twins = reading.case_twins;
        Ok((msg, reading.faithful))
    }

    /// [`Message::parse`] of a line Warden may relay: the bytes are kept when they mean
    /// exactly the parsed message, and [`Message::wire`] then passes them on with the current
    /// id spliced in, until the message is changed.
    /// The line is taken from `line` when it parses (left in place when it does not, so the
    /// caller can still show what was wrong with it).
    pub fn parse_line(line: &mut Vec<u8>) -> Result<Self, Invalid> {
        let (mut msg, faithful) = Self::read(line)?;
        let bytes = std::mem::take(line);
        // Line ends are whitespace to JSON but end a line on the wire (a carriage return for
        // some readers): bytes with either are never relayed as they are.
        if faithful && memchr::memchr2(b'\r', b'\n', &bytes).is_none() {
            let start = bytes
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(0);
            let end = bytes
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(start, |i| i + 1);
            let bytes = if start == 0 && end == bytes.len() {
                bytes
            } else {
                bytes.get(start..end).unwrap_or_default().to_vec()
            };
            let id = match msg.kind {
                Kind::Notification { .. } => Some(None),
                // Only where the id is written plainly (an escaped key is not looked for).
                _ => crate::scan::top_level_id_span(&bytes).map(Some),
            };
            if let Some(id) = id {
                msg.raw = Some(Box::new(Raw {
                    bytes: Arc::new(bytes),
                    id,
                    lent: false,
                }));
            }
        }
        Ok(msg)
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
                    raw: None,
                    case_twins: false,
                }),
                Some(id) if valid_id(&id) => Ok(Self {
                    kind: Kind::Request { id, method },
                    value,
                    raw: None,
                    case_twins: false,
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
                raw: None,
                case_twins: false,
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

    /// The whole message object.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The whole message object, to change: from here on the message is relayed as Warden's
    /// serialization, not the bytes it arrived as.
    pub fn value_mut(&mut self) -> &mut Value {
        self.raw = None;
        &mut self.value
    }

    /// The whole message object.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// Whether, as read, some object of the message had two keys that differ only in case
    /// (`name` and `Name`): a server that matches keys regardless of case (Go's
    /// `encoding/json`) may read either, so what it does cannot be judged by what Warden read.
    pub fn has_case_twins(&self) -> bool {
        self.case_twins
    }

    /// Whether the message will be relayed as the bytes it arrived as (see [`Message::wire`]).
    pub fn is_verbatim(&self) -> bool {
        self.raw.as_ref().is_some_and(|raw| !raw.lent)
    }

    /// The `params` object, if any.
    pub fn params(&self) -> Option<&Map<String, Value>> {
        self.value.get("params").and_then(Value::as_object)
    }

    /// Mutable `params` object, created if absent (the message is relayed as Warden's
    /// serialization from here on).
    pub fn params_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.raw = None;
        let obj = self.value.as_object_mut()?;
        obj.entry("params")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
    }

    /// Takes `params[key]` out, leaving `null` in its place, and keeps the bytes the message
    /// arrived as for when [`Message::restore_param`] puts it back (a message with a
    /// parameter on loan is relayed as Warden's serialization).
    pub fn lend_param(&mut self, key: &str) -> Option<Value> {
        let slot = self.value.get_mut("params")?.get_mut(key)?;
        if let Some(raw) = &mut self.raw {
            raw.lent = true;
        }
        Some(std::mem::take(slot))
    }

    /// The JSON text of `params[key]` as the message arrived, while its bytes mean exactly
    /// the message (a parameter on loan included: it is the text of what was lent).
    pub fn param_text(&self, key: &str) -> Option<warden_types::Verbatim> {
        let raw = self.raw.as_ref()?;
        let (params, _) = crate::scan::member_span(&raw.bytes, 0, b"params")?;
        let (start, end) = crate::scan::member_span(&raw.bytes, params, key.as_bytes())?;
        Some(warden_types::Verbatim {
            key: key.to_owned(),
            buffer: raw.bytes.clone(),
            range: start..end,
        })
    }

    /// Puts back what [`Message::lend_param`] took, unless something else took its place
    /// meanwhile (then `value` is dropped).
    pub fn restore_param(&mut self, key: &str, value: Value) {
        if let Some(slot) = self
            .value
            .get_mut("params")
            .and_then(|p| p.get_mut(key))
            .filter(|slot| slot.is_null())
        {
            *slot = value;
            if let Some(raw) = &mut self.raw {
                raw.lent = false;
            }
        }
    }

    /// The `result` of a response.
    pub fn result(&self) -> Option<&Value> {
        self.value.get("result")
    }

    /// Mutable `result` of a response (the message is relayed as Warden's serialization from
    /// here on).
    pub fn result_mut(&mut self) -> Option<&mut Value> {
        self.raw = None;
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

    /// The message as one stdio line: the bytes it arrived as with its current id spliced in
    /// while it is unchanged and they are faithful, else Warden's serialization.
    pub fn wire(&self) -> Wire<'_> {
        if let Some(raw) = self.raw.as_ref().filter(|raw| !raw.lent) {
            let id = match &self.kind {
                Kind::Request { id, .. } | Kind::Response { id } => Some(id),
                Kind::Notification { .. } => None,
            };
            match (raw.id, id) {
                (Some((start, end)), Some(id)) => {
                    if let (Some(before), Some(after)) =
                        (raw.bytes.get(..start), raw.bytes.get(end..))
                    {
                        return Wire {
                            before,
                            own: warden_types::json::to_vec(id),
                            after,
                        };
                    }
                }
                (None, None) => {
                    return Wire {
                        before: &raw.bytes,
                        own: Vec::new(),
                        after: &[],
                    };
                }
                _ => {}
            }
        }
        Wire {
            before: &[],
            own: warden_types::json::to_vec(&self.value),
            after: &[],
        }
    }

    /// Serializes as one stdio line (with the trailing newline); see [`Message::wire`].
    pub fn to_line(&self) -> Vec<u8> {
        self.wire().to_vec()
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
