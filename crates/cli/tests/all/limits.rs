//! Runtime limits through the real binary: a rate limit and a byte budget refuse with a clear
//! reason and a retry-after, the refused calls never reach the upstream and are audited, and
//! an unusable limit stops start-up with its name.

use std::process::Command;

use serde_json::json;

use crate::support::{Session, audit_records, audit_records_at, warden, webhook_sink, workspace};

fn add_limits(dir: &std::path::Path, text: &str) {
    let path = dir.join("warden.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, format!("{config}\n{text}")).unwrap();
}

#[test]
fn a_rate_limit_and_a_byte_budget_refuse_with_retry_after() {
    let dir = workspace();
    add_limits(
        dir.path(),
        r#"
[[limits.rate]]
name = "refunds"
per = ["agent"]
tool = "refund"
calls = 2
every_secs = 60

[[limits.budget]]
name = "order-bytes"
per = ["agent", "tool"]
tool = "get_order"
period = "hour"
bytes = 60
"#,
    );
    let mut s = Session::start(dir.path());
    s.initialize();
    for amount in [10, 20] {
        let ok = s.call("refund", json!({"order_id": "A1", "amount": amount}));
        assert_eq!(ok["result"]["isError"], json!(false), "{ok}");
    }
    let third = s.call("refund", json!({"order_id": "A1", "amount": 30}));
    assert_eq!(third["result"]["isError"], json!(true));
    let text = third["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("rate limit `refunds` reached"), "{text}");
    let retry = third["result"]["_meta"]["dev.warden/decision"]["retry_after_secs"]
        .as_u64()
        .unwrap();
    assert!((20..=30).contains(&retry), "{retry}");
    // Other tools are not rate limited; the first order lookup spends the byte budget.
    let order = s.call("get_order", json!({"order_id": "A-1001"}));
    assert_eq!(order["result"]["isError"], json!(false), "{order}");
    let again = s.call("get_order", json!({"order_id": "A-1002"}));
    let text = again["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("budget limit `order-bytes` reached"),
        "{text}"
    );
    let retry = again["result"]["_meta"]["dev.warden/decision"]["retry_after_secs"]
        .as_u64()
        .unwrap();
    assert!(retry > 0 && retry <= 3600, "{retry}");
    let received = s.upstream_received();
    s.finish();
    let calls = received
        .iter()
        .filter(|m| m["method"] == "tools/call")
        .count();
    assert_eq!(
        calls, 3,
        "two refunds and one order lookup reach the upstream"
    );
    let refused: Vec<_> = audit_records(dir.path())
        .into_iter()
        .filter(|r| r["kind"] == "decision" && r["body"]["decision"]["outcome"] == "deny")
        .map(|r| r["body"]["decision"]["retry_after_secs"].as_u64().is_some())
        .collect();
    assert_eq!(refused, vec![true, true]);
}

#[test]
fn an_unusable_limit_stops_start_up_and_names_it() {
    for (text, expect) in [
        (
            "[[limits.budget]]\nname = \"odd\"\nperiod = \"fortnight\"\ncalls = 5\n",
            "fortnight",
        ),
        (
            "[[limits.rate]]\nname = \"odd\"\ncalls = 5\nmax = 2\n",
            "`max` does not belong in a rate limit",
        ),
        (
            "[[limits.concurrency]]\nname = \"odd\"\nmax = 0\n",
            "at least 1",
        ),
    ] {
        let dir = workspace();
        add_limits(dir.path(), text);
        let out = Command::new(warden())
            .args(["mcp", "--config"])
            .arg(dir.path().join("warden.toml"))
            .args(["--", "true"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("`odd`") && err.contains(expect), "{err}");
    }
}

#[test]
fn a_failing_upstream_opens_its_breaker_and_a_good_probe_closes_it() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("policies.cedar"),
        "@id(\"all\")\npermit(principal, action, resource);\n",
    )
    .unwrap();
    let (hook, received) = webhook_sink();
    add_limits(
        dir.path(),
        &format!(
            "[breaker]\nmin_calls = 3\nerror_rate = 0.5\nwindow_secs = 30\nopen_secs = 1\n\n[[alerts.webhook]]\nurl = \"{hook}\"\n\n[[limits.rate]]\nname = \"orders\"\ntool = \"get_order\"\ncalls = 2\nevery_secs = 600\n"
        ),
    );
    let mut s = Session::start(dir.path());
    s.initialize();
    // The demo server answers resources/read with a JSON-RPC error.
    for _ in 0..3 {
        let r = s.request("resources/read", json!({"uri": "demo://nothing"}));
        assert_eq!(r["error"]["code"], json!(-32601), "{r}");
    }
    let refused = s.call("get_order", json!({"order_id": "A-1001"}));
    let text = refused["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("circuit breaker is open") && text.contains("3 of the last 3"),
        "{text}"
    );
    assert_eq!(
        refused["result"]["_meta"]["dev.warden/decision"]["retry_after_secs"],
        json!(1)
    );
    // The opening was announced to the alert webhook.
    let alert: serde_json::Value = serde_json::from_str(&received.join().unwrap()).unwrap();
    assert_eq!(alert["alert"]["kind"], json!("breaker_open"), "{alert}");
    assert!(
        alert["text"].as_str().unwrap().contains("`demo`"),
        "{alert}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // The probe goes through and closes the breaker. The call the open breaker refused spent
    // nothing of the rate limit: both of its two calls are still there.
    for _ in 0..2 {
        let ok = s.call("get_order", json!({"order_id": "A-1001"}));
        assert_eq!(ok["result"]["isError"], json!(false), "{ok}");
    }
    s.finish();
    let events: Vec<String> = audit_records(dir.path())
        .iter()
        .filter(|r| r["kind"] == "lifecycle")
        .filter_map(|r| r["body"]["event"].as_str().map(str::to_owned))
        .filter(|e| e.starts_with("breaker"))
        .collect();
    assert_eq!(events, vec!["breaker_open", "breaker_closed"]);
}

#[test]
fn an_agent_with_too_many_denials_is_suspended_until_resumed() {
    use crate::gateway::POLICIES;
    use crate::support::gateway::{Gateway, add_agent, cli, configure, demo_stdio, rt, token};
    let dir = workspace();
    let d = dir.path();
    configure(d, &demo_stdio(d), POLICIES);
    add_limits(d, "[agent_breaker]\nmax_denials = 3\nwindow_secs = 60\n");
    add_agent(d, "rogue", &[]);
    add_agent(d, "calm", &[]);
    let gw = Gateway::start(d);
    let rogue = token(d, "rogue", "10m", &[]);
    let calm = token(d, "calm", "10m", &[]);
    rt().block_on(async {
        let sr = gw.initialize(&rogue).await;
        let sc = gw.initialize(&calm).await;
        for _ in 0..3 {
            let (status, _, body) = gw
                .call(&rogue, &sr, "demo__delete_account", json!({"user": "bob"}))
                .await;
            assert_eq!(status, 200);
            assert_eq!(body["result"]["isError"], json!(true), "{body}");
        }
        // Paused: suspended in the identity store, refused at the door.
        let (status, _, _) = gw
            .call(&rogue, &sr, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 403);
        let listed = cli(d, &["agent", "list"]);
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with("rogue") && l.contains("SUSPENDED")),
            "{listed}"
        );
        // Other agents are not affected.
        let (status, _, body) = gw
            .call(&calm, &sc, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 200, "{body}");
        cli(d, &["agent", "resume", "rogue"]);
        let (status, _, body) = gw
            .call(&rogue, &sr, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["isError"], json!(false), "{body}");
    });
    drop(gw);
    let paused: Vec<_> = audit_records_at(&d.join("audit.db"))
        .into_iter()
        .filter(|r| r["body"]["event"] == "agent_paused")
        .map(|r| (r["body"]["agent"].clone(), r["body"]["suspended"].clone()))
        .collect();
    assert_eq!(paused, vec![(json!("rogue"), json!(true))]);
}

