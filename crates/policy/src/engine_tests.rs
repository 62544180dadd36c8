use serde_json::json;
use warden_types::{Action, Outcome, Principal, Request, Resource, SessionFacts, ToolFacts};

use super::*;
use crate::{STARTER_POLICIES, STARTER_SCHEMA};

fn engine() -> Engine {
    engine_with(STARTER_POLICIES)
}

/// `policies` against the starter schema.
fn engine_with(policies: &str) -> Engine {
    Engine::load(
        &Source::new("warden.cedarschema", STARTER_SCHEMA),
        &[Source::new("policies.cedar", policies)],
    )
    .unwrap()
}

fn call(tool: &str, args: serde_json::Value) -> Request {
    Request {
        principal: Principal {
            id: "support-bot".into(),
            attributes: Default::default(),
        },
        action: Action::CallTool,
        resource: Resource::Tool {
            server: "demo".into(),
            name: tool.into(),
            facts: ToolFacts::default(),
        },
        arguments: args,
        session: SessionFacts {
            id: "s1".into(),
            era: "legacy".into(),
            calls: 0,
            delegation: Vec::new(),
            limits: Default::default(),
            labels: Vec::new(),
            carries: Vec::new(),
        },
        time_unix: 1_790_000_000,
    }
}

#[test]
fn refund_threshold() {
    let e = engine();
    let small = e.evaluate(&call("refund", json!({"amount": 30, "order_id": "A1"})));
    assert_eq!(small.outcome, Outcome::Allow);
    assert_eq!(small.policies, vec!["refunds-small"]);
    let edge = e.evaluate(&call("refund", json!({"amount": 50})));
    assert_eq!(edge.outcome, Outcome::Allow);
    let large = e.evaluate(&call("refund", json!({"amount": 80})));
    assert_eq!(large.outcome, Outcome::ApprovalRequired);
    assert_eq!(large.policies, vec!["refunds-large"]);
    assert_eq!(large.approval_groups, vec!["finance"]);
}

#[test]
fn refund_without_amount_is_default_denied() {
    let d = engine().evaluate(&call("refund", json!({})));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.policies.is_empty());
    assert!(
        d.reason
            .contains("no policy permits `call_tool` on `demo/refund`"),
        "{}",
        d.reason
    );
}

#[test]
fn wrong_argument_type_fails_closed() {
    // A string amount would compare as an error: the engine must deny, not skip the policy.
    let d = engine().evaluate(&call("refund", json!({"amount": "80"})));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(!d.errors.is_empty());
    let d = engine().evaluate(&call("refund", json!({"amount": 80.5})));
    assert_eq!(d.outcome, Outcome::Deny);
}

