//! `warden mcp`: one client on one pair of streams, one upstream on another.
//!
//! Two tasks, a reader per side; readers parse and route (see [`crate::relay`]). Each output
//! stream sits behind its own lock ([`Out`]) held for a whole message, so messages never
//! interleave, and a message is written by the task that produced it (a writer task would
//! cost a cross-task wake-up on every message).

use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use warden_audit::Log;
use warden_mcp::framing::{Frame, LineReader};
use warden_mcp::message::{Message, code, error};
use warden_mcp::top_level_id;
use warden_policy::Engine;
use warden_types::AuditKind;

use crate::relay;
use crate::session::{Pending, Shared};
use crate::{Result, Settings};

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The client closed its side; the upstream was asked to finish.
    ClientClosed,
    /// The upstream closed its output (usually: it exited).
    UpstreamClosed,
}

/// The streams of one session.
#[derive(Debug)]
pub struct Streams<CR, CW, UR, UW> {
    /// What the client writes to Warden.
    pub client_in: CR,
    /// Where Warden writes to the client.
    pub client_out: CW,
    /// What the upstream writes (its stdout).
    pub upstream_in: UR,
    /// Where Warden writes to the upstream (its stdin).
    pub upstream_out: UW,
}

/// Runs one session until either side closes. Returns after everything queued for the client
/// has been written and every audit record of the session is committed.
pub async fn run<CR, CW, UR, UW>(
    settings: Settings,
    engine: Arc<Engine>,
    audit: Log,
    session_id: String,
    streams: Streams<CR, CW, UR, UW>,
) -> Result<Ended>
where
    CR: AsyncBufRead + Unpin + Send + 'static,
    CW: AsyncWrite + Unpin + Send + 'static,
    UR: AsyncBufRead + Unpin + Send + 'static,
    UW: AsyncWrite + Unpin + Send + 'static,
{
    let to_client = Arc::new(Out::new(streams.client_out));
    let to_upstream = Arc::new(Out::new(streams.upstream_out));
    let limit = settings.max_message_bytes;
    let shared = Arc::new(Shared::new(
        settings,
        engine,
        audit,
        session_id,
        to_client.clone(),
        to_upstream.clone(),
    ));
    shared
        .note(AuditKind::Lifecycle, json!({"event": "session_start", "agent": shared.settings.principal.id, "server": shared.settings.server, "sandbox": shared.settings.sandbox}))
        .await;

    let mut upstream_loop = tokio::spawn(upstream_loop(
        shared.clone(),
        LineReader::new(streams.upstream_in, limit),
    ));
    let client_loop = client_loop(shared.clone(), LineReader::new(streams.client_in, limit));
    let ended = tokio::select! {
        () = client_loop => {
            // Close the upstream's stdin so it can finish what is in flight and exit; keep
            // relaying its answers meanwhile.
            to_upstream.close().await;
            let grace = shared.settings.upstream_timeout;
            if tokio::time::timeout(grace, &mut upstream_loop).await.is_err() {
                upstream_loop.abort();
            }
            Ended::ClientClosed
        }
        _ = &mut upstream_loop => Ended::UpstreamClosed,
    };
    fail_pending(&shared, ended).await;
    shared
        .note(
            AuditKind::Lifecycle,
            json!({"event": "session_end", "reason": match ended {
                Ended::ClientClosed => "client closed",
                Ended::UpstreamClosed => "upstream closed",
            }}),
        )
        .await;
    to_upstream.close().await;
    to_client.close().await;
    shared.audit.flush().await?;
    Ok(ended)
}

/// Answers every client request still waiting with a clear error.
async fn fail_pending(shared: &Shared, ended: Ended) {
    let pending: Vec<_> = shared.state().pending.drain().collect();
    let why = match ended {
        Ended::ClientClosed => format!(
            "upstream `{}` did not answer before the session ended",
            shared.settings.server
        ),
        Ended::UpstreamClosed => format!(
            "upstream `{}` closed its connection (it exited or crashed)",
            shared.settings.server
        ),
    };
    let held: Vec<_> = shared.state().held.drain().collect();
    for (_, task) in held {
        // The client is gone (or the upstream is): nobody is waiting for the answer. The
        // request stays stored, so the same call made again finds its decision.
        task.abort();
    }
    for (_, p) in pending {
        if let Pending::Client(call) = p {
            if ended == Ended::UpstreamClosed && call.decision_seq.is_some() {
                crate::outcome::breaker_outcome(shared, true, call.started).await;
            }
            shared
                .send_client(&error(call.client_id, code::UPSTREAM, &why, None))
                .await;
        }
    }
}

