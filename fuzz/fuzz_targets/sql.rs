//! Agents' SQL through the rewriter, in both dialects: it never panics, and whatever it
//! accepts renders to SQL that parses again and that the rewriter accepts again (the output
//! uses only what the allow-list allows, so nothing is lost in rendering); the same for writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use warden_sqlguard::{ColumnMask, Dialect, Guard, TableRule, TableShape};

fn guard(dialect: Dialect) -> Guard {
    let shapes = vec![
        TableShape { name: "orders".into(), columns: vec!["id".into(), "customer_id".into(), "total".into()] },
        TableShape { name: "customers".into(), columns: vec!["id".into(), "email".into()] },
        TableShape { name: "secrets".into(), columns: vec!["value".into()] },
    ];
    let rules = vec![
        TableRule { table: "orders".into(), filter: Some("customer_id = principal.customer_id".into()), ..TableRule::default() },
        TableRule {
            table: "customers".into(),
            filter: Some("id IN (principal.ids)".into()),
            write: true,
            masks: [("email".to_owned(), ColumnMask { unless: "principal.team = 'support'".into(), with: None })].into(),
        },
    ];
    match Guard::new(dialect, &shapes, &rules) {
        Ok(g) => g,
        Err(e) => panic!("fuzz fixture: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    let principal = json!({"id": "bot", "customer_id": 7, "ids": [7, 8], "team": "x'; --"});
    let params = [json!(1), json!("a'b")];
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let g = guard(dialect);
        for params in [&params[..0], &params[..]] {
            if let Ok(out) = g.rewrite(sql, &principal, params) {
                if let Err(e) = g.rewrite(&out.sql, &principal, &[]) {
                    panic!("accepted {sql:?} as {:?}, which is refused again: {e}", out.sql);
                }
            }
            if let Ok(out) = g.rewrite_write(sql, &principal, params) {
                if let Err(e) = g.rewrite_write(&out.sql, &principal, &[]) {
                    panic!("accepted the write {sql:?} as {:?}, which is refused again: {e}", out.sql);
                }
            }
        }
    }
});
