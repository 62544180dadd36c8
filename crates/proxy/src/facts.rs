//! Tool facts for policy, from MCP annotations with configuration on top, and the capability
//! labels that follow from them.

use serde_json::Value;
use warden_types::ToolFacts;

use crate::ToolOverride;

/// Capability labels: what a tool's results bring into a session, and what its calls do.
pub mod capability {
    /// Reads the user's own data (a read-only tool that stays in the user's world).
    pub const PRIVATE: &str = "private";
    /// Reads content others control (a read-only tool that reaches the open world).
    pub const UNTRUSTED: &str = "untrusted";
    /// Communicates outside: a tool that changes something in the open world (sends, shares,
    /// invites, pays, publishes).
    pub const EXTERNAL: &str = "external";
    /// Changes something.
    pub const WRITE: &str = "write";
    /// Changes something irreversibly.
    pub const DESTRUCTIVE: &str = "destructive";
}

/// The capability labels a tool's flags imply (configuration may add more as labels).
pub fn capabilities(facts: &ToolFacts) -> Vec<&'static str> {
    use capability::*;
    match (facts.read_only, facts.open_world) {
        (true, false) => vec![PRIVATE],
        (true, true) => vec![UNTRUSTED],
        (false, open) => {
            let mut out = vec![WRITE];
            if open {
                out.push(EXTERNAL);
            }
            if facts.destructive {
                out.push(DESTRUCTIVE);
            }
            out
        }
    }
}

/// Facts for a tool definition from `tools/list` (or `None` for a tool the upstream did not
/// list). Missing hints take the MCP defaults, which assume the worst: not read-only,
/// destructive, not idempotent, open world. Configuration overrides win.
pub fn facts_from_tool(tool: Option<&Value>, config: Option<&ToolOverride>) -> ToolFacts {
    let hint = |name: &str| {
        tool.and_then(|t| t.get("annotations"))
            .and_then(|a| a.get(name))
            .and_then(Value::as_bool)
    };
    let read_only = config
        .and_then(|c| c.read_only)
        .or(hint("readOnlyHint"))
        .unwrap_or(false);
    let destructive = config
        .and_then(|c| c.destructive)
        .unwrap_or_else(|| !read_only && hint("destructiveHint").unwrap_or(true));
    let mut facts = ToolFacts {
        labels: config.map(|c| c.labels.clone()).unwrap_or_default(),
        read_only,
        destructive,
        idempotent: config
            .and_then(|c| c.idempotent)
            .or(hint("idempotentHint"))
            .unwrap_or(false),
        open_world: config
            .and_then(|c| c.open_world)
            .or(hint("openWorldHint"))
            .unwrap_or(true),
    };
    for label in capabilities(&facts) {
        if !facts.labels.iter().any(|l| l == label) {
            facts.labels.push(label.to_owned());
        }
    }
    facts
}

/// A tool's annotations given outside a listing (a `warden policy test` case, the decision
/// API's `tool`): `None` where a hint is missing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    /// `readOnlyHint`.
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    pub destructive: Option<bool>,
    /// `idempotentHint`.
    pub idempotent: Option<bool>,
    /// `openWorldHint`.
    pub open_world: Option<bool>,
}

/// [`facts_from_tool`] for a tool described by `hints`, with `labels` added.
pub fn facts_from_hints(
    hints: Hints,
    config: Option<&ToolOverride>,
    labels: &[String],
) -> ToolFacts {
    let mut annotations = serde_json::Map::new();
    for (key, hint) in [
        ("readOnlyHint", hints.read_only),
        ("destructiveHint", hints.destructive),
        ("idempotentHint", hints.idempotent),
        ("openWorldHint", hints.open_world),
    ] {
        if let Some(v) = hint {
            annotations.insert(key.to_owned(), Value::Bool(v));
        }
    }
    let definition = serde_json::json!({ "annotations": annotations });
    let mut facts = facts_from_tool(Some(&definition), config);
    for label in labels {
        if !facts.labels.contains(label) {
            facts.labels.push(label.clone());
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_assume_the_worst_and_config_wins() {
        let bare = facts_from_tool(Some(&json!({"name": "x"})), None);
        assert!(!bare.read_only && bare.destructive && bare.open_world && !bare.idempotent);
        let ro = facts_from_tool(Some(&json!({"annotations": {"readOnlyHint": true}})), None);
        assert!(ro.read_only && !ro.destructive);
        let cfg = ToolOverride {
            read_only: Some(false),
            labels: vec!["fs".into()],
            ..Default::default()
        };
        let over = facts_from_tool(
            Some(&json!({"annotations": {"readOnlyHint": true}})),
            Some(&cfg),
        );
        assert!(!over.read_only && over.destructive);
        assert_eq!(over.labels, vec!["fs", "write", "external", "destructive"]);
    }

    #[test]
    fn hints_read_as_annotations_with_labels_added() {
        let none = facts_from_hints(Hints::default(), None, &[]);
        assert_eq!(none, facts_from_tool(None, None));
        let ro = Hints {
            read_only: Some(true),
            open_world: Some(false),
            ..Hints::default()
        };
        let f = facts_from_hints(ro, None, &["crm".to_owned()]);
        assert!(f.read_only && !f.open_world && !f.destructive);
        assert_eq!(f.labels, vec!["private", "crm"]);
        let cfg = ToolOverride {
            read_only: Some(false),
            ..Default::default()
        };
        assert!(!facts_from_hints(ro, Some(&cfg), &[]).read_only);
    }

    #[test]
    fn capabilities_follow_from_the_flags() {
        let labels = |ann: serde_json::Value| {
            facts_from_tool(Some(&json!({"annotations": ann})), None).labels
        };
        assert_eq!(
            labels(json!({"readOnlyHint": true, "openWorldHint": false})),
            vec!["private"]
        );
        // Without openWorldHint a read reaches the open world (the MCP default).
        assert_eq!(labels(json!({"readOnlyHint": true})), vec!["untrusted"]);
        assert_eq!(
            labels(json!({"readOnlyHint": false, "destructiveHint": false, "openWorldHint": true})),
            vec!["write", "external"]
        );
        assert_eq!(
            labels(json!({"readOnlyHint": false, "openWorldHint": false})),
            vec!["write", "destructive"]
        );
        // Configuration adds labels; a derived one is never doubled.
        let cfg = ToolOverride {
            labels: vec!["untrusted".into(), "private".into()],
            ..Default::default()
        };
        let both = facts_from_tool(
            Some(&json!({"annotations": {"readOnlyHint": true}})),
            Some(&cfg),
        );
        assert_eq!(both.labels, vec!["untrusted", "private"]);
    }
}