async fn client_loop<R: AsyncBufRead + Unpin>(shared: Arc<Shared>, mut reader: LineReader<R>) {
    loop {
        let frame = match reader.next().await {
            Ok(frame) => frame,
            Err(e) => {
                tracing::error!("reading from the client failed: {e}");
                return;
            }
        };
        match frame {
            Frame::Eof => return,
            Frame::Oversized { len, prefix } => {
                let message = format!(
                    "message of {len} bytes exceeds the limit of {} bytes",
                    shared.settings.max_message_bytes
                );
                shared
                    .note(
                        AuditKind::Protocol,
                        json!({"from": "client", "problem": message}),
                    )
                    .await;
                let id = top_level_id(&prefix).unwrap_or_default();
                shared
                    .send_client(&error(id, code::INVALID_REQUEST, &message, None))
                    .await;
            }
            Frame::Line(mut bytes) => match Message::parse_line(&mut bytes) {
                Ok(msg) => relay::from_client(&shared, msg).await,
                Err(invalid) => {
                    shared.note(AuditKind::Protocol, json!({"from": "client", "problem": invalid.message, "bytes": bytes.len()})).await;
                    shared.send_client(&invalid.response()).await;
                }
            },
        }
    }
}

async fn upstream_loop<R: AsyncBufRead + Unpin>(shared: Arc<Shared>, mut reader: LineReader<R>) {
    loop {
        let frame = match reader.next().await {
            Ok(frame) => frame,
            Err(e) => {
                tracing::error!(
                    "reading from upstream `{}` failed: {e}",
                    shared.settings.server
                );
                return;
            }
        };
        match frame {
            Frame::Eof => return,
            Frame::Oversized { len, prefix } => {
                let message = format!(
                    "upstream `{}` sent a message of {len} bytes, over the limit of {} bytes",
                    shared.settings.server, shared.settings.max_message_bytes
                );
                tracing::warn!("{message}");
                shared
                    .note(
                        AuditKind::Protocol,
                        json!({"from": "upstream", "problem": message}),
                    )
                    .await;
                if let Some(id) = top_level_id(&prefix) {
                    relay::fail_upstream_request(&shared, &id, &message).await;
                }
            }
            Frame::Line(mut bytes) => match Message::parse_line(&mut bytes) {
                Ok(msg) => relay::from_upstream(&shared, msg).await,
                Err(invalid) => {
                    let shown =
                        String::from_utf8_lossy(bytes.get(..200).unwrap_or(&bytes)).into_owned();
                    tracing::warn!(
                        "upstream `{}` wrote something that is not MCP ({}): {shown}",
                        shared.settings.server,
                        invalid.message
                    );
                    shared
                        .note(AuditKind::Protocol, json!({"from": "upstream", "problem": invalid.message, "bytes": bytes.len()}))
                        .await;
                    // The parser may stop before the id (invalid UTF-8, nesting too deep): the
                    // id is then read from the raw line, so the call it answers is failed, not
                    // left waiting.
                    if let Some(id) = invalid.id.or_else(|| top_level_id(&bytes)) {
                        relay::fail_upstream_request(
                            &shared,
                            &id,
                            &format!("upstream sent an invalid response: {}", invalid.message),
                        )
                        .await;
                    }
                }
            },
        }
    }
}

/// Messages up to this size are copied into one buffer and written at once.
const ONE_WRITE: usize = 16 * 1024;

/// One output stream. Writers hold the lock for a whole message; after a write error or
/// [`Out::close`] every write is dropped.
pub(crate) struct Out {
    inner: tokio::sync::Mutex<Option<Box<dyn AsyncWrite + Unpin + Send>>>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Out")
    }
}

impl Out {
    pub(crate) fn new(w: impl AsyncWrite + Unpin + Send + 'static) -> Self {
        Self {
            inner: tokio::sync::Mutex::new(Some(Box::new(w))),
        }
    }

    /// Writes and flushes one message.
    pub(crate) async fn send(&self, bytes: &[u8]) {
        let mut guard = self.inner.lock().await;
        let Some(w) = guard.as_mut() else { return };
        if w.write_all(bytes).await.is_err() || w.flush().await.is_err() {
            *guard = None;
        }
    }

    /// Writes and flushes one message in pieces: a large one piece by piece (copying 64 KB
    /// into one buffer first costs more than the extra writes), a small one in one write.
    pub(crate) async fn send_wire(&self, wire: &warden_mcp::Wire<'_>) {
        if wire.byte_len() <= ONE_WRITE {
            return self.send(&wire.to_vec()).await;
        }
        let mut guard = self.inner.lock().await;
        let Some(w) = guard.as_mut() else { return };
        for piece in wire.pieces() {
            if w.write_all(piece).await.is_err() {
                *guard = None;
                return;
            }
        }
        if w.flush().await.is_err() {
            *guard = None;
        }
    }

    /// Flushes and closes the stream (the peer sees end of file).
    pub(crate) async fn close(&self) {
        if let Some(mut w) = self.inner.lock().await.take() {
            let _ = w.flush().await;
            let _ = w.shutdown().await;
        }
    }
}
