//! Runtime settings of a proxy session (built by the app crate from `warden.toml`).

use std::collections::HashMap;
use std::time::Duration;

use warden_types::Principal;

/// What configuration says about one tool (`[tools."<name>"]` in `warden.toml`), overriding
/// the upstream's own annotations (which are hints from a server that may not be
/// trustworthy).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolOverride {
    /// Labels policy can test (`resource.labels.contains("payments")`).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Overrides `readOnlyHint`.
    pub read_only: Option<bool>,
    /// Overrides `destructiveHint`.
    pub destructive: Option<bool>,
    /// Overrides `idempotentHint`.
    pub idempotent: Option<bool>,
    /// Overrides `openWorldHint`.
    pub open_world: Option<bool>,
    /// Detection actions for this tool (replacing the `[detect]` section).
    pub detect: Option<crate::DetectSettings>,
    /// What one call costs, for `[[limits.budget]]` `cost` allowances.
    pub cost: Option<f64>,
}

/// Settings for one proxied session.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Name of the upstream server (the `<server>` in `Tool::"<server>/<tool>"`).
    pub server: String,
    /// The agent on the other side.
    pub principal: Principal,
    /// Per-tool overrides, by tool name.
    pub tools: HashMap<String, ToolOverride>,
    /// Largest message accepted from either side, in bytes.
    pub max_message_bytes: usize,
    /// How long to wait for the upstream's answer to Warden's own requests (era detection,
    /// `initialize`, tool listing).
    pub upstream_timeout: Duration,
    /// Store tool arguments in audit records (otherwise only their SHA-256).
    pub audit_arguments: bool,
    /// Detection actions per direction.
    pub detect: crate::DetectSettings,
    /// Delegation chain of the agent's token (the agent, then each actor it was delegated
    /// to); empty when the agent acts itself (stdio mode).
    pub delegation: Vec<String>,
    /// Where calls that need approval are held; without it they are refused.
    pub approvals: Option<std::sync::Arc<crate::Approvals>>,
    /// Rate limits, concurrency caps and budgets, shared by every session of the process.
    pub limits: Option<std::sync::Arc<warden_controls::Limits>>,
    /// This upstream's circuit breaker (shared by every session to the same upstream).
    pub breaker: Option<std::sync::Arc<warden_controls::Breaker>>,
    /// Pauses agents that collect too many denials or findings.
    pub agent_guard: Option<AgentGuard>,
    /// Counters for Prometheus, shared by every session of the process.
    pub metrics: Option<std::sync::Arc<crate::Metrics>>,
    /// Where alerts (an agent paused, a breaker opened) are sent besides the audit log.
    pub alerts: Option<Alerts>,
    /// Where each governed call's span goes (OpenTelemetry).
    pub spans: Option<crate::trace::Spans>,
    /// The egress allow-list of the upstream's sandbox profile (with `network =
    /// "egress-proxy"`): a URL in the arguments it refuses refuses the call.
    pub egress: Option<std::sync::Arc<EgressCheck>>,
    /// The paths the upstream's sandbox may read or write (`None`: everything): the roots a
    /// client gives the upstream are narrowed to them.
    pub roots: Option<Vec<std::path::PathBuf>>,
    /// The sandbox profile the upstream runs in (`off` when unconfined; `None` for a remote
    /// server), recorded with each session's start.
    pub sandbox: Option<String>,
    /// Tool pinning and description scanning (`None`: off).
    pub pins: Option<std::sync::Arc<crate::pins::Pinning>>,
    /// Tell the upstream who calls: each governed request carries the agent (id, attributes,
    /// delegation) in `_meta["dev.warden/principal"]`. Only for Warden's own servers (the
    /// data server binds row filters to it); a client's value under that key is always
    /// removed, whatever this says.
    pub principal_meta: bool,
}

/// A sandbox profile's egress allow-list, applied to URLs in tool arguments.
#[derive(Debug)]
pub struct EgressCheck {
    /// The profile's name (for refusals).
    pub profile: String,
    /// Its allow-list.
    pub rules: warden_egress::Rules,
}

/// Sends an alert (a JSON object with `kind`, `severity`, `text` and details) somewhere.
#[derive(Clone)]
pub struct Alerts(pub std::sync::Arc<dyn Fn(serde_json::Value) + Send + Sync>);

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Alerts")
    }
}

/// Called when an agent trips its breaker, with the agent and why; returns whether the pause
/// is kept elsewhere (the gateway suspends the agent in the identity store).
pub type PauseHook = std::sync::Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// The per-agent breaker, anomaly detection, and what to do when either pauses an agent.
#[derive(Clone)]
pub struct AgentGuard {
    /// Counts per agent, shared by every session of the process (and, without `on_pause`,
    /// where pauses are kept).
    pub breaker: std::sync::Arc<warden_controls::AgentBreaker>,
    /// Without a hook the pause is kept in memory until the process restarts.
    pub on_pause: Option<PauseHook>,
    /// Each agent's baseline, shared by every session of the process.
    pub anomalies: Option<std::sync::Arc<warden_controls::Anomalies>>,
    /// An anomaly alert this severe or worse pauses the agent (and refuses the call that
    /// raised it, or withholds the result).
    pub suspend_at: Option<warden_controls::Severity>,
}

impl std::fmt::Debug for AgentGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentGuard")
            .field("breaker", &self.breaker)
            .field("on_pause", &self.on_pause.is_some())
            .field("anomalies", &self.anomalies.is_some())
            .field("suspend_at", &self.suspend_at)
            .finish()
    }
}

impl Settings {
    /// Settings with defaults for everything but the server name and agent.
    pub fn new(server: impl Into<String>, principal: Principal) -> Self {
        Self {
            server: server.into(),
            principal,
            tools: HashMap::new(),
            max_message_bytes: 4 * 1024 * 1024,
            upstream_timeout: Duration::from_secs(10),
            audit_arguments: true,
            detect: crate::DetectSettings::default(),
            delegation: Vec::new(),
            approvals: None,
            limits: None,
            breaker: None,
            agent_guard: None,
            metrics: None,
            alerts: None,
            spans: None,
            sandbox: None,
            egress: None,
            roots: None,
            pins: None,
            principal_meta: false,
        }
    }
}
