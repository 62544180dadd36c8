//! Held calls: what happens after policy says a human must approve.
//!
//! [`Approvals`] is the hub one process shares: the store, the audit log, and the waiters.
//! A held call ([`held`]) is matched to an open request for the same agent and exact call
//! (so a retry after a restart finds its approval), or a new request is stored and announced.
//! Then either the agent is answered at once with the request id (`@approval_mode("async")`),
//! or the call waits in its own task, with MCP progress notifications to keep the client
//! patient, until someone decides or it expires. The session keeps relaying meanwhile.
//!
//! An approved call is used exactly once ([`warden_approvals::Store::consume`]) and its use
//! is committed to the audit log before it is forwarded; a denial or expiry is told to the
//! agent once. Anything failing along the way refuses the call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Notify;
use warden_approvals::{Approval, Approver, CallKey, Mode, NewApproval, Status, Store};
use warden_audit::Log;
use warden_mcp::Message;
use warden_types::{AuditEvent, AuditKind, Decision, Outcome};

use crate::session::Shared;

/// How often a decision made by another process (the CLI) is looked for.
const POLL: Duration = Duration::from_millis(200);

/// Approval settings (`[approvals]` in `warden.toml`).
#[derive(Debug, Clone, Copy)]
pub struct ApprovalSettings {
    /// How long a request waits for a decision before it expires (a denial).
    pub timeout: Duration,
    /// How often a held call sends the client a progress notification.
    pub progress_every: Duration,
    /// FOR TESTING ONLY: decide every new request at once, approving (`Some(true)`) or
    /// denying (`Some(false)`) it, as a recorded approver named [`UNATTENDED`].
    pub unattended: Option<bool>,
}

/// The approver that decides requests in the unattended testing mode.
pub const UNATTENDED: &str = "unattended (testing only)";

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15 * 60),
            progress_every: Duration::from_secs(10),
            unattended: None,
        }
    }
}

/// Why a decision did not land.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The request is unknown, settled or expired, the hash differs, or the approver is not
    /// in its groups: nothing changed.
    #[error(transparent)]
    Refused(warden_approvals::Error),
    /// The store or the audit log failed.
    #[error("{0}")]
    Unavailable(String),
}

/// Called with every new request (webhooks).
pub type Announce = Arc<dyn Fn(&Approval) + Send + Sync>;

/// Approvals in one process: the store, the audit log, and the calls waiting.
pub struct Approvals {
    store: Arc<Store>,
    audit: Log,
    /// Settings.
    pub settings: ApprovalSettings,
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    announce: Option<Announce>,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals")
            .field("store", &self.store.path())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Approvals {
    /// A hub over `store`, recording decisions in `audit`.
    pub fn new(
        store: Store,
        audit: Log,
        settings: ApprovalSettings,
        announce: Option<Announce>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store: Arc::new(store),
            audit,
            settings,
            waiters: Mutex::new(HashMap::new()),
            announce,
        })
    }

    /// The store (for listings).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs a store operation off the async threads (approval writes are fsynced).
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> warden_approvals::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(format!("approval store task failed: {e}")),
        }
    }

    /// Approves or denies a request on the hash the approver was shown, records who and why
    /// in the audit log, and wakes the held call.
    pub async fn decide(
        &self,
        id: &str,
        call_hash: &str,
        approver: &Approver,
        approve: bool,
        reason: &str,
    ) -> Result<Approval, DecideError> {
        let (i, h, who, r) = (
            id.to_owned(),
            call_hash.to_owned(),
            approver.clone(),
            reason.to_owned(),
        );
        let store = self.store.clone();
        let decided = tokio::task::spawn_blocking(move || {
            store.decide(&i, &h, &who, approve, &r, warden_approvals::now())
        })
        .await
        .map_err(|e| DecideError::Unavailable(format!("approval store task failed: {e}")))?
        .map_err(|e| match e {
            warden_approvals::Error::Store { .. } | warden_approvals::Error::Random => {
                DecideError::Unavailable(e.to_string())
            }
            refused => DecideError::Refused(refused),
        })?;
        let event = AuditEvent::new(
            AuditKind::Approval,
            json!({
                "event": if approve { "approved" } else { "denied" },
                "approval": decided.id,
                "agent": decided.agent,
                "resource": decided.resource(),
                "call_hash": decided.call_hash,
                "by": approver.name,
                "groups": approver.groups,
                "via": approver.via,
                "reason": reason,
                "decision_seq": decided.decision_seq,
            }),
        );
        self.wake(id);
        self.audit.append(event).await.map_err(|e| {
            DecideError::Unavailable(format!(
                "the decision on `{id}` is stored but the audit log failed: {e}"
            ))
        })?;
        Ok(decided)
    }

    fn waiter(&self, id: &str) -> Arc<Notify> {
        let mut map = self
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(id.to_owned()).or_default().clone()
    }

    fn wake(&self, id: &str) {
        let notify = self
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// Wakes held calls decided by other processes (the CLI, another gateway) and forgets
    /// waiters nobody holds. Runs until the hub is dropped elsewhere.
    pub fn watch(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut version = None;
            let mut since = warden_approvals::now();
            loop {
                tokio::time::sleep(POLL).await;
                let Some(hub) = weak.upgrade() else { return };
                let now = warden_approvals::now();
                let checked = hub
                    .with_store(move |s| {
                        let v = s.data_version()?;
                        let ids = if version == Some(v) {
                            Vec::new()
                        } else {
                            s.decided_since(since.saturating_sub(2))?
                        };
                        Ok((v, ids))
                    })
                    .await;
                if let Ok((v, ids)) = checked {
                    version = Some(v);
                    since = now;
                    for id in ids {
                        hub.wake(&id);
                    }
                }
                hub.waiters
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .retain(|_, n| Arc::strong_count(n) > 1);
            }
        })
    }
}

