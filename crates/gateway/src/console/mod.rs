//! The web console (`/console`): approvers sign in, review held calls and decide them, watch
//! live activity, browse and export the audit log with its chain status, suspend agents, and
//! see alerts. Server-rendered HTML; the only script streams live activity.
//!
//! Every page needs a signed-in approver ([`auth`]); every change is a POST with the session's
//! CSRF token. Responses carry a strict Content-Security-Policy and are never cached.

mod auth;
mod data;
mod log;
mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use warden_approvals::{Approver, Status};
use warden_proxy::DecideError;
use warden_types::AuditKind;

pub(crate) use auth::Sessions;
use auth::{COOKIE, LOGIN_COOKIE, Me, cookie, same, set_cookie};
use pages::{Chain, Flash, Tab};

use crate::core::Core;

/// Console state beside the gateway's.
#[derive(Debug, Default)]
pub(crate) struct Console {
    pub sessions: Sessions,
    /// The last chain verification and when it ran.
    chain: Mutex<Option<(Instant, Chain)>>,
}

/// The console's routes.
pub(crate) fn router() -> Router<Arc<Core>> {
    Router::new()
        .route(
            "/console",
            get(|| async { see_other("/console/approvals") }),
        )
        .route(
            "/console/",
            get(|| async { see_other("/console/approvals") }),
        )
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console/approvals", get(approvals))
        .route("/console/approvals/{id}", get(approval))
        .route("/console/approvals/{id}/decide", post(decide))
        .route("/console/activity", get(log::activity))
        .route("/console/activity/stream", get(log::activity_stream))
        .route("/console/audit", get(log::audit))
        .route("/console/audit/export", get(log::audit_export))
        .route("/console/agents", get(agents))
        .route("/console/agents/{name}/status", post(agent_status))
        .route("/console/tools", get(tools))
        .route("/console/tools/approve", post(tool_approve))
        .route("/console/alerts", get(log::alerts))
        .route(
            "/console/static/console.css",
            get(|| async { asset("text/css", include_str!("console.css")) }),
        )
        .route(
            "/console/static/console.js",
            get(|| async { asset("text/javascript", include_str!("console.js")) }),
        )
}

// ---- responses ----

fn secure_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    secure_headers(&mut resp);
    resp
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, kind)], body).into_response();
    secure_headers(&mut resp);
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    resp
}

fn see_other(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(&mut resp);
    resp
}

pub(super) fn problem(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, pages::problem(title, text))
}

fn secure_cookies(core: &Core) -> bool {
    core.settings.resource.starts_with("https://")
}

/// The signed-in approver, or a redirect to sign in (coming back to `here`).
pub(super) fn me(core: &Core, headers: &HeaderMap, here: &str) -> Result<Me, Response> {
    core.console.sessions.current(headers).ok_or_else(|| {
        let next = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", here)
            .finish();
        see_other(&format!("/console/login?{next}"))
    })
}

fn form(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// A state-changing request: signed in, same origin (checked for every route), and the
/// session's CSRF token in the form. Returns the approver and the form's fields.
fn me_for_post(
    core: &Core,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Me, HashMap<String, String>), Response> {
    let fields = form(body);
    let Some(me) = core.console.sessions.current(headers) else {
        return Err(problem(
            StatusCode::UNAUTHORIZED,
            "Signed out",
            "Your session ended. Sign in again and repeat the action.",
        ));
    };
    let token = fields.get("csrf").map(String::as_str).unwrap_or_default();
    if !same(token, &me.csrf) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form's security token is missing or wrong (CSRF check). Reload the page and try again.",
        ));
    }
    Ok((me, fields))
}

async fn pending_count(core: &Core, me: &Me) -> usize {
    let Some(hub) = core.settings.approvals.clone() else {
        return 0;
    };
    let me = me.clone();
    hub.with_store(move |s| {
        Ok(
            s.list(Some(Status::Pending), 1000, warden_approvals::now())?
                .iter()
                .filter(|a| me.is_admin() || a.groups.iter().any(|g| me.groups.contains(g)))
                .count(),
        )
    })
    .await
    .unwrap_or(0)
}

pub(super) async fn page(
    core: &Core,
    me: &Me,
    tab: Tab,
    title: &str,
    flash: Option<&Flash>,
    body: &str,
) -> Response {
    let pending = pending_count(core, me).await;
    html(
        StatusCode::OK,
        pages::layout(me, tab, title, pending, flash, body),
    )
}

// ---- sign-in ----

#[derive(Debug, serde::Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only console paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console/") && !n.starts_with("/console//") && !n.contains('\\') =>
        {
            n.to_owned()
        }
        _ => "/console/approvals".to_owned(),
    }
}

async fn login_form(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if core.console.sessions.current(&headers).is_some() {
        return see_other(&next);
    }
    login_page(&core, &next, None, StatusCode::OK)
}

