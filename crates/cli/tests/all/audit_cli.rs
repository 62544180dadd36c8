//! `warden audit` on a log written by a real session.

use std::process::Command;

use serde_json::json;

use crate::support::{Session, disable_approvals, warden, workspace};

#[test]
fn verify_tail_and_export() {
    let dir = workspace();
    disable_approvals(dir.path());
    let mut s = Session::start(dir.path());
    s.initialize();
    for amount in [10, 20, 90] {
        s.call("refund", json!({"amount": amount}));
    }
    s.finish();
    let audit = dir.path().join(".warden/audit.db");
    let run = |args: &[&str]| {
        let out = Command::new(warden())
            .args(args)
            .arg("--file")
            .arg(&audit)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["audit", "verify"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ok: 7 records, chain intact, head 7:"),
        "{out}"
    );
    let (code, out, _) = run(&["audit", "tail", "-n", "3"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3);
    assert!(
        out.contains("demo/refund -> approval_required [refunds-large]"),
        "{out}"
    );
    let (_, out, err) = run(&["audit", "export", "--format", "jsonl"]);
    assert_eq!(out.lines().count(), 7);
    assert!(err.contains("exported 7 records"));

    let conn = rusqlite::Connection::open(&audit).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET body = replace(body, '90', '9') WHERE seq = 6;").unwrap();
    let (code, out, _) = run(&["audit", "verify"]);
    assert_eq!(code, 3);
    assert_eq!(
        out.trim(),
        "TAMPERED: first bad record is 6: record 6 was modified: its hash does not match its content"
    );
}

#[test]
fn arguments_recorded_by_hash_reach_the_upstream_whole() {
    let dir = workspace();
    disable_approvals(dir.path());
    let config = dir.path().join("warden.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("record_arguments = true"));
    std::fs::write(
        &config,
        text.replace("record_arguments = true", "record_arguments = false"),
    )
    .unwrap();
    let mut s = Session::start(dir.path());
    s.initialize();
    // Large enough that a recorded copy would live beside the database.
    let arguments = json!({"order_id": format!("A-{}", "7".repeat(20 * 1024)), "amount": 30});
    let reply = s.call("refund", arguments.clone());
    assert!(
        reply["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("refunded 30")),
        "{reply}"
    );
    let received = s.upstream_received();
    assert_eq!(s.finish().0, 0);
    let call = received
        .iter()
        .find(|m| m["method"] == "tools/call")
        .expect("the call reached the upstream");
    assert_eq!(call["params"]["arguments"], arguments);
    let records = crate::support::audit_records(dir.path());
    let decision = records
        .iter()
        .find(|r| r["kind"] == "decision" && r["body"]["method"] == "tools/call")
        .unwrap();
    let recorded = decision["body"]["arguments"].as_object().unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded["sha256"].as_str().unwrap().len(), 64);
    assert!(
        !std::path::Path::new(&format!(
            "{}-payloads",
            dir.path().join(".warden/audit.db").display()
        ))
        .exists()
    );
}
