use serde_json::json;

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

fn slicer(policies: &str) -> Slicer {
    let set: PolicySet = policies.parse().unwrap();
    Slicer::new(&set, &Entities::empty())
}

fn guards_of(policy: &str) -> Vec<Guard> {
    let s = slicer(policy);
    s.policies.first().unwrap().1.to_vec()
}

#[test]
fn leading_has_and_like_conjuncts_of_the_first_when_are_guards() {
    assert_eq!(
        guards_of(
            r#"forbid(principal, action, resource) when { context.args has path && context.args.path like "/etc/*" && context.args.n > 1 };"#
        ),
        vec![
            Guard::Has("path".into()),
            Guard::Like("path".into(), pieces("/etc/*"))
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
        r#"forbid(principal, action, resource) when { context.args.n > 1 && context.args has path };"#,
        r#"forbid(principal, action, resource) when { true } when { context.args has path };"#,
        r#"forbid(principal, action, resource) unless { context.args has path };"#,
        r#"forbid(principal, action, resource) when { context.other like "x*" };"#,
    ] {
        assert_eq!(guards_of(policy), vec![], "{policy}");
    }
}

#[test]
fn only_a_guard_that_is_certainly_false_prunes() {
    let guards = [
        Guard::Has("path".into()),
        Guard::Like("path".into(), pieces("/etc/*")),
    ];
    let args = |v: serde_json::Value| v.as_object().unwrap().clone();
    assert!(!may_apply(&guards, &args(json!({}))));
    assert!(!may_apply(&guards, &args(json!({"path": null}))));
    assert!(!may_apply(&guards, &args(json!({"path": "/home/x"}))));
    assert!(may_apply(&guards, &args(json!({"path": "/etc/passwd"}))));
    // Not a string: `like` raises an error, which must deny, so the policy stays.
    assert!(may_apply(&guards, &args(json!({"path": 7}))));
    assert!(may_apply(&guards, &args(json!({"path": ["/etc/x"]}))));
    // Without a `has` first, a missing argument raises an error too.
    let bare = [Guard::Like("path".into(), pieces("/etc/*"))];
    assert!(may_apply(&bare, &args(json!({}))));
    assert!(!may_apply(&bare, &args(json!({"path": "/tmp"}))));
}

#[test]
fn an_or_of_guards_is_a_guard_evaluated_as_cedar_does() {
    let policy = r#"forbid(principal, action, resource) when { context.args has path && (context.args.path like "/a/*" || context.args.path like "/b/*" || context.args has force) };"#;
    let any = Guard::Any(vec![
        Guard::Like("path".into(), pieces("/a/*")),
        Guard::Like("path".into(), pieces("/b/*")),
        Guard::Has("force".into()),
    ]);
    assert_eq!(
        guards_of(policy),
        vec![Guard::Has("path".into()), any.clone()]
    );
    // An operand that is no guard makes the whole `||` none.
    assert_eq!(
        guards_of(
            r#"forbid(principal, action, resource) when { context.args.path like "/a/*" || context.args.n > 1 };"#
        ),
        vec![]
    );
    let args = |v: serde_json::Value| v.as_object().unwrap().clone();
    let any = [any];
    assert!(may_apply(&any, &args(json!({"path": "/a/x"}))));
    assert!(may_apply(&any, &args(json!({"path": "/b/x"}))));
    assert!(may_apply(
        &any,
        &args(json!({"path": "/c/x", "force": true}))
    ));
    assert!(!may_apply(&any, &args(json!({"path": "/c/x"}))));
    // The first operand raises an error (not a string): it must deny, so the policy stays,
    // even though `has force` would be false.
    assert!(may_apply(&any, &args(json!({"path": 7}))));
    // An error after a `true` operand is never reached.
    let later = [Guard::Any(vec![
        Guard::Has("force".into()),
        Guard::Like("n".into(), pieces("x*")),
    ])];
    assert!(may_apply(&later, &args(json!({"force": 1, "n": 2}))));
    assert!(may_apply(&later, &args(json!({"n": 2}))));
    assert!(!may_apply(&later, &args(json!({"n": "y"}))));
}

#[test]
fn evaluation_without_source_locations_decides_the_same() {
    use cedar_policy::{Authorizer, Context, Request};
    // Conditions that hold, fail and raise errors (wrong type, missing attribute, overflow,
    // a bad extension literal), so decisions, reasons and error messages are all compared.
    let policies = r#"
permit(principal, action, resource) when { context.amount <= 50 };
forbid(principal, action, resource) when { context.path like "/secret/*" };
forbid(principal, action, resource) when { context.amount + 9223372036854775000 > 0 };
permit(principal, action, resource) when { context has note && context.note == "ok" };
forbid(principal, action, resource) unless { decimal(context.price) < decimal("10.0") };
permit(principal, action, resource) when { context.tags.contains("x") || context.missing };
"#;
    let set: PolicySet = policies.parse().unwrap();
    let without = PolicySet::from_policies(set.policies().map(bare)).unwrap();
    let uid = |t: &str, id: &str| {
        EntityUid::from_type_name_and_id(t.parse().unwrap(), id.parse().unwrap())
    };
    let contexts = [
        json!({"amount": 10, "path": "/orders/1", "price": "1.5", "tags": ["x"]}),
        json!({"amount": 90, "path": "/secret/key", "price": "20.0", "tags": []}),
        json!({"amount": "10", "path": 7, "price": "x", "tags": ["y"], "note": "ok"}),
        json!({"amount": 2000, "path": "/a", "price": "2.0", "tags": ["y"], "missing": true}),
        json!({}),
    ];
    let (authorizer, entities) = (Authorizer::new(), Entities::empty());
    let mut errors = 0;
    for context in contexts {
        let request = Request::new(
            uid("Agent", "a"),
            uid("Action", "call_tool"),
            uid("Tool", "t"),
            Context::from_json_value(context.clone(), None).unwrap(),
            None,
        )
        .unwrap();
        let answer = |set: &PolicySet| {
            let r = authorizer.is_authorized(&request, set, &entities);
            let mut reasons: Vec<String> =
                r.diagnostics().reason().map(ToString::to_string).collect();
            let mut errors: Vec<String> =
                r.diagnostics().errors().map(ToString::to_string).collect();
            reasons.sort();
            errors.sort();
            (r.decision(), reasons, errors)
        };
        let (want, got) = (answer(&set), answer(&without));
        assert_eq!(got, want, "{context}");
        errors += want.2.len();
    }
    assert!(
        errors >= 8,
        "the cases raise too few errors to compare: {errors}"
    );
}
