//! Policy at work through the real binary.

use serde_json::json;

use crate::support::{Session, audit_records, disable_approvals, workspace};

#[test]
fn denied_calls_never_reach_the_upstream() {
    let dir = workspace();
    // Without approvals, a call that needs one is refused and says so.
    disable_approvals(dir.path());
    let mut s = Session::start(dir.path());
    s.initialize();
    let small = s.call("refund", json!({"order_id": "A1", "amount": 30}));
    assert_eq!(small["result"]["isError"], json!(false), "{small}");
    let large = s.call("refund", json!({"order_id": "A2", "amount": 80}));
    assert_eq!(large["result"]["isError"], json!(true));
    assert_eq!(
        large["result"]["_meta"]["dev.warden/decision"]["outcome"],
        json!("approval_required")
    );
    assert_eq!(
        large["result"]["_meta"]["dev.warden/decision"]["policies"],
        json!(["refunds-large"])
    );
    let text = large["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("approval") && text.contains("finance"),
        "{text}"
    );
    let delete = s.call("delete_account", json!({"user": "bob"}));
    let text = delete["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("no-account-deletion") && text.contains("not allowed"),
        "{text}"
    );
    let received = s.upstream_received();
    let (code, _) = s.finish();
    assert_eq!(code, 0);

    let calls: Vec<_> = received
        .iter()
        .filter(|m| m["method"] == "tools/call")
        .collect();
    assert_eq!(calls.len(), 1, "only the allowed call arrives: {calls:?}");
    assert_eq!(calls[0]["params"]["arguments"]["amount"], json!(30));

    let records = audit_records(dir.path());
    let decisions: Vec<_> = records.iter().filter(|r| r["kind"] == "decision").collect();
    let outcomes: Vec<_> = decisions
        .iter()
        .map(|r| r["body"]["decision"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["allow", "approval_required", "deny"]);
    assert_eq!(
        decisions[2]["body"]["decision"]["policies"],
        json!(["no-account-deletion"])
    );
    assert_eq!(
        decisions[0]["body"]["arguments"],
        json!({"order_id": "A1", "amount": 30})
    );
    assert_eq!(records.iter().filter(|r| r["kind"] == "outcome").count(), 1);
}

#[test]
fn listing_hides_what_policy_forbids() {
    let dir = workspace();
    let mut s = Session::start(dir.path());
    s.initialize();
    let list = s.request("tools/list", json!({}));
    let names: Vec<_> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["get_order", "refund", "echo"]);
    s.finish();
}

#[test]
fn calling_before_listing_still_uses_the_tool_annotations() {
    // get_order is allowed only because the upstream marks it read-only; Warden must learn
    // that itself when the client calls without listing first.
    let dir = workspace();
    std::fs::write(dir.path().join("policies.cedar"), "@id(\"ro\")\npermit(principal, action == Action::\"call_tool\", resource) when { resource.read_only };\n").unwrap();
    let mut s = Session::start(dir.path());
    s.initialize();
    let r = s.call("get_order", json!({"order_id": "A1"}));
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    let r = s.call("refund", json!({"amount": 1}));
    assert_eq!(r["result"]["isError"], json!(true), "{r}");
    s.finish();
}

#[test]
fn modern_client_is_governed_too() {
    // Bridging to legacy-only upstreams is covered with server-everything in tests/e2e.
    let dir = workspace();
    disable_approvals(dir.path());
    let mut s = Session::start(dir.path());
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let d = s.request("server/discover", json!({"_meta": meta}));
    assert_eq!(
        d["result"]["supportedVersions"],
        json!(["2026-07-28"]),
        "{d}"
    );
    let r = s.request(
        "tools/call",
        json!({"name": "refund", "arguments": {"amount": 80}, "_meta": meta}),
    );
    assert_eq!(r["result"]["resultType"], json!("complete"));
    assert_eq!(r["result"]["isError"], json!(true));
    s.finish();
}

