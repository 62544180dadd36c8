use serde_json::json;
use warden_types::{Principal, Resource, SessionFacts, ToolFacts};

use super::*;

fn pieces(pattern: &str) -> Vec<String> {
    pattern.split('*').map(str::to_owned).collect()
}

#[test]
fn like_matches_the_whole_text() {
    let cases = [
        ("/secret/*", "/secret/a", true),
        ("/secret/*", "/secret/", true),
        ("/secret/*", "/secrets/a", false),
        ("/secret/*", "x/secret/a", false),
        ("*.env", "prod.env", true),
        ("*.env", ".env", true),
        ("*.env", "prod.env.bak", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "acb", false),
        ("a*b*c", "abcb", false),
        ("a*bc*bc", "abcbc", true),
        ("ab*ba", "aba", false),
        ("*", "", true),
        ("**", "x", true),
        ("exact", "exact", true),
        ("exact", "exactly", false),
        ("é*ü", "éaü", true),
        ("é*ü", "ü", false),
    ];
    for (pattern, text, want) in cases {
        assert_eq!(
            like(text, &pieces(pattern)),
            want,
            "{text:?} like {pattern:?}"
        );
    }
}

fn leading(est: &serde_json::Value) -> Vec<Guard> {
    guards(est).0
}

fn may_apply(guards: &[Guard], facts: &Facts<'_>) -> bool {
    check(guards, facts).is_some()
}

fn guards_of(policy: &str) -> Vec<Guard> {
    let policy: cedar_policy::Policy = policy.parse().unwrap();
    leading(&policy.to_json().unwrap())
}

fn has(name: &str) -> Guard {
    Guard::Has(at("args"), name.to_owned())
}

/// `"args.n"` as the path `["context", "args", "n"]`; `principal.` and `resource.` paths as
/// they are.
fn at(path: &str) -> Vec<String> {
    let full = if path.starts_with("principal") || path.starts_with("resource") {
        path.to_owned()
    } else {
        format!("context.{path}")
    };
    full.split('.').map(str::to_owned).collect()
}

fn request(args: serde_json::Value) -> Request {
    Request {
        principal: Principal {
            id: "bot".into(),
            attributes: Default::default(),
        },
        action: Action::CallTool,
        resource: Resource::Tool {
            server: "s".into(),
            name: "t".into(),
            facts: ToolFacts::default(),
        },
        arguments: args,
        session: SessionFacts {
            id: "s1".into(),
            era: "legacy".into(),
            calls: 3,
            delegation: Vec::new(),
            limits: Default::default(),
            labels: vec!["pii".into()],
            carries: Vec::new(),
        },
        // 1970-01-02 04:00 UTC, a Friday.
        time_unix: 86_400 + 4 * 3600,
    }
}

/// Whether the guards let a call with these arguments (a JSON object) through.
fn applies(guards: &[Guard], args: &serde_json::Value) -> bool {
    let req = request(args.clone());
    let facts = Facts {
        request: &req,
        args: args.as_object(),
        args_read: None,
    };
    may_apply(guards, &facts)
}

fn eval(guard: &Guard, args: serde_json::Value) -> Known {
    let req = request(args);
    let facts = Facts {
        request: &req,
        args: req.arguments.as_object(),
        args_read: None,
    };
    guard.eval(&facts)
}

