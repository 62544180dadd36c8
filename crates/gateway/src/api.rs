//! The non-MCP routes: OAuth metadata (RFC 9728 protected resource, RFC 8414 authorization
//! server), Warden's JWKS, RFC 8693 token exchange, the decision and scanning APIs for agent
//! frameworks that do not speak MCP, and the OpenAPI document describing them.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_identity::{Refusal, Scope, Verified};
use warden_types::{
    Action, AuditEvent, AuditKind, Principal, Request, Resource, SessionFacts, ToolFacts,
};

use crate::core::Core;
use crate::http::authenticate;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Largest text `/v1/scan` takes.
const MAX_SCAN_BYTES: usize = 1024 * 1024;

/// Scheme, host and port of the resource URL.
pub(crate) fn base_url(core: &Core) -> String {
    let r = core.settings.resource.as_str();
    match r.find("://").map(|i| i + 3) {
        Some(start) => match r[start..].find('/') {
            Some(end) => r[..start + end].to_owned(),
            None => r.to_owned(),
        },
        None => r.to_owned(),
    }
}

/// Where the protected resource metadata is.
pub(crate) fn metadata_url(core: &Core) -> String {
    format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        base_url(core)
    )
}

fn problem(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

pub(crate) async fn protected_resource(State(core): State<Arc<Core>>) -> Response {
    Json(json!({
        "resource": core.settings.resource,
        "authorization_servers": core.settings.authorization_servers,
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes_supported(&core),
        "resource_name": "Warden MCP gateway",
        "jwks_uri": format!("{}/.well-known/jwks.json", base_url(&core)),
    }))
    .into_response()
}

fn scopes_supported(core: &Core) -> Vec<String> {
    let mut out = vec!["mcp".to_owned(), "decide".to_owned(), "scan".to_owned()];
    out.extend(
        core.settings
            .upstreams
            .iter()
            .map(|u| format!("mcp:{}", u.name)),
    );
    out
}

pub(crate) async fn authorization_server(State(core): State<Arc<Core>>) -> Response {
    let base = base_url(&core);
    Json(json!({
        "issuer": core.store.issuer,
        "token_endpoint": format!("{base}/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": [TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": scopes_supported(&core),
    }))
    .into_response()
}

pub(crate) async fn jwks(State(core): State<Arc<Core>>) -> Response {
    match core.store.jwks() {
        Ok(set) => Json(set).into_response(),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}

/// Prometheus metrics: the data plane's counters, plus pending approvals and agents.
pub(crate) async fn metrics(State(core): State<Arc<Core>>) -> Response {
    use warden_proxy::metrics::family;
    let mut out = String::new();
    if let Some(m) = &core.settings.metrics {
        m.render(&mut out);
    }
    if let Some(hub) = core.settings.approvals.clone() {
        let pending = hub
            .with_store(|s| {
                Ok(s.list(
                    Some(warden_approvals::Status::Pending),
                    100_000,
                    warden_approvals::now(),
                )?
                .len())
            })
            .await
            .unwrap_or(0);
        family(
            &mut out,
            "warden_approvals_pending",
            "gauge",
            "Calls waiting for a human's approval.",
        );
        out.push_str(&format!("warden_approvals_pending {pending}\n"));
    }
    if let Ok(agents) = core.store.agents() {
        family(
            &mut out,
            "warden_agents",
            "gauge",
            "Registered agents by status.",
        );
        for status in [
            warden_identity::Status::Active,
            warden_identity::Status::Suspended,
        ] {
            let n = agents.iter().filter(|a| a.status == status).count();
            out.push_str(&format!(
                "warden_agents{{status=\"{}\"}} {n}\n",
                status.as_str()
            ));
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// RFC 8693 token exchange: form-encoded `grant_type`, `subject_token`,
/// `subject_token_type`, optional `scope`, `actor` (the sub-agent's name) and `expires_in`.
pub(crate) async fn token(State(core): State<Arc<Core>>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "request too large",
        );
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("grant_type") != Some(TOKEN_EXCHANGE) {
        return problem(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only token exchange (RFC 8693) is supported",
        );
    }
    let Some(subject) = get("subject_token") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`subject_token` is required",
        );
    };
    if !matches!(
        get("subject_token_type"),
        Some(ACCESS_TOKEN_TYPE | JWT_TYPE)
    ) {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`subject_token_type` must be an access token or JWT",
        );
    }
    if let Some(aud) = get("audience").or(get("resource"))
        && aud != core.settings.resource
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "Warden issues tokens only for its own resource",
        );
    }
    let scopes = match get("scope").map(Scope::parse_list).transpose() {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid_scope", &e.to_string()),
    };
    let ttl = match get("expires_in").map(str::parse::<i64>).transpose() {
        Ok(t) => t,
        Err(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "`expires_in` must be whole seconds",
            );
        }
    };
    let actor = get("actor").unwrap_or("delegate");
    let now = warden_identity::now();
    // The subject must be valid for this resource right now.
    if let Err(r) = core.store.verify(subject, &core.settings.resource, now) {
        return problem(StatusCode::BAD_REQUEST, "invalid_grant", &r.to_string());
    }
    match core
        .store
        .exchange(subject, actor, scopes.as_deref(), ttl, now)
    {
        Ok(issued) => {
            crate::http::audit(&core, AuditKind::Lifecycle, json!({"event": "token_exchanged", "agent": issued.claims.sub, "actor": actor, "jti": issued.claims.jti, "scope": issued.claims.scope, "expires": issued.claims.exp})).await;
            Json(json!({
                "access_token": issued.token,
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": issued.claims.exp - now,
                "scope": issued.claims.scope,
            }))
            .into_response()
        }
        Err(warden_identity::Error::Invalid(why)) => {
            problem(StatusCode::BAD_REQUEST, "invalid_scope", &why)
        }
        Err(e) => problem(StatusCode::BAD_REQUEST, "invalid_grant", &e.to_string()),
    }
}

