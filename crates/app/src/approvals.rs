//! Approvals: the hub `warden mcp` and `warden serve` hold calls in, the webhooks that
//! announce new requests, and `warden approvals` / `warden approver` from a shell.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use warden_approvals::{Approval, Approver, Status};
use warden_audit::Log;
use warden_identity::Store as Identity;
use warden_proxy::{Announce, ApprovalSettings, Approvals};

use crate::config::{Loaded, Unattended, WebhookConfig};
use crate::env::Env;

/// Attempts per webhook delivery.
const WEBHOOK_ATTEMPTS: u32 = 3;

impl Loaded {
    /// Approval timing from `[approvals]`.
    pub fn approval_settings(&self) -> ApprovalSettings {
        let c = &self.config.approvals;
        let defaults = ApprovalSettings::default();
        ApprovalSettings {
            timeout: c
                .timeout_secs
                .map_or(defaults.timeout, |s| Duration::from_secs(s.max(1))),
            progress_every: c
                .progress_secs
                .map_or(defaults.progress_every, |s| Duration::from_secs(s.max(1))),
            unattended: c.unattended_for_testing.map(|u| u == Unattended::Approve),
        }
    }

    /// The hub calls are held in, or `None` when `[approvals] enabled = false`. `console`
    /// is the console's base URL, linked from webhook messages.
    pub fn approvals(
        &self,
        audit: &Log,
        env: &Env,
        secrets: Option<&Identity>,
        console: Option<String>,
    ) -> Result<Option<Arc<Approvals>>> {
        if self.config.approvals.enabled == Some(false) {
            return Ok(None);
        }
        let path = self.approvals_path();
        let store = warden_approvals::Store::open(&path)
            .with_context(|| format!("approvals store `{}`", path.display()))?;
        let announce = webhooks(&self.config.approvals.webhook, env, secrets, console)?;
        if let Some(mode) = self.config.approvals.unattended_for_testing {
            tracing::warn!(
                "[approvals] unattended_for_testing = {mode:?}: every held call is decided without a person; for testing only"
            );
        }
        Ok(Some(Approvals::new(
            store,
            audit.clone(),
            self.approval_settings(),
            announce,
        )))
    }
}

/// A resolved webhook.
#[derive(Debug, Clone)]
struct Hook {
    url: String,
    groups: Vec<String>,
    headers: Vec<(String, String)>,
}

