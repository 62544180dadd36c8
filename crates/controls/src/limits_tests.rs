use super::*;

fn call<'a>(agent: &'a str, tool: &'a str, classes: &'a [Class]) -> Call<'a> {
    Call {
        agent,
        server: "shop",
        tool,
        classes,
    }
}

fn rule(name: &str, kind: Kind, per: &[Dim], filter: Filter) -> Rule {
    Rule {
        name: name.into(),
        kind,
        per: per.to_vec(),
        filter,
    }
}

const W: &[Class] = &[Class::Write];
const R: &[Class] = &[Class::Read];

#[test]
fn a_token_bucket_allows_its_burst_then_refills() {
    let limits = Limits::new(vec![rule(
        "refunds",
        Kind::Rate {
            burst: 2.0,
            per_sec: 0.5,
        },
        &[Dim::Agent],
        Filter {
            tool: Some("refund".into()),
            ..Filter::default()
        },
    )])
    .unwrap();
    let a = call("a", "refund", W);
    assert!(limits.admit(&a, 100.0).is_ok());
    assert!(limits.admit(&a, 100.0).is_ok());
    let e = limits.admit(&a, 100.0).unwrap_err();
    assert_eq!((e.kind, e.rule.as_str()), ("rate", "refunds"));
    assert!((e.retry_after_secs - 2.0).abs() < 1e-9, "{e}");
    // Another agent has its own bucket; another tool is not limited.
    assert!(limits.admit(&call("b", "refund", W), 100.0).is_ok());
    assert!(limits.admit(&call("a", "get_order", R), 100.0).is_ok());
    // Two seconds refill one token.
    assert!(limits.admit(&a, 101.0).is_err());
    assert!(limits.admit(&a, 102.0).is_ok());
    assert!(limits.admit(&a, 102.0).is_err());
}

#[test]
fn concurrency_slots_are_held_until_the_admission_is_dropped() {
    let limits = Limits::new(vec![rule(
        "one-write",
        Kind::Concurrency { max: 1 },
        &[Dim::Agent],
        Filter {
            class: Some(Class::Write),
            ..Filter::default()
        },
    )])
    .unwrap();
    let first = limits.admit(&call("a", "refund", W), 0.0).unwrap();
    let e = limits.admit(&call("a", "update", W), 0.0).unwrap_err();
    assert_eq!(e.kind, "concurrency");
    assert!(
        limits.admit(&call("a", "get_order", R), 0.0).is_ok(),
        "reads are not capped"
    );
    drop(first);
    assert!(limits.admit(&call("a", "update", W), 0.0).is_ok());
}

#[test]
fn budgets_count_calls_bytes_and_cost_and_reset_each_period() {
    let limits = Limits::new(vec![rule(
        "hourly",
        Kind::Budget(Budget {
            period_secs: 3600,
            calls: Some(3),
            bytes: Some(1000),
            cost: Some(5.0),
        }),
        &[Dim::Agent],
        Filter::default(),
    )])
    .unwrap();
    let a = call("a", "search", R);
    let t = 7200.0 + 10.0;
    limits.admit(&a, t).unwrap().record(400, 1.0);
    limits.admit(&a, t).unwrap().record(700, 1.0);
    // 1,100 bytes returned: the byte allowance is spent until the next hour.
    let e = limits.admit(&a, t + 1.0).unwrap_err();
    assert_eq!(e.kind, "budget");
    assert!((e.retry_after_secs - (3600.0 - 11.0)).abs() < 1e-9, "{e}");
    assert_eq!(limits.usage("hourly", &["a"]), Some((0, 2, 1100, 2.0)));
    // The next period starts from zero.
    let next = 10800.0 + 1.0;
    limits.admit(&a, next).unwrap().record(10, 4.0);
    limits.admit(&a, next).unwrap().record(10, 1.0);
    let e = limits.admit(&a, next).unwrap_err();
    assert!(e.to_string().contains("cost 5"), "{e}");
}

#[test]
fn a_refused_call_takes_nothing_from_the_other_rules() {
    let limits = Limits::new(vec![
        rule(
            "calls",
            Kind::Budget(Budget {
                period_secs: 60,
                calls: Some(2),
                bytes: None,
                cost: None,
            }),
            &[Dim::Agent],
            Filter::default(),
        ),
        rule(
            "refunds",
            Kind::Rate {
                burst: 1.0,
                per_sec: 0.001,
            },
            &[Dim::Agent],
            Filter {
                tool: Some("refund".into()),
                ..Filter::default()
            },
        ),
    ])
    .unwrap();
    let r = call("a", "refund", W);
    assert!(limits.admit(&r, 0.0).is_ok());
    assert_eq!(limits.admit(&r, 0.0).unwrap_err().rule, "refunds");
    // The refused refund did not spend the call budget: one call is left.
    assert!(limits.admit(&call("a", "search", R), 0.0).is_ok());
    assert_eq!(
        limits.admit(&call("a", "search", R), 0.0).unwrap_err().rule,
        "calls"
    );
}

#[test]
fn unusable_rules_are_refused() {
    let err = Limits::new(vec![rule(
        "zero",
        Kind::Concurrency { max: 0 },
        &[],
        Filter::default(),
    )])
    .unwrap_err();
    assert_eq!(err.name, "zero");
    assert!(
        Limits::new(vec![rule(
            "empty",
            Kind::Budget(Budget {
                period_secs: 60,
                calls: None,
                bytes: None,
                cost: None,
            }),
            &[],
            Filter::default(),
        )])
        .is_err()
    );
}

#[test]
fn standing_reports_the_tightest_allowance_without_counting() {
    let budget = |name: &str, calls: u64, cost: Option<f64>| {
        rule(
            name,
            Kind::Budget(Budget {
                period_secs: 86_400,
                calls: Some(calls),
                bytes: None,
                cost,
            }),
            &[Dim::Agent],
            Filter::default(),
        )
    };
    let limits = Limits::new(vec![
        budget("daily", 10, Some(100.0)),
        budget("tight", 3, None),
        rule(
            "burst",
            Kind::Rate {
                burst: 5.0,
                per_sec: 1.0,
            },
            &[],
            Filter {
                tool: Some("other".into()),
                ..Filter::default()
            },
        ),
        rule(
            "slots",
            Kind::Concurrency { max: 2 },
            &[Dim::Agent],
            Filter::default(),
        ),
    ])
    .unwrap();
    let a = call("a", "refund", W);
    let fresh = limits.standing(&a, 100.0);
    assert_eq!(fresh.rules, ["daily", "tight", "slots"]);
    assert_eq!(fresh.calls_left, Some(3));
    assert_eq!(fresh.cost_left, Some(100.0));
    assert_eq!(fresh.slots_free, Some(2));
    assert_eq!(fresh.rate_left, None, "the rate rule is for another tool");
    let held = limits.admit(&a, 100.0).unwrap();
    held.record(0, 30.5);
    let after = limits.standing(&a, 101.0);
    assert_eq!(after.calls_left, Some(2));
    assert_eq!(after.cost_left, Some(69.5));
    assert_eq!(after.slots_free, Some(1));
    drop(held);
    assert_eq!(limits.standing(&a, 101.0).slots_free, Some(2));
    assert_eq!(
        limits.standing(&a, 101.0).calls_left,
        Some(2),
        "standing counts nothing"
    );
    assert_eq!(
        limits.standing(&call("a", "other", R), 101.0).rate_left,
        Some(5)
    );
}
