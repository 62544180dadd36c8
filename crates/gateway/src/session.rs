//! Agent sessions and routing across upstreams.
//!
//! A legacy client gets a session at `initialize` (`Mcp-Session-Id`); a modern (2026-07-28)
//! client has no sessions, so its requests share one context per agent and delegation chain.
//! Either way the context holds one [`Link`] per upstream, started for that agent (stdio
//! upstreams are separate processes per context, so agents never share a server's state).
//!
//! Names are namespaced by upstream: tools and prompts as `<server>__<name>`, resource URIs as
//! `<server>+<uri>`. Listings fan out to every upstream (each filtered by policy for this
//! agent in its proxy, then by the token's scopes here) and are merged; calls go to the
//! upstream their name names, with the name it knows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use warden_identity::{Verified, scope};
use warden_mcp::era::Era;
use warden_mcp::message::{code, error, result};
use warden_mcp::{Kind, Message};
use warden_types::{AuditEvent, AuditKind};

use crate::core::Core;
use crate::link::{Event as LinkEvent, Link};
use crate::names::{namespace_item, namespace_result, set_param, split_name, split_uri};
use crate::settings::NAME_SEPARATOR;
use crate::streams::Streams;

/// Most pages read from one upstream for one listing.
const MAX_PAGES: usize = 50;
/// Longest wait before a crashed upstream is started again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

enum Slot {
    Up(Arc<Link>),
    Down {
        failures: u32,
        retry_at: Instant,
        why: String,
    },
}

/// Where a request goes when it is for one upstream: read once, used both for the scope check
/// (in the HTTP layer) and for forwarding.
#[derive(Debug)]
pub(crate) struct Route {
    /// The upstream.
    pub server: String,
    /// The tool or prompt name the upstream knows, when the request names one.
    pub name: Option<String>,
    /// The message as the upstream must see it (its own names and URIs).
    forward: Value,
}

impl Route {
    /// Whether the token's scopes reach this target.
    pub(crate) fn allowed(&self, scopes: &[warden_identity::Scope]) -> bool {
        scope::any_allows(scopes, &self.server, self.name.as_deref())
    }

    /// The scope the target needs, as a challenge names it.
    pub(crate) fn scope(&self) -> String {
        match &self.name {
            Some(n) => format!("mcp:{}/{n}", self.server),
            None => format!("mcp:{}", self.server),
        }
    }
}

/// One agent context.
pub(crate) struct Session {
    pub id: String,
    /// Who may use it: agent uid and delegation chain.
    pub owner: String,
    /// The agent's uid (whatever the chain), for the per-agent session limit.
    pub agent_uid: String,
    pub era: Era,
    /// Negotiated protocol version (legacy) or `2026-07-28`.
    pub version: String,
    /// The agent as of the latest request.
    agent: Mutex<Verified>,
    init_params: Value,
    core: Arc<Core>,
    links: Mutex<HashMap<String, Slot>>,
    /// Per-upstream start gates.
    starting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Upstream results of `initialize` (legacy), by server.
    pub upstream_info: Mutex<HashMap<String, Value>>,
    pub streams: Mutex<Streams>,
    /// Client-facing id of a server-to-client request -> (server, upstream's id).
    server_requests: Mutex<HashMap<i64, (Arc<str>, Value)>>,
    next_server_request: AtomicI64,
    pub last_used: Mutex<Instant>,
    /// Cancellation guards of requests in flight, by the client's id (as JSON text).
    pub in_flight: Mutex<HashMap<String, crate::http::CancelGuard>>,
    events: crate::link::Events,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish()
    }
}

/// Who may use a session.
pub(crate) fn owner_of(v: &Verified) -> String {
    format!("{}:{}", v.agent.uid, v.chain.join("/"))
}

