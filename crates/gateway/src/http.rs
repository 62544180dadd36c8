//! The HTTP face: `POST`/`GET`/`DELETE /mcp` (Streamable HTTP, both eras), the OAuth
//! metadata documents, token exchange, and the decision API.
//!
//! Every request passes, in this order:
//! 1. **Host and Origin.** Before anything else, so a DNS-rebinding page cannot even probe
//!    authentication (`421` wrong Host, `403` wrong Origin).
//! 2. **Authentication.** A missing or bad token is `401` with the challenge; nothing about
//!    sessions or upstreams is revealed before it.
//! 3. **Size and shape.** Bodies over the limit are `413`; bad JSON-RPC is `400` with the
//!    JSON-RPC error.
//! 4. **Era and session.** Modern requests have their standard headers checked against the
//!    body (`400`, `-32020`); legacy requests need the session they were given, owned by the
//!    same agent (`404` otherwise, so one agent cannot ride another's session).
//! 5. **Scope.** A call outside the token's scopes is `403 insufficient_scope`.
//! 6. **The session**, which routes to the upstream's governed proxy (policy, detection,
//!    audit).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use warden_identity::{Refusal, Verified};
use warden_mcp::Kind;
use warden_mcp::era::{self, Era};
use warden_mcp::message::{Message, code, error, result};
use warden_types::{AuditEvent, AuditKind};

use crate::core::{Core, new_id, server_info};
use crate::link::Link;
use crate::session::{Route, Session};
use crate::streams::Event;

/// The MCP endpoint's path.
pub const MCP_PATH: &str = "/mcp";
/// Modern-era header mismatch.
const HEADER_MISMATCH: i64 = -32020;
/// Keep-alive comment interval on long streams.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The router.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route(MCP_PATH, post(mcp_post).get(mcp_get).delete(mcp_delete))
        .route(
            "/.well-known/oauth-protected-resource",
            get(crate::api::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(crate::api::protected_resource),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(crate::api::authorization_server),
        )
        .route("/.well-known/jwks.json", get(crate::api::jwks))
        .route("/oauth/token", post(crate::api::token))
        .route("/v1/decide", post(crate::api::decide))
        .route("/v1/scan", post(crate::api::scan))
        .route("/openapi.json", get(crate::api::openapi))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(crate::api::metrics))
        .merge(crate::console::router())
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "not_found"})),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            core.clone(),
            guard_host_origin,
        ))
        .with_state(core)
}

/// Stage 1: Host and Origin (DNS rebinding).
async fn guard_host_origin(
    State(core): State<Arc<Core>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !core
        .settings
        .allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
    {
        return (StatusCode::MISDIRECTED_REQUEST, axum::Json(json!({"error": "host_not_allowed", "error_description": format!("Host `{host}` is not served here")}))).into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        // The console's own pages post forms from its own origin.
        let console_self = req.uri().path().starts_with("/console/")
            && (origin.eq_ignore_ascii_case(&format!("http://{host}"))
                || origin.eq_ignore_ascii_case(&format!("https://{host}")));
        if !console_self
            && !core
                .settings
                .allowed_origins
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin))
        {
            return (StatusCode::FORBIDDEN, axum::Json(json!({"error": "origin_not_allowed", "error_description": format!("Origin `{origin}` is not allowed")}))).into_response();
        }
    }
    next.run(req).await
}

/// Stage 2, shared by every authenticated route.
pub(crate) async fn authenticate(core: &Core, headers: &HeaderMap) -> Result<Verified, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|h| h.to_str().unwrap_or("?"));
    core.authenticate(authorization).await.map_err(|refusal| {
        tracing::info!("token refused: {refusal}");
        crate::auth::refusal_response(&refusal, &crate::api::metadata_url(core))
    })
}

fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> Response {
    (status, axum::Json(error(id, code, message, None))).into_response()
}

