use serde_json::json;

use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("approvals.db")).unwrap();
    (dir, store)
}

fn refund(amount: i64) -> NewApproval {
    NewApproval {
        agent: "support-bot".into(),
        server: "shop".into(),
        method: "tools/call".into(),
        target: "refund".into(),
        arguments: json!({"order": "o-1", "amount": amount}),
        policies: vec!["refunds-large".into()],
        groups: vec!["finance".into()],
        reason: "refunds over 50 need finance".into(),
        findings: json!([]),
        session: "s-1".into(),
        mode: Mode::Hold,
        ttl_secs: 60,
        decision_seq: Some(7),
    }
}

fn approver(groups: &[&str]) -> Approver {
    Approver {
        name: "alice".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        via: "cli".into(),
    }
}

#[test]
fn approve_then_use_exactly_once() {
    let (_d, s) = store();
    let a = s.create(refund(80), 1000).unwrap();
    assert_eq!(a.status, Status::Pending);
    assert_eq!(
        s.open_for("support-bot", &a.call_hash, 1001).unwrap(),
        Some(a.clone())
    );
    let decided = s
        .decide(
            &a.id,
            &a.call_hash,
            &approver(&["finance"]),
            true,
            "ok",
            1002,
        )
        .unwrap();
    assert_eq!(decided.status, Status::Approved);
    assert_eq!(decided.decided_by.as_deref(), Some("alice"));
    assert!(s.consume(&a.id, &a.call_hash, 1003).unwrap());
    assert!(!s.consume(&a.id, &a.call_hash, 1004).unwrap(), "replayed");
    assert_eq!(s.open_for("support-bot", &a.call_hash, 1005).unwrap(), None);
    assert_eq!(s.get(&a.id, 1005).unwrap().unwrap().status, Status::Used);
}

#[test]
fn a_tampered_hash_or_another_group_changes_nothing() {
    let (_d, s) = store();
    let a = s.create(refund(80), 1000).unwrap();
    let other = crate::call_hash(crate::CallKey {
        agent: "support-bot",
        server: "shop",
        method: "tools/call",
        target: "refund",
        arguments: &json!({"order": "o-1", "amount": 8000}),
    });
    let err = s
        .decide(&a.id, &other, &approver(&["finance"]), true, "", 1001)
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch(_)), "{err}");
    let err = s
        .decide(&a.id, &a.call_hash, &approver(&["ops"]), true, "", 1001)
        .unwrap_err();
    assert!(matches!(err, Error::NotApprover { .. }), "{err}");
    assert_eq!(s.get(&a.id, 1001).unwrap().unwrap().status, Status::Pending);
    // Consuming without an approval does nothing either.
    assert!(!s.consume(&a.id, &a.call_hash, 1001).unwrap());
}

#[test]
fn expiry_is_a_decision_and_cannot_be_overturned() {
    let (_d, s) = store();
    let a = s.create(refund(80), 1000).unwrap();
    let err = s
        .decide(&a.id, &a.call_hash, &approver(&["*"]), true, "", 1060)
        .unwrap_err();
    assert!(matches!(err, Error::Expired(_)), "{err}");
    let got = s.get(&a.id, 1061).unwrap().unwrap();
    assert_eq!(got.status, Status::Expired);
    assert_eq!(got.decided_via.as_deref(), Some("expiry"));
    // Still open for the agent until it has been told.
    assert_eq!(
        s.open_for("support-bot", &a.call_hash, 1062)
            .unwrap()
            .map(|a| a.status),
        Some(Status::Expired)
    );
    s.mark_delivered(&a.id).unwrap();
    assert_eq!(s.open_for("support-bot", &a.call_hash, 1062).unwrap(), None);
}

#[test]
fn decided_once_only_and_visible_to_another_connection() {
    let (d, s) = store();
    let a = s.create(refund(80), 1000).unwrap();
    let other = Store::open(&d.path().join("approvals.db")).unwrap();
    let before = s.data_version().unwrap();
    other
        .decide(
            &a.id,
            &a.call_hash,
            &approver(&["finance"]),
            false,
            "no",
            1001,
        )
        .unwrap();
    assert_ne!(s.data_version().unwrap(), before);
    assert_eq!(s.decided_since(1001).unwrap(), vec![a.id.clone()]);
    let err = s
        .decide(&a.id, &a.call_hash, &approver(&["finance"]), true, "", 1002)
        .unwrap_err();
    assert!(matches!(err, Error::Settled { .. }), "{err}");
    let list = s.list(Some(Status::Denied), 10, 1002).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].decided_reason.as_deref(), Some("no"));
}