impl Session {
    /// A new context for `agent`; its upstreams start on first use.
    pub(crate) fn new(
        core: Arc<Core>,
        id: String,
        agent: Verified,
        era: Era,
        version: String,
        init_params: Value,
    ) -> Arc<Self> {
        Arc::new_cyclic(|weak: &std::sync::Weak<Self>| {
            let weak = weak.clone();
            // Called on the link's reader task, in the order the upstream wrote: an answer
            // cannot overtake the notifications sent before it, and there is no extra hop.
            let events: crate::link::Events = Arc::new(move |event| {
                if let Some(s) = weak.upgrade() {
                    s.on_link_event(event);
                }
            });
            Self {
                id,
                owner: owner_of(&agent),
                agent_uid: agent.agent.uid.clone(),
                era,
                version,
                agent: Mutex::new(agent),
                init_params,
                core,
                links: Mutex::new(HashMap::new()),
                starting: Mutex::new(HashMap::new()),
                upstream_info: Mutex::new(HashMap::new()),
                streams: Mutex::new(Streams::default()),
                server_requests: Mutex::new(HashMap::new()),
                next_server_request: AtomicI64::new(0),
                last_used: Mutex::new(Instant::now()),
                in_flight: Mutex::new(HashMap::new()),
                events,
            }
        })
    }

    pub(crate) fn touch(&self, agent: Verified) {
        *lock(&self.last_used) = Instant::now();
        *lock(&self.agent) = agent;
    }

    pub(crate) fn agent(&self) -> Verified {
        lock(&self.agent).clone()
    }

    /// Starts every upstream now (legacy `initialize`, so the answer can say what they offer).
    pub(crate) async fn start_all(self: &Arc<Self>) {
        let names: Vec<String> = self
            .core
            .settings
            .upstreams
            .iter()
            .map(|u| u.name.clone())
            .collect();
        let starts = names.iter().map(|n| self.link(n));
        futures_util::future::join_all(starts).await;
    }

    /// The running link to `server`, starting (or restarting, after a backoff) it if needed.
    async fn link(self: &Arc<Self>, server: &str) -> Result<Arc<Link>, String> {
        if let Some(link) = self.running(server) {
            return Ok(link);
        }
        // One start at a time per upstream: concurrent first requests (a modern agent's
        // parallel calls) must not each launch a process.
        let gate = lock(&self.starting)
            .entry(server.to_owned())
            .or_default()
            .clone();
        let _starting = gate.lock().await;
        {
            let links = lock(&self.links);
            match links.get(server) {
                Some(Slot::Up(link)) if !link.is_closed() => return Ok(link.clone()),
                Some(Slot::Down { retry_at, why, .. }) if Instant::now() < *retry_at => {
                    return Err(format!(
                        "upstream `{server}` is unavailable ({why}); Warden retries in {} s",
                        retry_at.saturating_duration_since(Instant::now()).as_secs() + 1
                    ));
                }
                _ => {}
            }
        }
        let failures = match lock(&self.links).get(server) {
            Some(Slot::Down { failures, .. }) => *failures,
            Some(Slot::Up(_)) => 1,
            None => 0,
        };
        let Some(upstream) = self
            .core
            .settings
            .upstreams
            .iter()
            .find(|u| u.name == server)
        else {
            return Err(format!("no upstream named `{server}`"));
        };
        let agent = self.agent();
        let mut proxy = upstream.proxy.clone();
        proxy.principal = warden_types::Principal {
            id: agent.agent.id.clone(),
            attributes: agent.agent.attributes.clone().into_iter().collect(),
        };
        proxy.delegation = agent.chain.clone();
        let started = Link::start(
            upstream,
            proxy,
            self.core.engine.clone(),
            self.core.audit.clone(),
            format!("{}/{server}", self.id),
            &self.core.upstream_client(),
            self.events.clone(),
        );
        let link = match started {
            Ok(link) => link,
            Err(why) => return Err(self.mark_down(server, failures, why)),
        };
        if self.era == Era::Legacy {
            let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": self.init_params});
            let answer = link
                .request(
                    init,
                    None,
                    self.core.settings.call_timeout.min(Duration::from_secs(30)),
                    None,
                )
                .await;
            if let Some(err) = answer.get("error") {
                let why = err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("initialize failed")
                    .to_owned();
                link.shutdown().await;
                return Err(self.mark_down(server, failures, why));
            }
            if let Some(r) = answer.get("result") {
                lock(&self.upstream_info).insert(server.to_owned(), r.clone());
            }
            link.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
                .await;
        }
        lock(&self.links).insert(server.to_owned(), Slot::Up(link.clone()));
        Ok(link)
    }

