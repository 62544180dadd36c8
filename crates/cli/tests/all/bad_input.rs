//! Bad input on either side: a clear error, and nothing else lost.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Session, audit_records, set_limit, warden, workspace};

fn error_of(v: &Value) -> (i64, String) {
    (
        v["error"]["code"].as_i64().unwrap(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn malformed_client_messages_get_clear_errors_and_the_session_goes_on() {
    let dir = workspace();
    set_limit(dir.path(), 4096);
    let mut s = Session::start(dir.path());
    s.initialize();

    s.send_raw(b"{not json\n");
    let (code, msg) = error_of(&s.recv());
    assert_eq!(code, -32700);
    assert!(msg.starts_with("parse error"), "{msg}");

    s.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":50,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\xfe\"}}\n");
    assert_eq!(error_of(&s.recv()).0, -32700);

    s.send_raw(format!("{}\n", "[".repeat(3000)).as_bytes());
    let (_, msg) = error_of(&s.recv());
    assert!(msg.contains("recursion limit"), "{msg}");

    s.send(&json!([{"jsonrpc": "2.0", "id": 51, "method": "tools/list"}]));
    let (code, msg) = error_of(&s.recv());
    assert_eq!(code, -32600);
    assert!(msg.contains("batches"), "{msg}");

    s.send(&json!({"jsonrpc": "2.0", "id": 52, "method": "tools/call", "params": {"name": 7}}));
    let reply = s.recv();
    assert_eq!(reply["id"], json!(52));
    assert_eq!(
        error_of(&reply),
        (-32602, "`tools/call` needs a string `name`".to_owned())
    );

    let big = "x".repeat(10_000);
    s.send(&json!({"jsonrpc": "2.0", "id": 53, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": big}}}));
    let reply = s.recv();
    assert_eq!(
        reply["id"],
        json!(53),
        "the oversized request is still answered by id"
    );
    let (code, msg) = error_of(&reply);
    assert_eq!(code, -32600);
    assert!(msg.contains("exceeds the limit of 4096 bytes"), "{msg}");

    // Nothing was lost: the next request works.
    let ok = s.call("echo", json!({"text": "still here"}));
    assert_eq!(ok["result"]["content"][0]["text"], json!("still here"));
    let received = s.upstream_received();
    assert_eq!(s.finish().0, 0);
    assert!(
        received
            .iter()
            .all(|m| m["id"] != json!(52) && m["params"]["name"] != json!(7))
    );
    let problems = audit_records(dir.path())
        .into_iter()
        .filter(|r| r["kind"] == "protocol")
        .count();
    assert_eq!(problems, 6);
}

#[test]
fn oversized_upstream_answer_fails_that_request_only() {
    let dir = workspace();
    set_limit(dir.path(), 4096);
    let mut s = Session::start(dir.path());
    s.initialize();
    let reply = s.call("echo", json!({"text": "0123456789", "times": 1000}));
    let (code, msg) = error_of(&reply);
    assert_eq!(code, -32002);
    assert!(msg.contains("over the limit of 4096 bytes"), "{msg}");
    let ok = s.call("echo", json!({"text": "small"}));
    assert_eq!(ok["result"]["content"][0]["text"], json!("small"));
    s.finish();
}

#[test]
fn upstream_garbage_is_skipped_and_logged() {
    let dir = workspace();
    let record = dir.path().join("rec.jsonl");
    let script = format!(
        "echo 'this is a banner, not JSON'; echo '{{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{{}}}}'; exec {} demo-server",
        warden().display()
    );
    let mut s = Session::start_with(dir.path(), &["sh".into(), "-c".into(), script], record);
    s.initialize();
    assert_eq!(
        s.call("echo", json!({"text": "ok"}))["result"]["content"][0]["text"],
        json!("ok")
    );
    let (code, stderr) = s.finish();
    assert_eq!(code, 0);
    assert!(
        stderr.contains("wrote something that is not MCP"),
        "{stderr}"
    );
    let problems: Vec<_> = audit_records(dir.path())
        .into_iter()
        .filter(|r| r["kind"] == "protocol")
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn upstream_crash_fails_pending_requests_clearly() {
    let dir = workspace();
    let record = dir.path().join("rec.jsonl");
    // Reads the initialize request and dies without answering.
    let mut s = Session::start_with(
        dir.path(),
        &["sh".into(), "-c".into(), "read line; exit 3".into()],
        record,
    );
    s.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}));
    let reply = s
        .try_recv(Duration::from_secs(20))
        .expect("an error for the pending request");
    let (code, msg) = error_of(&reply);
    assert_eq!(code, -32002);
    assert!(msg.contains("closed its connection"), "{msg}");
    let (code, stderr) = s.finish();
    assert_eq!(code, 1);
    assert!(stderr.contains("exit status: 3"), "{stderr}");
}

#[test]
fn an_answer_that_cannot_be_read_fails_its_call_at_once() {
    // The upstream answers `bad_utf8` with invalid UTF-8 and `deep` nested past the parser's
    // limit; each call must get an error now, not at the end of the session.
    let script = r#"
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    i = json.dumps(m["id"])
    if m["method"] == "initialize":
        r = json.dumps({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "h", "version": "1"}})
        out = ('{"jsonrpc":"2.0","id":%s,"result":%s}' % (i, r)).encode()
    elif m["method"] == "tools/list":
        tools = [{"name": n, "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True}} for n in ("bad_utf8", "deep")]
        out = json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"tools": tools}}).encode()
    elif m["params"]["name"] == "bad_utf8":
        out = b'{"jsonrpc":"2.0","id":' + i.encode() + b',"result":{"content":[{"type":"text","text":"\xff\xfe"}]}}'
    else:
        out = b'{"jsonrpc":"2.0","id":' + i.encode() + b',"result":' + b'[' * 5000 + b']' * 5000 + b'}'
    sys.stdout.buffer.write(out + b"\n")
    sys.stdout.buffer.flush()
"#;
    let dir = workspace();
    let record = dir.path().join("rec.jsonl");
    let mut s = Session::start_with(
        dir.path(),
        &["python3".into(), "-c".into(), script.into()],
        record,
    );
    s.initialize();
    let listed = s.request("tools/list", json!({}));
    assert_eq!(
        listed["result"]["tools"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    for tool in ["bad_utf8", "deep"] {
        let started = std::time::Instant::now();
        let r = s.call(tool, json!({}));
        let (code, msg) = error_of(&r);
        assert_eq!(code, -32002, "{r}");
        assert!(msg.contains("upstream sent an invalid response"), "{msg}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{tool} took {:?}",
            started.elapsed()
        );
    }
    let (code, _) = s.finish();
    assert_eq!(code, 0);
}

#[test]
fn missing_upstream_program_is_a_clear_error() {
    let dir = workspace();
    let record = dir.path().join("rec.jsonl");
    let s = Session::start_with(dir.path(), &["/nonexistent/server".into()], record);
    let (code, stderr) = s.finish();
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot start `/nonexistent/server`"),
        "{stderr}"
    );
}

#[test]
fn logs_can_be_json_lines() {
    let dir = workspace();
    let script = format!(
        "echo 'this is a banner, not JSON'; exec {} demo-server",
        warden().display()
    );
    let out = std::process::Command::new(warden())
        .args(["mcp", "--config"])
        .arg(dir.path().join("warden.toml"))
        .args(["--", "sh", "-c", &script])
        .env("WARDEN_LOG_FORMAT", "json")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning: serde_json::Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "WARN")
        .unwrap_or_else(|| panic!("no JSON warning in: {stderr}"));
    assert!(
        warning["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("not MCP"),
        "{warning}"
    );
}
