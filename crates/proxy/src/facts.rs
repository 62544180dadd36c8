//! Tool facts for policy, from MCP annotations with configuration on top.

use serde_json::Value;
use warden_types::ToolFacts;

use crate::ToolOverride;

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
    ToolFacts {
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
    }
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
        assert_eq!(over.labels, vec!["fs"]);
    }
}
