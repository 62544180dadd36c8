//! `warden.toml`: a strict serde type (unknown keys are errors that name file and line), and
//! the runtime objects built from it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use warden_audit::Durability;
use warden_policy::{Engine, Source};
use warden_proxy::{DetectSettings, Settings, ToolOverride};
use warden_types::Principal;

use crate::env::Env;

mod limits;
pub use limits::{LimitConfig, LimitsConfig, Period};

/// Variables a stdio upstream gets from Warden's environment when the config does not say.
pub const DEFAULT_ENV_ALLOW: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM",
];

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The agent.
    #[serde(default)]
    pub agent: AgentConfig,
    /// The upstream server.
    #[serde(default)]
    pub upstream: UpstreamConfig,
    /// Policy files.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Size and time limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Per-tool facts, by tool name.
    #[serde(default)]
    pub tools: BTreeMap<String, ToolOverride>,
    #[serde(default)]
    pub detect: DetectSettings,
    /// `warden serve`: the HTTP gateway.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// `warden serve`: upstream servers by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamEntry>,
    /// Calls held for a human's approval.
    #[serde(default)]
    pub approvals: ApprovalsConfig,
    /// A circuit breaker on each upstream (off when absent).
    pub breaker: Option<BreakerConfig>,
    /// Pause agents that collect too many denials or findings (off when absent).
    pub agent_breaker: Option<AgentBreakerConfig>,
    /// Each agent's behaviour against its own baseline (off when absent).
    pub anomaly: Option<crate::anomaly::AnomalyConfig>,
    /// Where alerts go besides the audit log and the console.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// OpenTelemetry export.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Sandbox profiles for stdio upstreams.
    #[serde(default)]
    pub sandbox: crate::sandbox::SandboxConfig,
    /// Tool pinning and description scanning.
    #[serde(default)]
    pub pinning: PinningConfig,
    /// Governed data: databases and the document store of the built-in data server.
    #[serde(default)]
    pub data: crate::data::DataConfig,
}

/// `[pinning]`: every tool's definition is pinned on first sight and scanned; a changed or
/// flagged tool waits for `warden tools approve`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinningConfig {
    /// Pin and scan (default `true`).
    pub enabled: Option<bool>,
    /// `block` (default): a tool waiting for approval is left out of listings and its calls
    /// are refused; `flag`: it is only recorded.
    pub on_change: Option<PinAction>,
}

/// `[pinning] on_change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinAction {
    /// Hide and refuse.
    Block,
    /// Record only.
    Flag,
}

impl Loaded {
    /// Tool pinning from `[pinning]` (`None` when disabled), over the approvals file.
    pub fn pinning(&self) -> anyhow::Result<Option<std::sync::Arc<warden_proxy::Pinning>>> {
        let c = &self.config.pinning;
        if c.enabled == Some(false) {
            return Ok(None);
        }
        let path = self.approvals_path();
        let store = warden_approvals::Store::open(&path)
            .map_err(|e| anyhow::anyhow!("tool pins in `{}`: {e}", path.display()))?;
        Ok(Some(std::sync::Arc::new(warden_proxy::Pinning::new(
            std::sync::Arc::new(store),
            c.on_change.unwrap_or(PinAction::Block) == PinAction::Block,
        ))))
    }
}

/// `[telemetry]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP collector base URL (spans go to `<url>/v1/traces`); no export when absent.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans (default `warden`).
    pub service_name: Option<String>,
}

/// `[alerts]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// `[[alerts.webhook]]`: a JSON POST per alert (Slack-compatible `text`, the alert under
    /// `alert`); `url` and `headers` as for approval webhooks.
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
}

/// `[agent_breaker]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentBreakerConfig {
    /// Seconds of history counted (default 300).
    pub window_secs: Option<f64>,
    /// Denied calls within the window that pause the agent (default 20; 0: not counted).
    pub max_denials: Option<u32>,
    /// Calls with detector findings within the window that pause it (default 0: not counted).
    pub max_findings: Option<u32>,
}

impl AgentBreakerConfig {
    /// The breaker's settings, checked.
    pub fn settings(&self) -> Result<warden_controls::AgentBreakerSettings> {
        let window_secs = self.window_secs.unwrap_or(300.0);
        if window_secs.is_nan() || window_secs <= 0.0 {
            bail!("[agent_breaker] window_secs must be positive");
        }
        Ok(warden_controls::AgentBreakerSettings {
            window_secs,
            max_denials: self.max_denials.unwrap_or(20),
            max_findings: self.max_findings.unwrap_or(0),
        })
    }
}