#[test]
fn a_decision_is_reused_only_where_the_context_cannot_change_it() {
    let e = engine_with(
        r#"
@id("demo") permit(principal, action == Action::"call_tool", resource in Server::"demo")
unless { resource.name == "refund" || resource.name == "search" };
@id("small") permit(principal, action == Action::"call_tool", resource == Tool::"demo/refund")
when { context.args has amount && context.args.amount <= 50 };
@id("search") permit(principal, action == Action::"call_tool", resource == Tool::"demo/search")
when { context.args has limit && context.args.limit + 1 < 100 };
@id("night") forbid(principal, action == Action::"call_tool", resource == Tool::"demo/wipe")
when { context.time.hour < 6 };
"#,
    );
    let at = |mut req: Request, hour: i64| {
        req.time_unix = 1_790_000_000 - 1_790_000_000 % 86_400 + hour * 3600;
        req
    };
    // Read twice: the second answer is the kept one, and must be the first.
    let twice = |req: &Request| {
        let first = e.evaluate(req);
        assert_eq!(e.evaluate(req), first, "{:?}", req.arguments);
        (e.settled(req), first)
    };
    // Context-free, and guards that decide the whole condition: settled.
    let (settled, d) = twice(&at(call("echo", json!({"text": "hi"})), 12));
    assert!(settled);
    assert_eq!(
        (d.outcome, d.policies),
        (Outcome::Allow, vec!["demo".into()])
    );
    let (settled, d) = twice(&at(call("refund", json!({"amount": 30})), 12));
    assert!(settled);
    assert_eq!(d.outcome, Outcome::Allow);
    // The guard is true at night: the forbid applies, whatever else the context holds.
    let (settled, d) = twice(&at(call("wipe", json!({"text": "hi"})), 3));
    assert!(settled);
    assert_eq!(
        (d.outcome, d.policies),
        (Outcome::Deny, vec!["night".into()])
    );
    let (settled, d) = twice(&at(call("wipe", json!({"text": "hi"})), 12));
    assert!(settled);
    assert_eq!(
        (d.outcome, d.policies),
        (Outcome::Allow, vec!["demo".into()])
    );
    // A larger refund rules `small` out: settled too, and denied.
    let (settled, d) = twice(&at(call("refund", json!({"amount": 80})), 12));
    assert!(settled);
    assert_eq!(d.outcome, Outcome::Deny);
    // A guard that errs, and a condition Warden cannot decide: Cedar decides every time.
    let (settled, d) = twice(&at(call("refund", json!({"amount": "30"})), 12));
    assert!(!settled);
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(!d.errors.is_empty());
    for (limit, want) in [
        (5, Outcome::Allow),
        (500, Outcome::Deny),
        (7, Outcome::Allow),
    ] {
        let (settled, d) = twice(&at(call("search", json!({"limit": limit})), 12));
        assert!(!settled);
        assert_eq!(d.outcome, want, "limit {limit}");
    }
    // Arguments that are not an object are refused even where an allow was kept.
    let (settled, d) = twice(&at(call("echo", json!(["hi"])), 12));
    assert!(!settled);
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.reason.contains("could not be evaluated"), "{}", d.reason);
    // Another agent with other attributes is another slice.
    let mut other = at(call("echo", json!({})), 12);
    other.principal.attributes = [("team".to_owned(), json!("ops"))].into_iter().collect();
    assert_eq!(twice(&other).1.outcome, Outcome::Allow);
}

#[test]
fn forbid_names_policy_and_reason() {
    let d = engine().evaluate(&call("delete_account", json!({"user": "bob"})));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.policies, vec!["no-account-deletion"]);
    assert!(d.reason.starts_with("deleting accounts is not allowed"));
}

#[test]
fn entity_escape_in_arguments_is_plain_data() {
    let d = engine().evaluate(&call(
        "refund",
        json!({"amount": 10, "x": {"__entity": {"type": "Server", "id": "demo"}}}),
    ));
    assert_eq!(d.outcome, Outcome::Allow);
}

#[test]
fn listing_is_relaxed_over_arguments() {
    let e = engine();
    // Refund depends on arguments: listed. delete_account is forbidden outright: hidden.
    assert!(e.may_list(&call("refund", json!(null))));
    assert!(!e.may_list(&call("delete_account", json!(null))));
    assert!(e.may_list(&call("get_order", json!(null))));
    let mut other = call("anything", json!(null));
    other.resource = Resource::Tool {
        server: "other".into(),
        name: "x".into(),
        facts: ToolFacts::default(),
    };
    assert!(!e.may_list(&other));
}

#[test]
fn parse_error_names_file_and_line() {
    let err = Engine::load(
        &Source::new("warden.cedarschema", STARTER_SCHEMA),
        &[Source::new(
            "bad.cedar",
            "permit(principal, action, resource);\n\npermit(principal, action resource);\n",
        )],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("bad.cedar:3:"), "{text}");
}

#[test]
fn validation_error_names_file_and_line() {
    let err = Engine::load(
        &Source::new("warden.cedarschema", STARTER_SCHEMA),
        &[Source::new(
            "typo.cedar",
            "// ok\npermit(principal, action == Action::\"call_tool\", resource)\nwhen { resource.raed_only };\n",
        )],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("typo.cedar:3:"), "{text}");
    assert!(text.contains("raed_only"), "{text}");
}

