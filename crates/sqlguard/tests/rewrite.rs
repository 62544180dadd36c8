#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! What the rewriter writes, and what it refuses, without a database.

use serde_json::json;
use warden_sqlguard::{ColumnMask, Dialect, Error, Guard, TableRule, TableShape};

fn guard(dialect: Dialect) -> Guard {
    let shapes = vec![
        TableShape {
            name: "orders".into(),
            columns: vec!["id".into(), "customer_id".into(), "total".into()],
        },
        TableShape {
            name: "customers".into(),
            columns: vec!["id".into(), "email".into()],
        },
        TableShape {
            name: "secrets".into(),
            columns: vec!["v".into()],
        },
    ];
    let rules = vec![
        TableRule {
            table: "orders".into(),
            filter: Some("customer_id = principal.customer_id".into()),
            ..TableRule::default()
        },
        TableRule {
            table: "customers".into(),
            filter: Some("id IN (principal.customers)".into()),
            write: false,
            masks: [(
                "email".to_owned(),
                ColumnMask {
                    unless: "principal.team = 'support'".into(),
                    with: Some("***".into()),
                },
            )]
            .into(),
        },
    ];
    Guard::new(dialect, &shapes, &rules).unwrap()
}

fn alice() -> serde_json::Value {
    json!({"id": "bot", "customer_id": 7, "customers": [7, 8], "team": "sales"})
}

#[test]
fn every_reference_is_rewritten() {
    let g = guard(Dialect::Sqlite);
    let r = g
        .rewrite(
            "WITH x AS (SELECT * FROM orders) SELECT * FROM x UNION SELECT o.* FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id IN (SELECT id FROM orders)",
            &alice(),
            &[],
        )
        .unwrap();
    assert_eq!(
        r.sql
            .matches("FROM \"main\".\"orders\" WHERE (customer_id = 7)")
            .count(),
        3,
        "{}",
        r.sql
    );
    assert!(r.sql.contains("WHERE (id IN (7, 8))"), "{}", r.sql);
    assert!(
        r.sql
            .contains("CASE WHEN ('sales' = 'support') THEN \"email\" ELSE '***' END AS \"email\""),
        "{}",
        r.sql
    );
    assert_eq!(r.applied.len(), 2);
    assert_eq!(r.applied[0].filter.as_deref(), Some("customer_id = 7"));
}

#[test]
fn literals_are_quoted_from_the_tree() {
    let g = guard(Dialect::Postgres);
    let who = json!({"customer_id": "7' OR '1'='1", "customers": [], "team": "x"});
    let r = g
        .rewrite("SELECT * FROM orders, customers", &who, &[])
        .unwrap();
    assert!(
        r.sql.contains("customer_id = '7'' OR ''1''=''1'"),
        "{}",
        r.sql
    );
    assert!(
        r.sql.contains("WHERE (false)"),
        "an empty list admits nothing: {}",
        r.sql
    );
}

#[test]
fn placeholders_bind_as_literals() {
    let g = guard(Dialect::Sqlite);
    let r = g
        .rewrite(
            "SELECT * FROM orders WHERE total > ? AND id = ?2",
            &alice(),
            &[json!(5), json!("x")],
        )
        .unwrap();
    assert!(r.sql.ends_with("WHERE total > 5 AND id = 'x'"), "{}", r.sql);
    assert!(matches!(
        g.rewrite("SELECT 1", &alice(), &[json!(1)]),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        g.rewrite("SELECT ?", &alice(), &[]),
        Err(Error::Refused(_))
    ));
}

#[test]
fn a_missing_attribute_refuses() {
    let g = guard(Dialect::Sqlite);
    let err = g
        .rewrite("SELECT * FROM orders", &json!({"id": "x"}), &[])
        .unwrap_err();
    assert!(matches!(err, Error::Principal(_)), "{err}");
    assert!(err.to_string().contains("customer_id"));
}

#[test]
fn unknown_things_are_refused() {
    let g = guard(Dialect::Sqlite);
    for sql in [
        "SELECT * FROM secrets",
        "PRAGMA table_info(orders)",
        "SELECT 1; SELECT 2",
        "SELECT load_extension('x')",
        "SELECT * FROM pragma_table_info('orders')",
        "WITH orders AS (SELECT 1) SELECT * FROM orders",
        "SELECT * FROM temp.orders",
        "DELETE FROM orders",
        // Written back, SQLite would read `1 IN secrets`: a table the walk never saw.
        "SELECT POSITION(1 IN secrets) FROM orders",
    ] {
        assert!(g.rewrite(sql, &alice(), &[]).is_err(), "{sql}");
    }
}

#[test]
fn configuration_errors_name_the_problem() {
    let shapes = vec![TableShape {
        name: "orders".into(),
        columns: vec!["id".into()],
    }];
    let bad = |filter: &str| {
        Guard::new(
            Dialect::Sqlite,
            &shapes,
            &[TableRule {
                table: "orders".into(),
                filter: Some(filter.into()),
                ..TableRule::default()
            }],
        )
        .unwrap_err()
        .to_string()
    };
    assert!(bad("nope = principal.x").contains("`nope` is not a column"));
    assert!(bad("id IN (SELECT 1)").contains("table `orders` filter"));
    assert!(bad("id = ").contains("does not parse"));
    assert!(bad("readfile(id) = 1").contains("not allowed"));
    let missing = Guard::new(
        Dialect::Sqlite,
        &shapes,
        &[TableRule {
            table: "nothere".into(),
            ..TableRule::default()
        }],
    )
    .unwrap_err();
    assert!(missing.to_string().contains("no such table"));
}