/// The approver group that means "the agent's own user, asked through MCP elicitation".
pub const SELF: &str = "self";

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `@approval("self")`: asks the agent's own user through MCP elicitation (the client declared
/// the capability). Accepting with `approve` checked approves; declining denies; dismissing
/// leaves the request to other approvers or to expiry.
async fn ask_user(shared: Arc<Shared>, hub: Arc<Approvals>, approval: Approval) {
    let left = u64::try_from(approval.expires - warden_approvals::now()).unwrap_or(0);
    let args = serde_json::to_string_pretty(&approval.arguments).unwrap_or_default();
    let shown: String = args.chars().take(2000).collect();
    let params = json!({
        "message": format!(
            "Warden: agent `{}` wants to call `{}` with:\n{shown}\n\nPolicy {} asks for your approval (request {}, call {}). Approve this call?",
            approval.agent,
            approval.resource(),
            approval.policies.join(", "),
            approval.id,
            approval.call_hash.get(..12).unwrap_or(&approval.call_hash),
        ),
        "requestedSchema": {
            "type": "object",
            "properties": {
                "approve": {"type": "boolean", "title": "Approve this call", "description": "Only this exact call, once."},
                "reason": {"type": "string", "title": "Reason (optional)"}
            },
            "required": ["approve"]
        }
    });
    let answer = match shared
        .ask_client("elicitation/create", params, Duration::from_secs(left))
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::info!("self-approval of {}: {e}", approval.id);
            return;
        }
    };
    let result = answer.get("result").cloned().unwrap_or(Value::Null);
    let content = result.get("content").cloned().unwrap_or(Value::Null);
    let reason = content
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .take(2000)
        .collect::<String>();
    let (approve, reason) = match result.get("action").and_then(Value::as_str) {
        Some("accept") => (
            content.get("approve").and_then(Value::as_bool) == Some(true),
            reason,
        ),
        Some("decline") => (
            false,
            if reason.is_empty() {
                "declined by the user".to_owned()
            } else {
                reason
            },
        ),
        _ => return,
    };
    let approver = Approver {
        name: format!("user of {}", approval.agent),
        groups: vec![SELF.to_owned()],
        via: "elicitation".to_owned(),
    };
    if let Err(e) = hub
        .decide(
            &approval.id,
            &approval.call_hash,
            &approver,
            approve,
            &reason,
        )
        .await
    {
        tracing::warn!("self-approval of {}: {e}", approval.id);
    }
}

/// Everything known about the call when policy asks for approval.
pub(crate) struct Held {
    pub msg: Message,
    pub id: Value,
    pub method: String,
    pub target: String,
    pub decision: Decision,
    pub decision_seq: i64,
    pub findings: Value,
    /// Its action classes, for the limits it meets once approved.
    pub classes: Vec<warden_controls::Class>,
}