#[test]
fn schema_error_names_file_and_line() {
    let err = Engine::load(
        &Source::new(
            "s.cedarschema",
            "entity Agent;\nentity Tool {\n  x: Strin\n};\n",
        ),
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("s.cedarschema:"), "{err}");
}

#[test]
fn duplicate_ids_are_refused() {
    let p = "@id(\"a\")\npermit(principal, action, resource);\n";
    let err = Engine::load(
        &Source::new("warden.cedarschema", STARTER_SCHEMA),
        &[Source::new("one.cedar", p), Source::new("two.cedar", p)],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy id `a` is used twice: in one.cedar and in two.cedar"
    );
}

#[test]
fn principal_attributes_are_checked_against_schema() {
    let e = engine();
    let mut p = Principal {
        id: "a".into(),
        attributes: Default::default(),
    };
    p.attributes.insert("team".into(), json!("support"));
    e.check_principal(&p).unwrap();
    p.attributes.insert("team".into(), json!(7));
    assert!(e.check_principal(&p).is_err());
}

#[test]
fn action_groups_and_principal_scopes_are_honoured() {
    let schema = STARTER_SCHEMA.replace(
        "action call_tool appliesTo",
        "action any_tool;\naction call_tool in [any_tool] appliesTo",
    );
    let policies = "@id(\"group\")\npermit(principal == Agent::\"support-bot\", action in Action::\"any_tool\", resource in Server::\"demo\");\n";
    let e = Engine::load(
        &Source::new("s", schema),
        &[Source::new("p.cedar", policies)],
    )
    .unwrap();
    let d = e.evaluate(&call("anything", json!({})));
    assert_eq!(d.outcome, Outcome::Allow, "{}", d.reason);
    let mut other = call("anything", json!({}));
    other.principal.id = "someone-else".into();
    assert_eq!(e.evaluate(&other).outcome, Outcome::Deny);
    // The same request twice hits the cache and decides the same.
    assert_eq!(
        e.evaluate(&call("anything", json!({}))).outcome,
        Outcome::Allow
    );
}

#[test]
fn argument_guards_prune_only_what_cannot_apply() {
    let policies = r#"
@id("all") permit(principal, action, resource);
@id("guarded") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && context.args.path like "/secret/*" };
@id("late-guard") forbid(principal, action == Action::"call_tool", resource)
when { resource.name == "late" && context.args has url };
"#;
    let e = engine_with(policies);
    assert_eq!(
        e.evaluate(&call("read", json!({"path": "/secret/x"})))
            .policies,
        vec!["guarded"]
    );
    assert_eq!(
        e.evaluate(&call("read", json!({"path": "/public/x"})))
            .outcome,
        Outcome::Allow
    );
    assert_eq!(
        e.evaluate(&call("read", json!({"other": 1}))).outcome,
        Outcome::Allow
    );
    assert_eq!(
        e.evaluate(&call("read", json!({"path": null}))).outcome,
        Outcome::Allow
    );
    assert_eq!(
        e.evaluate(&call("late", json!({"url": "x"}))).policies,
        vec!["late-guard"]
    );
    // Argument names that look like a joined list must not share a cached slice.
    assert_eq!(
        e.evaluate(&call("read", json!({"path\u{1e}z": 1}))).outcome,
        Outcome::Allow
    );
    assert_eq!(
        e.evaluate(&call("read", json!({"path": "/secret/y", "z": 1})))
            .outcome,
        Outcome::Deny
    );
}

#[test]
fn a_guard_in_a_later_when_clause_does_not_hide_an_earlier_error() {
    // Clauses are evaluated in order: the first one's type error (a text amount) must still
    // deny, though the second clause's guard (`path`) is not met.
    let policies = r#"
@id("all") permit(principal, action, resource);
@id("two-clauses") forbid(principal, action == Action::"call_tool", resource)
when { context.args has amount && context.args.amount > 5 }
when { context.args has path && context.args.path like "/secret/*" };
"#;
    let e = engine_with(policies);
    assert_eq!(
        e.evaluate(&call("refund", json!({"amount": "lots"})))
            .outcome,
        Outcome::Deny
    );
    assert_eq!(
        e.evaluate(&call("refund", json!({"amount": 1}))).outcome,
        Outcome::Allow
    );
    assert_eq!(
        e.evaluate(&call("read", json!({"amount": 9, "path": "/secret/a"})))
            .policies,
        vec!["two-clauses"]
    );
}