#[test]
fn unknown_methods_and_fields_pass_through_untouched() {
    let dir = workspace();
    let mut s = Session::start(dir.path());
    s.initialize();
    let params =
        json!({"z": 1, "a": [1, 2, {"nested": null}], "_meta": {"vendor.example/x": true}});
    let reply = s.request("vendor/custom", params.clone());
    assert_eq!(
        reply["error"]["message"],
        json!("method not found: vendor/custom")
    );
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/vendor", "params": {"k": "v"}}));
    let ok = s.call("echo", json!({"text": "x", "extra": {"b": 1, "a": 2}}));
    assert_eq!(ok["result"]["content"][0]["text"], json!("x"));
    let received = s.upstream_received();
    s.finish();
    let custom = received
        .iter()
        .find(|m| m["method"] == "vendor/custom")
        .unwrap();
    assert_eq!(custom["params"], params);
    assert!(
        received
            .iter()
            .any(|m| m["method"] == "notifications/vendor" && m["params"] == json!({"k": "v"}))
    );
    let call = received
        .iter()
        .find(|m| m["method"] == "tools/call")
        .unwrap();
    // Key order is kept as the client sent it.
    let text = serde_json::to_string(&call["params"]["arguments"]).unwrap();
    assert_eq!(text, r#"{"text":"x","extra":{"b":1,"a":2}}"#);
}

#[test]
fn duplicate_keys_cannot_smuggle_a_different_call() {
    // Warden reads the last `name`; a first-wins server must not see the other one.
    let dir = workspace();
    let mut s = Session::start(dir.path());
    s.initialize();
    s.send_raw(
        b"{\"jsonrpc\":\"2.0\",\"id\":70,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_account\",\"arguments\":{\"user\":\"bob\",\"order_id\":\"A1\"},\"name\":\"get_order\"}}\n",
    );
    let reply = s.recv();
    assert_eq!(reply["id"], json!(70));
    let record = std::fs::read_to_string(&s.record).unwrap();
    s.finish();
    let forwarded: Vec<_> = record
        .lines()
        .filter(|l| l.contains("tools/call"))
        .collect();
    assert_eq!(forwarded.len(), 1);
    assert!(!forwarded[0].contains("delete_account"), "{}", forwarded[0]);
}

#[test]
fn the_upstream_reads_exactly_what_policy_judged() {
    let dir = workspace();
    let mut s = Session::start(dir.path());
    s.initialize();
    // Spacing as the client wrote it reaches the server unchanged, under Warden's id; the
    // large argument is recorded as it came.
    let text = "x".repeat(20_000);
    let spaced = format!(
        r#"{{"jsonrpc": "2.0", "id": "spaced", "method": "tools/call", "params": {{"name": "echo", "arguments": {{"text": "{text}"}}}}}}"#
    );
    s.send_raw(format!("{spaced}\n").as_bytes());
    let answer = s.recv();
    assert_eq!(answer["id"], json!("spaced"));
    assert_eq!(answer["result"]["content"][0]["text"], json!(text));
    // A duplicate key: Warden judges the last `name`, and the server is given only that one.
    s.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":\"dup\",\"method\":\"tools/call\",\"params\":{\"name\":\"delete_account\",\"arguments\":{\"text\":\"hi\"},\"name\":\"echo\"}}\n");
    assert_eq!(s.recv()["result"]["isError"], json!(false));
    // Keys that differ only in case: refused, whichever a server would read.
    s.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":\"case\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"Name\":\"delete_account\",\"arguments\":{}}}\n");
    let refused = s.recv();
    assert_eq!(refused["error"]["code"], json!(-32602), "{refused}");
    let why = refused["error"]["message"].as_str().unwrap();
    assert!(why.contains("differ only in case"), "{why}");
    // serde_json's private key, which Rust servers would read as the JSON inside it.
    s.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":\"raw\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"$serde_json::private::RawValue\":\"{}\"}}}\n");
    let refused = s.recv();
    assert_eq!(refused["error"]["code"], json!(-32700), "{refused}");
    let lines = s.upstream_lines();
    let (code, _) = s.finish();
    assert_eq!(code, 0);

    let calls: Vec<&String> = lines.iter().filter(|l| l.contains("tools/call")).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].starts_with(r#"{"jsonrpc": "2.0", "id": "#)
            && calls[0].contains(r#""params": {"name": "echo", "arguments": {"text": "xxx"#)
            && !calls[0].contains("spaced"),
        "{}",
        &calls[0][..120]
    );
    assert!(
        calls[1].contains(r#""name":"echo""#) && !calls[1].contains("delete_account"),
        "{}",
        calls[1]
    );
    let records = audit_records(dir.path());
    let decisions: Vec<_> = records.iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(decisions[0]["body"]["arguments"], json!({"text": text}));
    assert_eq!(
        decisions.len(),
        2,
        "the refused lines were never judged: {decisions:?}"
    );
    assert_eq!(decisions[1]["body"]["arguments"], json!({"text": "hi"}));
    crate::support::assert_audit_verifies(dir.path());
}