#[test]
fn leading_has_and_like_conjuncts_of_the_first_when_are_guards() {
    assert_eq!(
        guards_of(
            r#"forbid(principal, action, resource) when { context.args has path && context.args.path like "/etc/*" && context.args.n > 1 };"#
        ),
        vec![
            has("path"),
            Guard::Like("path".into(), pieces("/etc/*")),
            Guard::Compare(at("args.n"), Op::Gt, Lit::Long(1)),
        ]
    );
    // A literal star is part of a literal.
    assert_eq!(
        guards_of(r#"forbid(principal, action, resource) when { context.args.p like "a\*b*" };"#),
        vec![Guard::Like(
            "p".into(),
            vec!["a*b".to_owned(), String::new()]
        )]
    );
    // Not leading, not the first clause, or an `unless`: no guard.
    for policy in [
        r#"forbid(principal, action, resource) when { principal in Agent::"x" && context.args has path };"#,
        r#"forbid(principal, action, resource) when { true } when { context.args has path };"#,
        r#"forbid(principal, action, resource) unless { context.args has path };"#,
        r#"forbid(principal, action, resource) when { context.other like "x*" };"#,
    ] {
        assert_eq!(guards_of(policy), vec![], "{policy}");
    }
}

#[test]
fn only_a_guard_that_is_certainly_false_prunes() {
    let guards = [has("path"), Guard::Like("path".into(), pieces("/etc/*"))];
    assert!(!applies(&guards, &(json!({}))));
    assert!(!applies(&guards, &(json!({"path": null}))));
    assert!(!applies(&guards, &(json!({"path": "/home/x"}))));
    assert!(applies(&guards, &(json!({"path": "/etc/passwd"}))));
    // Not a string: `like` raises an error, which must deny, so the policy stays.
    assert!(applies(&guards, &(json!({"path": 7}))));
    assert!(applies(&guards, &(json!({"path": ["/etc/x"]}))));
    // Without a `has` first, a missing argument raises an error too.
    let bare = [Guard::Like("path".into(), pieces("/etc/*"))];
    assert!(applies(&bare, &(json!({}))));
    assert!(!applies(&bare, &(json!({"path": "/tmp"}))));
}

#[test]
fn an_or_of_guards_is_a_guard_evaluated_as_cedar_does() {
    let policy = r#"forbid(principal, action, resource) when { context.args has path && (context.args.path like "/a/*" || context.args.path like "/b/*" || context.args has force) };"#;
    let any = Guard::Any(vec![
        Guard::Like("path".into(), pieces("/a/*")),
        Guard::Like("path".into(), pieces("/b/*")),
        has("force"),
    ]);
    assert_eq!(guards_of(policy), vec![has("path"), any.clone()]);
    // An operand that is no guard makes the whole `||` none.
    assert_eq!(
        guards_of(
            r#"forbid(principal, action, resource) when { context.args.path like "/a/*" || context.args.n * 2 > 1 };"#
        ),
        vec![]
    );
    let any = [any];
    assert!(applies(&any, &(json!({"path": "/a/x"}))));
    assert!(applies(&any, &(json!({"path": "/b/x"}))));
    assert!(applies(&any, &(json!({"path": "/c/x", "force": true}))));
    assert!(!applies(&any, &(json!({"path": "/c/x"}))));
    // The first operand raises an error (not a string): it must deny, so the policy stays,
    // even though `has force` would be false.
    assert!(applies(&any, &(json!({"path": 7}))));
    // An error after a `true` operand is never reached.
    let later = [Guard::Any(vec![
        has("force"),
        Guard::Like("n".into(), pieces("x*")),
    ])];
    assert!(applies(&later, &(json!({"force": 1, "n": 2}))));
    assert!(applies(&later, &(json!({"n": 2}))));
    assert!(!applies(&later, &(json!({"n": "y"}))));
}

#[test]
fn comparisons_membership_and_negation_are_guards() {
    let policy = r#"forbid(principal, action, resource) when {
        context.args has amount && context.args.amount > 50 && 6 > context.time.hour &&
        context.session.era == "legacy" && context.session.labels.contains("pii") &&
        !(context.args.flag == true) && (context.limits has rate_left && context.limits.rate_left < 3 || context.session.calls >= 10)
    };"#;
    assert_eq!(
        guards_of(policy),
        vec![
            has("amount"),
            Guard::Compare(at("args.amount"), Op::Gt, Lit::Long(50)),
            // The literal on the left: the comparison is turned around.
            Guard::Compare(at("time.hour"), Op::Lt, Lit::Long(6)),
            Guard::Compare(at("session.era"), Op::Eq, Lit::Str("legacy".into())),
            Guard::Contains(at("session.labels"), Lit::Str("pii".into())),
            Guard::Not(Box::new(Guard::Compare(
                at("args.flag"),
                Op::Eq,
                Lit::Bool(true)
            ))),
            Guard::Any(vec![
                Guard::All(vec![
                    Guard::Has(at("limits"), "rate_left".into()),
                    Guard::Compare(at("limits.rate_left"), Op::Lt, Lit::Long(3)),
                ]),
                Guard::Compare(at("session.calls"), Op::Ge, Lit::Long(10)),
            ]),
        ]
    );
    // Entity attributes are guards too.
    assert_eq!(
        guards_of(
            r#"forbid(principal, action, resource) when { principal has team && principal.team == "ops" || resource.labels.contains("x") };"#
        ),
        vec![Guard::Any(vec![
            Guard::All(vec![
                Guard::Has(at("principal"), "team".into()),
                Guard::Compare(at("principal.team"), Op::Eq, Lit::Str("ops".into())),
            ]),
            Guard::Contains(at("resource.labels"), Lit::Str("x".into())),
        ])]
    );
    // Arithmetic, extension functions, two attributes and entity hierarchy are not.
    for policy in [
        r#"forbid(principal, action, resource) when { principal in Agent::"x" };"#,
        r#"forbid(principal, action, resource) when { context.args.n + 1 > 2 };"#,
        r#"forbid(principal, action, resource) when { decimal(context.args.p) > decimal("1.0") };"#,
        r#"forbid(principal, action, resource) when { context.args.n < context.args.m };"#,
    ] {
        assert_eq!(guards_of(policy), vec![], "{policy}");
    }
}