#[test]
fn policy_sees_where_a_call_stands_against_its_limits() {
    let policies = format!(
        "{STARTER_POLICIES}\n@id(\"budget-low\")\n@reason(\"refund budget nearly spent\")\nforbid(principal, action == Action::\"call_tool\", resource)\nwhen {{ resource.name == \"refund\" && context.limits has cost_left && context.limits.cost_left < 100 }};\n"
    );
    let e = engine_with(&policies);
    assert!(e.reads_limits());
    assert!(!engine().reads_limits(), "the starter policies do not");
    let mut req = call("refund", json!({"amount": 30, "order_id": "A1"}));
    assert_eq!(e.evaluate(&req).outcome, Outcome::Allow, "no limit applies");
    req.session.limits = warden_types::LimitFacts {
        rules: vec!["refund-budget".into()],
        cost_left: Some(500),
        ..Default::default()
    };
    assert_eq!(e.evaluate(&req).outcome, Outcome::Allow);
    req.session.limits.cost_left = Some(40);
    let d = e.evaluate(&req);
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.policies, vec!["budget-low"]);
}

/// A call in a session that has taken in `session`, to a tool with `labels`.
fn flow_call(tool: &str, labels: &[&str], session: &[&str]) -> Request {
    let mut r = call(tool, json!({"amount": 80}));
    if let Resource::Tool { facts, .. } = &mut r.resource {
        facts.labels = labels.iter().map(|l| (*l).to_owned()).collect();
    }
    r.session.labels = session.iter().map(|l| (*l).to_owned()).collect();
    r
}

#[test]
fn a_hold_makes_an_allowed_call_wait_and_merges_groups() {
    let e = engine();
    let held = e.evaluate(&flow_call("send", &["external"], &["private", "untrusted"]));
    assert_eq!(held.outcome, Outcome::ApprovalRequired, "{}", held.reason);
    assert_eq!(held.approval_groups, vec!["self"]);
    assert!(
        held.reason.contains("needs approval from `self`"),
        "{}",
        held.reason
    );
    // The large refund already needs finance: the hold adds its group.
    let both = e.evaluate(&flow_call(
        "refund",
        &["external"],
        &["private", "untrusted"],
    ));
    assert_eq!(both.outcome, Outcome::ApprovalRequired);
    assert_eq!(both.approval_groups, vec!["finance", "self"]);
    assert_eq!(
        both.policies,
        vec!["flow-external-after-untrusted", "refunds-large"]
    );
}

#[test]
fn a_hold_never_overrides_a_forbid_or_opens_a_closed_tool() {
    let e = engine();
    // A real forbid still refuses.
    let d = e.evaluate(&flow_call(
        "delete_account",
        &["external"],
        &["private", "untrusted"],
    ));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.policies.contains(&"no-account-deletion".to_owned()));
    // Nothing permits a refund without an amount: the hold does not make it askable.
    let mut r = flow_call("refund", &["external"], &["private", "untrusted"]);
    r.arguments = json!({});
    assert_eq!(e.evaluate(&r).outcome, Outcome::Deny);
    // After an injection: refused, not held.
    let d = e.evaluate(&flow_call(
        "send",
        &["external"],
        &["injection", "private", "untrusted"],
    ));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.policies.contains(&"flow-none-after-injection".to_owned()));
}

