//! The direct builder against the one it replaced: restricted expressions (the
//! conversions entity attributes still use) evaluated by Cedar's `Context::from_pairs`.

use std::collections::HashSet;

use cedar_policy::{Context, RestrictedExpression};
use serde_json::{Value, json};
use warden_types::{Action, LimitFacts, Principal, Request, Resource, SessionFacts, ToolFacts};

use super::build;
use crate::convert::{record, record_of};
use crate::guard::{actor, depth, hour, weekday};

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// The context as built before: restricted expressions evaluated by `Context::from_pairs`.
fn oracle(
    request: &Request,
    with_args: bool,
    args_read: Option<&HashSet<String>>,
) -> std::result::Result<Context, String> {
    let time = request.time_unix;
    let clock = RestrictedExpression::new_record([
        ("unix".to_owned(), RestrictedExpression::new_long(time)),
        (
            "hour".to_owned(),
            RestrictedExpression::new_long(hour(time)),
        ),
        (
            "weekday".to_owned(),
            RestrictedExpression::new_long(weekday(time)),
        ),
    ])
    .map_err(|e| e.to_string())?;
    let session = RestrictedExpression::new_record([
        ("id".to_owned(), string(&request.session.id)),
        ("era".to_owned(), string(&request.session.era)),
        (
            "calls".to_owned(),
            RestrictedExpression::new_long(request.session.calls),
        ),
        ("actor".to_owned(), string(actor(request))),
        (
            "depth".to_owned(),
            RestrictedExpression::new_long(depth(request)),
        ),
        (
            "delegation".to_owned(),
            RestrictedExpression::new_set(request.session.delegation.iter().map(|s| string(s))),
        ),
        (
            "labels".to_owned(),
            RestrictedExpression::new_set(request.session.labels.iter().map(|s| string(s))),
        ),
    ])
    .map_err(|e| e.to_string())?;
    let l = &request.session.limits;
    let mut limits = vec![(
        "rules".to_owned(),
        RestrictedExpression::new_set(l.rules.iter().map(|s| string(s))),
    )];
    for (name, value) in [
        ("rate_left", l.rate_left),
        ("slots_free", l.slots_free),
        ("calls_left", l.calls_left),
        ("bytes_left", l.bytes_left),
        ("cost_left", l.cost_left),
    ] {
        if let Some(v) = value {
            limits.push((name.to_owned(), RestrictedExpression::new_long(v)));
        }
    }
    let limits = RestrictedExpression::new_record(limits).map_err(|e| e.to_string())?;
    let mut pairs = vec![
        ("time".to_owned(), clock),
        ("session".to_owned(), session),
        ("limits".to_owned(), limits),
    ];
    if request.action == Action::CallTool {
        pairs.push((
            "carries".to_owned(),
            RestrictedExpression::new_set(request.session.carries.iter().map(|s| string(s))),
        ));
    }
    if with_args {
        let args = match &request.arguments {
            Value::Object(map) => match args_read {
                Some(names) => record_of(
                    map.iter().filter(|(name, _)| names.contains(name.as_str())),
                    0,
                ),
                None => record(map, 0),
            },
            Value::Null => record(&serde_json::Map::new(), 0),
            _ => return Err("arguments must be a JSON object".to_owned()),
        };
        pairs.push((
            "args".to_owned(),
            args.ok_or("arguments could not be converted")?,
        ));
    }
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

fn request(action: Action, args: Value, session: SessionFacts, time: i64) -> Request {
    Request {
        principal: Principal {
            id: "bot".into(),
            attributes: Default::default(),
        },
        action,
        resource: Resource::Tool {
            server: "demo".into(),
            name: "refund".into(),
            facts: ToolFacts::default(),
        },
        arguments: args,
        session,
        time_unix: time,
    }
}

fn same(request: &Request, with_args: bool, args_read: Option<&HashSet<String>>) {
    let built = build(request, with_args, args_read);
    let expected = oracle(request, with_args, args_read);
    match (built, expected) {
        (Ok(a), Ok(b)) => assert_eq!(
            AsRef::<cedar_policy_core::ast::Context>::as_ref(&a),
            AsRef::<cedar_policy_core::ast::Context>::as_ref(&b),
            "{request:?}"
        ),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("{request:?}: {a:?} vs {b:?}"),
    }
}

fn deep(levels: usize) -> Value {
    (0..levels).fold(json!("leaf"), |inner, _| json!({"x": inner}))
}

#[test]
fn contexts_equal_those_cedar_builds_from_expressions() {
    let arguments = [
        json!({}),
        Value::Null,
        json!({"order_id": "A-1", "amount": 50, "reason": "late"}),
        json!({"amount": 80.5, "tiny": 0.00001, "big": 1e300, "huge": 18446744073709551615u64,
               "neg": -3, "negf": -2.25, "whole": 3.0, "exp": 1.5e3}),
        json!({"flag": true, "off": false, "gone": null, "list": [1, 2, 2, "a", null, [3]],
               "mixed": ["x", 1, {"k": "v"}], "empty": [], "obj": {"a": {"b": null, "c": [true]}}}),
        json!({"__entity": {"type": "Agent", "id": "admin"}, "__extn": {"fn": "ip", "arg": "1.2.3.4"}}),
        json!({"unicode": "é\u{0}\n\u{202e}", "": "empty key", "dup": [{"a": 1}, {"a": 1}]}),
        json!({"deep": deep(40), "edge": deep(31), "over": deep(33)}),
        json!("not an object"),
        json!([1, 2]),
    ];
    let sessions = [
        SessionFacts::default(),
        SessionFacts {
            id: "s-9".into(),
            era: "modern".into(),
            calls: 12,
            delegation: vec!["lead".into(), "helper".into(), "helper".into()],
            limits: LimitFacts {
                rules: vec!["calls".into(), "daily".into()],
                rate_left: Some(3),
                slots_free: None,
                calls_left: Some(0),
                bytes_left: Some(i64::MAX),
                cost_left: Some(-1),
            },
            labels: vec!["private".into(), "untrusted".into()],
            carries: vec!["secret".into()],
        },
    ];
    let read: HashSet<String> = ["amount", "list", "missing"].map(String::from).into();
    for args in &arguments {
        for session in &sessions {
            for action in [Action::CallTool, Action::ReadResource, Action::GetPrompt] {
                for time in [0, 1_764_800_000, -86_400] {
                    let r = request(action, args.clone(), session.clone(), time);
                    for with_args in [true, false] {
                        same(&r, with_args, None);
                        same(&r, with_args, Some(&read));
                        same(&r, with_args, Some(&HashSet::new()));
                    }
                }
            }
        }
    }
}

#[test]
fn an_argument_record_cannot_become_an_entity() {
    let r = request(
        Action::CallTool,
        json!({"who": {"__entity": {"type": "Agent", "id": "admin"}}}),
        SessionFacts::default(),
        0,
    );
    let Ok(context) = build(&r, true, None) else {
        panic!("context")
    };
    let text = format!("{context}");
    assert!(text.contains("__entity"), "{text}");
    assert!(!text.contains("Agent::"), "{text}");
}
