//! A remote Streamable HTTP upstream behind a pipe: the proxy writes JSON-RPC lines as it
//! would to a child's stdin; each becomes a POST, and what comes back (a JSON body or an SSE
//! stream) is written back as lines. Both eras: legacy messages carry the session id and
//! negotiated version Warden learned from `initialize`; modern ones carry the standard
//! headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) derived from the message.
//! Configured credentials are added here; nothing from the agent's request is.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader, DuplexStream};
use warden_mcp::era;
use warden_mcp::framing::{Frame, LineReader};
use warden_mcp::message::{Message, code, error, line};
use warden_mcp::{Kind, top_level_id};

use crate::settings::{Transport, UpstreamSettings};

#[derive(Debug, Default)]
struct Conn {
    session: Option<String>,
    version: Option<String>,
}

/// Starts the adapter on `pipe` (the upstream end of the proxy's streams).
pub(crate) fn spawn(
    upstream: &UpstreamSettings,
    client: reqwest::Client,
    pipe: DuplexStream,
    limit: usize,
) {
    let Transport::Http { url, headers } = &upstream.transport else {
        return;
    };
    let (read, write) = tokio::io::split(pipe);
    // One per upstream, shared by every request's task.
    let post = Arc::new(Post {
        client,
        url: url.clone(),
        headers: headers.clone(),
        name: Arc::from(upstream.name.as_str()),
        conn: Mutex::new(Conn::default()),
        out: Out(tokio::sync::Mutex::new(write)),
        limit,
    });
    tokio::spawn(async move {
        let mut reader = LineReader::new(BufReader::new(read), limit);
        loop {
            match reader.next().await {
                Ok(Frame::Line(bytes)) => {
                    let Ok(msg) = Message::parse(&bytes) else {
                        continue;
                    };
                    tokio::spawn(post.clone().run(msg, bytes));
                }
                Ok(Frame::Oversized { prefix, .. }) => {
                    if let Some(id) = top_level_id(&prefix) {
                        let _ = post
                            .out
                            .send(line(&error(
                                id,
                                code::UPSTREAM,
                                "message over the size limit",
                                None,
                            )))
                            .await;
                    }
                }
                Ok(Frame::Eof) | Err(_) => break,
            }
        }
        // The proxy is done: end the upstream session politely, then close the pipe.
        let session = post.conn.lock().ok().and_then(|c| c.session.clone());
        if let Some(session) = session {
            let mut req = post
                .client
                .delete(&post.url)
                .header("Mcp-Session-Id", session);
            for (k, v) in &post.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let _ = req.send().await;
        }
        let _ = post.out.0.lock().await.shutdown().await;
    });
}

/// The proxy's upstream input: each message is written whole under the lock.
struct Out(tokio::sync::Mutex<tokio::io::WriteHalf<DuplexStream>>);

impl Out {
    async fn send(&self, bytes: Vec<u8>) -> std::io::Result<()> {
        self.0.lock().await.write_all(&bytes).await
    }
}

struct Post {
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
    name: Arc<str>,
    conn: Mutex<Conn>,
    out: Out,
    limit: usize,
}

impl Post {
    async fn run(self: Arc<Self>, msg: Message, bytes: Vec<u8>) {
        let request_id = match &msg.kind {
            Kind::Request { id, .. } => Some(id.clone()),
            _ => None,
        };
        match self.exchange(&msg, bytes).await {
            Ok(()) => {}
            Err(why) => {
                if let Some(id) = request_id {
                    let _ = self
                        .out
                        .send(line(&error(id, code::UPSTREAM, &why, None)))
                        .await;
                }
            }
        }
    }

