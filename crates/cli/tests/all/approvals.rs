//! Held calls through the real binary: the call waits (with progress), an approval from the
//! CLI lets it through once, a denial and an expiry refuse it, a tampered hash changes
//! nothing, pending requests survive `kill -9`, async mode, and webhooks.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Session, audit_records, warden, webhook_sink, workspace};

fn edit_config(dir: &Path, from: &str, to: &str) {
    let path = dir.join("warden.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in warden.toml");
    std::fs::write(path, text.replace(from, to)).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(warden())
        .args(args)
        .arg("--config")
        .arg(dir.join("warden.toml"))
        .env("USER", "carol")
        .output()
        .unwrap()
}

fn requests(dir: &Path) -> Vec<Value> {
    let out = run(dir, &["approvals", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The newest request once one exists.
fn wait_for_request(dir: &Path, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(r) = requests(dir).into_iter().find(|r| r["status"] == status) {
            return r;
        }
        assert!(Instant::now() < deadline, "no {status} request appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn refund_80(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "refund", "arguments": {"order_id": "A2", "amount": 80},
        "_meta": {"progressToken": format!("p{id}")}}})
}

/// The answer to request `id`, collecting the notifications that came before it.
fn answer(s: &mut Session, id: i64, wait: Duration) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + wait;
    let mut notes = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = s
            .try_recv(left)
            .unwrap_or_else(|| panic!("no answer to {id}; saw {notes:?}"));
        if msg["id"] == json!(id) {
            return (msg, notes);
        }
        notes.push(msg);
    }
}

fn refunds_received(s: &Session) -> Vec<i64> {
    s.upstream_received()
        .iter()
        .filter(|m| m["method"] == "tools/call")
        .filter_map(|m| m["params"]["arguments"]["amount"].as_i64())
        .collect()
}

#[test]
fn a_held_call_runs_once_after_approval_and_a_denial_is_explained() {
    let dir = workspace();
    let d = dir.path();
    edit_config(d, "progress_secs = 10", "progress_secs = 1");
    let (hook, received) = webhook_sink();
    edit_config(
        d,
        "# [[approvals.webhook]]",
        &format!("[[approvals.webhook]]\nurl = \"{hook}\"\ngroups = [\"finance\"]\n"),
    );
    let mut s = Session::start(d);
    s.initialize();
    s.send(&refund_80(10));
    let pending = wait_for_request(d, "pending");
    let id = pending["id"].as_str().unwrap().to_owned();
    let hash = pending["call_hash"].as_str().unwrap().to_owned();
    assert_eq!(
        pending["arguments"],
        json!({"order_id": "A2", "amount": 80})
    );
    assert_eq!(pending["groups"], json!(["finance"]));

    // The session keeps working while the call is held.
    let small = s.call("refund", json!({"order_id": "A1", "amount": 20}));
    assert_eq!(small["result"]["isError"], json!(false), "{small}");

    // The webhook announced it in Slack's shape, with the whole request.
    let body: Value = serde_json::from_str(&received.join().unwrap()).unwrap();
    assert!(
        body["text"].as_str().unwrap().contains("demo/refund"),
        "{body}"
    );
    assert!(body["blocks"].as_array().is_some_and(|b| !b.is_empty()));
    assert_eq!(body["approval"]["id"], json!(id));
    assert_eq!(body["approval"]["call_hash"], json!(hash));

    // A decision on another hash changes nothing.
    let wrong = run(
        d,
        &["approvals", "approve", &id, "--hash", "0123456789abcdef"],
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("does not match"),
        "{wrong:?}"
    );
    // Too short a prefix says so (it is not a mismatch).
    let short = run(d, &["approvals", "approve", &id, "--hash", &hash[..4]]);
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("8 or more leading hex digits"),
        "{short:?}"
    );
    std::thread::sleep(Duration::from_millis(1200));
    let ok = run(
        d,
        &[
            "approvals",
            "approve",
            &id,
            "--hash",
            &hash[..12],
            "--reason",
            "checked the order",
        ],
    );
    assert!(ok.status.success(), "{ok:?}");
    let (reply, notes) = answer(&mut s, 10, Duration::from_secs(20));
    assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    assert_eq!(
        reply["result"]["content"][0]["text"],
        json!("refunded 80 on order A2")
    );
    assert!(
        notes.iter().any(|n| n["method"] == "notifications/progress"
            && n["params"]["progressToken"] == "p10"
            && n["params"]["message"].as_str().unwrap().contains(&id)),
        "progress while held: {notes:?}"
    );

    // The same call again is a new request: an approval is used once.
    s.send(&refund_80(11));
    let second = wait_for_request(d, "pending");
    assert_ne!(second["id"], json!(id));
    let second_id = second["id"].as_str().unwrap();
    let denied = run(
        d,
        &[
            "approvals",
            "deny",
            second_id,
            "--reason",
            "duplicate refund",
        ],
    );
    assert!(denied.status.success(), "{denied:?}");
    let (reply, _) = answer(&mut s, 11, Duration::from_secs(20));
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(reply["result"]["isError"], json!(true));
    assert!(
        text.contains("denied by cli:carol") && text.contains("duplicate refund"),
        "{text}"
    );
    assert_eq!(refunds_received(&s), vec![20, 80]);
    s.finish();

    let statuses: Vec<Value> = requests(d).iter().map(|r| r["status"].clone()).collect();
    assert_eq!(statuses, vec![json!("denied"), json!("used")]);
    let events: Vec<String> = audit_records(d)
        .iter()
        .filter(|r| r["kind"] == "approval")
        .map(|r| {
            format!(
                "{} {}",
                r["body"]["event"].as_str().unwrap(),
                r["body"]["by"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            "requested -",
            "approved cli:carol",
            "used cli:carol",
            "requested -",
            "denied cli:carol"
        ]
    );
}

#[test]
fn an_unanswered_request_expires_and_is_refused() {
    let dir = workspace();
    edit_config(dir.path(), "timeout_secs = 900", "timeout_secs = 1");
    let mut s = Session::start(dir.path());
    s.initialize();
    s.send(&refund_80(5));
    let (reply, _) = answer(&mut s, 5, Duration::from_secs(10));
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("expired"), "{text}");
    let late = requests(dir.path());
    let id = late[0]["id"].as_str().unwrap();
    let too_late = run(dir.path(), &["approvals", "approve", id]);
    assert!(
        !too_late.status.success(),
        "an expired request cannot be approved"
    );
    assert!(refunds_received(&s).is_empty());
    s.finish();
}