#[test]
fn pruning_on_argument_guards_never_changes_a_decision() {
    // The same policies with `true &&` in front of each first clause are never pruned
    // (their first conjunct is no guard): both engines must decide every call alike.
    let policies = r#"
@id("all") permit(principal, action, resource);
@id("s1") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && context.args.path like "/secret1/*" };
@id("s2") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && context.args.path like "/secret2/*" };
@id("env") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && context.args.path like "*.env" };
@id("sized") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && context.args.path like "/tmp/*" && context.args has amount && context.args.amount > 5 };
@id("mid") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && context.args.path like "*/x*y/*" };
@id("either") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && (context.args.path like "/secret3/*" || context.args.path like "/private3/*") };
@id("or-amount") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && (context.args.path like "/one/*" || context.args has amount) && context.args.path like "*x" };
@id("or-sized") forbid(principal, action == Action::"call_tool", resource)
when { context.args has path && (context.args has amount || context.args.path like "*.key") && context.args.path like "/two/*" };
"#;
    let unguarded = policies.replace("when { context", "when { true && context");
    let (e, reference) = (engine_with(policies), engine_with(&unguarded));
    let mut settled = 0;
    let paths = [
        None,
        Some(json!(null)),
        Some(json!(7)),
        Some(json!(["/secret1/a"])),
        Some(json!("/secret1/a")),
        Some(json!("/secret1")),
        Some(json!("/secret2/b")),
        Some(json!("/secret10/b")),
        Some(json!("prod.env")),
        Some(json!("/tmp/a")),
        Some(json!("/a/x1y/b")),
        Some(json!("/a/xy")),
        Some(json!("é/secret1/a")),
        Some(json!("/orders/A-1")),
        Some(json!("/secret3/a")),
        Some(json!("/private3/b")),
        Some(json!("/one/x")),
        Some(json!("/one/y")),
        Some(json!("/two/x")),
        Some(json!("/two/x.key")),
    ];
    let sizes = [None, Some(json!(1)), Some(json!(9)), Some(json!("big"))];
    let mut calls = 0;
    for path in &paths {
        for size in &sizes {
            let mut args = serde_json::Map::new();
            if let Some(p) = path {
                args.insert("path".into(), p.clone());
            }
            if let Some(s) = size {
                args.insert("amount".into(), s.clone());
            }
            let req = call("read", serde_json::Value::Object(args));
            let (got, want) = (e.evaluate(&req), reference.evaluate(&req));
            assert_eq!(
                (got.outcome, &got.policies),
                (want.outcome, &want.policies),
                "{:?}",
                req.arguments
            );
            // Asked again, a settled decision is the kept one.
            assert_eq!(e.evaluate(&req), got);
            assert!(!reference.settled(&req));
            settled += usize::from(e.settled(&req));
            calls += 1;
        }
    }
    assert_eq!(calls, 80);
    assert!(settled > 20, "only {settled} of {calls} calls settled");
}