#[test]
fn policy_sees_what_is_left_of_a_budget() {
    let dir = workspace();
    let d = dir.path();
    let path = d.join("warden.toml");
    let config = std::fs::read_to_string(&path).unwrap().replace(
        "labels = [\"payments\"]\n",
        "labels = [\"payments\"]\ncost = 30\n",
    );
    std::fs::write(&path, config).unwrap();
    add_limits(
        d,
        "[[limits.budget]]\nname = \"refund-cost\"\nper = [\"agent\"]\ntool = \"refund\"\nperiod = \"day\"\ncost = 100\n",
    );
    let policies = std::fs::read_to_string(d.join("policies.cedar")).unwrap();
    std::fs::write(
        d.join("policies.cedar"),
        format!(
            "{policies}\n@id(\"refund-budget-low\")\n@reason(\"less than 50 of today's refund budget is left\")\nforbid(principal, action == Action::\"call_tool\", resource)\nwhen {{ resource.name == \"refund\" && context.limits has cost_left && context.limits.cost_left < 50 }};\n"
        ),
    )
    .unwrap();
    let mut s = Session::start(d);
    s.initialize();
    for amount in [10, 20] {
        let ok = s.call("refund", json!({"order_id": "A1", "amount": amount}));
        assert_eq!(ok["result"]["isError"], json!(false), "{ok}");
    }
    // 40 left: policy refuses before the budget itself (100) is reached.
    let third = s.call("refund", json!({"order_id": "A1", "amount": 5}));
    let text = third["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("less than 50 of today's refund budget"),
        "{text}"
    );
    assert_eq!(
        third["result"]["_meta"]["dev.warden/decision"]["policies"],
        json!(["refund-budget-low"])
    );
    s.finish();
    let seen: Vec<_> = audit_records(d)
        .into_iter()
        .filter(|r| r["kind"] == "decision")
        .map(|r| r["body"]["limits"]["cost_left"].clone())
        .collect();
    assert_eq!(seen, vec![json!(100), json!(70), json!(40)]);
}
