//! Delegation through `warden serve` (RFC 8693 token exchange): a delegated token only narrows
//! what its subject may do, and its chain reaches policy.

use serde_json::{Value, json};

use crate::gateway::{challenge, modern, setup, setup_with, text};
use crate::support::gateway::{Gateway, cli, rt, token};

async fn exchange(gw: &Gateway, subject: &str, extra: &str) -> (u16, Value) {
    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={subject}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token{extra}"
    );
    let resp = gw
        .client
        .post(format!("{}/oauth/token", gw.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[test]
fn delegated_tokens_only_narrow_and_carry_their_chain_to_policy() {
    let (dir, gw) = setup();
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let (status, body) = exchange(
            &gw,
            &bob,
            "&actor=helper&scope=mcp%3Ademo%2Fget_order+mcp%3Ademo%2Frefund&expires_in=120",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["expires_in"].as_i64().unwrap() <= 120);
        let child = body["access_token"].as_str().unwrap().to_owned();
        let s = gw.initialize(&child).await;
        assert_eq!(
            gw.tools(&child, &s).await,
            ["demo__get_order", "demo__refund"]
        );
        // Outside the scope: 403 insufficient_scope naming what is missing.
        let (status, headers, _) = gw
            .call(&child, &s, "demo__echo", json!({"text": "x"}))
            .await;
        assert_eq!(status, 403);
        let c = challenge(&headers);
        assert!(
            c.contains("insufficient_scope") && c.contains("mcp:demo/echo"),
            "{c}"
        );
        // Inside the scope, but policy sees the delegation: read-only tools only.
        let (_, _, r) = gw
            .call(
                &child,
                &s,
                "demo__refund",
                json!({"order_id": "A1", "amount": 5}),
            )
            .await;
        assert!(text(&r).contains("delegated tokens may only read"), "{r}");
        let (_, _, g) = gw
            .call(&child, &s, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert!(text(&g).starts_with("order A1"), "{g}");
        // Wider scope or longer life than the parent: refused.
        let (status, body) = exchange(&gw, &child, "&actor=sub&scope=mcp").await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_scope");
        let (status, body) = exchange(&gw, &child, "&actor=sub&expires_in=100000").await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = exchange(&gw, "garbage", "").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // A grandchild works and is narrower still; revoking the parent ends the chain.
        let (status, body) =
            exchange(&gw, &child, "&actor=reader&scope=mcp%3Ademo%2Fget_order").await;
        assert_eq!(status, 200, "{body}");
        let grandchild = body["access_token"].as_str().unwrap().to_owned();
        let list: Value = serde_json::from_str(&cli(
            &gw.dir,
            &["token", "list", "--agent", "bob", "--json"],
        ))
        .unwrap();
        let root = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["parent"].is_null())
            .unwrap()["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        let chain: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["actors"] == json!(["helper", "reader"]))
            .collect();
        assert_eq!(chain.len(), 1, "{list}");
        cli(&gw.dir, &["token", "revoke", &root]);
        for t in [&child, &grandchild] {
            let (status, _, _) = gw
                .call(t, &s, "demo__get_order", json!({"order_id": "A1"}))
                .await;
            assert_eq!(status, 401);
        }
    });
    // The audit log names the chain.
    let audit = std::process::Command::new(crate::support::warden())
        .args(["audit", "tail", "--file"])
        .arg(dir.path().join("audit.db"))
        .arg("--json")
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.contains("token_exchanged") && audit.contains("helper"),
        "{audit}"
    );
}

#[test]
fn delegation_chains_count_towards_the_session_limit() {
    // Each chain has its own modern context (and upstream processes): an agent cannot open
    // unbounded ones by minting sub-agent tokens.
    let (dir, gw) = setup_with(Some(2));
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let call = |t: String| {
            let gw = &gw;
            async move {
                let body = modern(
                    "tools/call",
                    json!({"name": "demo__get_order", "arguments": {"order_id": "A1"}}),
                );
                gw.post_with(
                    Some(&t),
                    None,
                    &body,
                    &[
                        ("mcp-protocol-version", "2026-07-28"),
                        ("mcp-method", "tools/call"),
                        ("mcp-name", "demo__get_order"),
                    ],
                )
                .await
            }
        };
        let (status, _, body) = call(bob.clone()).await;
        assert_eq!(status, 200, "{body}");
        let mut delegated = Vec::new();
        for actor in ["h1", "h2"] {
            let (status, body) = exchange(&gw, &bob, &format!("&actor={actor}")).await;
            assert_eq!(status, 200, "{body}");
            delegated.push(body["access_token"].as_str().unwrap().to_owned());
        }
        let (status, _, body) = call(delegated[0].clone()).await;
        assert_eq!(status, 200, "{body}");
        let (status, _, body) = call(delegated[1].clone()).await;
        assert_eq!(status, 429, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("max_sessions_per_agent"), "{message}");
        // Contexts already open keep working.
        let (status, _, body) = call(bob.clone()).await;
        assert_eq!(status, 200, "{body}");
    });
}

#[test]
fn the_decision_api_takes_tool_hints_only_for_the_callers_own_tools() {
    // Policy forbids a delegated token anything but read-only tools; the decision API's
    // `tool` may say a tool is read-only, unless the configuration says otherwise.
    let dir = crate::support::workspace();
    let upstreams = format!(
        "{}\n[tools.erase]\nread_only = false\n",
        crate::support::gateway::demo_stdio(dir.path())
    );
    crate::support::gateway::configure(dir.path(), &upstreams, crate::gateway::POLICIES);
    crate::support::gateway::add_agent(dir.path(), "bob", &["team=finance"]);
    let gw = Gateway::start(dir.path());
    let bob = token(dir.path(), "bob", "10m", &["decide"]);
    rt().block_on(async {
        let (status, body) = exchange(&gw, &bob, "&actor=helper&scope=decide").await;
        assert_eq!(status, 200, "{body}");
        let child = body["access_token"].as_str().unwrap().to_owned();
        let decide = |resource: &str, tool: Option<Value>| {
            let mut body = json!({"action": "call_tool", "resource": resource, "arguments": {"order_id": "A1"}});
            if let Some(t) = tool {
                body["tool"] = t;
            }
            let req = gw
                .client
                .post(format!("{}/v1/decide", gw.base))
                .header("authorization", format!("Bearer {child}"))
                .json(&body);
            async move {
                let d: Value = req.send().await.unwrap().json().await.unwrap();
                d["decision"].as_str().unwrap().to_owned()
            }
        };
        // The framework's own tool: its hints count, and missing ones assume the worst.
        assert_eq!(decide("crm/lookup", Some(json!({"read_only": true}))).await, "allow");
        assert_eq!(decide("crm/lookup", None).await, "deny");
        assert_eq!(decide("crm/lookup", Some(json!({"labels": ["x"]}))).await, "deny");
        // The configuration overrides the caller's hints.
        assert_eq!(decide("crm/erase", Some(json!({"read_only": true}))).await, "deny");
        // A tool of a server Warden serves: the agent's word does not make it read-only.
        assert_eq!(decide("demo/get_order", Some(json!({"read_only": true}))).await, "deny");
    });
}