/// The shared front of the JSON APIs: the token, the scope the route needs, then the body
/// within `limit` bytes, parsed.
async fn authorized_json<T: serde::de::DeserializeOwned>(
    core: &Core,
    headers: &HeaderMap,
    body: Body,
    needed: &Scope,
    limit: usize,
) -> Result<(Verified, T), Response> {
    let agent = authenticate(core, headers).await?;
    require(&agent, needed, core)?;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            &format!("request over {limit} bytes"),
        )
    })?;
    // Read as MCP messages are (`warden_mcp::message::read_json`): what is decided on is what
    // any reader of the same body would find.
    let parsed = warden_mcp::message::read_json(&bytes)
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("invalid body: {e}"),
            )
        })?;
    Ok((agent, parsed))
}

fn require(agent: &Verified, needed: &Scope, core: &Core) -> Result<(), Response> {
    if agent.scopes.iter().any(|s| s.covers(needed)) {
        Ok(())
    } else {
        Err(crate::auth::refusal_response(
            &Refusal::InsufficientScope(needed.to_string()),
            &metadata_url(core),
        ))
    }
}

/// `POST /v1/decide` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecideRequest {
    /// `call_tool`, `read_resource` or `get_prompt`.
    action: String,
    /// `<server>/<tool or prompt>` or, for resources, `<server>/<uri>`.
    resource: String,
    /// Tool or prompt arguments.
    #[serde(default)]
    arguments: Option<Value>,
    /// Tool facts, when the caller knows them (labels; MCP annotation hints).
    #[serde(default)]
    tool: Option<ToolFactsBody>,
    /// The caller's session id, for the audit trail.
    #[serde(default)]
    session: Option<String>,
}

/// The caller's hints about its own tool, read as an MCP server's annotations would be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolFactsBody {
    #[serde(default)]
    labels: Vec<String>,
    read_only: Option<bool>,
    destructive: Option<bool>,
    idempotent: Option<bool>,
    open_world: Option<bool>,
}

/// A tool's facts for a decision. For a server Warden itself serves, the caller's hints are
/// not taken (it is the governed agent's word about its own call): the configuration's
/// `[tools.<name>]` and otherwise the worst case (not read-only, destructive, open world)
/// decide. For the caller's own tools, its hints count as a server's annotations do, the
/// configuration still overriding them; missing hints take the same worst case.
fn decide_facts(core: &Core, server: &str, name: &str, hints: Option<ToolFactsBody>) -> ToolFacts {
    let upstream = core.settings.upstreams.iter().find(|u| u.name == server);
    let config = match upstream {
        Some(u) => u.proxy.tools.get(name),
        None => core.settings.tools.get(name),
    };
    match hints.filter(|_| upstream.is_none()) {
        Some(h) => warden_proxy::facts_from_hints(
            warden_proxy::Hints {
                read_only: h.read_only,
                destructive: h.destructive,
                idempotent: h.idempotent,
                open_world: h.open_world,
            },
            config,
            &h.labels,
        ),
        None => warden_proxy::facts_from_tool(None, config),
    }
}