/// `[breaker]`: every upstream gets its own breaker with these settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Seconds of history the error rate is computed over (default 30).
    pub window_secs: Option<f64>,
    /// Fewest calls in the window before the rate counts (default 10).
    pub min_calls: Option<u32>,
    /// Share of failed calls (0-1) that opens the breaker (default 0.5).
    pub error_rate: Option<f64>,
    /// A call slower than this counts as failed (default: none).
    pub slow_ms: Option<u64>,
    /// How long the breaker stays open before probing (default 30).
    pub open_secs: Option<f64>,
    /// Calls let through while probing (default 1).
    pub probes: Option<u32>,
}

impl BreakerConfig {
    /// A new breaker with these settings.
    pub fn build(&self) -> Result<std::sync::Arc<warden_controls::Breaker>> {
        let settings = warden_controls::BreakerSettings {
            window_secs: self.window_secs.unwrap_or(30.0),
            min_calls: self.min_calls.unwrap_or(10),
            error_rate: self.error_rate.unwrap_or(0.5),
            slow_secs: self.slow_ms.map(|ms| ms as f64 / 1000.0),
            open_secs: self.open_secs.unwrap_or(30.0),
            probes: self.probes.unwrap_or(1),
        };
        if !(settings.error_rate > 0.0 && settings.error_rate <= 1.0) {
            bail!("[breaker] error_rate must be above 0 and at most 1");
        }
        if settings.window_secs.is_nan()
            || settings.window_secs <= 0.0
            || settings.open_secs.is_nan()
            || settings.open_secs <= 0.0
        {
            bail!("[breaker] window_secs and open_secs must be positive");
        }
        Ok(std::sync::Arc::new(warden_controls::Breaker::new(settings)))
    }
}

/// `[approvals]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// Hold calls that need approval (default); `false` refuses them instead.
    pub enabled: Option<bool>,
    /// SQLite file of the requests (default `<data dir>/approvals.db`).
    pub path: Option<PathBuf>,
    /// How long a request waits before it expires, which denies it (default 900).
    pub timeout_secs: Option<u64>,
    /// How often a held call sends the client a progress notification (default 10).
    pub progress_secs: Option<u64>,
    /// FOR TESTING ONLY (benchmarks, CI): every held call is approved or denied at once by
    /// an approver recorded as `unattended (testing only)`. Warden warns at start.
    pub unattended_for_testing: Option<Unattended>,
    /// Where new requests are announced.
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
}

/// `[approvals] unattended_for_testing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unattended {
    /// Approve every request.
    Approve,
    /// Deny every request.
    Deny,
}

/// `[[approvals.webhook]]`: a JSON POST (Slack-compatible: `text` and `blocks`) for each new
/// request of the listed groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// Approver groups this hook announces (default: all).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Extra headers; values may be `${env:NAME}` or `${secret:NAME}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `[gateway]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on (default `127.0.0.1:8787`).
    pub listen: Option<String>,
    /// The URL agents use, without the path (default `http://<listen>`). Tokens are issued
    /// for `<public_url>/mcp`.
    pub public_url: Option<String>,
    /// More `Host` values to accept (the listen address, `localhost` and the public URL's
    /// host are always accepted).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call (none by default; requests without `Origin` pass).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Close sessions idle this long (default 30 minutes).
    pub session_idle_secs: Option<u64>,
    /// Most sessions one agent may hold open (default 256).
    pub max_sessions_per_agent: Option<usize>,
    /// Longest time a forwarded request may take (default 120 s).
    pub call_timeout_ms: Option<u64>,
    /// External identity providers whose tokens are accepted.
    #[serde(default)]
    pub trust: Vec<TrustConfig>,
}

/// `[[gateway.trust]]`: an external identity provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Its `iss`.
    pub issuer: String,
    /// Where its keys are.
    pub jwks_url: String,
    /// The `aud` its tokens must carry (default: Warden's MCP endpoint URL).
    pub audience: Option<String>,
    /// The claim naming a registered agent (default `sub`).
    pub agent_claim: Option<String>,
    /// Scopes for tokens that carry none of Warden's (default `mcp`).
    pub default_scopes: Option<Vec<String>>,
}

/// `[upstreams.<name>]`: a stdio server (`command`) or a remote one (`url`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamEntry {
    /// Program and arguments of a stdio server.
    pub command: Option<Vec<String>>,
    /// Variables passed through from Warden's environment (stdio).
    pub env_allow: Option<Vec<String>>,
    /// Variables set for the server; values may be `${env:NAME}` or `${secret:NAME}`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (stdio).
    pub cwd: Option<PathBuf>,
    /// Sandbox profile (stdio): a name from `[sandbox.profiles]`, or `off` to run unconfined.
    pub sandbox: Option<String>,
    /// Warden's built-in `exec` tool as this server (instead of `command` or `url`).
    pub exec: Option<crate::sandbox::ExecConfig>,
    /// Warden's built-in data server over `[data]` (instead of `command` or `url`).
    pub data: Option<bool>,
    /// URL of a Streamable HTTP server.
    pub url: Option<String>,
    /// Headers for a remote server; values may be `${env:NAME}` or `${secret:NAME}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-tool facts, by the tool's own name.
    #[serde(default)]
    pub tools: BTreeMap<String, ToolOverride>,
    /// Detection for this server (replacing `[detect]`).
    pub detect: Option<DetectSettings>,
}