fn login_page(core: &Core, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let Ok(token) = warden_identity::random_id() else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "No randomness for a sign-in form.",
        );
    };
    let mut resp = html(status, pages::login(&token, next, error));
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        LOGIN_COOKIE,
        &token,
        secure_cookies(core),
        Some(600),
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login(State(core): State<Arc<Core>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = form(&body);
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    let next = safe_next(Some(get("next")));
    let bound = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if bound.is_empty() || !same(get("login_csrf"), bound) {
        return login_page(
            &core,
            &next,
            Some("The sign-in form expired or was not sent from this console. Try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let name = get("name").trim().to_owned();
    if core.console.sessions.locked(&name) {
        return login_page(
            &core,
            &next,
            Some("Too many failed attempts for this name. Wait a few minutes."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let (store, n, pw) = (core.store.clone(), name.clone(), get("password").to_owned());
    let checked = tokio::task::spawn_blocking(move || store.check_approver(&n, &pw)).await;
    let account = match checked {
        Ok(Ok(Some(a))) => a,
        Ok(Ok(None)) => {
            core.console.sessions.failed(&name);
            core.note(
                AuditKind::Lifecycle,
                serde_json::json!({"event": "console_login_failed", "approver": name}),
            )
            .await;
            return login_page(
                &core,
                &next,
                Some("Wrong name or password."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Ok(Err(e)) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &e.to_string(),
            );
        }
        Err(e) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &e.to_string(),
            );
        }
    };
    core.console.sessions.succeeded(&name);
    let sid = match core.console.sessions.start(
        cookie(&headers, COOKIE),
        account.name.clone(),
        account.groups.clone(),
    ) {
        Ok(sid) => sid,
        Err(e) => return problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", &e),
    };
    core.note(
        AuditKind::Lifecycle,
        serde_json::json!({"event": "console_login", "approver": account.name}),
    )
    .await;
    let mut resp = see_other(&next);
    let secure = secure_cookies(&core);
    for c in [
        set_cookie(COOKIE, &sid, secure, None),
        set_cookie(LOGIN_COOKIE, "", secure, Some(0)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn logout(State(core): State<Arc<Core>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(resp) = me_for_post(&core, &headers, &body) {
        return resp;
    }
    core.console.sessions.end(&headers);
    let mut resp = see_other("/console/login");
    if let Ok(v) = HeaderValue::from_str(&set_cookie(COOKIE, "", secure_cookies(&core), Some(0))) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

// ---- approvals ----

fn no_approvals() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Approvals are off",
        "This Warden refuses calls that need approval ([approvals] enabled = false).",
    )
}

async fn approvals(State(core): State<Arc<Core>>, headers: HeaderMap) -> Response {
    let me = match me(&core, &headers, "/console/approvals") {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(hub) = core.settings.approvals.clone() else {
        return no_approvals();
    };
    let items = hub
        .with_store(|s| s.list(None, 500, warden_approvals::now()))
        .await;
    match items {
        Ok(items) => {
            let body = pages::approvals(&me, &items, warden_approvals::now());
            page(&core, &me, Tab::Approvals, "Approvals", None, &body).await
        }
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", &e),
    }
}

async fn approval(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/console/approvals/{id}");
    let me = match me(&core, &headers, &here) {
        Ok(m) => m,
        Err(r) => return r,
    };
    show_approval(&core, &me, &id, None, StatusCode::OK).await
}

async fn show_approval(
    core: &Core,
    me: &Me,
    id: &str,
    flash: Option<&Flash>,
    status: StatusCode,
) -> Response {
    let Some(hub) = core.settings.approvals.clone() else {
        return no_approvals();
    };
    let key = id.to_owned();
    let found = hub
        .with_store(move |s| s.get(&key, warden_approvals::now()))
        .await;
    let a = match found {
        Ok(Some(a)) => a,
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                "No such request",
                &format!("There is no approval request `{id}`."),
            );
        }
        Err(e) => return problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", &e),
    };
    if !(me.is_admin() || a.groups.iter().any(|g| me.groups.contains(g))) {
        return problem(
            StatusCode::FORBIDDEN,
            "Not your group",
            &format!(
                "Request `{id}` is for {}; you approve for {}.",
                a.groups.join(", "),
                me.groups.join(", ")
            ),
        );
    }
    let body = pages::approval(me, &a, warden_approvals::now());
    let mut resp = page(
        core,
        me,
        Tab::Approvals,
        &format!("Request {}", a.id),
        flash,
        &body,
    )
    .await;
    *resp.status_mut() = status;
    resp
}

async fn decide(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (me, fields) = match me_for_post(&core, &headers, &body) {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let Some(hub) = core.settings.approvals.clone() else {
        return no_approvals();
    };
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    let approve = match get("decision") {
        "approve" => true,
        "deny" => false,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "`decision` must be approve or deny.",
            );
        }
    };
    let reason: String = get("reason").chars().take(2000).collect();
    let approver = Approver {
        name: me.name.clone(),
        groups: me.groups.clone(),
        via: "console".to_owned(),
    };
    match hub
        .decide(&id, get("call_hash"), &approver, approve, &reason)
        .await
    {
        Ok(a) => {
            let flash = Flash {
                ok: true,
                text: format!(
                    "{} {}: {} {}.",
                    if approve { "Approved" } else { "Denied" },
                    a.id,
                    a.agent,
                    a.resource()
                ),
            };
            show_approval(&core, &me, &id, Some(&flash), StatusCode::OK).await
        }
        Err(DecideError::Refused(e)) => {
            let status = match e {
                warden_approvals::Error::NotApprover { .. } => StatusCode::FORBIDDEN,
                warden_approvals::Error::Unknown(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            if status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND {
                return problem(status, "Decision refused", &e.to_string());
            }
            let flash = Flash {
                ok: false,
                text: format!("Nothing changed: {e}"),
            };
            show_approval(&core, &me, &id, Some(&flash), status).await
        }
        Err(DecideError::Unavailable(e)) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", &e)
        }
    }
}

// ---- agents and alerts ----

async fn agents(State(core): State<Arc<Core>>, headers: HeaderMap) -> Response {
    let me = match me(&core, &headers, "/console/agents") {
        Ok(m) => m,
        Err(r) => return r,
    };
    agents_page(&core, &me, None).await
}

async fn agents_page(core: &Core, me: &Me, flash: Option<&Flash>) -> Response {
    match core.store.agents() {
        Ok(list) => {
            let body = pages::agents(me, &list);
            page(core, me, Tab::Agents, "Agents", flash, &body).await
        }
        Err(e) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &e.to_string(),
        ),
    }
}

async fn agent_status(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let (me, fields) = match me_for_post(&core, &headers, &body) {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let status = match fields.get("status").map(String::as_str) {
        Some("suspended") => warden_identity::Status::Suspended,
        Some("active") if me.is_admin() => warden_identity::Status::Active,
        Some("active") => {
            return problem(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Only an approver of every group (`*`) may resume an agent.",
            );
        }
        _ => return problem(StatusCode::BAD_REQUEST, "Bad request", "Unknown status."),
    };
    if let Err(e) = core.store.set_status(&name, status) {
        return problem(StatusCode::NOT_FOUND, "Not changed", &e.to_string());
    }
    core.note(
        AuditKind::Lifecycle,
        serde_json::json!({"event": if status == warden_identity::Status::Active { "agent_resumed" } else { "agent_suspended" }, "agent": name, "by": me.name, "via": "console"}),
    )
    .await;
    let flash = Flash {
        ok: true,
        text: format!(
            "Agent {name} is now {}.",
            if status == warden_identity::Status::Active {
                "active"
            } else {
                "suspended: its calls are refused"
            }
        ),
    };
    agents_page(&core, &me, Some(&flash)).await
}

async fn tools(State(core): State<Arc<Core>>, headers: HeaderMap) -> Response {
    let me = match me(&core, &headers, "/console/tools") {
        Ok(m) => m,
        Err(r) => return r,
    };
    tools_page(&core, &me, None).await
}

async fn tools_page(core: &Core, me: &Me, flash: Option<&Flash>) -> Response {
    let Some(hub) = core.settings.approvals.clone() else {
        let body = "<p class=\"card\">Tool pins live in the approvals file, which is off (<code>[approvals] enabled = false</code>).</p>";
        return page(core, me, Tab::Tools, "Tools", flash, body).await;
    };
    match hub.with_store(|s| s.pins()).await {
        Ok(pins) => {
            let body = pages::tools(me, &pins);
            page(core, me, Tab::Tools, "Tools", flash, &body).await
        }
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", &e),
    }
}

/// Approves the definition of a tool an administrator was shown (its hash).
async fn tool_approve(State(core): State<Arc<Core>>, headers: HeaderMap, body: Bytes) -> Response {
    let (me, fields) = match me_for_post(&core, &headers, &body) {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    if !me.is_admin() {
        return problem(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only an approver of every group (`*`) may approve a tool.",
        );
    }
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let (server, name, hash) = (field("server"), field("tool"), field("hash"));
    let Some(hub) = core.settings.approvals.clone() else {
        return problem(StatusCode::NOT_FOUND, "Not found", "No approvals file.");
    };
    let by = format!("console:{}", me.name);
    let (s, n, h, b) = (server.clone(), name.clone(), hash.clone(), by.clone());
    let approved = hub
        .with_store(move |store| store.approve_tool(&s, &n, &h, &b, warden_approvals::now()))
        .await;
    let flash = match approved {
        Ok(Some(_)) => {
            core.note(
                AuditKind::Approval,
                serde_json::json!({"event": "tool_approved", "server": server, "tool": name, "hash": hash, "by": by, "via": "console"}),
            )
            .await;
            Flash {
                ok: true,
                text: format!("Tool {server}/{name} is approved as shown."),
            }
        }
        Ok(None) => Flash {
            ok: false,
            text: format!(
                "Tool {server}/{name} changed again since this page was shown; review it again."
            ),
        },
        Err(e) => return problem(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", &e),
    };
    tools_page(&core, &me, Some(&flash)).await
}