#[test]
fn a_pending_request_survives_kill_9_and_the_approved_call_completes_after_restart() {
    let dir = workspace();
    let d = dir.path();
    let mut s = Session::start(d);
    s.initialize();
    s.send(&refund_80(3));
    let pending = wait_for_request(d, "pending");
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    let id = pending["id"].as_str().unwrap();
    let ok = run(d, &["approvals", "approve", id]);
    assert!(ok.status.success(), "{ok:?}");

    // The agent retries the same call on a new session: it runs, once.
    let mut s = Session::start(d);
    s.initialize();
    let reply = s.call("refund", json!({"order_id": "A2", "amount": 80}));
    assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    assert_eq!(refunds_received(&s), vec![80]);
    s.finish();
    assert_eq!(requests(d)[0]["status"], json!("used"));
}

#[test]
fn async_mode_answers_with_the_request_id_and_the_retry_runs_once_approved() {
    let dir = workspace();
    let d = dir.path();
    let policies = std::fs::read_to_string(d.join("policies.cedar")).unwrap();
    std::fs::write(
        d.join("policies.cedar"),
        policies.replace(
            "@approval(\"finance\")",
            "@approval(\"finance\")\n@approval_mode(\"async\")",
        ),
    )
    .unwrap();
    let mut s = Session::start(d);
    s.initialize();
    let args = json!({"order_id": "A2", "amount": 80});
    let first = s.call("refund", args.clone());
    let meta = &first["result"]["_meta"]["dev.warden/decision"];
    assert_eq!(meta["outcome"], json!("approval_required"), "{first}");
    let id = meta["approval"]["id"].as_str().unwrap().to_owned();
    assert_eq!(meta["approval"]["status"], json!("pending"));
    // Asking again before anyone decided: the same request, still pending.
    let again = s.call("refund", args.clone());
    assert_eq!(
        again["result"]["_meta"]["dev.warden/decision"]["approval"]["id"],
        json!(id)
    );
    assert!(run(d, &["approvals", "approve", &id]).status.success());
    let done = s.call("refund", args.clone());
    assert_eq!(done["result"]["isError"], json!(false), "{done}");
    // And once more: a new request, the approval is spent.
    let after = s.call("refund", args);
    let next = &after["result"]["_meta"]["dev.warden/decision"]["approval"]["id"];
    assert!(next.is_string() && next != &json!(id), "{after}");
    assert_eq!(refunds_received(&s), vec![80]);
    s.finish();
}