/// Stage 3: the body, within the limit.
async fn read_body(core: &Core, body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, core.settings.max_body_bytes)
        .await
        .map_err(|_| {
            rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Value::Null,
                code::INVALID_REQUEST,
                &format!(
                    "message exceeds the limit of {} bytes",
                    core.settings.max_body_bytes
                ),
            )
        })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn mcp_post(State(core): State<Arc<Core>>, headers: HeaderMap, body: Body) -> Response {
    let agent = match authenticate(&core, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let bytes = match read_body(&core, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let msg = match Message::parse(&bytes) {
        Ok(m) => m,
        Err(invalid) => {
            return (StatusCode::BAD_REQUEST, axum::Json(invalid.response())).into_response();
        }
    };
    let accept = header_str(&headers, "accept")
        .unwrap_or("*/*")
        .to_ascii_lowercase();
    let sse_ok = accept.contains("text/event-stream") || accept.contains("*/*");
    let json_ok = accept.contains("application/json") || accept.contains("*/*");
    if !sse_ok && !json_ok {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            Value::Null,
            code::INVALID_REQUEST,
            "Accept must allow application/json or text/event-stream",
        );
    }
    let header_version = header_str(&headers, "mcp-protocol-version");
    let modern = header_version == Some(era::MODERN) || era::of_request(&msg) == Some(Era::Modern);
    // Stage 4: era and session.
    let (session, new_session) = if modern {
        if let Err(r) = check_modern_headers(&headers, &msg) {
            return r;
        }
        match core.context(&agent) {
            Ok(context) => (context, false),
            Err(held) => {
                return rpc_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    msg.value().get("id").cloned().unwrap_or(Value::Null),
                    code::INVALID_REQUEST,
                    &format!(
                        "agent `{}` holds {held} contexts (one per delegation chain), the most `[gateway] max_sessions_per_agent` allows: let idle ones expire",
                        agent.agent.id
                    ),
                );
            }
        }
    } else if msg.method() == Some("initialize") {
        let params = msg
            .params()
            .cloned()
            .map(Value::Object)
            .unwrap_or_else(|| json!({}));
        let requested = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or(era::LEGACY_LATEST);
        let version = if era::LEGACY.contains(&requested) {
            requested
        } else {
            era::LEGACY_LATEST
        }
        .to_owned();
        let mut upstream_params = params.clone();
        if let Some(p) = upstream_params.as_object_mut() {
            p.insert("protocolVersion".to_owned(), Value::String(version.clone()));
        }
        let session = Session::new(
            core.clone(),
            new_id(),
            agent.clone(),
            Era::Legacy,
            version,
            upstream_params,
        );
        (session, true)
    } else {
        let Some(id) = header_str(&headers, "mcp-session-id") else {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                code::INVALID_REQUEST,
                "missing Mcp-Session-Id header: send `initialize` first",
            );
        };
        let Some(session) = core.session(id, &agent) else {
            return rpc_error(
                StatusCode::NOT_FOUND,
                Value::Null,
                code::INVALID_REQUEST,
                "unknown or expired session: initialize again",
            );
        };
        if let Some(v) = header_version
            && v != session.version
            && !era::LEGACY.contains(&v)
        {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                code::INVALID_REQUEST,
                &format!("unsupported MCP-Protocol-Version `{v}`"),
            );
        }
        (session, false)
    };
    session.touch(agent.clone());
    match msg.kind.clone() {
        Kind::Notification { .. } | Kind::Response { .. } => {
            session.client_message(msg).await;
            StatusCode::ACCEPTED.into_response()
        }
        Kind::Request { id, method } if method == "initialize" => {
            if !new_session {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    id,
                    code::INVALID_REQUEST,
                    "this session is already initialized",
                );
            }
            // Checked before the upstreams start, and again (atomically) when it is added.
            let refuse = |held: usize| {
                rpc_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    id.clone(),
                    code::INVALID_REQUEST,
                    &format!(
                        "agent `{}` holds {held} open sessions, the most `[gateway] max_sessions_per_agent` allows: close one (HTTP DELETE with its Mcp-Session-Id) or let idle ones expire",
                        agent.agent.id
                    ),
                )
            };
            if let Err(held) = core.session_room(&session.agent_uid) {
                return refuse(held);
            }
            session.start_all().await;
            if let Err(held) = core.add_session(session.clone()) {
                session.close().await;
                return refuse(held);
            }
            audit(&core, AuditKind::Lifecycle, json!({"event": "gateway_session_start", "session": session.id, "agent": agent.agent.id, "chain": agent.chain, "version": session.version})).await;
            let instructions: Vec<String> = session
                .upstream_info
                .lock()
                .map(|m| {
                    let mut v: Vec<String> = m
                        .iter()
                        .filter_map(|(s, r)| {
                            Some(format!("{s}: {}", r.get("instructions")?.as_str()?))
                        })
                        .collect();
                    v.sort();
                    v
                })
                .unwrap_or_default();
            let mut res = json!({
                "protocolVersion": session.version,
                "capabilities": core.capabilities(Era::Legacy),
                "serverInfo": server_info(),
            });
            if !instructions.is_empty()
                && let Some(obj) = res.as_object_mut()
            {
                obj.insert(
                    "instructions".to_owned(),
                    Value::String(instructions.join("\n")),
                );
            }
            let mut response = axum::Json(result(id, res)).into_response();
            if let Ok(v) = HeaderValue::from_str(&session.id) {
                response.headers_mut().insert("mcp-session-id", v);
            }
            response
        }
        Kind::Request { id, .. } => {
            let route = match session.route(&msg) {
                Ok(r) => r,
                Err(why) => {
                    return axum::Json(error(id, code::INVALID_PARAMS, &why, None)).into_response();
                }
            };
            // Stage 5: scope.
            if let Some(r) = route.as_ref().filter(|r| !r.allowed(&agent.scopes)) {
                let missing = r.scope();
                audit(&core, AuditKind::Decision, json!({"session": session.id, "agent": agent.agent.id, "method": msg.method(), "request_id": id, "decision": {"outcome": "deny", "reason": format!("token scope does not cover `{missing}`")}})).await;
                return crate::auth::refusal_response(
                    &Refusal::InsufficientScope(missing),
                    &crate::api::metadata_url(&core),
                );
            }
            respond(session, msg, route, id, modern, json_ok, sse_ok).await
        }
    }
}

