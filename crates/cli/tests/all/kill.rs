//! SIGKILL under load loses no acknowledged audit record, nor the large arguments some of them
//! keep beside the database.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::support::{Session, audit_records, disable_approvals, workspace};

#[test]
fn sigkill_under_load_loses_no_acknowledged_record() {
    let dir = workspace();
    disable_approvals(dir.path());
    let mut s = Session::start(dir.path());
    s.initialize();
    // A writer thread pipelines calls as fast as Warden takes them; every fifth one carries
    // arguments too large to be stored inline.
    let mut stdin = s.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for id in 1000..21_000 {
            let arguments = match id % 5 {
                0 => json!({"amount": id % 100, "order_id": order(id)}),
                _ => json!({"amount": id % 100}),
            };
            let msg = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "refund", "arguments": arguments}});
            if stdin.write_all(format!("{msg}\n").as_bytes()).is_err() {
                break;
            }
        }
    });
    // Every answer means the decision was committed before the call moved on.
    let mut acknowledged = HashSet::new();
    while acknowledged.len() < 3000 {
        let reply = s
            .try_recv(Duration::from_secs(20))
            .expect("answers under load");
        acknowledged.insert(reply["id"].as_i64().unwrap());
    }
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    let _ = writer.join();

    let records = audit_records(dir.path());
    let decisions: Vec<_> = records.iter().filter(|r| r["kind"] == "decision").collect();
    let recorded: HashSet<i64> = decisions
        .iter()
        .filter_map(|r| r["body"]["request_id"].as_i64())
        .collect();
    let large = decisions
        .iter()
        .filter(|r| {
            r["body"]["request_id"]
                .as_i64()
                .is_some_and(|id| id % 5 == 0)
        })
        .inspect(|r| {
            let id = r["body"]["request_id"].as_i64().unwrap();
            assert_eq!(r["body"]["arguments"]["order_id"], order(id), "call {id}");
        })
        .count();
    assert!(large >= 600, "{large} records with large arguments");
    let lost: Vec<_> = acknowledged.difference(&recorded).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged calls have no audit record: {lost:?}",
        lost.len()
    );
    crate::support::assert_audit_verifies(dir.path());
}

/// An order id of 20 KB: stored beside the database, not in the record.
fn order(id: i64) -> String {
    format!("o-{id}-{}", "z".repeat(20 * 1024))
}