/// Handles a call policy holds for approval.
pub(crate) async fn held(shared: &Arc<Shared>, hub: Arc<Approvals>, call: Held) {
    let arguments = call
        .msg
        .params()
        .and_then(|p| p.get("arguments"))
        .cloned()
        .unwrap_or(Value::Null);
    let agent = shared.settings.principal.id.clone();
    let hash = warden_approvals::call_hash(CallKey {
        agent: &agent,
        server: &shared.settings.server,
        method: &call.method,
        target: &call.target,
        arguments: &arguments,
    });
    let (a, h) = (agent.clone(), hash.clone());
    let open = hub
        .with_store(move |s| s.open_for(&a, &h, warden_approvals::now()))
        .await;
    let approval = match open {
        Err(e) => return unavailable(shared, call, &e).await,
        Ok(Some(existing)) => existing,
        Ok(None) => {
            let new = NewApproval {
                agent,
                server: shared.settings.server.clone(),
                method: call.method.clone(),
                target: call.target.clone(),
                arguments,
                policies: call.decision.policies.clone(),
                groups: call.decision.approval_groups.clone(),
                reason: call.decision.reason.clone(),
                findings: call.findings.clone(),
                session: shared.session_id.clone(),
                mode: if call.decision.approval_async {
                    Mode::Async
                } else {
                    Mode::Hold
                },
                ttl_secs: i64::try_from(hub.settings.timeout.as_secs()).unwrap_or(i64::MAX),
                decision_seq: Some(call.decision_seq),
            };
            let created = match hub
                .with_store(move |s| s.create(new, warden_approvals::now()))
                .await
            {
                Ok(a) => a,
                Err(e) => return unavailable(shared, call, &e).await,
            };
            let event = AuditEvent::new(
                AuditKind::Approval,
                json!({
                    "event": "requested",
                    "approval": created.id,
                    "agent": created.agent,
                    "resource": created.resource(),
                    "call_hash": created.call_hash,
                    "groups": created.groups,
                    "policies": created.policies,
                    "expires": created.expires,
                    "mode": created.mode,
                    "decision_seq": call.decision_seq,
                    "session": shared.session_id,
                }),
            );
            if let Err(e) = hub.audit.append(event).await {
                return unavailable(shared, call, &format!("audit log: {e}")).await;
            }
            if let Some(announce) = &hub.announce {
                announce(&created);
            }
            created
        }
    };
    if approval.call_hash != hash {
        return unavailable(shared, call, "stored request does not match the call").await;
    }
    // Testing only: decided at once, through the same store and audit records as a person's
    // decision.
    if let (Some(approve), Status::Pending) = (hub.settings.unattended, approval.status) {
        let approver = Approver {
            name: UNATTENDED.to_owned(),
            groups: vec!["*".to_owned()],
            via: "unattended".to_owned(),
        };
        let reason = "unattended approvals mode (testing only)";
        return match hub
            .decide(
                &approval.id,
                &approval.call_hash,
                &approver,
                approve,
                reason,
            )
            .await
        {
            Ok(decided) => settle(shared, &hub, call, decided).await,
            Err(e) => unavailable(shared, call, &e.to_string()).await,
        };
    }
    if approval.status == Status::Pending && approval.mode == Mode::Async {
        return answer_pending(shared, &call, &approval).await;
    }
    if approval.status != Status::Pending {
        return settle(shared, &hub, call, approval).await;
    }
    // Hold: wait in a task of its own so the session keeps relaying.
    let client_key = call.id.to_string();
    let task_shared = shared.clone();
    let key = client_key.clone();
    // The state lock is held while spawning so the task cannot remove its entry before it
    // is inserted.
    let ask = (approval.groups.iter().any(|g| g == SELF) && shared.state().client_elicitation)
        .then(|| tokio::spawn(ask_user(shared.clone(), hub.clone(), approval.clone())));
    let mut state = shared.state();
    let handle = tokio::spawn(async move {
        // Dropped with this task, also when it is aborted: the question goes away with it.
        let _ask = ask.map(AbortOnDrop);
        wait(&task_shared, &hub, call, approval).await;
        task_shared.state().held.remove(&key);
    });
    state.held.insert(client_key, handle.abort_handle());
}

