//! One upstream inside a gateway session: Warden's stdio proxy ([`warden_proxy::run`]) on
//! in-memory pipes, so every call through the gateway takes the same governed path as
//! `warden mcp` (policy, detection, audit, era bridging, id remapping). The gateway is the
//! proxy's client; the upstream end is a child process or [`crate::upstream_http`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::oneshot;
use warden_mcp::framing::{Frame, LineReader};
use warden_mcp::message::{Message, code, error, line};

use crate::settings::{Transport, UpstreamSettings};

/// Buffer of each in-memory pipe.
const PIPE_BYTES: usize = 256 * 1024;

/// Something an upstream sent that is not an answer to a gateway request.
#[derive(Debug)]
pub(crate) enum Event {
    /// A message from the upstream: an answer to a gateway request, a server-to-client
    /// request (sampling, elicitation, roots, ping) or a notification.
    Message { link: Arc<Link>, msg: Message },
    /// The upstream's proxy ended (the upstream exited or could not be reached).
    Closed { server: Arc<str> },
}

/// Where a link delivers what its upstream sends (called on the link's reader task).
pub(crate) type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// Where an answer goes, and which client request a link request serves (for routing the
/// upstream's related messages).
struct Waiter {
    tx: oneshot::Sender<Value>,
    stream: Option<u64>,
}

/// A running upstream.
pub(crate) struct Link {
    pub server: Arc<str>,
    /// The proxy's client side; writers hold the lock for a whole line, so lines never
    /// interleave (and no writer task sits between the caller and the proxy).
    to_proxy: tokio::sync::Mutex<Option<tokio::io::WriteHalf<tokio::io::DuplexStream>>>,
    pending: Mutex<HashMap<i64, Waiter>>,
    next_id: AtomicI64,
    closed: AtomicBool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("server", &self.server)
            .finish()
    }
}