    fn running(&self, server: &str) -> Option<Arc<Link>> {
        match lock(&self.links).get(server) {
            Some(Slot::Up(link)) if !link.is_closed() => Some(link.clone()),
            _ => None,
        }
    }

    fn mark_down(&self, server: &str, failures: u32, why: String) -> String {
        let failures = failures + 1;
        let wait = Duration::from_secs(1u64 << failures.min(5)).min(MAX_BACKOFF);
        tracing::warn!(%server, session = %self.id, "upstream failed ({why}); retry in {} s", wait.as_secs());
        lock(&self.links).insert(
            server.to_owned(),
            Slot::Down {
                failures,
                retry_at: Instant::now() + wait,
                why: why.clone(),
            },
        );
        format!("upstream `{server}` is unavailable: {why}")
    }

    /// Ends the session: every upstream is shut down.
    pub(crate) async fn close(&self) {
        let links: Vec<Arc<Link>> = lock(&self.links)
            .drain()
            .filter_map(|(_, s)| match s {
                Slot::Up(l) => Some(l),
                Slot::Down { .. } => None,
            })
            .collect();
        for link in links {
            link.shutdown().await;
        }
    }

    // ---- client requests ----

    /// Where a request goes: `Ok(None)` for what the gateway answers itself (and unknown
    /// methods with several upstreams), `Err` (invalid params) for a request naming no upstream.
    pub(crate) fn route(&self, msg: &Message) -> Result<Option<Route>, String> {
        let method = msg.method().unwrap_or_default();
        let param = |key: &str| {
            msg.params()
                .and_then(|p| p.get(key))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("`{method}` needs a string `{key}`"))
        };
        let mut forward = msg.value().clone();
        let (server, name) = match method {
            "ping"
            | "server/discover"
            | "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "logging/setLevel" => return Ok(None),
            "tools/call" | "prompts/get" => {
                let full = param("name")?;
                let (server, name) = split_name(full).ok_or_else(|| {
                    let what = if method == "tools/call" {
                        "tool"
                    } else {
                        "prompt"
                    };
                    format!("unknown {what} `{full}`: names are `<server>{NAME_SEPARATOR}<name>`")
                })?;
                set_param(&mut forward, "name", Value::String(name.to_owned()));
                (server.to_owned(), Some(name.to_owned()))
            }
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                let full = param("uri")?;
                let (server, uri) = split_uri(full).ok_or_else(|| {
                    format!("unknown resource `{full}`: URIs are `<server>+<uri>`")
                })?;
                set_param(&mut forward, "uri", Value::String(uri.to_owned()));
                (server.to_owned(), None)
            }
            "completion/complete" => {
                let reference = msg.params().and_then(|p| p.get("ref"));
                let text = |key: &str| reference.and_then(|r| r.get(key)).and_then(Value::as_str);
                let (server, key, local) = text("name")
                    .and_then(|n| split_name(n).map(|(s, n)| (s, "name", n)))
                    .or_else(|| text("uri").and_then(|u| split_uri(u).map(|(s, u)| (s, "uri", u))))
                    .ok_or("`completion/complete` needs a `ref` naming a prompt or resource of one upstream")?;
                if let Some(r) = forward
                    .pointer_mut("/params/ref")
                    .and_then(Value::as_object_mut)
                {
                    r.insert(key.to_owned(), Value::String(local.to_owned()));
                }
                (server.to_owned(), None)
            }
            // One upstream: pass unknown methods through, as `warden mcp` does. Several: there
            // is no telling which one it is for.
            _ => match self.core.settings.upstreams.as_slice() {
                [only] => (only.name.clone(), None),
                _ => return Ok(None),
            },
        };
        Ok(Some(Route {
            server,
            name,
            forward,
        }))
    }

    /// Answers one client request, routed by [`Session::route`] (whose scope the HTTP layer
    /// has checked). `stream` is where related messages go.
    pub(crate) async fn request(
        self: &Arc<Self>,
        msg: Message,
        route: Option<Route>,
        stream: u64,
        cancel: &crate::http::CancelGuard,
    ) -> Value {
        let Kind::Request { id, method } = msg.kind.clone() else {
            return Value::Null;
        };
        if let Some(token) = msg
            .params()
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get("progressToken"))
        {
            lock(&self.streams)
                .progress
                .insert(token.to_string(), stream);
        }
        if let Some(route) = route {
            return self
                .forward(&route.server, route.forward, &id, stream, cancel)
                .await;
        }
        match method.as_str() {
            "ping" => result(id, json!({})),
            "server/discover" => result(id, self.core.discover()),
            "tools/list" => self.list(&msg, &id, "tools", stream).await,
            "prompts/list" => self.list(&msg, &id, "prompts", stream).await,
            "resources/list" => self.list(&msg, &id, "resources", stream).await,
            "resources/templates/list" => self.list(&msg, &id, "resourceTemplates", stream).await,
            "logging/setLevel" => {
                self.broadcast_request(&msg, stream).await;
                result(id, json!({}))
            }
            _ => error(
                id,
                code::METHOD_NOT_FOUND,
                &format!(
                    "method `{method}` cannot be routed: this gateway serves several upstreams and the method names none of them"
                ),
                None,
            ),
        }
    }

    async fn forward(
        self: &Arc<Self>,
        server: &str,
        msg: Value,
        id: &Value,
        stream: u64,
        cancel: &crate::http::CancelGuard,
    ) -> Value {
        let link = match self.link(server).await {
            Ok(l) => l,
            Err(why) => return error(id.clone(), code::UPSTREAM, &why, None),
        };
        let (sent_tx, sent_rx) = tokio::sync::oneshot::channel();
        // A call held for approval may wait for its approvers on top of the upstream's time.
        let held = self
            .core
            .settings
            .upstreams
            .iter()
            .find(|u| u.name == server)
            .and_then(|u| u.proxy.approvals.as_ref())
            .map_or(Duration::ZERO, |a| a.settings.timeout);
        let wait = self.core.settings.call_timeout + held;
        let fut = link.request(msg, Some(stream), wait, Some(sent_tx));
        tokio::pin!(fut);
        // Record the link-side id for cancellation as soon as it is known.
        let mut sent_rx = Some(sent_rx);
        let mut response = loop {
            tokio::select! {
                r = &mut fut => break r,
                Ok(link_id) = async { match sent_rx.as_mut() { Some(rx) => rx.await, None => std::future::pending().await } } => {
                    cancel.arm(link.clone(), link_id);
                    sent_rx = None;
                }
            }
        };
        cancel.disarm();
        namespace_result(server, &mut response);
        if let Some(obj) = response.as_object_mut() {
            obj.insert("id".to_owned(), id.clone());
        }
        response
    }

    /// Fans a listing out to every upstream the token reaches and merges the answers.
    async fn list(self: &Arc<Self>, msg: &Message, id: &Value, key: &str, stream: u64) -> Value {
        let method = msg.method().unwrap_or_default().to_owned();
        let scopes = self.agent().scopes;
        let servers: Vec<String> = self
            .core
            .settings
            .upstreams
            .iter()
            .map(|u| u.name.clone())
            .filter(|s| scope::reaches(&scopes, s))
            .collect();
        let mut base = msg.value().clone();
        if let Some(p) = base.get_mut("params").and_then(Value::as_object_mut) {
            p.remove("cursor");
        }
        let fetches = servers.iter().map(|server| {
            let base = base.clone();
            let method = method.clone();
            async move {
                let link = match self.link(server).await {
                    Ok(l) => l,
                    Err(why) => return (server.clone(), Err(why)),
                };
                let mut items = Vec::new();
                let mut cursor: Option<Value> = None;
                for _ in 0..MAX_PAGES {
                    let mut req = base.clone();
                    if let Some(c) = cursor.take() {
                        set_param(&mut req, "cursor", c);
                    }
                    let answer = link
                        .request(req, Some(stream), self.core.settings.call_timeout, None)
                        .await;
                    let Some(result) = answer.get("result") else {
                        let why = answer
                            .pointer("/error/message")
                            .and_then(Value::as_str)
                            .unwrap_or("no result")
                            .to_owned();
                        return (server.clone(), Err(format!("`{method}` failed: {why}")));
                    };
                    if let Some(list) = result.get(key).and_then(Value::as_array) {
                        items.extend(list.iter().cloned());
                    }
                    match result.get("nextCursor").filter(|c| !c.is_null()) {
                        Some(c) => cursor = Some(c.clone()),
                        None => break,
                    }
                }
                (server.clone(), Ok(items))
            }
        });
        let answers = futures_util::future::join_all(fetches).await;
        let mut merged = Vec::new();
        for (server, items) in answers {
            match items {
                Ok(items) => {
                    for mut item in items {
                        let local = item.get("name").and_then(Value::as_str).map(str::to_owned);
                        let allowed = match key {
                            "tools" | "prompts" => {
                                scope::any_allows(&scopes, &server, local.as_deref())
                            }
                            _ => scope::any_allows(&scopes, &server, None),
                        };
                        if !allowed {
                            continue;
                        }
                        namespace_item(&server, key, &mut item);
                        merged.push(item);
                    }
                }
                Err(why) => {
                    tracing::warn!(%server, session = %self.id, "{why}");
                    self.note(json!({"event": "listing_partial", "server": server, "method": method, "problem": why})).await;
                }
            }
        }
        let mut out = Map::new();
        out.insert(key.to_owned(), Value::Array(merged));
        if self.era == Era::Modern {
            out.insert("resultType".to_owned(), json!("complete"));
            out.insert("ttlMs".to_owned(), json!(0));
            out.insert("cacheScope".to_owned(), json!("private"));
        }
        result(id.clone(), Value::Object(out))
    }

    async fn broadcast_request(self: &Arc<Self>, msg: &Message, stream: u64) {
        let servers: Vec<String> = self
            .core
            .settings
            .upstreams
            .iter()
            .map(|u| u.name.clone())
            .collect();
        let calls = servers.iter().map(|s| {
            let msg = msg.value().clone();
            async move {
                if let Ok(link) = self.link(s).await {
                    let _ = link
                        .request(msg, Some(stream), self.core.settings.call_timeout, None)
                        .await;
                }
            }
        });
        futures_util::future::join_all(calls).await;
    }

    // ---- client notifications and responses ----

    /// A client notification or response.
    pub(crate) async fn client_message(self: &Arc<Self>, msg: Message) {
        match &msg.kind {
            Kind::Response { id } => {
                let target = id
                    .as_i64()
                    .and_then(|n| lock(&self.server_requests).remove(&n));
                let Some((server, original)) = target else {
                    self.note(json!({"from": "client", "problem": format!("response to unknown request id {id}")})).await;
                    return;
                };
                let link = lock(&self.links)
                    .get(server.as_ref())
                    .and_then(|s| match s {
                        Slot::Up(l) => Some(l.clone()),
                        Slot::Down { .. } => None,
                    });
                if let Some(link) = link {
                    let mut answer = msg.value().clone();
                    if let Some(obj) = answer.as_object_mut() {
                        obj.insert("id".to_owned(), original);
                    }
                    link.send(&answer).await;
                }
            }
            Kind::Notification { method } => match method.as_str() {
                // The gateway initialized each upstream itself.
                "notifications/initialized" => {}
                // Cancellations of in-flight requests are driven by the HTTP layer (the
                // request's guard); a legacy client's explicit cancel names its own id.
                "notifications/cancelled" => {
                    if let Some(rid) = msg.params().and_then(|p| p.get("requestId")) {
                        crate::http::cancel_by_client_id(self, rid).await;
                    }
                }
                _ => {
                    let links: Vec<Arc<Link>> = lock(&self.links)
                        .values()
                        .filter_map(|s| match s {
                            Slot::Up(l) => Some(l.clone()),
                            Slot::Down { .. } => None,
                        })
                        .collect();
                    for link in links {
                        link.send(msg.value()).await;
                    }
                }
            },
            Kind::Request { .. } => {}
        }
    }

    // ---- upstream-initiated messages ----

    fn on_link_event(self: &Arc<Self>, event: LinkEvent) {
        let (link, msg) = match event {
            LinkEvent::Closed { server } => {
                tracing::info!(%server, session = %self.id, "upstream closed");
                return;
            }
            LinkEvent::Message { link, msg } => (link, msg),
        };
        if let Kind::Response { id } = &msg.kind {
            if let Some(n) = id.as_i64() {
                link.answer(n, msg.into_value());
            }
            return;
        }
        let server = link.server.clone();
        let related = link.streams_in_flight().last().map(|(_, s)| *s);
        let link = Some(link);
        let standalone = lock(&self.streams).standalone;
        match msg.kind.clone() {
            Kind::Request { id, .. } => {
                let target = related
                    .filter(|s| lock(&self.streams).is_live(*s))
                    .or(standalone)
                    .or(related);
                let Some(stream) = target else {
                    if let Some(link) = link {
                        let refusal = error(
                            id,
                            code::INTERNAL_ERROR,
                            "the client has no open stream for server requests",
                            None,
                        );
                        tokio::spawn(async move { link.send(&refusal).await });
                    }
                    return;
                };
                let n = self.next_server_request.fetch_add(1, Ordering::Relaxed) + 1;
                lock(&self.server_requests).insert(n, (server.clone(), id));
                let mut out = msg.into_value();
                if let Some(obj) = out.as_object_mut() {
                    obj.insert("id".to_owned(), Value::from(n));
                }
                lock(&self.streams).emit(stream, &out, false);
            }
            Kind::Notification { method } => {
                let mut out = msg.into_value();
                let stream = match method.as_str() {
                    "notifications/progress" => {
                        let token = out
                            .pointer("/params/progressToken")
                            .map(ToString::to_string);
                        token.and_then(|t| lock(&self.streams).progress.get(&t).copied())
                    }
                    "notifications/cancelled" => {
                        let rid = out.pointer("/params/requestId").cloned();
                        let mapped = rid.and_then(|r| {
                            lock(&self.server_requests)
                                .iter()
                                .find(|(_, (s, orig))| *s == server && *orig == r)
                                .map(|(n, _)| *n)
                        });
                        match mapped {
                            Some(n) => {
                                if let Some(p) =
                                    out.get_mut("params").and_then(Value::as_object_mut)
                                {
                                    p.insert("requestId".to_owned(), Value::from(n));
                                }
                                related.or(standalone)
                            }
                            None => None,
                        }
                    }
                    "notifications/message" => related.or(standalone),
                    "notifications/resources/updated" => {
                        if let Some(uri) = out
                            .pointer("/params/uri")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            && let Some(p) = out.get_mut("params").and_then(Value::as_object_mut)
                        {
                            p.insert("uri".to_owned(), Value::String(format!("{server}+{uri}")));
                        }
                        standalone
                    }
                    _ => standalone,
                };
                if let Some(stream) = stream {
                    lock(&self.streams).emit(stream, &out, false);
                }
            }
            Kind::Response { .. } => {}
        }
    }

    async fn note(&self, mut body: Value) {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("session".to_owned(), Value::String(self.id.clone()));
            obj.insert("agent".to_owned(), Value::String(self.agent().agent.id));
        }
        if let Err(e) = self
            .core
            .audit
            .append_detached(AuditEvent::new(AuditKind::Protocol, body))
            .await
        {
            tracing::error!("audit: {e}");
        }
    }
}