/// Modern requests: the standard headers must match the body.
fn check_modern_headers(headers: &HeaderMap, msg: &Message) -> Result<(), Response> {
    let mismatch = |what: &str| {
        Err(rpc_error(
            StatusCode::BAD_REQUEST,
            msg.value().get("id").cloned().unwrap_or(Value::Null),
            HEADER_MISMATCH,
            &format!("header mismatch: {what}"),
        ))
    };
    let meta_version = era::meta(msg)
        .and_then(|m| m.get(era::META_VERSION))
        .and_then(Value::as_str);
    let header_version = header_str(headers, "mcp-protocol-version");
    if let Kind::Request { .. } = msg.kind {
        if header_version.is_none() {
            return mismatch("MCP-Protocol-Version is required");
        }
        if meta_version.is_some() && meta_version != header_version {
            return mismatch("MCP-Protocol-Version differs from _meta protocolVersion");
        }
    }
    let Some(method) = msg.method() else {
        return Ok(());
    };
    match header_str(headers, "mcp-method").and_then(crate::upstream_http::decode_header_value) {
        None => return mismatch("Mcp-Method is required"),
        Some(m) if m != method => return mismatch("Mcp-Method differs from the body's method"),
        Some(_) => {}
    }
    if matches!(method, "tools/call" | "prompts/get" | "resources/read") {
        let body_name = msg
            .params()
            .and_then(|p| {
                p.get(if method == "resources/read" {
                    "uri"
                } else {
                    "name"
                })
            })
            .and_then(Value::as_str);
        let header_name =
            header_str(headers, "mcp-name").and_then(crate::upstream_http::decode_header_value);
        if header_name.as_deref() != body_name {
            return mismatch("Mcp-Name differs from the body's name or uri");
        }
    }
    Ok(())
}

/// Cancels the upstream request if the client goes away first (modern: closing the stream
/// is the cancellation; legacy: only an explicit `notifications/cancelled`).
#[derive(Clone, Default)]
pub(crate) struct CancelGuard {
    armed: Arc<Mutex<Option<Armed>>>,
}

