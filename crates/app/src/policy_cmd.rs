//! `warden policy validate` and `warden policy test`.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;
use serde_json::Value;
use warden_policy::Engine;
use warden_types::{Action, Outcome, Principal, Request, Resource, SessionFacts, ToolFacts};

use crate::config::Loaded;

/// A file of policy test cases.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cases {
    /// The cases, in order.
    #[serde(default, rename = "case")]
    pub cases: Vec<Case>,
}

/// One request and the decision expected for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Shown in the report.
    pub name: String,
    /// Agent id; the configured agent if absent.
    pub agent: Option<String>,
    /// Agent attributes; the configured ones if absent.
    pub attributes: Option<std::collections::BTreeMap<String, Value>>,
    /// `call_tool` (default), `read_resource` or `get_prompt`.
    #[serde(default = "default_action")]
    pub action: String,
    /// `<server>/<tool>` for `call_tool`.
    pub tool: Option<String>,
    /// `<server>/<uri>` for `read_resource`.
    pub resource: Option<String>,
    /// `<server>/<name>` for `get_prompt`.
    pub prompt: Option<String>,
    /// Tool or prompt arguments.
    #[serde(default)]
    pub args: Option<toml::Table>,
    /// Tool labels, besides those the configuration gives the tool and those its flags imply.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The tool's annotations as its server would give them (`readOnlyHint` ...). As at run
    /// time, `[tools.<name>]` in the configuration overrides them, and a missing one takes
    /// the MCP default: not read-only, destructive, not idempotent, open world.
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    pub destructive: Option<bool>,
    /// `idempotentHint`.
    pub idempotent: Option<bool>,
    /// `openWorldHint`.
    pub open_world: Option<bool>,
    /// Delegation chain of the token (agent first, then sub-agents).
    #[serde(default)]
    pub delegation: Vec<String>,
    /// Where the call stands against its limits (`limits = { cost_left = 40 }`).
    #[serde(default)]
    pub limits: warden_types::LimitFacts,
    /// What the session has taken in (`session_labels = ["private", "untrusted"]`).
    #[serde(default)]
    pub session_labels: Vec<String>,
    /// What the arguments carry (`carries = ["secret"]`).
    #[serde(default)]
    pub carries: Vec<String>,
    /// `allow`, `deny` or `approval_required`.
    pub expect: String,
    /// If given, the deciding policy ids must be exactly these.
    pub policies: Option<Vec<String>>,
}

fn default_action() -> String {
    "call_tool".to_owned()
}

/// Result of one case.
#[derive(Debug)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Whether it matched.
    pub passed: bool,
    /// What happened.
    pub detail: String,
}

fn split(id: &str) -> Result<(String, String)> {
    id.split_once('/')
        .map(|(s, n)| (s.to_owned(), n.to_owned()))
        .ok_or_else(|| anyhow!("`{id}` must be `<server>/<name>`"))
}

/// The tool's facts as Warden would find them at run time: the case's annotations, the
/// configuration's `[upstreams.<server>.tools.<name>]` for a gateway upstream, else
/// `[tools.<name>]`, over them, and the capability labels they imply.
fn facts(case: &Case, loaded: &Loaded, server: &str, name: &str) -> ToolFacts {
    // As at run time: `warden serve` gives an upstream its own `[upstreams.<server>.tools]`,
    // `warden mcp` its server the top-level `[tools]`.
    let config = match loaded.config.upstreams.get(server) {
        Some(u) => u.tools.get(name),
        None => loaded.config.tools.get(name),
    };
    let hints = warden_proxy::Hints {
        read_only: case.read_only,
        destructive: case.destructive,
        idempotent: case.idempotent,
        open_world: case.open_world,
    };
    warden_proxy::facts_from_hints(hints, config, &case.labels)
}

fn request(case: &Case, loaded: &Loaded, default: &Principal) -> Result<Request> {
    let action = Action::parse(&case.action)
        .ok_or_else(|| anyhow!("case `{}`: unknown action `{}`", case.name, case.action))?;
    let target = match action {
        Action::CallTool => &case.tool,
        Action::ReadResource => &case.resource,
        Action::GetPrompt => &case.prompt,
    };
    let target = target.as_deref().ok_or_else(|| {
        anyhow!(
            "case `{}`: missing the target of `{}`",
            case.name,
            case.action
        )
    })?;
    let (server, name) = split(target)?;
    let resource = match action {
        Action::CallTool => Resource::Tool {
            facts: facts(case, loaded, &server, &name),
            server,
            name,
        },
        Action::ReadResource => Resource::Resource { server, uri: name },
        Action::GetPrompt => Resource::Prompt { server, name },
    };
    let principal = Principal {
        id: case.agent.clone().unwrap_or_else(|| default.id.clone()),
        attributes: case
            .attributes
            .clone()
            .unwrap_or_else(|| default.attributes.clone()),
    };
    Ok(Request {
        principal,
        action,
        resource,
        arguments: match &case.args {
            Some(t) => serde_json::to_value(t)?,
            None => Value::Null,
        },
        session: SessionFacts {
            id: "policy-test".into(),
            era: "legacy".into(),
            calls: 0,
            delegation: case.delegation.clone(),
            limits: case.limits.clone(),
            labels: case.session_labels.clone(),
            carries: case.carries.clone(),
        },
        time_unix: warden_types::now_unix_micros() / 1_000_000,
    })
}

/// Runs every case of a file against the engine.
pub fn test(engine: &Engine, loaded: &Loaded, cases_path: &Path) -> Result<Vec<CaseResult>> {
    let text = std::fs::read_to_string(cases_path)
        .with_context(|| format!("cannot read `{}`", cases_path.display()))?;
    let cases: Cases = toml::from_str(&text).map_err(|e| {
        let at = e.span().map_or_else(
            || cases_path.display().to_string(),
            |s| {
                warden_policy::Source::new(cases_path.display().to_string(), text.as_str())
                    .location(s.start)
            },
        );
        anyhow!("{at}: {}", e.message())
    })?;
    let principal = loaded.principal();
    let mut out = Vec::new();
    for case in &cases.cases {
        let decision = engine.evaluate(&request(case, loaded, &principal)?);
        let expected = match case.expect.as_str() {
            "allow" => Outcome::Allow,
            "deny" => Outcome::Deny,
            "approval_required" => Outcome::ApprovalRequired,
            other => {
                return Err(anyhow!(
                    "case `{}`: `expect` must be allow, deny or approval_required, not `{other}`",
                    case.name
                ));
            }
        };
        let policies_ok = case.policies.as_ref().is_none_or(|p| {
            let mut want = p.clone();
            want.sort();
            want == decision.policies
        });
        let passed = decision.outcome == expected && policies_ok;
        let detail = format!(
            "{} by [{}]: {}",
            decision.outcome.as_str(),
            decision.policies.join(", "),
            decision.reason
        );
        out.push(CaseResult {
            name: case.name.clone(),
            passed,
            detail,
        });
    }
    Ok(out)
}
