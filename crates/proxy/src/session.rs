//! One proxied session's shared state: id maps, eras, known tools, and the two outgoing
//! queues. The state lock is never held across an `await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::oneshot;
use warden_audit::Log;
use warden_mcp::Message;
use warden_mcp::era::Era;
use warden_mcp::message::line;
use warden_policy::Engine;
use warden_types::{AuditEvent, AuditKind};

use crate::Settings;

/// What Warden does with the upstream's answer to a request it forwarded.
#[derive(Debug)]
pub(crate) enum Pending {
    /// A client request: answer goes back to the client under its own id.
    Client(Box<ClientCall>),
    /// Warden's own request: answer goes to whoever waits for it.
    Internal(oneshot::Sender<Value>),
}

/// A forwarded client request.
#[derive(Debug)]
pub(crate) struct ClientCall {
    /// The id the client used.
    pub client_id: Value,
    /// The method, to post-process listings.
    pub method: String,
    /// `params.name` or `params.uri`, to match a retry to its call.
    pub target: Option<Value>,
    /// Audit sequence number of the decision record, for governed requests.
    pub decision_seq: Option<i64>,
    /// When it was forwarded.
    pub started: Instant,
    /// Its limit admission: concurrency slots held until the answer, which is counted against
    /// budgets.
    pub admission: Option<warden_controls::Admission>,
    /// Its span, ended at the answer.
    pub span: Option<crate::trace::Open>,
}

/// A legacy upstream's request to its client, waiting for a modern client's retry.
#[derive(Debug)]
pub(crate) struct Parked {
    /// Warden's upstream id of the call the request belongs to.
    pub call: i64,
    /// The upstream's id of its request.
    pub request_id: Value,
    /// The `inputRequests` key the answer comes back under.
    pub key: String,
    /// `name` or `uri` of the original call: a retry must be for the same thing.
    pub target: Option<Value>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    next_upstream_id: i64,
    next_client_id: i64,
    /// Upstream id -> what to do with the answer.
    pub pending: HashMap<i64, Pending>,
    /// Client id (as JSON text) -> upstream id, for cancellations.
    pub by_client_id: HashMap<String, i64>,
    /// Client-facing id of a server-to-client request -> the upstream's own id.
    pub server_requests: HashMap<i64, Value>,
    /// The upstream's id of a server-to-client request (as JSON text) -> client-facing id.
    pub server_requests_rev: HashMap<String, i64>,
    /// Client-facing ids of `roots/list` requests whose answers are narrowed.
    pub roots_requests: std::collections::HashSet<i64>,
    pub client_era: Option<Era>,
    pub upstream_era: Option<Era>,
    /// The upstream's `initialize` result, when Warden initialized it for a modern client.
    pub bridged_init: Option<Value>,
    /// Open `subscriptions/listen` request of a modern client bridged to a legacy upstream.
    pub listen: Option<(Value, Value)>,
    /// Legacy server-to-client requests turned into `input_required` results for a modern
    /// client, by the `requestState` handed out.
    pub parked: HashMap<String, Parked>,
    /// Tool definitions from the last full `tools/list`, by name.
    pub tools: HashMap<String, Value>,
    pub tools_known: bool,
    /// Bumped by each `notifications/tools/list_changed`: a listing that started before one
    /// does not make the tools known.
    pub tools_epoch: u64,
    /// Governed calls so far.
    pub calls: i64,
    /// Redaction placeholders, stable for the session (`[EMAIL_1]` is always the same value).
    pub placeholders: warden_detect::Placeholders,
    /// The client declared the elicitation capability (`initialize`).
    pub client_elicitation: bool,
    /// Warden's own requests to the client (elicitation), by client-facing id.
    pub own_requests: HashMap<i64, oneshot::Sender<Value>>,
    /// Calls held for approval, by client id (as JSON text): cancelled with the request or
    /// the session.
    pub held: HashMap<String, tokio::task::AbortHandle>,
    /// Labels detection put on the session (`secret_in_results`), for data-flow rules.
    pub labels: std::collections::BTreeSet<String>,
    /// Fingerprints of the values private tools returned and Warden redacted.
    pub taint: warden_detect::taint::Taint,
    /// Where each listed tool stands against its pin.
    pub pins: HashMap<String, warden_approvals::PinStatus>,
}

