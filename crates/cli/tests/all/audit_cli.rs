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