#[test]
fn a_misused_approval_mode_names_the_policy() {
    let dir = workspace();
    let d = dir.path();
    std::fs::write(
        d.join("policies.cedar"),
        "@id(\"odd\")\n@approval_mode(\"later\")\n@approval(\"finance\")\npermit(principal, action, resource);\n",
    )
    .unwrap();
    let out = run(d, &["policy", "validate"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("odd") && err.contains("\"later\""), "{err}");
}

#[test]
fn the_agents_own_user_approves_or_declines_through_elicitation() {
    let dir = workspace();
    let d = dir.path();
    let policies = std::fs::read_to_string(d.join("policies.cedar")).unwrap();
    std::fs::write(
        d.join("policies.cedar"),
        policies.replace("@approval(\"finance\")", "@approval(\"self\")"),
    )
    .unwrap();
    let mut s = Session::start(d);
    let init = s.request("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {"elicitation": {}}, "clientInfo": {"name": "t", "version": "1"}}));
    assert!(init["result"].is_object(), "{init}");
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    for (id, choice, ok) in [
        (
            20,
            json!({"action": "accept", "content": {"approve": true}}),
            true,
        ),
        (21, json!({"action": "decline"}), false),
    ] {
        let mut call = refund_80(id);
        call["params"]["arguments"]["order_id"] = json!(format!("E{id}"));
        s.send(&call);
        let ask = s.recv();
        assert_eq!(ask["method"], json!("elicitation/create"), "{ask}");
        let message = ask["params"]["message"].as_str().unwrap();
        assert!(
            message.contains("demo/refund") && message.contains(&format!("E{id}")),
            "{message}"
        );
        s.send(&json!({"jsonrpc": "2.0", "id": ask["id"], "result": choice}));
        let (reply, _) = answer(&mut s, id, Duration::from_secs(20));
        assert_eq!(reply["result"]["isError"], json!(!ok), "{reply}");
        if !ok {
            let text = reply["result"]["content"][0]["text"].as_str().unwrap();
            assert!(text.contains("declined by the user"), "{text}");
        }
    }
    assert_eq!(refunds_received(&s), vec![80]);
    s.finish();
    let by: Vec<Value> = requests(d)
        .iter()
        .map(|r| r["decided_via"].clone())
        .collect();
    assert_eq!(by, vec![json!("elicitation"), json!("elicitation")]);
}

#[test]
fn an_approved_call_still_meets_the_limits_and_its_approval_waits_for_the_retry() {
    let dir = workspace();
    let d = dir.path();
    let path = d.join("warden.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!(
            "{config}\n[[limits.rate]]\nname = \"refunds\"\ntool = \"refund\"\ncalls = 1\nevery_secs = 5\n"
        ),
    )
    .unwrap();
    let mut s = Session::start(d);
    s.initialize();
    // A small refund (no approval needed) takes the one refund allowed now.
    s.send(&refund_80(20));
    let pending = wait_for_request(d, "pending");
    let small = s.call("refund", json!({"order_id": "A1", "amount": 20}));
    assert_eq!(small["result"]["isError"], json!(false), "{small}");
    let id = pending["id"].as_str().unwrap().to_owned();
    assert!(run(d, &["approvals", "approve", &id]).status.success());
    // Approved, but the rate limit refuses it now, with when to retry.
    let (reply, _) = answer(&mut s, 20, Duration::from_secs(20));
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(reply["result"]["isError"], json!(true), "{reply}");
    assert!(
        text.contains(&format!("approval `{id}` was granted"))
            && text.contains("rate limit `refunds` reached"),
        "{text}"
    );
    assert!(
        reply["result"]["_meta"]["dev.warden/decision"]["retry_after_secs"]
            .as_u64()
            .is_some()
    );
    // The approval was not used up: the retry after the wait goes through once.
    assert_eq!(requests(d)[0]["status"], json!("approved"));
    std::thread::sleep(Duration::from_millis(5100));
    s.send(&refund_80(21));
    let (retry, _) = answer(&mut s, 21, Duration::from_secs(20));
    assert_eq!(retry["result"]["isError"], json!(false), "{retry}");
    assert_eq!(refunds_received(&s), vec![20, 80]);
    s.finish();
    let events: Vec<String> = audit_records(d)
        .iter()
        .filter(|r| r["kind"] == "approval")
        .map(|r| r["body"]["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, vec!["requested", "approved", "limited", "used"]);
}
