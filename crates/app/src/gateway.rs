//! `warden serve` and the identity commands (`warden agent`, `warden token`, `warden secret`):
//! the gateway's settings from `warden.toml`, the identity store they share, and start-up.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use warden_audit::Log;
use warden_gateway::{ExternalIssuer, Settings, Transport, UpstreamSettings, valid_upstream_name};
use warden_identity::{MasterKey, Scope, Store};
use warden_sandbox::{Command, Helper, Profile};

use crate::sandbox::launch;
use warden_proxy::Approvals;

use crate::config::{DEFAULT_ENV_ALLOW, Loaded, UpstreamEntry};
use crate::env::Env;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Lifetime of the demo agent's token printed at start-up.
const DEMO_TOKEN_TTL: i64 = 3600;
/// Name of the agent `warden serve` creates when the store has none.
pub const DEMO_AGENT: &str = "demo-agent";

impl Loaded {
    /// Where the gateway listens.
    pub fn listen(&self) -> Result<SocketAddr> {
        let text = self
            .config
            .gateway
            .listen
            .as_deref()
            .unwrap_or(DEFAULT_LISTEN);
        text.parse().with_context(|| {
            format!("[gateway] listen: `{text}` is not an address such as 127.0.0.1:8787")
        })
    }

    /// The public base URL (`http://127.0.0.1:8787`), the issuer of Warden's tokens.
    pub fn public_url(&self, bound: Option<SocketAddr>) -> Result<String> {
        match &self.config.gateway.public_url {
            Some(u) => Ok(u.trim_end_matches('/').to_owned()),
            None => Ok(format!(
                "http://{}",
                bound.map_or_else(|| self.listen(), Ok)?
            )),
        }
    }

    /// The identity state file.
    pub fn state_path(&self) -> PathBuf {
        self.data_dir.join("state.db")
    }

    /// Opens the identity store (creating the master key on first use unless
    /// `WARDEN_MASTER_KEY` is set).
    pub fn store(&self, env: &Env, issuer: &str) -> Result<Store> {
        let key = match env.get("WARDEN_MASTER_KEY") {
            Some(hex) => MasterKey::from_hex(hex).context("WARDEN_MASTER_KEY")?,
            None => MasterKey::load_or_create(&self.data_dir.join("master.key"))?,
        };
        Ok(Store::open(&self.state_path(), key, issuer)?)
    }

    /// The identity store as the CLI uses it: the issuer the gateway would use.
    pub fn cli_store(&self, env: &Env) -> Result<Store> {
        let issuer = self.public_url(None)?;
        self.store(env, &issuer)
    }
}