/// `[agent]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Agent id.
    #[serde(default = "default_agent")]
    pub id: String,
    /// Attributes for policy.
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            id: default_agent(),
            attributes: BTreeMap::new(),
        }
    }
}

fn default_agent() -> String {
    "agent".to_owned()
}

/// `[upstream]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Server name used in policies; defaults to a name derived from the command.
    pub name: Option<String>,
    /// Variables passed through from Warden's environment.
    pub env_allow: Option<Vec<String>>,
    /// Variables set for the server.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory for the server.
    pub cwd: Option<PathBuf>,
    /// Sandbox profile: a name from `[sandbox.profiles]`, or `off` to run unconfined.
    pub sandbox: Option<String>,
    /// Warden's built-in `exec` tool as the server (no command after `--`).
    pub exec: Option<crate::sandbox::ExecConfig>,
    /// Warden's built-in data server over `[data]` (no command after `--`).
    pub data: Option<bool>,
}

/// `[policy]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Cedar schema file; the built-in starter schema if absent.
    pub schema: Option<PathBuf>,
    /// Policy files (or directories of `*.cedar`); the built-in starter policies if absent.
    pub files: Option<Vec<PathBuf>>,
}

/// `[audit]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// SQLite file of the log.
    pub path: Option<PathBuf>,
    /// What an acknowledged record survives.
    #[serde(default)]
    pub durability: Durability,
    /// Store tool arguments (default) or only their hash.
    pub record_arguments: Option<bool>,
}

/// A configuration and the directory its relative paths start from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The parsed file (or defaults).
    pub config: Config,
    /// Directory relative paths resolve against.
    pub base: PathBuf,
    /// Where state goes when the file does not say.
    pub data_dir: PathBuf,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

/// `file:line:column` of a byte offset in `text`.
fn location(file: &Path, text: &str, offset: usize) -> String {
    Source::new(file.display().to_string(), text).location(offset)
}

/// Parses configuration text; errors name `file:line:column`.
pub fn parse(file: &Path, text: &str) -> Result<Config> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map_or_else(
            || file.display().to_string(),
            |span| location(file, text, span.start),
        );
        anyhow::anyhow!("{at}: {}", e.message())
    })
}

