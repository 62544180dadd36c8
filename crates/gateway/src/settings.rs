//! What the gateway runs with (built by the app crate from `warden.toml`).

use std::net::SocketAddr;
use std::time::Duration;

use warden_sandbox::Launch;

/// How to reach an upstream.
#[derive(Debug, Clone)]
pub enum Transport {
    /// A stdio server Warden starts (one process per agent session).
    Stdio(Launch),
    /// A remote Streamable HTTP server.
    Http {
        /// Its MCP endpoint.
        url: String,
        /// Headers Warden adds to every request (credentials, resolved from the
        /// environment or the sealed secret store; never the agent's token).
        headers: Vec<(String, String)>,
    },
}

/// One upstream server.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Name: prefixes its tools (`<name>__<tool>`), prompts and resource URIs, and is the
    /// `<server>` of `Tool::"<server>/<tool>"` in policy.
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// Proxy settings (tool overrides, detection, limits); the principal is set per agent.
    pub proxy: warden_proxy::Settings,
}

/// The gateway.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The public URL of the MCP endpoint: the audience tokens must name and the resource of
    /// the protected resource metadata.
    pub resource: String,
    /// `Host` header values accepted (DNS-rebinding defence).
    pub allowed_hosts: Vec<String>,
    /// `Origin` header values accepted; requests without `Origin` (non-browser clients) pass.
    pub allowed_origins: Vec<String>,
    /// Upstream servers, in order.
    pub upstreams: Vec<UpstreamSettings>,
    /// `[tools.<name>]`: facts for tools of no upstream (the decision API's callers' own).
    pub tools: std::collections::HashMap<String, warden_proxy::ToolOverride>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// How long a forwarded request may take.
    pub call_timeout: Duration,
    /// A session idle this long is closed.
    pub session_idle: Duration,
    /// Most legacy sessions one agent may hold open at once (each has its own upstream
    /// connections and processes); `initialize` beyond it is refused.
    pub max_sessions_per_agent: usize,
    /// Authorization servers to list in the protected resource metadata (Warden's own
    /// issuer first).
    pub authorization_servers: Vec<String>,
    /// Where held calls wait (also set in each upstream's proxy settings); the console
    /// decides through it. `None`: approvals are disabled.
    pub approvals: Option<std::sync::Arc<warden_proxy::Approvals>>,
    /// The data plane's counters (also set in each upstream's proxy settings), served at
    /// `/metrics`.
    pub metrics: Option<std::sync::Arc<warden_proxy::Metrics>>,
}

/// Separator between server and tool or prompt names: `fs__read_file`.
pub const NAME_SEPARATOR: &str = "__";

/// Upstream names: a letter, then letters, digits or single hyphens, so `__` and `+` can
/// separate them from tool names and URIs without ambiguity.
pub fn valid_upstream_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}