impl Link {
    /// Starts the upstream and its proxy. `settings.proxy.principal` is already the agent.
    pub(crate) fn start(
        upstream: &UpstreamSettings,
        proxy: warden_proxy::Settings,
        engine: Arc<warden_policy::Engine>,
        audit: warden_audit::Log,
        session_id: String,
        http: &reqwest::Client,
        events: Events,
    ) -> Result<Arc<Self>, String> {
        let server: Arc<str> = Arc::from(upstream.name.as_str());
        let limit = proxy.max_message_bytes;
        let (gateway_end, proxy_end) = tokio::io::duplex(PIPE_BYTES);
        let (proxy_read, proxy_write) = tokio::io::split(proxy_end);
        let (gateway_read, gateway_write) = tokio::io::split(gateway_end);
        let link = Arc::new(Self {
            server: server.clone(),
            to_proxy: tokio::sync::Mutex::new(Some(gateway_write)),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(0),
            closed: AtomicBool::new(false),
        });
        // The upstream.
        let session = session_id.clone();
        match &upstream.transport {
            Transport::Stdio(launch) => {
                let mut child = warden_sandbox::spawn(launch).map_err(|e| e.to_string())?;
                let (Some(stdin), Some(stdout), Some(stderr)) =
                    (child.stdin.take(), child.stdout.take(), child.stderr.take())
                else {
                    return Err(format!("upstream `{server}` started without pipes"));
                };
                let name = server.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncBufReadExt;
                    let mut lines = BufReader::new(stderr).lines();
                    while let Ok(Some(l)) = lines.next_line().await {
                        tracing::info!(target: "upstream", server = %name, "{l}");
                    }
                });
                let streams = warden_proxy::Streams {
                    client_in: BufReader::with_capacity(64 * 1024, proxy_read),
                    client_out: proxy_write,
                    upstream_in: BufReader::with_capacity(64 * 1024, stdout),
                    upstream_out: stdin,
                };
                let name = server.clone();
                let events = events.clone();
                let l = link.clone();
                tokio::spawn(async move {
                    let ended = warden_proxy::run(proxy, engine, audit, session, streams).await;
                    tracing::debug!(server = %name, "upstream proxy ended: {ended:?}");
                    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                    let _ = child.kill().await;
                    l.close(&events);
                });
            }
            Transport::Http { .. } => {
                let (adapter_end, up_end) = tokio::io::duplex(PIPE_BYTES);
                let (up_read, up_write) = tokio::io::split(up_end);
                crate::upstream_http::spawn(upstream, http.clone(), adapter_end, limit);
                let streams = warden_proxy::Streams {
                    client_in: BufReader::with_capacity(64 * 1024, proxy_read),
                    client_out: proxy_write,
                    upstream_in: BufReader::with_capacity(64 * 1024, up_read),
                    upstream_out: up_write,
                };
                let events = events.clone();
                let l = link.clone();
                tokio::spawn(async move {
                    let _ = warden_proxy::run(proxy, engine, audit, session, streams).await;
                    l.close(&events);
                });
            }
        }
        // Reader of the proxy's client side.
        let l = link.clone();
        tokio::spawn(async move {
            let mut reader =
                LineReader::new(BufReader::with_capacity(64 * 1024, gateway_read), limit);
            loop {
                match reader.next().await {
                    Ok(Frame::Line(bytes)) => match Message::parse(&bytes) {
                        Ok(msg) => l.dispatch(msg, &events),
                        Err(invalid) => {
                            tracing::warn!(server = %l.server, "proxy wrote an invalid message: {}", invalid.message)
                        }
                    },
                    Ok(Frame::Oversized { prefix, .. }) => {
                        if let Some(id) = warden_mcp::top_level_id(&prefix).and_then(|v| v.as_i64())
                        {
                            l.answer(
                                id,
                                error(
                                    Value::from(id),
                                    code::UPSTREAM,
                                    &format!(
                                        "upstream `{}` sent a message over the size limit",
                                        l.server
                                    ),
                                    None,
                                ),
                            );
                        }
                    }
                    Ok(Frame::Eof) | Err(_) => break,
                }
            }
            l.close(&events);
        });
        Ok(link)
    }

    /// Everything, answers included, goes through the session's one event queue: an answer
    /// must not overtake the progress notifications the upstream sent before it.
    fn dispatch(self: &Arc<Self>, msg: Message, events: &Events) {
        events(Event::Message {
            link: self.clone(),
            msg,
        });
    }

    /// Hands an answer to whoever waits for it.
    pub(crate) fn answer(&self, id: i64, value: Value) {
        let waiter = self.lock().remove(&id);
        if let Some(w) = waiter {
            let _ = w.tx.send(value);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Waiter>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn close(&self, events: &Events) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let waiters: Vec<(i64, Waiter)> = self.lock().drain().collect();
        for (id, w) in waiters {
            let _ = w.tx.send(error(
                Value::from(id),
                code::UPSTREAM,
                &format!(
                    "upstream `{}` closed its connection (it exited or crashed)",
                    self.server
                ),
                None,
            ));
        }
        events(Event::Closed {
            server: self.server.clone(),
        });
    }

    /// Whether the upstream is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The client request each in-flight link request serves, newest last.
    pub(crate) fn streams_in_flight(&self) -> Vec<(i64, u64)> {
        let mut v: Vec<(i64, u64)> = self
            .lock()
            .iter()
            .filter_map(|(id, w)| Some((*id, w.stream?)))
            .collect();
        v.sort_unstable();
        v
    }

    /// Sends a request (the whole message; its id is replaced) and waits for the whole
    /// response. Returns the link-side id through `sent` as soon as it is assigned, so the
    /// caller can cancel.
    pub(crate) async fn request(
        &self,
        mut msg: Value,
        stream: Option<u64>,
        wait: Duration,
        sent: Option<oneshot::Sender<i64>>,
    ) -> Value {
        if self.is_closed() {
            return error(
                Value::Null,
                code::UPSTREAM,
                &format!("upstream `{}` is not running", self.server),
                None,
            );
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, Waiter { tx, stream });
        if let Some(obj) = msg.as_object_mut() {
            obj.insert("id".to_owned(), Value::from(id));
        }
        if let Some(s) = sent {
            let _ = s.send(id);
        }
        if !self.write(&line(&msg)).await {
            self.lock().remove(&id);
            return error(
                Value::from(id),
                code::UPSTREAM,
                &format!("upstream `{}` is not running", self.server),
                None,
            );
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => error(
                Value::from(id),
                code::UPSTREAM,
                &format!("upstream `{}` went away before answering", self.server),
                None,
            ),
            Err(_) => {
                self.lock().remove(&id);
                self.cancel(id, "timed out").await;
                error(
                    Value::from(id),
                    code::UPSTREAM,
                    &format!(
                        "upstream `{}` did not answer within {} s",
                        self.server,
                        wait.as_secs()
                    ),
                    None,
                )
            }
        }
    }

    async fn write(&self, bytes: &[u8]) -> bool {
        let mut guard = self.to_proxy.lock().await;
        match guard.as_mut() {
            Some(w) => w.write_all(bytes).await.is_ok(),
            None => false,
        }
    }

    /// Sends a notification or a response as is.
    pub(crate) async fn send(&self, msg: &Value) {
        self.write(&line(msg)).await;
    }

    /// Tells the upstream a request is no longer wanted.
    pub(crate) async fn cancel(&self, id: i64, reason: &str) {
        self.lock().remove(&id);
        self.send(&warden_mcp::message::notification(
            "notifications/cancelled",
            serde_json::json!({"requestId": id, "reason": reason}),
        ))
        .await;
    }

    /// Ends the proxy (it closes the upstream).
    pub(crate) async fn shutdown(&self) {
        if let Some(mut w) = self.to_proxy.lock().await.take() {
            let _ = w.shutdown().await;
        }
    }
}