/// `${env:NAME}` and `${secret:NAME}` in a configured value.
pub(crate) fn resolve(value: &str, env: &Env, store: Option<&Store>, what: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else {
            bail!("{what}: unterminated `${{` in `{value}`");
        };
        let reference = after.get(..end).unwrap_or_default();
        let resolved = match reference.split_once(':') {
            Some(("env", name)) => env
                .get(name)
                .with_context(|| format!("{what}: environment variable `{name}` is not set"))?
                .to_owned(),
            Some(("secret", name)) => store
                .with_context(|| format!("{what}: `${{secret:{name}}}` needs the state store"))?
                .secret(name)
                .with_context(|| {
                    format!(
                        "{what}: stored secret `{name}` (set it with `warden secret set {name}`)"
                    )
                })?,
            _ => bail!("{what}: `${{{reference}}}` must be `${{env:NAME}}` or `${{secret:NAME}}`"),
        };
        out.push_str(&resolved);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

fn upstream(
    loaded: &Loaded,
    name: &str,
    entry: &UpstreamEntry,
    env: &Env,
    store: &Store,
    helper: &Helper,
) -> Result<UpstreamSettings> {
    if !valid_upstream_name(name) {
        bail!(
            "[upstreams.{name}]: names are a letter, then letters, digits or `-` (at most 32), so `__` and `+` can separate them from tool names and URIs"
        );
    }
    // The profile a stdio upstream runs in (`Some(None)`: unconfined); `None` for a remote one.
    let mut confined: Option<Option<Profile>> = None;
    let transport = match (&entry.command, &entry.url) {
        (None, None) if let Some(e) = &entry.exec => {
            let (command, profile) = loaded
                .exec_upstream(e, helper, env)
                .with_context(|| format!("[upstreams.{name}]"))?;
            confined = Some(Some(profile));
            // Warden's own exec server runs unconfined; each command gets the profile.
            Transport::Stdio(warden_sandbox::transform(&command, None, helper)?)
        }
        (None, None) if entry.exec.is_none() && entry.data == Some(true) => {
            let command = loaded
                .data_upstream(&helper.exe, env)
                .with_context(|| format!("[upstreams.{name}]"))?;
            // Warden's own data server runs unconfined: it reads the configured databases and
            // the store, and answers only what the caller may see.
            Transport::Stdio(warden_sandbox::transform(&command, None, helper)?)
        }
        _ if entry.exec.is_some() || entry.data == Some(true) => {
            bail!(
                "[upstreams.{name}] has `exec` or `data` together with `command`, `url` or each other: choose one"
            )
        }
        (Some(command), None) => {
            let (program, args) = command
                .split_first()
                .with_context(|| format!("[upstreams.{name}] command is empty"))?;
            let allow: Vec<String> = entry
                .env_allow
                .clone()
                .unwrap_or_else(|| DEFAULT_ENV_ALLOW.iter().map(|s| (*s).to_owned()).collect());
            let mut vars: BTreeMap<String, String> = allow
                .iter()
                .filter_map(|k| Some((k.clone(), env.get(k)?.to_owned())))
                .collect();
            for (k, v) in &entry.env {
                vars.insert(
                    k.clone(),
                    resolve(v, env, Some(store), &format!("[upstreams.{name}] env.{k}"))?,
                );
            }
            let command = Command {
                program: program.clone(),
                args: args.to_vec(),
                env: vars.into_iter().collect(),
                cwd: entry.cwd.as_deref().map(|p| {
                    if p.is_absolute() {
                        p.to_owned()
                    } else {
                        loaded.base.join(p)
                    }
                }),
            };
            let profile = loaded
                .sandbox_profile(entry.sandbox.as_deref(), env)
                .with_context(|| format!("[upstreams.{name}]"))?;
            let launch = launch(name, &command, profile.as_ref(), helper)?;
            confined = Some(profile);
            Transport::Stdio(launch)
        }
        (None, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("[upstreams.{name}] url must start with http:// or https://");
            }
            let mut headers = Vec::new();
            for (k, v) in &entry.headers {
                headers.push((
                    k.clone(),
                    resolve(
                        v,
                        env,
                        Some(store),
                        &format!("[upstreams.{name}] headers.{k}"),
                    )?,
                ));
            }
            Transport::Http {
                url: url.clone(),
                headers,
            }
        }
        (Some(_), Some(_)) => bail!("[upstreams.{name}] has both `command` and `url`: choose one"),
        (None, None) => {
            bail!("[upstreams.{name}] needs `command` (stdio) or `url` (Streamable HTTP)")
        }
    };
    let mut proxy = loaded.settings(&[name.to_owned()]);
    proxy.server = name.to_owned();
    proxy.tools = entry.tools.clone().into_iter().collect();
    proxy.principal_meta = entry.data == Some(true);
    if let Some(d) = entry.detect {
        proxy.detect = d;
    }
    if let Some(profile) = &confined {
        crate::sandbox::confine(&mut proxy, loaded, profile.as_ref())?;
    }
    Ok(UpstreamSettings {
        name: name.to_owned(),
        transport,
        proxy,
    })
}

/// The built-in demo tool server as the only upstream, in the default profile.
fn demo_upstream(
    loaded: &Loaded,
    exe: &Path,
    env: &Env,
    helper: &Helper,
) -> Result<UpstreamSettings> {
    let mut proxy = loaded.settings(&["demo".to_owned()]);
    proxy.server = "demo".to_owned();
    let command = Command {
        program: exe.display().to_string(),
        args: vec!["demo-server".to_owned()],
        env: ["PATH", "HOME", "LANG", "TZ"]
            .iter()
            .filter_map(|k| Some(((*k).to_owned(), env.get(k)?.to_owned())))
            .collect(),
        cwd: None,
    };
    let profile = loaded.sandbox_profile(None, env)?;
    crate::sandbox::confine(&mut proxy, loaded, profile.as_ref())?;
    Ok(UpstreamSettings {
        name: "demo".to_owned(),
        transport: Transport::Stdio(launch("demo", &command, profile.as_ref(), helper)?),
        proxy,
    })
}