#[test]
fn guards_evaluate_as_cedar_does() {
    let amount = |op, n| Guard::Compare(at("args.amount"), op, Lit::Long(n));
    assert_eq!(
        eval(&amount(Op::Gt, 50), json!({"amount": 80})),
        Known::True
    );
    assert_eq!(
        eval(&amount(Op::Gt, 50), json!({"amount": 50})),
        Known::False
    );
    assert_eq!(
        eval(&amount(Op::Le, 50), json!({"amount": 50})),
        Known::True
    );
    // Missing, or a text where a number is ordered: Cedar raises an error.
    assert_eq!(eval(&amount(Op::Gt, 50), json!({})), Known::Error);
    assert_eq!(
        eval(&amount(Op::Gt, 50), json!({"amount": "80"})),
        Known::Error
    );
    assert_eq!(
        eval(&amount(Op::Gt, 50), json!({"amount": null})),
        Known::Error
    );
    // `==` across types is false, not an error.
    assert_eq!(
        eval(&amount(Op::Eq, 80), json!({"amount": "80"})),
        Known::False
    );
    assert_eq!(
        eval(&amount(Op::Ne, 80), json!({"amount": "80"})),
        Known::True
    );
    // A decimal or a set: Warden does not tell, Cedar does.
    assert_eq!(
        eval(&amount(Op::Gt, 50), json!({"amount": 80.5})),
        Known::Unknown
    );
    assert_eq!(
        eval(&amount(Op::Eq, 5), json!({"amount": [5]})),
        Known::Unknown
    );
    let hour = |op, n| Guard::Compare(at("time.hour"), op, Lit::Long(n));
    assert_eq!(eval(&hour(Op::Lt, 6), json!({})), Known::True);
    assert_eq!(eval(&hour(Op::Ge, 6), json!({})), Known::False);
    let weekday = Guard::Compare(at("time.weekday"), Op::Eq, Lit::Long(5));
    assert_eq!(eval(&weekday, json!({})), Known::True);
    let labels = |l: &str| Guard::Contains(at("session.labels"), Lit::Str(l.into()));
    assert_eq!(eval(&labels("pii"), json!({})), Known::True);
    assert_eq!(eval(&labels("secret"), json!({})), Known::False);
    // `carries` is there for a call; a limit that is not set is missing.
    let carries = Guard::Contains(at("carries"), Lit::Str("pii".into()));
    assert_eq!(eval(&carries, json!({})), Known::False);
    let rate = Guard::Compare(at("limits.rate_left"), Op::Lt, Lit::Long(3));
    assert_eq!(eval(&rate, json!({})), Known::Error);
    assert_eq!(
        eval(&Guard::Has(at("limits"), "rate_left".into()), json!({})),
        Known::False
    );
    // `!`, `&&` and `||` stop where Cedar stops.
    let not = |g: Guard| Guard::Not(Box::new(g));
    assert_eq!(eval(&not(labels("pii")), json!({})), Known::False);
    assert_eq!(eval(&not(rate.clone()), json!({})), Known::Error);
    let all = Guard::All(vec![labels("secret"), rate.clone()]);
    assert_eq!(eval(&all, json!({})), Known::False);
    let all = Guard::All(vec![rate.clone(), labels("secret")]);
    assert_eq!(eval(&all, json!({})), Known::Error);
    let any = Guard::Any(vec![labels("pii"), rate.clone()]);
    assert_eq!(eval(&any, json!({})), Known::True);
    let any = Guard::Any(vec![amount(Op::Gt, 50), labels("pii")]);
    assert_eq!(eval(&any, json!({"amount": 80.5})), Known::Unknown);
}

#[test]
fn arguments_no_policy_reads_are_not_in_the_context() {
    let req = request(json!({"a": 1, "b": 2}));
    let read: std::collections::HashSet<String> = ["a".to_owned()].into();
    let facts = Facts {
        request: &req,
        args: req.arguments.as_object(),
        args_read: Some(&read),
    };
    assert_eq!(has("a").eval(&facts), Known::True);
    assert_eq!(has("b").eval(&facts), Known::False);
    let b = Guard::Compare(at("args.b"), Op::Eq, Lit::Long(2));
    assert_eq!(b.eval(&facts), Known::Error);
}

#[test]
fn a_chain_missing_an_operand_is_no_guard() {
    let est = json!({"effect": "forbid", "conditions": [{"kind": "when", "body":
        {"||": {"left": {"Value": false}}}}]});
    assert_eq!(leading(&est), vec![]);
    let est = json!({"effect": "forbid", "conditions": [{"kind": "when", "body":
        {"&&": {"left": {"has": {"left": {".": {"left": {"Var": "context"}, "attr": "args"}}, "attr": "x"}}}}}]});
    assert_eq!(leading(&est), vec![]);
}