/// The upstream request a guard would cancel: the link and the link-side id.
type Armed = (Arc<Link>, i64);

impl CancelGuard {
    pub(crate) fn arm(&self, link: Arc<Link>, id: i64) {
        if let Ok(mut a) = self.armed.lock() {
            *a = Some((link, id));
        }
    }

    pub(crate) fn disarm(&self) {
        if let Ok(mut a) = self.armed.lock() {
            *a = None;
        }
    }

    fn fire(&self, reason: &'static str) {
        let taken = self.armed.lock().ok().and_then(|mut a| a.take());
        if let Some((link, id)) = taken {
            tokio::spawn(async move { link.cancel(id, reason).await });
        }
    }
}

/// Fires the guard when dropped unless defused (modern streams).
struct DropCancel(Option<CancelGuard>);

impl Drop for DropCancel {
    fn drop(&mut self) {
        if let Some(g) = self.0.take() {
            g.fire("the client closed the request's stream");
        }
    }
}

/// A legacy client's `notifications/cancelled` for its request `id`.
pub(crate) async fn cancel_by_client_id(session: &Session, id: &Value) {
    let guard = session
        .in_flight
        .lock()
        .ok()
        .and_then(|m| m.get(&id.to_string()).cloned());
    if let Some(g) = guard {
        g.fire("cancelled by the client");
    }
}

async fn respond(
    session: Arc<Session>,
    msg: Message,
    route: Option<Route>,
    id: Value,
    modern: bool,
    json_ok: bool,
    sse_ok: bool,
) -> Response {
    let (stream, mut rx) = match session.streams.lock() {
        Ok(mut s) => s.open(),
        Err(_) => {
            return rpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                id,
                code::INTERNAL_ERROR,
                "session state unavailable",
            );
        }
    };
    let guard = CancelGuard::default();
    if let Ok(mut m) = session.in_flight.lock() {
        m.insert(id.to_string(), guard.clone());
    }
    let worker = {
        let session = session.clone();
        let guard = guard.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let answer = session.request(msg, route, stream, &guard).await;
            if let Ok(mut m) = session.in_flight.lock() {
                m.remove(&id.to_string());
            }
            if let Ok(mut s) = session.streams.lock() {
                s.emit(stream, &answer, true);
            }
        })
    };
    let drop_cancel = DropCancel(modern.then(|| guard.clone()));
    let Some(first) = rx.recv().await else {
        worker.abort();
        return rpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            id,
            code::INTERNAL_ERROR,
            "the request ended without an answer",
        );
    };
    if first.last && json_ok {
        std::mem::forget(drop_cancel);
        if let Ok(mut s) = session.streams.lock() {
            s.discard(stream);
        }
        return json_response(&first.data);
    }
    if !sse_ok {
        // The client takes JSON only: wait for the answer, dropping related messages.
        let mut ev = first;
        while !ev.last {
            match rx.recv().await {
                Some(next) => ev = next,
                None => {
                    return rpc_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        id,
                        code::INTERNAL_ERROR,
                        "the request ended without an answer",
                    );
                }
            }
        }
        std::mem::forget(drop_cancel);
        return json_response(&ev.data);
    }
    let priming =
        (!modern && session.version.as_str() >= "2025-11-25").then(|| format!("{stream}-0"));
    sse_response(priming, vec![first], Some(rx), Some(drop_cancel))
}