/// Waits for a decision or expiry, sending progress notifications meanwhile.
async fn wait(shared: &Arc<Shared>, hub: &Arc<Approvals>, call: Held, approval: Approval) {
    let token = warden_mcp::era::meta(&call.msg)
        .and_then(|m| m.get("progressToken"))
        .cloned();
    let notify = hub.waiter(&approval.id);
    let expires_in =
        Duration::from_secs(u64::try_from(approval.expires - warden_approvals::now()).unwrap_or(0));
    let deadline = tokio::time::Instant::now() + expires_in;
    let mut ticks: u64 = 0;
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let id = approval.id.clone();
        let current = match hub
            .with_store(move |s| s.get(&id, warden_approvals::now()))
            .await
        {
            Ok(Some(a)) => a,
            Ok(None) => return unavailable(shared, call, "the request disappeared").await,
            Err(e) => return unavailable(shared, call, &e).await,
        };
        if current.status != Status::Pending {
            return settle(shared, hub, call, current).await;
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline + Duration::from_millis(50)) => {}
            () = tokio::time::sleep(hub.settings.progress_every) => {
                ticks += 1;
                if let Some(token) = &token {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    shared.send_client(&json!({
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {
                            "progressToken": token,
                            "progress": ticks,
                            "message": format!(
                                "Waiting for approval {} from {} ({} s left)",
                                approval.id, approval.groups.join(", "), left.as_secs()
                            ),
                        },
                    })).await;
                }
            }
        }
    }
}

/// The request is decided: use an approval, or tell the agent about a denial or expiry.
async fn settle(shared: &Arc<Shared>, hub: &Arc<Approvals>, call: Held, approval: Approval) {
    match approval.status {
        Status::Approved => {
            // The approved call meets the breaker and the limits now, before the approval is
            // used: a refusal here leaves it approved for the agent's retry.
            let gated = crate::pipeline::gate(
                shared,
                &warden_controls::Call {
                    agent: &approval.agent,
                    server: &shared.settings.server,
                    tool: &call.target,
                    classes: &call.classes,
                },
            );
            let mut gated = match gated {
                Ok(g) => g,
                Err(refused) => return limited(shared, hub, call, &approval, refused).await,
            };
            let (id, hash) = (approval.id.clone(), approval.call_hash.clone());
            match hub
                .with_store(move |s| s.consume(&id, &hash, warden_approvals::now()))
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    crate::outcome::cancel_probe(shared, &mut gated.breaker_admitted);
                    let why = format!(
                        "approval `{}` was already used: an approval allows one call",
                        approval.id
                    );
                    return refuse(shared, &call, &approval, why).await;
                }
                Err(e) => {
                    crate::outcome::cancel_probe(shared, &mut gated.breaker_admitted);
                    return unavailable(shared, call, &e).await;
                }
            }
            let event = AuditEvent::new(
                AuditKind::Approval,
                json!({
                    "event": "used",
                    "approval": approval.id,
                    "agent": approval.agent,
                    "resource": approval.resource(),
                    "call_hash": approval.call_hash,
                    "by": approval.decided_by,
                    "decision_seq": call.decision_seq,
                    "session": shared.session_id,
                }),
            );
            if let Err(e) = hub.audit.append(event).await {
                crate::outcome::cancel_probe(shared, &mut gated.breaker_admitted);
                return unavailable(shared, call, &format!("audit log: {e}")).await;
            }
            let carried = crate::relay::Carried {
                admission: gated.admission,
                span: None,
            };
            crate::relay::forward_carrying(
                shared,
                call.msg,
                call.id,
                call.method,
                Some(call.decision_seq),
                carried,
            )
            .await;
        }
        Status::Used => {
            let why = format!(
                "approval `{}` was already used: an approval allows one call",
                approval.id
            );
            refuse(shared, &call, &approval, why).await;
        }
        Status::Denied | Status::Expired | Status::Pending => {
            let why = if approval.status == Status::Expired {
                format!(
                    "approval `{}` expired: nobody from {} decided in time",
                    approval.id,
                    approval.groups.join(", ")
                )
            } else {
                format!(
                    "approval `{}` was denied by {}{}",
                    approval.id,
                    approval.decided_by.as_deref().unwrap_or("an approver"),
                    approval
                        .decided_reason
                        .as_deref()
                        .filter(|r| !r.is_empty())
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )
            };
            let id = approval.id.clone();
            let first = hub.with_store(move |s| s.mark_delivered(&id)).await;
            if approval.status == Status::Expired && first == Ok(true) {
                shared
                    .note(
                        AuditKind::Approval,
                        json!({"event": "expired", "approval": approval.id, "agent": approval.agent, "resource": approval.resource()}),
                    )
                    .await;
            }
            refuse(shared, &call, &approval, why).await;
        }
    }
}