#[test]
fn pruning_on_context_guards_never_changes_a_decision() {
    // Guards on arguments, the clock, the session, the limits and the principal's and the
    // resource's attributes, with `!`, `&&` and `||`;
    // the same policies behind `true &&` are never pruned. Both must decide every call alike.
    let policies = r#"
@id("all") permit(principal, action, resource);
@id("big") forbid(principal, action == Action::"call_tool", resource)
when { context.args has amount && context.args.amount > 50 };
@id("exact") forbid(principal, action == Action::"call_tool", resource)
when { context.args has amount && context.args.amount == 7 };
@id("night") forbid(principal, action == Action::"call_tool", resource)
when { context.time.hour < 6 && context.args has amount };
@id("weekend") forbid(principal, action == Action::"call_tool", resource)
when { context.time.weekday == 0 || 6 <= context.time.weekday };
@id("pii") forbid(principal, action == Action::"call_tool", resource)
when { context.session.labels.contains("pii") && !(context.args has order_id) };
@id("modern") forbid(principal, action == Action::"call_tool", resource)
when { context.session.era != "legacy" && context.session.calls >= 2 };
@id("carry") forbid(principal, action == Action::"call_tool", resource)
when { context.carries.contains("secret") || context.args has command && context.args.command == "rm" };
@id("rate") forbid(principal, action == Action::"call_tool", resource)
when { (context.limits has rate_left && context.limits.rate_left < 2) || context.limits.rules.contains("strict") };
@id("unset") forbid(principal, action == Action::"call_tool", resource)
when { context.limits has calls_left && context.limits.calls_left < 1 };
@id("both") forbid(principal, action == Action::"call_tool", resource)
when { (context.args has path && context.args.path like "/x/*") && context.args has amount && context.args.amount != 3 };
@id("team") forbid(principal, action == Action::"call_tool", resource)
when { principal has team && principal.team == "ops" };
@id("roles") forbid(principal, action == Action::"call_tool", resource)
when { principal has roles && principal.roles.contains("intern") && context.args has amount };
@id("label") forbid(principal, action == Action::"call_tool", resource)
when { resource.labels.contains("payments") && context.args has path };
@id("destructive") forbid(principal, action == Action::"call_tool", resource)
when { resource.destructive == true && context.time.hour < 6 };
@id("bank") forbid(principal, action == Action::"call_tool", resource)
when { resource.server == "bank" || principal has environment && principal.environment == "prod" };
"#;
    let unguarded = policies.replace("when { ", "when { true && ");
    let (e, reference) = (engine_with(policies), engine_with(&unguarded));
    let mut settled = 0;
    let amounts = [
        None,
        Some(json!(3)),
        Some(json!(7)),
        Some(json!(80)),
        Some(json!("80")),
        Some(json!(80.5)),
        Some(json!(null)),
    ];
    let extras = [
        json!({}),
        json!({"order_id": "A-1", "command": "rm"}),
        json!({"command": 5, "path": "/x/a"}),
        json!({"path": 4}),
    ];
    // 1970-01-01 was a Thursday: 03:00 Thursday, 12:00 Sunday.
    let times = [3 * 3600, 3 * 86_400 + 12 * 3600];
    let (mut calls, mut pruned) = (0, 0);
    for amount in &amounts {
        for extra in &extras {
            for (t, time) in [0, 1, 2, 3].iter().map(|t| (t / 2, times[t % 2])) {
                let mut args = extra.as_object().unwrap().clone();
                if let Some(a) = amount {
                    args.insert("amount".into(), a.clone());
                }
                let mut req = call("pay", serde_json::Value::Object(args));
                req.time_unix = time;
                // Each time with a plain session and with one that sets everything.
                if t == 1 {
                    req.session.era = "modern".into();
                    req.session.calls = 5;
                    req.session.labels = vec!["pii".into()];
                    req.session.carries = vec!["secret".into()];
                    req.session.limits.rate_left = Some(1);
                    req.session.limits.calls_left = Some(0);
                    req.session.limits.rules = vec!["strict".into()];
                    req.principal.attributes = [
                        ("team".to_owned(), json!("ops")),
                        ("roles".to_owned(), json!(["intern"])),
                    ]
                    .into_iter()
                    .collect();
                    req.resource = Resource::Tool {
                        server: "bank".into(),
                        name: "pay".into(),
                        facts: ToolFacts {
                            labels: vec!["payments".into()],
                            destructive: true,
                            ..ToolFacts::default()
                        },
                    };
                }
                let (got, want) = (e.evaluate(&req), reference.evaluate(&req));
                assert_eq!(
                    (got.outcome, &got.policies, got.errors.len()),
                    (want.outcome, &want.policies, want.errors.len()),
                    "{:?} at {time} ({t})",
                    req.arguments
                );
                let (n, all) = (
                    e.policies_evaluated(&req).unwrap(),
                    reference.policies_evaluated(&req).unwrap(),
                );
                assert!(n <= all);
                pruned += usize::from(n < all);
                assert_eq!(e.evaluate(&req), got);
                assert!(!reference.settled(&req));
                settled += usize::from(e.settled(&req));
                calls += 1;
            }
        }
    }
    assert_eq!(calls, 112);
    assert!(settled > 10, "only {settled} of {calls} calls settled");
    assert!(
        pruned > 80,
        "guards pruned in only {pruned} of {calls} calls"
    );
}
