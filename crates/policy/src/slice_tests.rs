use serde_json::json;

use super::*;

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
    let without =
        PolicySet::from_policies(set.policies().map(|p| bare(p, &p.to_json().unwrap()))).unwrap();
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