/// The distinct sandbox profiles the gateway's stdio upstreams run in (to prove before
/// serving).
pub fn profiles(loaded: &Loaded, env: &Env) -> Result<Vec<Profile>> {
    let mut choices: Vec<Option<&str>> = loaded
        .config
        .upstreams
        .values()
        .filter(|e| e.command.is_some())
        .map(|e| e.sandbox.as_deref())
        .chain(
            loaded
                .config
                .upstreams
                .values()
                .filter_map(|e| e.exec.as_ref())
                .map(|x| x.profile.as_deref()),
        )
        .collect();
    if loaded.config.upstreams.is_empty() {
        choices.push(None);
    }
    let mut out: Vec<Profile> = Vec::new();
    for choice in choices {
        if let Some(p) = loaded.sandbox_profile(choice, env)?
            && !out.iter().any(|o| o.name == p.name)
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// What the gateway holds until it stops: the keeper of anomaly baselines (the last ones are
/// written when it goes) and the span exporter (finished to send what is buffered).
pub struct Held {
    keeper: Option<crate::anomaly::Keeper>,
    exporter: Option<crate::telemetry::Exporter>,
}

/// Gateway settings for a listener bound at `bound`, and what to hold until the gateway stops.
pub fn settings(
    loaded: &Loaded,
    bound: SocketAddr,
    exe: &Path,
    env: &Env,
    store: &Arc<Store>,
    approvals: Option<Arc<Approvals>>,
) -> Result<(Settings, Held)> {
    let base = loaded.public_url(Some(bound))?;
    let g = &loaded.config.gateway;
    let helper = crate::sandbox::helper(env)?;
    let mut upstreams = Vec::new();
    for (name, entry) in &loaded.config.upstreams {
        upstreams.push(upstream(loaded, name, entry, env, store, &helper)?);
    }
    if upstreams.is_empty() {
        upstreams.push(demo_upstream(loaded, exe, env, &helper)?);
    }
    // One set of counts for the whole gateway: limits per agent hold across its sessions.
    let limits = loaded.config.limits.build()?;
    // A tripped agent is suspended in the identity store, like `warden agent suspend`: its next
    // request is refused until someone resumes it (CLI or console).
    let hook_store = store.clone();
    let hook: warden_proxy::PauseHook = Arc::new(move |agent: &str, why: &str| {
        match hook_store.set_status(agent, warden_identity::Status::Suspended) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("could not suspend agent `{agent}` ({why}): {e}");
                false
            }
        }
    });
    let (agent_guard, keeper) = match loaded.agent_guard(Some(hook))? {
        Some((guard, keeper)) => (Some(guard), keeper),
        None => (None, None),
    };
    let metrics = Arc::new(warden_proxy::Metrics::default());
    let alerts = loaded.alerts(env, Some(store))?;
    let exporter = loaded.exporter()?;
    let spans = exporter.as_ref().map(|e| e.spans.clone());
    let pins = loaded.pinning()?;
    for u in &mut upstreams {
        u.proxy.pins = pins.clone();
        u.proxy.metrics = Some(metrics.clone());
        u.proxy.alerts = alerts.clone();
        u.proxy.spans = spans.clone();
        u.proxy.approvals = approvals.clone();
        u.proxy.limits = limits.clone();
        u.proxy.agent_guard = agent_guard.clone();
        // One breaker per upstream, shared by every agent's link to it.
        u.proxy.breaker = loaded
            .config
            .breaker
            .as_ref()
            .map(crate::config::BreakerConfig::build)
            .transpose()?;
    }
    let port = bound.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        bound.to_string(),
    ];
    if let Some(host) = base.split("://").nth(1) {
        hosts.push(host.to_owned());
    }
    hosts.extend(g.allowed_hosts.iter().cloned());
    let settings = Settings {
        listen: bound,
        resource: format!("{base}{}", warden_gateway::MCP_PATH),
        allowed_hosts: hosts,
        allowed_origins: g.allowed_origins.clone(),
        upstreams,
        tools: loaded.config.tools.clone().into_iter().collect(),
        max_body_bytes: loaded.config.limits.max_message_bytes,
        call_timeout: Duration::from_millis(g.call_timeout_ms.unwrap_or(120_000)),
        session_idle: Duration::from_secs(g.session_idle_secs.unwrap_or(1800)),
        max_sessions_per_agent: g.max_sessions_per_agent.unwrap_or(256),
        authorization_servers: std::iter::once(base.clone())
            .chain(g.trust.iter().map(|t| t.issuer.clone()))
            .collect(),
        approvals,
        metrics: Some(metrics),
    };
    Ok((settings, Held { keeper, exporter }))
}