/// Resolves `[[<table>.webhook]]` entries and builds the client that posts to them.
fn resolve_hooks(
    config: &[WebhookConfig],
    table: &str,
    env: &Env,
    secrets: Option<&Identity>,
) -> Result<(Vec<Hook>, reqwest::Client)> {
    let mut hooks = Vec::new();
    for (i, hook) in config.iter().enumerate() {
        let what = format!("[[{table}.webhook]] #{}", i + 1);
        if !(hook.url.starts_with("https://") || hook.url.starts_with("http://")) {
            bail!("{what}: url `{}` must be http:// or https://", hook.url);
        }
        let mut headers = Vec::new();
        for (k, v) in &hook.headers {
            headers.push((k.clone(), crate::gateway::resolve(v, env, secrets, &what)?));
        }
        hooks.push(Hook {
            url: hook.url.clone(),
            groups: hook.groups.clone(),
            headers,
        });
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("webhook HTTP client")?;
    Ok((hooks, client))
}

fn webhooks(
    config: &[WebhookConfig],
    env: &Env,
    secrets: Option<&Identity>,
    console: Option<String>,
) -> Result<Option<Announce>> {
    if config.is_empty() {
        return Ok(None);
    }
    let (hooks, client) = resolve_hooks(config, "approvals", env, secrets)?;
    let announce: Announce = Arc::new(move |approval: &Approval| {
        let body = webhook_body(approval, console.as_deref());
        for hook in &hooks {
            if !hook.groups.is_empty() && !hook.groups.iter().any(|g| approval.groups.contains(g)) {
                continue;
            }
            let (client, hook, body) = (client.clone(), hook.clone(), body.clone());
            let id = approval.id.clone();
            tokio::spawn(async move { deliver(&client, &hook, &body, &id).await });
        }
    });
    Ok(Some(announce))
}

impl Loaded {
    /// Alert webhooks from `[[alerts.webhook]]`, or `None`.
    pub fn alerts(
        &self,
        env: &Env,
        secrets: Option<&Identity>,
    ) -> Result<Option<warden_proxy::Alerts>> {
        let config = &self.config.alerts.webhook;
        if config.is_empty() {
            return Ok(None);
        }
        if config.iter().any(|w| !w.groups.is_empty()) {
            bail!(
                "[[alerts.webhook]]: `groups` is for approval webhooks; alerts go to every alert webhook"
            );
        }
        let (hooks, client) = resolve_hooks(config, "alerts", env, secrets)?;
        Ok(Some(warden_proxy::Alerts(Arc::new(move |alert: Value| {
            let text = alert
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("Warden alert")
                .to_owned();
            let kind = alert
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("alert")
                .to_owned();
            let body = json!({"text": text, "alert": alert});
            for hook in &hooks {
                let (client, hook, body, kind) =
                    (client.clone(), hook.clone(), body.clone(), kind.clone());
                tokio::spawn(async move { deliver(&client, &hook, &body, &kind).await });
            }
        }))))
    }
}

async fn deliver(client: &reqwest::Client, hook: &Hook, body: &Value, id: &str) {
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        let mut req = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in &hook.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(
                "webhook {} for {id}: HTTP {} (attempt {attempt})",
                hook.url,
                r.status()
            ),
            Err(e) => tracing::warn!("webhook {} for {id}: {e} (attempt {attempt})", hook.url),
        }
        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
    }
    tracing::error!(
        "webhook {} for {id}: gave up after {WEBHOOK_ATTEMPTS} attempts",
        hook.url
    );
}

/// A message Slack's incoming webhooks show as is (`text`, `blocks`), with the whole request
/// under `approval` for anything else.
pub fn webhook_body(a: &Approval, console: Option<&str>) -> Value {
    let link = console.map(|c| format!("{c}/console/approvals/{}", a.id));
    let args = serde_json::to_string(&a.arguments).unwrap_or_default();
    let shown: String = args.chars().take(500).collect();
    let text = format!(
        "Approval needed ({}): agent `{}` wants `{}` with {}{}",
        a.groups.join(", "),
        a.agent,
        a.resource(),
        shown,
        link.as_deref()
            .map(|l| format!(" — review: {l}"))
            .unwrap_or_else(|| format!(" — `warden approvals show {}`", a.id)),
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "Approval needed"}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Agent*\n`{}`", a.agent)},
            {"type": "mrkdwn", "text": format!("*Call*\n`{}`", a.resource())},
            {"type": "mrkdwn", "text": format!("*Groups*\n{}", a.groups.join(", "))},
            {"type": "mrkdwn", "text": format!("*Policy*\n{}", a.policies.join(", "))},
        ]}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Arguments*\n```{shown}```")}}),
    ];
    if let Some(l) = &link {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Review"}, "url": l}
        ]}));
    }
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": format!("{} · expires <!date^{}^{{date_short_pretty}} {{time}}|{}>", a.id, a.expires, a.expires)}
    ]}));
    json!({
        "text": text,
        "blocks": blocks,
        "approval": {
            "id": a.id,
            "agent": a.agent,
            "server": a.server,
            "method": a.method,
            "target": a.target,
            "resource": a.resource(),
            "arguments": a.arguments,
            "call_hash": a.call_hash,
            "groups": a.groups,
            "policies": a.policies,
            "reason": a.reason,
            "findings": a.findings,
            "created": a.created,
            "expires": a.expires,
            "url": link,
        },
    })
}