async fn refuse(shared: &Shared, call: &Held, approval: &Approval, reason: String) {
    let decision = Decision {
        outcome: Outcome::Deny,
        policies: approval.policies.clone(),
        reason,
        approval_groups: approval.groups.clone(),
        approval_async: false,
        retry_after_secs: None,
        errors: Vec::new(),
    };
    crate::pipeline::refuse(
        shared,
        call.id.clone(),
        &call.method,
        &decision,
        Some(call.decision_seq),
    )
    .await;
}

/// An approved call the breaker or a limit refuses now: recorded and refused with when to
/// retry; the approval stays unused, so the agent's retry of the same call goes through.
async fn limited(
    shared: &Shared,
    hub: &Approvals,
    call: Held,
    approval: &Approval,
    refused: Decision,
) {
    let event = AuditEvent::new(
        AuditKind::Approval,
        json!({
            "event": "limited",
            "approval": approval.id,
            "agent": approval.agent,
            "resource": approval.resource(),
            "reason": refused.reason,
            "retry_after_secs": refused.retry_after_secs,
            "decision_seq": call.decision_seq,
            "session": shared.session_id,
        }),
    );
    if let Err(e) = hub.audit.append(event).await {
        return unavailable(shared, call, &format!("audit log: {e}")).await;
    }
    let mut decision = refused;
    decision.reason = format!(
        "approval `{}` was granted, but {}",
        approval.id, decision.reason
    );
    crate::pipeline::refuse(
        shared,
        call.id,
        &call.method,
        &decision,
        Some(call.decision_seq),
    )
    .await;
}

/// Fail closed: the approval machinery is broken, so the call does not happen.
async fn unavailable(shared: &Shared, call: Held, why: &str) {
    tracing::error!("approvals: {why}");
    let decision = Decision::refuse(format!(
        "the call needs approval and the approval store is unavailable, so it is refused: {why}"
    ));
    crate::pipeline::refuse(
        shared,
        call.id,
        &call.method,
        &decision,
        Some(call.decision_seq),
    )
    .await;
}

/// `@approval_mode("async")`: tell the agent the request id and to call again.
async fn answer_pending(shared: &Shared, call: &Held, approval: &Approval) {
    let expires = time::OffsetDateTime::from_unix_timestamp(approval.expires)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let decision = Decision {
        outcome: Outcome::ApprovalRequired,
        policies: approval.policies.clone(),
        reason: format!(
            "held for approval `{}` by {} until {expires}; call again with the same arguments once it is approved",
            approval.id,
            approval.groups.join(", ")
        ),
        approval_groups: approval.groups.clone(),
        approval_async: true,
        retry_after_secs: None,
        errors: Vec::new(),
    };
    let modern = shared.state().client_era == Some(warden_mcp::era::Era::Modern);
    let extra = json!({"id": approval.id, "status": "pending", "expires": approval.expires, "call_hash": approval.call_hash});
    match crate::reply::refusal(&call.method, &decision, Some(call.decision_seq), modern) {
        Ok(mut result) => {
            if let Some(detail) = result
                .get_mut("_meta")
                .and_then(|m| m.get_mut("dev.warden/decision"))
                .and_then(Value::as_object_mut)
            {
                detail.insert("approval".to_owned(), extra);
            }
            crate::relay::respond(shared, call.id.clone(), result).await;
        }
        Err((code, message, mut data)) => {
            if let Some(obj) = data.as_object_mut() {
                obj.insert("approval".to_owned(), extra);
            }
            shared
                .send_client(&warden_mcp::message::error(
                    call.id.clone(),
                    code,
                    &message,
                    Some(data),
                ))
                .await;
        }
    }
}
