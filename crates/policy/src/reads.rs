//! Which tool arguments the policies can read, so that only those are built into each
//! decision's context: a file's contents or a document passed as an argument is not copied into
//! Cedar values that no policy looks at.

use std::collections::HashSet;

use cedar_policy::PolicySet;
use serde_json::Value;

/// The argument names the policies read as `context.args.<name>` or test with
/// `context.args has <name>`; `None` when some policy uses `context.args` (or `context`)
/// otherwise, as a whole value, so every argument must be there.
pub(crate) fn args_read(policies: &PolicySet) -> Option<HashSet<String>> {
    let mut names = HashSet::new();
    for policy in policies.policies() {
        let json = policy.to_json().ok()?;
        visit(&json, &mut names).then_some(())?;
    }
    Some(names)
}

/// Collects names from `.`/`has` on `context.args` under `value`; `false` if `context.args`
/// or `context` appears anywhere else.
fn visit(value: &Value, names: &mut HashSet<String>) -> bool {
    match value {
        Value::Object(map) => {
            if map.get("Var").and_then(Value::as_str) == Some("context") {
                // `context` on its own: only reached when it is not the left of `.`/`has`.
                return false;
            }
            for op in [".", "has"] {
                if let Some(access) = map.get(op)
                    && let Some(left) = access.get("left")
                {
                    // `e has a.b.c` is one node whose `attr` is the path `["a", "b", "c"]`.
                    let path: Vec<&str> = match access.get("attr") {
                        Some(Value::String(a)) => vec![a.as_str()],
                        Some(Value::Array(parts)) => {
                            match parts.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
                                Some(path) => path,
                                None => return false,
                            }
                        }
                        _ => return false,
                    };
                    if is_var_context(left) {
                        // `context.<attr>` or `context has <attr>...`: `context.args` itself is
                        // only allowed as the left of a further access (handled below) or in
                        // `context has args.<name>...`, which reads `<name>`.
                        return match path.as_slice() {
                            ["args"] => op == "has",
                            ["args", name, ..] => {
                                names.insert((*name).to_owned());
                                true
                            }
                            _ => true,
                        };
                    }
                    if is_args(left) {
                        if let Some(name) = path.first() {
                            names.insert((*name).to_owned());
                        }
                        return true;
                    }
                }
            }
            map.values().all(|v| visit(v, names))
        }
        Value::Array(items) => items.iter().all(|v| visit(v, names)),
        _ => true,
    }
}

fn is_var_context(value: &Value) -> bool {
    value.get("Var").and_then(Value::as_str) == Some("context")
}

/// Whether `value` is `context.args`.
fn is_args(value: &Value) -> bool {
    value.get(".").is_some_and(|dot| {
        dot.get("left").is_some_and(is_var_context)
            && dot.get("attr").and_then(Value::as_str) == Some("args")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(policies: &str) -> Option<Vec<String>> {
        let set: PolicySet = policies.parse().unwrap();
        args_read(&set).map(|names| {
            let mut v: Vec<String> = names.into_iter().collect();
            v.sort();
            v
        })
    }

    #[test]
    fn names_read_through_dot_and_has_are_collected() {
        assert_eq!(
            read(
                r#"permit(principal, action, resource) when { context.args has amount && context.args.amount <= 50 };
                   forbid(principal, action, resource) when { context.args has path && context.args.path like "/etc/*" && context.time.hour > 1 };
                   permit(principal, action, resource) when { context has limits };"#
            ),
            Some(vec!["amount".into(), "path".into()])
        );
        // `has` with a path is one node: its first name is the argument read.
        assert_eq!(
            read(
                r#"forbid(principal, action, resource) when { context.args has options.force };
                   forbid(principal, action, resource) when { context has args.mode.x };"#
            ),
            Some(vec!["mode".into(), "options".into()])
        );
        assert_eq!(read("permit(principal, action, resource);"), Some(vec![]));
    }

    #[test]
    fn args_or_context_as_a_whole_value_needs_every_argument() {
        for policy in [
            "permit(principal, action, resource) when { context.args == {} };",
            "permit(principal, action, resource) when { context == {} };",
            r#"permit(principal, action, resource) when { [context.args].contains(context.args) };"#,
            r#"permit(principal, action, resource) when { (if true then context.args else context.args) has x };"#,
        ] {
            assert_eq!(read(policy), None, "{policy}");
        }
    }
}