/// Runs the gateway until SIGINT or SIGTERM. Meant for a single-threaded runtime: the
/// gateway serves from threads of its own, one per CPU, and this one accepts.
pub async fn serve(
    loaded: &Loaded,
    exe: &Path,
    env: &Env,
    out: &mut (impl Write + Send),
) -> Result<()> {
    let engine = Arc::new(loaded.engine()?);
    if let Err(problems) = warden_detect::self_check() {
        bail!("detectors failed their self-check: {}", problems.join("; "));
    }
    let listen = loaded.listen()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let base = loaded.public_url(Some(bound))?;
    let store = Arc::new(loaded.store(env, &base)?);
    let audit_path = loaded.audit_path();
    let log = Log::open(&audit_path, loaded.config.audit.durability)?;
    // Many agents call at once: their records share commits.
    log.gather();
    let helper = crate::sandbox::helper(env)?;
    let mut _egress = Vec::new();
    for profile in profiles(loaded, env)? {
        _egress.push(crate::sandbox::start_egress(loaded, &profile, &log, env)?);
        crate::sandbox::prove(loaded, &profile, &helper, env).await?;
    }
    let approvals = loaded.approvals(&log, env, Some(&store), Some(base.clone()))?;
    let _watch = approvals.as_ref().map(Approvals::watch);
    let (settings, held) = settings(loaded, bound, exe, env, &store, approvals)?;
    if loaded
        .config
        .upstreams
        .values()
        .any(|u| u.data == Some(true))
    {
        loaded.check_data(env).await?;
    }
    let external = loaded
        .config
        .gateway
        .trust
        .iter()
        .map(|t| {
            let scopes = match &t.default_scopes {
                Some(list) => list
                    .iter()
                    .map(|s| Scope::parse(s))
                    .collect::<Result<Vec<_>, _>>()?,
                None => vec![Scope::parse("mcp")?],
            };
            Ok(ExternalIssuer::new(
                t.issuer.clone(),
                t.audience
                    .clone()
                    .unwrap_or_else(|| settings.resource.clone()),
                t.agent_claim.clone().unwrap_or_else(|| "sub".to_owned()),
                scopes,
                t.jwks_url.clone(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    writeln!(out, "warden: serving MCP at {}", settings.resource)?;
    writeln!(
        out,
        "  upstreams: {}",
        settings
            .upstreams
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "  state: {}   audit: {}",
        loaded.state_path().display(),
        audit_path.display()
    )?;
    // Only on the embedded defaults: a configured gateway gets no agent nobody asked for.
    let no_agents = store.agents()?.is_empty();
    if no_agents && loaded.file.is_some() {
        writeln!(
            out,
            "  no agents yet: add one with `warden agent add NAME`, then `warden token issue NAME --ttl 15m`"
        )?;
    } else if no_agents {
        store.add_agent(
            DEMO_AGENT,
            BTreeMap::<String, Value>::new(),
            warden_identity::now(),
        )?;
        let issued = store.issue(
            DEMO_AGENT,
            DEMO_TOKEN_TTL,
            &[Scope::parse("mcp")?, Scope::Decide, Scope::Scan],
            &settings.resource,
            warden_identity::now(),
        )?;
        writeln!(
            out,
            "  no agents yet: created `{DEMO_AGENT}`; its token (1 h):"
        )?;
        writeln!(out, "{}", issued.token)?;
        writeln!(
            out,
            "  more: warden agent add NAME; warden token issue NAME --ttl 15m"
        )?;
    }
    out.flush()?;
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    let closer = log.clone();
    let served = warden_gateway::serve(listener, settings, engine, log, store, external, shutdown)
        .await
        .map_err(|e| anyhow::anyhow!(e));
    // The last baselines are written when the keeper goes; the log is flushed however
    // serving ended.
    drop(held.keeper);
    if let Some(exporter) = held.exporter {
        exporter.finish(std::time::Duration::from_secs(5)).await;
    }
    closer.flush().await?;
    closer.close();
    served
}