impl Loaded {
    /// Reads `path`, or uses built-in defaults when `path` is `None`.
    pub fn load(path: Option<&Path>, env: &Env) -> Result<Self> {
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config `{}`", path.display()))?;
                let config = parse(path, &text)?;
                let base = path
                    .parent()
                    .map(Path::to_owned)
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or_else(|| PathBuf::from("."));
                let data_dir = base.join(".warden");
                Ok(Self {
                    config,
                    base,
                    data_dir,
                    file: Some(path.to_owned()),
                })
            }
            None => Ok(Self {
                config: Config::default(),
                base: PathBuf::from("."),
                data_dir: env.data_dir(),
                file: None,
            }),
        }
    }

    pub(crate) fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    /// The audit file.
    pub fn audit_path(&self) -> PathBuf {
        match &self.config.audit.path {
            Some(p) => self.resolve(p),
            None => self.data_dir.join("audit.db"),
        }
    }

    /// The approvals file.
    pub fn approvals_path(&self) -> PathBuf {
        match &self.config.approvals.path {
            Some(p) => self.resolve(p),
            None => self.data_dir.join("approvals.db"),
        }
    }

    /// Loads and validates the schema and policies.
    pub fn engine(&self) -> Result<Engine> {
        let schema = match &self.config.policy.schema {
            Some(p) => read_source(&self.resolve(p))?,
            None => Source::new("<built-in schema>", warden_policy::STARTER_SCHEMA),
        };
        let files = match &self.config.policy.files {
            Some(list) => {
                let mut out = Vec::new();
                for p in list {
                    let p = self.resolve(p);
                    if p.is_dir() {
                        let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                            .with_context(|| format!("cannot list `{}`", p.display()))?
                            .filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|f| f.extension().is_some_and(|x| x == "cedar"))
                            .collect();
                        entries.sort();
                        for f in entries {
                            out.push(read_source(&f)?);
                        }
                    } else {
                        out.push(read_source(&p)?);
                    }
                }
                out
            }
            None => vec![Source::new(
                "<built-in policies>",
                warden_policy::STARTER_POLICIES,
            )],
        };
        let engine = Engine::load(&schema, &files)?;
        engine.check_principal(&self.principal())?;
        Ok(engine)
    }

    /// The configured agent.
    pub fn principal(&self) -> Principal {
        Principal {
            id: self.config.agent.id.clone(),
            attributes: self.config.agent.attributes.clone().into_iter().collect(),
        }
    }

    /// Proxy settings for an upstream started with `command`.
    pub fn settings(&self, command: &[String]) -> Settings {
        let server = self
            .config
            .upstream
            .name
            .clone()
            .unwrap_or_else(|| server_name(command));
        let mut settings = Settings::new(server, self.principal());
        settings.max_message_bytes = self.config.limits.max_message_bytes;
        settings.upstream_timeout = Duration::from_millis(self.config.limits.upstream_timeout_ms);
        settings.audit_arguments = self.config.audit.record_arguments.unwrap_or(true);
        settings.detect = self.config.detect;
        settings.tools = self
            .config
            .tools
            .clone()
            .into_iter()
            .collect::<HashMap<_, _>>();
        settings
    }

    /// The environment for the upstream: allowed variables from `env`, then explicit ones.
    pub fn upstream_env(&self, env: &Env) -> Vec<(String, String)> {
        let allow: Vec<String> = match &self.config.upstream.env_allow {
            Some(list) => list.clone(),
            None => DEFAULT_ENV_ALLOW.iter().map(|s| (*s).to_owned()).collect(),
        };
        let mut out: BTreeMap<String, String> = allow
            .iter()
            .filter_map(|k| Some((k.clone(), env.get(k)?.to_owned())))
            .collect();
        out.extend(self.config.upstream.env.clone());
        out.into_iter().collect()
    }

    /// The upstream's working directory.
    pub fn upstream_cwd(&self) -> Option<PathBuf> {
        self.config.upstream.cwd.as_deref().map(|p| self.resolve(p))
    }
}

fn read_source(path: &Path) -> Result<Source> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(Source::new(path.display().to_string(), text))
}

/// A server name from its command: the package or script for runners (`npx`, `uvx`, `node`,
/// `python`...), else the program's file name. A generic script name (`dist/index.js`) gives
/// way to the package directory that holds it. `warden demo-server` is `demo`, and nothing
/// else is: the starter policies open every tool of `demo`, so another command that would be
/// named so (`python3 demo.py`) is `demo-upstream`.
pub fn server_name(command: &[String]) -> String {
    // Warden's own demo server, from any build of Warden.
    let ours = command.first().is_some_and(|p| {
        p.rsplit('/')
            .next()
            .is_some_and(|f| f.starts_with("warden"))
    }) && command.get(1).is_some_and(|a| a == "demo-server");
    if ours {
        return "demo".to_owned();
    }
    match derived_name(command) {
        name if name == "demo" => "demo-upstream".to_owned(),
        name => name,
    }
}

/// [`server_name`] before the demo's name is kept for the demo.
fn derived_name(command: &[String]) -> String {
    const RUNNERS: &[&str] = &[
        "npx", "uvx", "node", "python", "python3", "deno", "bun", "bunx", "pipx", "uv",
    ];
    const GENERIC_FILES: &[&str] = &["index", "main", "server", "cli", "__main__"];
    const GENERIC_DIRS: &[&str] = &["dist", "build", "lib", "src", "bin", "out", "."];
    let stem = |s: &str| {
        let mut parts = s.rsplit('/').filter(|p| !p.is_empty());
        let file = parts.next().unwrap_or(s);
        let file = file.split('@').find(|p| !p.is_empty()).unwrap_or(file);
        let file = file.split('.').next().unwrap_or(file).to_owned();
        if !GENERIC_FILES.contains(&file.as_str()) {
            return file;
        }
        parts
            .find(|d| !GENERIC_DIRS.contains(d))
            .map_or(file, str::to_owned)
    };
    let Some(program) = command.first() else {
        return "upstream".to_owned();
    };
    if RUNNERS.contains(&stem(program).as_str())
        && let Some(arg) = command
            .iter()
            .skip(1)
            .find(|a| !a.starts_with('-') && *a != "run")
    {
        let name = stem(arg);
        if !name.is_empty() {
            return name;
        }
    }
    let name = stem(program);
    if name.is_empty() {
        "upstream".to_owned()
    } else {
        name
    }
}

/// Fails when the upstream command is missing.
pub fn require_command(command: &[String]) -> Result<()> {
    if command.is_empty() {
        bail!("no upstream command: use `warden mcp [--config FILE] -- <command> [args...]`");
    }
    Ok(())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