pub(crate) async fn decide(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (agent, req) = match authorized_json::<DecideRequest>(
        &core,
        &headers,
        body,
        &Scope::Decide,
        core.settings.max_body_bytes,
    )
    .await
    {
        Ok(parts) => parts,
        Err(r) => return r,
    };
    let Some(action) = Action::parse(&req.action) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`action` must be `call_tool`, `read_resource` or `get_prompt`",
        );
    };
    let Some((server, target)) = req
        .resource
        .split_once('/')
        .filter(|(s, t)| !s.is_empty() && !t.is_empty())
    else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`resource` must be `<server>/<name>`",
        );
    };
    let arguments = match req.arguments {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "`arguments` must be an object",
            );
        }
    };
    let resource = match action {
        Action::CallTool => Resource::Tool {
            server: server.to_owned(),
            name: target.to_owned(),
            facts: decide_facts(&core, server, target, req.tool),
        },
        Action::GetPrompt => Resource::Prompt {
            server: server.to_owned(),
            name: target.to_owned(),
        },
        Action::ReadResource => Resource::Resource {
            server: server.to_owned(),
            uri: target.to_owned(),
        },
    };
    let settings = core
        .settings
        .upstreams
        .iter()
        .find(|u| u.name == server)
        .map(|u| u.proxy.detect)
        .unwrap_or_default();
    let request = Request {
        principal: Principal {
            id: agent.agent.id.clone(),
            attributes: agent.agent.attributes.clone().into_iter().collect(),
        },
        action,
        resource,
        arguments,
        session: SessionFacts {
            id: req.session.clone().unwrap_or_else(|| "api".to_owned()),
            era: "api".to_owned(),
            calls: 0,
            delegation: if agent.chain.len() > 1 {
                agent.chain.clone()
            } else {
                Vec::new()
            },
            limits: Default::default(),
            labels: Vec::new(),
            carries: Vec::new(),
        },
        time_unix: warden_identity::now(),
    };
    let mut decision = core.engine.evaluate(&request);
    let screened = warden_proxy::screen_arguments(&request.arguments, &settings);
    if decision.is_allow()
        && let Some(why) = &screened.reason
    {
        decision = warden_types::Decision::refuse(why.clone());
    }
    let stored_args = screened
        .audit_copy
        .clone()
        .unwrap_or_else(|| request.arguments.clone());
    let event = AuditEvent::new(
        AuditKind::Decision,
        json!({"session": request.session.id, "agent": agent.agent.id, "chain": agent.chain, "method": "v1/decide", "resource": request.resource.id(), "arguments": stored_args, "decision": decision, "findings": screened.findings}),
    );
    let seq = match core.audit.append(event).await {
        Ok(seq) => seq,
        Err(e) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit_unavailable",
                &format!("the audit log is unavailable, so no decision is given: {e}"),
            );
        }
    };
    let mut obligations = Vec::new();
    if decision.is_allow()
        && let Some(redacted) = screened.redacted
    {
        obligations.push(json!({"type": "redact_arguments", "arguments": redacted}));
    }
    Json(json!({
        "decision": decision.outcome,
        "reason": decision.reason,
        "policies": decision.policies,
        "obligations": obligations,
        "findings": screened.findings,
        "audit_seq": seq,
    }))
    .into_response()
}

/// `POST /v1/scan` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanRequest {
    /// The text to scan.
    text: String,
    /// Only these kinds (`injection`, `pii`, `secret`); all when absent.
    #[serde(default)]
    kinds: Option<Vec<String>>,
}

pub(crate) async fn scan(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (_, req) = match authorized_json::<ScanRequest>(
        &core,
        &headers,
        body,
        &Scope::Scan,
        MAX_SCAN_BYTES + 4096,
    )
    .await
    {
        Ok(parts) => parts,
        Err(r) => return r,
    };
    if req.text.len() > MAX_SCAN_BYTES {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            &format!("text over {MAX_SCAN_BYTES} bytes"),
        );
    }
    if let Some(kinds) = &req.kinds
        && let Some(bad) = kinds
            .iter()
            .find(|k| !matches!(k.as_str(), "injection" | "pii" | "secret"))
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("unknown kind `{bad}`: use injection, pii or secret"),
        );
    }
    let kinds = req.kinds.clone();
    let text = req.text;
    let findings = tokio::task::spawn_blocking(move || {
        warden_detect::scan_with(&text, |m| {
            kinds
                .as_ref()
                .is_none_or(|k| k.iter().any(|x| x == m.kind.as_str()))
        })
    })
    .await
    .unwrap_or_default();
    Json(json!({ "findings": findings })).into_response()
}

pub(crate) async fn openapi(State(core): State<Arc<Core>>) -> Response {
    Json(crate::openapi::document(&base_url(&core))).into_response()
}