    async fn exchange(&self, msg: &Message, bytes: Vec<u8>) -> Result<(), String> {
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream");
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let modern = era::meta(msg)
            .and_then(|m| m.get(era::META_VERSION))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(version) = &modern {
            req = req.header("MCP-Protocol-Version", version.as_str());
            if let Some(method) = msg.method() {
                req = req.header("Mcp-Method", header_value(method));
                if let Some(name) = msg
                    .params()
                    .and_then(|p| p.get("name").or_else(|| p.get("uri")))
                    .and_then(Value::as_str)
                    .filter(|_| matches!(method, "tools/call" | "prompts/get" | "resources/read"))
                {
                    req = req.header("Mcp-Name", header_value(name));
                }
            }
        } else {
            let (session, version) = {
                let c = self.conn.lock().map_err(|_| "connection state poisoned")?;
                (c.session.clone(), c.version.clone())
            };
            if let Some(s) = session {
                req = req.header("Mcp-Session-Id", s);
            }
            if let Some(v) = version {
                req = req.header("MCP-Protocol-Version", v);
            }
        }
        let response = req
            .body(bytes)
            .send()
            .await
            .map_err(|e| format!("upstream `{}` cannot be reached: {e}", self.name))?;
        let status = response.status();
        let is_init = msg.method() == Some("initialize");
        if is_init
            && let Some(s) = response
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
            && let Ok(mut c) = self.conn.lock()
        {
            c.session = Some(s.to_owned());
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if status == reqwest::StatusCode::ACCEPTED || status == reqwest::StatusCode::NO_CONTENT {
            return Ok(());
        }
        if content_type.starts_with("text/event-stream") {
            let mut stream = response.bytes_stream();
            let mut parser = warden_mcp::sse::Parser::new(self.limit);
            let mut events: Vec<Vec<u8>> = Vec::new();
            let too_large =
                |_| format!("upstream `{}` sent an event over the size limit", self.name);
            while let Some(chunk) = stream.next().await {
                let chunk =
                    chunk.map_err(|e| format!("upstream `{}` stream broke: {e}", self.name))?;
                parser
                    .feed(&chunk, |d| events.push(d.to_vec()))
                    .map_err(too_large)?;
                for data in events.drain(..) {
                    self.deliver(&data, is_init).await;
                }
            }
            parser
                .finish(|d| events.push(d.to_vec()))
                .map_err(too_large)?;
            for data in events.drain(..) {
                self.deliver(&data, is_init).await;
            }
            return Ok(());
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("upstream `{}` answer broke: {e}", self.name))?;
        if body.len() > self.limit {
            return Err(format!(
                "upstream `{}` sent an answer over the size limit",
                self.name
            ));
        }
        if content_type.starts_with("application/json")
            && let Ok(msg) = Message::parse_line(&mut Vec::from(body))
        {
            self.deliver_message(msg, is_init).await;
            return Ok(());
        }
        Err(format!(
            "upstream `{}` answered HTTP {}{}",
            self.name,
            status.as_u16(),
            if status == reqwest::StatusCode::NOT_FOUND {
                " (its session expired or the URL is wrong)"
            } else {
                ""
            }
        ))
    }

    async fn deliver(&self, data: &[u8], is_init: bool) {
        let Ok(msg) = Message::parse_line(&mut data.to_vec()) else {
            tracing::warn!(server = %self.name, "upstream sent an event that is not JSON-RPC");
            return;
        };
        self.deliver_message(msg, is_init).await;
    }

    /// Passes a message on to the proxy (as the bytes it came as, when they say exactly what
    /// it is).
    async fn deliver_message(&self, msg: Message, is_init: bool) {
        if is_init
            && let Some(v) = msg
                .result()
                .and_then(|r| r.get("protocolVersion"))
                .and_then(Value::as_str)
            && let Ok(mut c) = self.conn.lock()
        {
            c.version = Some(v.to_owned());
        }
        let _ = self.out.send(msg.to_line()).await;
    }
}

/// A header value as the modern transport writes it: as is when it is printable ASCII
/// without leading or trailing space, else `=?base64?...?=`.
pub(crate) fn header_value(value: &str) -> String {
    use base64::Engine as _;
    let sentinel = value.starts_with("=?base64?") && value.ends_with("?=");
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !sentinel;
    if plain {
        value.to_owned()
    } else {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value)
        )
    }
}

/// Reads a header value written by [`header_value`].
pub(crate) fn decode_header_value(value: &str) -> Option<String> {
    use base64::Engine as _;
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok()),
        None => Some(value.to_owned()),
    }
}