fn json_response(data: &str) -> Response {
    let mut r = Response::new(Body::from(data.to_owned()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn sse_frame(ev: &Event) -> Bytes {
    Bytes::from(format!(
        "id: {}\nevent: message\ndata: {}\n\n",
        ev.id, ev.data
    ))
}

/// An SSE body: an optional priming event, what is already known, then live events until
/// the last one (with keep-alive comments meanwhile).
fn sse_response(
    priming: Option<String>,
    first: Vec<Event>,
    rx: Option<mpsc::UnboundedReceiver<Event>>,
    cancel: Option<DropCancel>,
) -> Response {
    struct St {
        queue: std::collections::VecDeque<Bytes>,
        rx: Option<mpsc::UnboundedReceiver<Event>>,
        done: bool,
        cancel: Option<DropCancel>,
    }
    let mut queue = std::collections::VecDeque::new();
    if let Some(p) = priming {
        queue.push_back(Bytes::from(format!("id: {p}\ndata: \n\n")));
    }
    let mut done = false;
    for ev in &first {
        queue.push_back(sse_frame(ev));
        done |= ev.last;
    }
    let state = St {
        queue,
        rx,
        done,
        cancel,
    };
    let body = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.queue.pop_front() {
                return Some((Ok::<Bytes, Infallible>(b), st));
            }
            if st.done {
                if let Some(mut c) = st.cancel.take() {
                    c.0 = None;
                }
                return None;
            }
            let rx = st.rx.as_mut()?;
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => {
                        st.done = ev.last;
                        st.queue.push_back(sse_frame(&ev));
                    }
                    None => return None,
                },
                () = tokio::time::sleep(KEEP_ALIVE) => st.queue.push_back(Bytes::from_static(b": keep-alive\n\n")),
            }
        }
    });
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

async fn mcp_get(State(core): State<Arc<Core>>, headers: HeaderMap) -> Response {
    let agent = match authenticate(&core, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if header_str(&headers, "mcp-protocol-version") == Some(era::MODERN) {
        return method_not_allowed("2026-07-28 has no standalone stream");
    }
    let Some(id) = header_str(&headers, "mcp-session-id") else {
        return method_not_allowed("a standalone stream needs a session (Mcp-Session-Id)");
    };
    let Some(session) = core.session(id, &agent) else {
        return rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            code::INVALID_REQUEST,
            "unknown or expired session: initialize again",
        );
    };
    let accept = header_str(&headers, "accept").unwrap_or_default();
    if !accept.contains("text/event-stream") {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            Value::Null,
            code::INVALID_REQUEST,
            "Accept must include text/event-stream",
        );
    }
    session.touch(agent);
    let Ok(mut streams) = session.streams.lock() else {
        return rpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            Value::Null,
            code::INTERNAL_ERROR,
            "session state unavailable",
        );
    };
    if let Some(last) = header_str(&headers, "last-event-id")
        && let Some((_, missed, rx)) = streams.resume(last)
    {
        return sse_response(None, missed, rx, None);
    }
    if let Some(s) = streams.standalone
        && streams.is_live(s)
    {
        return rpc_error(
            StatusCode::CONFLICT,
            Value::Null,
            code::INVALID_REQUEST,
            "this session already has a standalone stream",
        );
    }
    let (stream, rx) = streams.open();
    streams.standalone = Some(stream);
    let priming = (session.version.as_str() >= "2025-11-25").then(|| format!("{stream}-0"));
    sse_response(priming, Vec::new(), Some(rx), None)
}

fn method_not_allowed(why: &str) -> Response {
    let mut r = rpc_error(
        StatusCode::METHOD_NOT_ALLOWED,
        Value::Null,
        code::INVALID_REQUEST,
        why,
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

async fn mcp_delete(State(core): State<Arc<Core>>, headers: HeaderMap) -> Response {
    let agent = match authenticate(&core, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(id) = header_str(&headers, "mcp-session-id") else {
        return method_not_allowed("only a session can be deleted");
    };
    if core.session(id, &agent).is_none() {
        return rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            code::INVALID_REQUEST,
            "unknown or expired session",
        );
    }
    if let Some(s) = core.remove_session(id) {
        s.close().await;
        audit(
            &core,
            AuditKind::Lifecycle,
            json!({"event": "gateway_session_end", "session": s.id, "reason": "client deleted it"}),
        )
        .await;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Records an event without waiting for the commit.
pub(crate) async fn audit(core: &Core, kind: AuditKind, body: Value) {
    if let Err(e) = core
        .audit
        .append_detached(AuditEvent::new(kind, body))
        .await
    {
        tracing::error!("audit: {e}");
    }
}