/// `warden approvals list`.
pub fn list(
    loaded: &Loaded,
    status: Option<&str>,
    json_out: bool,
    out: &mut impl Write,
) -> Result<()> {
    let status = status
        .map(|s| {
            Status::parse(s).with_context(|| {
                format!("unknown status `{s}` (pending, approved, denied, expired, used)")
            })
        })
        .transpose()?;
    let store = warden_approvals::Store::open(&loaded.approvals_path())?;
    let items = store.list(status, 1000, warden_approvals::now())?;
    if json_out {
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(());
    }
    if items.is_empty() {
        writeln!(out, "no approval requests")?;
    }
    for a in items {
        writeln!(
            out,
            "{} {:<8} {} {} groups={} expires={}",
            a.id,
            a.status.as_str(),
            a.agent,
            a.resource(),
            a.groups.join(","),
            a.expires
        )?;
    }
    Ok(())
}

/// `warden approvals show`.
pub fn show(loaded: &Loaded, id: &str, out: &mut impl Write) -> Result<()> {
    let store = warden_approvals::Store::open(&loaded.approvals_path())?;
    let a = store
        .get(id, warden_approvals::now())?
        .with_context(|| format!("no approval request `{id}`"))?;
    writeln!(out, "{}", serde_json::to_string_pretty(&a)?)?;
    Ok(())
}

/// `warden approvals approve|deny`: the local operator decides (as `cli:<user>`, for any
/// group). With `hash`, the decision only lands if the stored call has that hash (a prefix of
/// at least 8 hex digits, as `show` prints it).
pub async fn decide(
    loaded: &Loaded,
    env: &Env,
    id: &str,
    approve: bool,
    reason: &str,
    hash: Option<&str>,
    out: &mut impl Write,
) -> Result<()> {
    let log = Log::open(&loaded.audit_path(), loaded.config.audit.durability)?;
    let hub = loaded
        .approvals(&log, env, None, None)?
        .context("approvals are disabled in the configuration ([approvals] enabled = false)")?;
    let current = hub
        .store()
        .get(id, warden_approvals::now())?
        .with_context(|| format!("no approval request `{id}`"))?;
    if let Some(h) = hash {
        anyhow::ensure!(
            h.len() >= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()),
            "--hash takes 8 or more leading hex digits of the call hash `warden approvals show {id}` prints (got `{h}`)"
        );
        if !current.call_hash.starts_with(&h.to_ascii_lowercase()) {
            return Err(warden_approvals::Error::HashMismatch(id.to_owned()).into());
        }
    }
    let user = env.get("USER").unwrap_or("operator");
    let approver = Approver {
        name: format!("cli:{user}"),
        groups: vec!["*".to_owned()],
        via: "cli".to_owned(),
    };
    let result = hub
        .decide(id, &current.call_hash, &approver, approve, reason)
        .await;
    log.flush().await?;
    log.close();
    let decided = result?;
    writeln!(
        out,
        "{} `{}`: {} {} (by {})",
        if approve { "approved" } else { "denied" },
        decided.id,
        decided.agent,
        decided.resource(),
        approver.name
    )?;
    Ok(())
}

/// `warden approver add`: the password comes from stdin.
pub fn approver_add(
    store: &Identity,
    name: &str,
    groups: &[String],
    password: &str,
    out: &mut impl Write,
) -> Result<()> {
    let password = password.trim_end_matches(['\n', '\r']);
    let a = store.set_approver(name, groups, password, warden_identity::now())?;
    writeln!(
        out,
        "approver `{}` may decide for: {}",
        a.name,
        a.groups.join(", ")
    )?;
    Ok(())
}

/// `warden approver list`.
pub fn approver_list(store: &Identity, out: &mut impl Write) -> Result<()> {
    let all = store.approvers()?;
    if all.is_empty() {
        writeln!(
            out,
            "no approvers (add one with `warden approver add NAME --group GROUP`)"
        )?;
    }
    for a in all {
        writeln!(out, "{} groups={}", a.name, a.groups.join(","))?;
    }
    Ok(())
}

/// `warden approver remove`.
pub fn approver_remove(store: &Identity, name: &str, out: &mut impl Write) -> Result<()> {
    store.remove_approver(name)?;
    writeln!(out, "removed approver `{name}`")?;
    Ok(())
}