impl State {
    pub fn next_upstream_id(&mut self) -> i64 {
        self.next_upstream_id += 1;
        self.next_upstream_id
    }

    pub fn next_client_id(&mut self) -> i64 {
        self.next_client_id += 1;
        self.next_client_id
    }

    /// Whether Warden is bridging a modern client to a legacy upstream.
    pub fn bridging(&self) -> bool {
        self.client_era == Some(Era::Modern) && self.upstream_era == Some(Era::Legacy)
    }
}

/// Everything the two relay loops share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub settings: Settings,
    pub engine: Arc<Engine>,
    pub audit: Log,
    pub session_id: String,
    state: Mutex<State>,
    to_client: Arc<crate::stdio::Out>,
    to_upstream: Arc<crate::stdio::Out>,
}

impl Shared {
    pub fn new(
        settings: Settings,
        engine: Arc<Engine>,
        audit: Log,
        session_id: String,
        to_client: Arc<crate::stdio::Out>,
        to_upstream: Arc<crate::stdio::Out>,
    ) -> Self {
        Self {
            settings,
            engine,
            audit,
            session_id,
            state: Mutex::new(State::default()),
            to_client,
            to_upstream,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked mid-update; the maps stay usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub async fn send_client(&self, value: &Value) {
        self.to_client.send(&line(value)).await;
    }

    pub async fn send_upstream(&self, value: &Value) {
        self.to_upstream.send(&line(value)).await;
    }

    /// Relays a message to the client: the bytes it arrived as while they still say exactly
    /// what it is ([`Message::wire`]).
    pub async fn send_client_msg(&self, msg: &Message) {
        self.to_client.send_wire(&msg.wire()).await;
    }

    /// Relays a message to the upstream (see [`Shared::send_client_msg`]).
    pub async fn send_upstream_msg(&self, msg: &Message) {
        self.to_upstream.send_wire(&msg.wire()).await;
    }

    /// Records an event without waiting for the commit (ordering is kept by the writer).
    pub async fn note(&self, kind: AuditKind, mut body: Value) {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("session".to_owned(), Value::String(self.session_id.clone()));
        }
        if let Err(e) = self
            .audit
            .append_detached(AuditEvent::new(kind, body))
            .await
        {
            tracing::error!("audit: {e}");
        }
    }

    /// Sends a request of Warden's own to the client and waits for the answer (the whole
    /// response object) or `wait`.
    pub async fn ask_client(
        &self,
        method: &str,
        params: Value,
        wait: std::time::Duration,
    ) -> Result<Value, String> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut state = self.state();
            let id = state.next_client_id();
            state.own_requests.insert(id, tx);
            id
        };
        self.send_client(&warden_mcp::message::request(
            Value::from(id),
            method,
            params,
        ))
        .await;
        let answer = tokio::time::timeout(wait, rx).await;
        if answer.is_err() {
            self.state().own_requests.remove(&id);
        }
        settle(answer, "the client", method, wait)
    }

    /// Sends a request of Warden's own to the upstream and waits for the answer (the whole
    /// response object) or the timeout.
    pub async fn internal(
        &self,
        method: &str,
        params: Value,
        wait: Option<std::time::Duration>,
    ) -> Result<Value, String> {
        let wait = wait.unwrap_or(self.settings.upstream_timeout);
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut state = self.state();
            let id = state.next_upstream_id();
            state.pending.insert(id, Pending::Internal(tx));
            id
        };
        self.send_upstream(&warden_mcp::message::request(
            Value::from(id),
            method,
            params,
        ))
        .await;
        let answer = tokio::time::timeout(wait, rx).await;
        if answer.is_err() {
            self.state().pending.remove(&id);
        }
        settle(
            answer,
            &format!("upstream `{}`", self.settings.server),
            method,
            wait,
        )
    }
}

/// The answer to one of Warden's own requests, or why there is none.
fn settle(
    answer: Result<Result<Value, oneshot::error::RecvError>, tokio::time::error::Elapsed>,
    peer: &str,
    method: &str,
    wait: std::time::Duration,
) -> Result<Value, String> {
    match answer {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(_)) => Err(format!("{peer} went away before answering `{method}`")),
        Err(_) => Err(format!(
            "{peer} did not answer `{method}` within {} ms",
            wait.as_millis()
        )),
    }
}
