//! What an agent asks for: the input to a policy decision.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The acting identity: an agent, with the attributes policy may look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable agent id, for example `support-bot`.
    pub id: String,
    /// Free-form attributes (team, owner, environment, roles, ...) from configuration.
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

/// What the agent does. Each maps to a Cedar action of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `tools/call`.
    CallTool,
    /// `resources/read`.
    ReadResource,
    /// `prompts/get`.
    GetPrompt,
}

impl Action {
    /// The Cedar action id (`Action::"call_tool"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallTool => "call_tool",
            Self::ReadResource => "read_resource",
            Self::GetPrompt => "get_prompt",
        }
    }

    /// Parses a Cedar action id.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "call_tool" => Some(Self::CallTool),
            "read_resource" => Some(Self::ReadResource),
            "get_prompt" => Some(Self::GetPrompt),
            _ => None,
        }
    }
}

/// Facts about a tool that policy may use: from configuration labels and the upstream's MCP
/// tool annotations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolFacts {
    /// Labels from configuration, for example `payments` or `external`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// MCP `readOnlyHint`.
    #[serde(default)]
    pub read_only: bool,
    /// MCP `destructiveHint` (the MCP default for an unannotated tool is `true`).
    #[serde(default)]
    pub destructive: bool,
    /// MCP `idempotentHint`.
    #[serde(default)]
    pub idempotent: bool,
    /// MCP `openWorldHint`.
    #[serde(default)]
    pub open_world: bool,
}

/// What the action is done on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    /// A tool of an upstream server: Cedar `Tool::"<server>/<name>"`.
    Tool {
        /// Upstream server name from configuration.
        server: String,
        /// Tool name as the upstream calls it.
        name: String,
        /// Labels and annotations.
        #[serde(default)]
        facts: ToolFacts,
    },
    /// A resource of an upstream server: Cedar `Resource::"<server>/<uri>"`.
    Resource {
        /// Upstream server name.
        server: String,
        /// Resource URI.
        uri: String,
    },
    /// A prompt of an upstream server: Cedar `Prompt::"<server>/<name>"`.
    Prompt {
        /// Upstream server name.
        server: String,
        /// Prompt name.
        name: String,
    },
}

impl Resource {
    /// The id used for the Cedar entity and in audit records: `<server>/<name or uri>`.
    pub fn id(&self) -> String {
        match self {
            Self::Tool { server, name, .. } | Self::Prompt { server, name } => {
                format!("{server}/{name}")
            }
            Self::Resource { server, uri } => format!("{server}/{uri}"),
        }
    }

    /// The upstream server name.
    pub fn server(&self) -> &str {
        match self {
            Self::Tool { server, .. }
            | Self::Resource { server, .. }
            | Self::Prompt { server, .. } => server,
        }
    }
}

/// Facts about the session the request belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionFacts {
    /// Warden's id for this session.
    pub id: String,
    /// `legacy` or `modern` (the downstream client's protocol era).
    pub era: String,
    /// Calls this session has made so far (before this one).
    pub calls: i64,
    /// Delegation chain: the agent, then each sub-agent it delegated to (empty when the agent
    /// acts itself). Policy sees `actor` (the last one, else the agent), `depth` (hops) and
    /// `delegation` (the set of names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegation: Vec<String>,
    /// Where the call stands against the runtime limits that apply to it (filled only when a
    /// policy reads `context.limits`).
    #[serde(default, skip_serializing_if = "LimitFacts::is_empty")]
    pub limits: LimitFacts,
    /// What the session has taken in so far: `private` and `untrusted` (results of tools with
    /// those capabilities), `injection`, `pii`, `secret` (detector findings). Policy sees
    /// `context.session.labels`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// For this call: the kinds of session values its arguments carry (`private`, `secret`,
    /// ...), found by value-level flow tracking. Policy sees `context.carries`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carries: Vec<String>,
}

/// Where a call stands against the rate limits, concurrency caps and budgets that apply to
/// it, before it is counted: the tightest allowance of each kind, absent when no rule of that
/// kind applies. Policy sees it as `context.limits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitFacts {
    /// Names of the rules that apply.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Whole calls the emptiest token bucket holds.
    pub rate_left: Option<i64>,
    /// Free slots of the fullest concurrency cap.
    pub slots_free: Option<i64>,
    /// Calls left this period.
    pub calls_left: Option<i64>,
    /// Bytes of results left this period.
    pub bytes_left: Option<i64>,
    /// Cost left this period, rounded down.
    pub cost_left: Option<i64>,
}

impl LimitFacts {
    /// No rule applies.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One authorization question: may `principal` do `action` on `resource` with `arguments`?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Who acts.
    pub principal: Principal,
    /// What they do.
    pub action: Action,
    /// On what.
    pub resource: Resource,
    /// Tool or prompt arguments (a JSON object), `null` when there are none.
    #[serde(default)]
    pub arguments: Value,
    /// Session facts.
    #[serde(default)]
    pub session: SessionFacts,
    /// Request time, Unix seconds (UTC).
    pub time_unix: i64,
}
