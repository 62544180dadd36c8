//! `warden serve` over real HTTP: identities, tokens and their refusals, scopes, sessions,
//! both eras, bad input, HTTP upstreams, the decision API. Delegation is in `delegation.rs`.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::gateway::{
    Gateway, KillOnDrop, add_agent, cli, configure, demo_stdio, limit_sessions, rt, token,
};
use crate::support::workspace;

/// Shared with the console tests.
pub(crate) const POLICIES: &str = r#"
@id("allow-all")
permit(principal, action, resource)
unless { action == Action::"call_tool" && resource has name && resource.name == "refund" };

@id("refunds-small")
permit(principal, action == Action::"call_tool", resource)
when { resource.name == "refund" && context.args has amount && context.args.amount <= 50 };

@id("refunds-large")
@approval("finance")
permit(principal, action == Action::"call_tool", resource)
when { resource.name == "refund" && context.args has amount && context.args.amount > 50 };

@id("support-no-refunds")
@reason("support agents do not issue refunds")
forbid(principal, action == Action::"call_tool", resource == Tool::"demo/refund")
when { principal has team && principal.team == "support" };

@id("no-delete")
forbid(principal, action == Action::"call_tool", resource)
when { resource.name == "delete_account" };

@id("sub-agents-read-only")
@reason("delegated tokens may only read")
forbid(principal, action == Action::"call_tool", resource)
when { context.session.depth > 0 && !resource.read_only };
"#;

pub(crate) fn setup() -> (tempfile::TempDir, Gateway) {
    setup_with(None)
}

/// [`setup`], optionally with `[gateway] max_sessions_per_agent`.
pub(crate) fn setup_with(max_sessions: Option<usize>) -> (tempfile::TempDir, Gateway) {
    let dir = workspace();
    configure(dir.path(), &demo_stdio(dir.path()), POLICIES);
    if let Some(most) = max_sessions {
        limit_sessions(dir.path(), most);
    }
    add_agent(dir.path(), "alice", &["team=support"]);
    add_agent(dir.path(), "bob", &["team=finance"]);
    let gw = Gateway::start(dir.path());
    (dir, gw)
}

pub(crate) fn text(body: &Value) -> String {
    body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn two_agents_see_different_tools_and_outcomes() {
    let (dir, gw) = setup();
    let alice = token(dir.path(), "alice", "10m", &[]);
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let sa = gw.initialize(&alice).await;
        let sb = gw.initialize(&bob).await;
        assert_eq!(
            gw.tools(&alice, &sa).await,
            ["demo__echo", "demo__get_order"]
        );
        assert_eq!(
            gw.tools(&bob, &sb).await,
            ["demo__echo", "demo__get_order", "demo__refund"]
        );
        let (_, _, a) = gw
            .call(
                &alice,
                &sa,
                "demo__refund",
                json!({"order_id": "A1", "amount": 20}),
            )
            .await;
        assert_eq!(a["result"]["isError"], true, "{a}");
        assert!(
            text(&a).contains("support agents do not issue refunds"),
            "{a}"
        );
        let (_, _, b) = gw
            .call(
                &bob,
                &sb,
                "demo__refund",
                json!({"order_id": "A1", "amount": 20}),
            )
            .await;
        assert_eq!(text(&b), "refunded 20 on order A1", "{b}");
        // A name that is not namespaced, or names no upstream.
        let (_, _, c) = gw.call(&bob, &sb, "refund", json!({})).await;
        assert_eq!(c["error"]["code"], -32602, "{c}");
        let (_, _, d) = gw.call(&bob, &sb, "nope__refund", json!({})).await;
        assert!(
            d["error"]["message"].as_str().unwrap().contains("nope"),
            "{d}"
        );
    });
    // Only what the policy allowed reached the server, and the audit chain holds.
    let received = std::fs::read_to_string(dir.path().join("demo-received.jsonl")).unwrap();
    let refunds = received
        .lines()
        .filter(|l| l.contains("\"refund\""))
        .count();
    assert_eq!(refunds, 1, "{received}");
    drop(gw);
    let verify = cli(dir.path(), &["audit", "verify"]);
    assert!(
        verify.contains("intact") || verify.contains("ok") || verify.contains("OK"),
        "{verify}"
    );
}

pub(crate) fn challenge(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[test]
fn refused_tokens_get_the_right_status_and_challenge() {
    let (dir, gw) = setup();
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    rt().block_on(async {
        // Missing: 401, challenge pointing at the metadata, which names the resource.
        let (status, headers, _) = gw.post(None, None, &init).await;
        assert_eq!(status, 401);
        let c = challenge(&headers);
        assert!(c.starts_with("Bearer resource_metadata=\""), "{c}");
        assert!(
            !c.contains("error="),
            "no error code when no token was sent: {c}"
        );
        let meta: Value = gw
            .client
            .get(format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                gw.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["resource"], gw.mcp());
        assert_eq!(meta["authorization_servers"][0], gw.base);
        // Garbage.
        let (status, headers, _) = gw.post(Some("not.a.token"), None, &init).await;
        assert_eq!(status, 401);
        assert!(challenge(&headers).contains("error=\"invalid_token\""));
        // Claims changed under the original signature (scope widened).
        let good = token(dir.path(), "alice", "10m", &["mcp:demo/get_order"]);
        let parts: Vec<&str> = good.split('.').collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["scope"] = json!("mcp decide scan");
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64.encode(claims.to_string()),
            parts[2]
        );
        let (status, headers, _) = gw.post(Some(&tampered), None, &init).await;
        assert_eq!(status, 401);
        assert!(
            challenge(&headers).contains("signature"),
            "{}",
            challenge(&headers)
        );
        // Algorithm switched to `none`.
        let none_header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(gw.post(Some(&unsigned), None, &init).await.0, 401);
        // Expired.
        let short = token(dir.path(), "alice", "1s", &[]);
        std::thread::sleep(Duration::from_millis(2100));
        let (status, headers, _) = gw.post(Some(&short), None, &init).await;
        assert_eq!(status, 401);
        assert!(
            challenge(&headers).contains("expired"),
            "{}",
            challenge(&headers)
        );
    });
    // Issued for another audience (another public URL) by the same store and key.
    let other = dir.path().join("other.toml");
    let text = std::fs::read_to_string(dir.path().join("warden.toml"))
        .unwrap()
        .replace(
            "[gateway]\n",
            "[gateway]\npublic_url = \"http://gateway.example:9000\"\n",
        );
    std::fs::write(&other, text).unwrap();
    let out = std::process::Command::new(crate::support::warden())
        .args(["token", "issue", "alice", "--config"])
        .arg(&other)
        .output()
        .unwrap();
    let foreign_aud = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // Signed by another Warden entirely.
    let elsewhere = workspace();
    configure(elsewhere.path(), "", POLICIES);
    add_agent(elsewhere.path(), "alice", &["team=support"]);
    let foreign_key = token(elsewhere.path(), "alice", "10m", &[]);
    // Revoked.
    let revoked = token(dir.path(), "alice", "10m", &[]);
    let payload = revoked.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    cli(
        dir.path(),
        &["token", "revoke", claims["jti"].as_str().unwrap()],
    );
    // Replayed after the agent was removed and created again under the same name.
    let old_bob = token(dir.path(), "bob", "10m", &[]);
    cli(dir.path(), &["agent", "remove", "bob"]);
    add_agent(dir.path(), "bob", &["team=finance"]);
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    rt().block_on(async {
        for (what, t) in [
            ("audience", &foreign_aud),
            ("foreign key", &foreign_key),
            ("revoked", &revoked),
            ("replayed", &old_bob),
        ] {
            let (status, headers, _) = gw.post(Some(t), None, &init).await;
            assert_eq!(status, 401, "{what}");
            assert!(
                challenge(&headers).contains("invalid_token"),
                "{what}: {}",
                challenge(&headers)
            );
        }
        // The new bob works.
        let new_bob = token(dir.path(), "bob", "10m", &[]);
        assert_eq!(gw.post(Some(&new_bob), None, &init).await.0, 200);
    });
}

#[test]
fn suspension_takes_effect_on_the_next_call_and_sessions_belong_to_their_agent() {
    let (dir, gw) = setup();
    let alice = token(dir.path(), "alice", "10m", &[]);
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let sa = gw.initialize(&alice).await;
        let (status, _, _) = gw
            .call(&alice, &sa, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 200);
        // Bob cannot ride Alice's session.
        let (status, _, _) = gw
            .call(&bob, &sa, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 404);
        cli(&gw.dir, &["agent", "suspend", "alice"]);
        let (status, headers, _) = gw
            .call(&alice, &sa, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 403);
        assert!(
            challenge(&headers).contains("suspended"),
            "{}",
            challenge(&headers)
        );
        cli(&gw.dir, &["agent", "resume", "alice"]);
        let (status, _, body) = gw
            .call(&alice, &sa, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 200, "{body}");
        // A deleted session is gone.
        assert_eq!(gw.delete_session(&alice, &sa).await, 204);
        let (status, _, _) = gw
            .call(&alice, &sa, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 404);
    });
}

#[test]
fn origin_host_and_bad_input_are_refused_clearly() {
    let (dir, gw) = setup();
    let alice = token(dir.path(), "alice", "10m", &[]);
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    rt().block_on(async {
        let (status, _, _) = gw
            .post_with(
                Some(&alice),
                None,
                &init,
                &[("origin", "http://evil.example")],
            )
            .await;
        assert_eq!(status, 403);
        let (status, _, _) = gw
            .post_with(Some(&alice), None, &init, &[("host", "evil.example")])
            .await;
        assert_eq!(status, 421);
        // Host checks come before authentication: no token needed to be turned away.
        let (status, _, _) = gw
            .post_with(None, None, &init, &[("host", "evil.example:8787")])
            .await;
        assert_eq!(status, 421);
        let s = gw.initialize(&alice).await;
        let raw = |body: Vec<u8>| {
            gw.client
                .post(gw.mcp())
                .header("authorization", format!("Bearer {alice}"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", &s)
                .body(body)
                .send()
        };
        let r = raw(b"{not json".to_vec()).await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], -32700);
        let r = raw(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]".to_vec())
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let r = raw(vec![0xff, 0xfe, b'{', b'}']).await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let r = raw(deep.into_bytes()).await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let big = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}",
            "a".repeat(5 * 1024 * 1024)
        );
        // On its own connection: the server answers 413 without reading the rest and closes
        // that connection, which must not break the pooled one the other requests use.
        let r = reqwest::Client::new()
            .post(gw.mcp())
            .header("authorization", format!("Bearer {alice}"))
            .header("content-type", "application/json")
            .header("mcp-session-id", &s)
            .body(big.into_bytes())
            .send()
            .await;
        // The answer is 413; a client still writing the body when the server closes may see
        // the connection reset before it reads that answer (a race in TCP, not a success).
        match r {
            Ok(r) => assert_eq!(r.status().as_u16(), 413),
            Err(e) => assert!(
                e.is_request() || e.is_body() || e.is_connect(),
                "neither 413 nor a closed connection: {e:?}"
            ),
        }
        // Missing and unknown sessions.
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        assert_eq!(gw.post(Some(&alice), None, &call).await.0, 400);
        assert_eq!(
            gw.post(Some(&alice), Some("0123456789abcdef"), &call)
                .await
                .0,
            404
        );
        // The session still works after all that.
        assert_eq!(
            gw.tools(&alice, &s).await,
            ["demo__echo", "demo__get_order"]
        );
    });
}

pub(crate) fn modern(method: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}});
    json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params})
}

#[test]
fn concurrent_first_calls_start_one_upstream() {
    let (dir, gw) = setup();
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let call = modern(
            "tools/call",
            json!({"name": "demo__get_order", "arguments": {"order_id": "C1"}}),
        );
        let calls = (0..8).map(|_| {
            gw.post_with(
                Some(&bob),
                None,
                &call,
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "demo__get_order"),
                ],
            )
        });
        for (status, _, body) in futures_util::future::join_all(calls).await {
            assert_eq!(status, 200, "{body}");
        }
    });
    let received = std::fs::read_to_string(dir.path().join("demo-received.jsonl")).unwrap();
    let probes = received
        .lines()
        .filter(|l| l.contains("server/discover"))
        .count();
    assert_eq!(probes, 1, "one upstream process, probed once: {received}");
}

#[test]
fn modern_clients_are_stateless_and_their_headers_are_checked() {
    let (dir, gw) = setup();
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let v = [("mcp-protocol-version", "2026-07-28")];
        let (status, _, d) = gw
            .post_with(
                Some(&bob),
                None,
                &modern("server/discover", json!({})),
                &[v[0], ("mcp-method", "server/discover")],
            )
            .await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["result"]["supportedVersions"], json!(["2026-07-28"]));
        let (status, _, l) = gw
            .post_with(
                Some(&bob),
                None,
                &modern("tools/list", json!({})),
                &[v[0], ("mcp-method", "tools/list")],
            )
            .await;
        assert_eq!(status, 200, "{l}");
        assert_eq!(l["result"]["resultType"], "complete");
        assert_eq!(l["result"]["cacheScope"], "private");
        assert_eq!(l["result"]["tools"].as_array().unwrap().len(), 3, "{l}");
        let call = modern(
            "tools/call",
            json!({"name": "demo__get_order", "arguments": {"order_id": "M1"}}),
        );
        let (status, _, c) = gw
            .post_with(
                Some(&bob),
                None,
                &call,
                &[
                    v[0],
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "demo__get_order"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(text(&c), "order M1: 2 items, paid, shipped");
        // Header and body disagree: 400 with -32020, nothing forwarded.
        for headers in [
            vec![
                v[0],
                ("mcp-method", "tools/call"),
                ("mcp-name", "demo__refund"),
            ],
            vec![
                v[0],
                ("mcp-method", "tools/list"),
                ("mcp-name", "demo__get_order"),
            ],
            vec![v[0], ("mcp-name", "demo__get_order")],
            vec![
                ("mcp-method", "tools/call"),
                ("mcp-name", "demo__get_order"),
            ],
        ] {
            let (status, _, e) = gw.post_with(Some(&bob), None, &call, &headers).await;
            assert_eq!(status, 400, "{headers:?}: {e}");
            assert_eq!(e["error"]["code"], -32020, "{e}");
        }
        // Base64 form of the name header.
        let (status, _, _) = gw
            .post_with(
                Some(&bob),
                None,
                &call,
                &[
                    v[0],
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "=?base64?ZGVtb19fZ2V0X29yZGVy?="),
                ],
            )
            .await;
        assert_eq!(status, 200);
        // No standalone stream in 2026-07-28.
        let r = gw
            .client
            .get(gw.mcp())
            .header("authorization", format!("Bearer {bob}"))
            .header("mcp-protocol-version", "2026-07-28")
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405);
    });
    let received = std::fs::read_to_string(dir.path().join("demo-received.jsonl")).unwrap();
    assert_eq!(
        received
            .lines()
            .filter(|l| l.contains("\"tools/call\""))
            .count(),
        2,
        "{received}"
    );
}

#[test]
fn http_upstreams_get_warden_credentials_never_the_agent_token() {
    let dir = workspace();
    let record = dir.path().join("http-received.jsonl");
    let mut server = KillOnDrop(
        std::process::Command::new(crate::support::warden())
            .args(["demo-server", "--http", "127.0.0.1:0", "--record"])
            .arg(&record)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line.trim().to_owned();
    configure(
        dir.path(),
        &format!(
            "[upstreams.orders]\nurl = {url:?}\nheaders = {{ Authorization = \"Bearer ${{secret:orders-key}}\" }}\n"
        ),
        POLICIES,
    );
    let mut set = std::process::Command::new(crate::support::warden())
        .args(["secret", "set", "orders-key", "--config"])
        .arg(dir.path().join("warden.toml"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(set.stdin.as_mut().unwrap(), b"upstream-credential-123\n").unwrap();
    drop(set.stdin.take());
    assert!(set.wait().unwrap().success());
    add_agent(dir.path(), "bob", &["team=finance"]);
    let gw = Gateway::start(dir.path());
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let s = gw.initialize(&bob).await;
        assert_eq!(
            gw.tools(&bob, &s).await,
            ["orders__echo", "orders__get_order", "orders__refund"]
        );
        let (_, _, r) = gw
            .call(&bob, &s, "orders__get_order", json!({"order_id": "H1"}))
            .await;
        assert_eq!(text(&r), "order H1: 2 items, paid, shipped", "{r}");
        // Modern era over the same upstream.
        let call = modern(
            "tools/call",
            json!({"name": "orders__get_order", "arguments": {"order_id": "H2"}}),
        );
        let (status, _, c) = gw
            .post_with(
                Some(&bob),
                None,
                &call,
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "orders__get_order"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(text(&c), "order H2: 2 items, paid, shipped", "{c}");
    });
    drop(server);
    let received = std::fs::read_to_string(&record).unwrap();
    assert!(received.lines().count() >= 4, "{received}");
    assert!(
        !received.contains(&bob),
        "the agent's token reached the upstream"
    );
    for l in received.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(
            v["headers"]["authorization"], "Bearer upstream-credential-123",
            "{l}"
        );
    }
    // The credential is sealed in the state file.
    let state = std::fs::read(dir.path().join(".warden/state.db")).unwrap();
    assert!(!state.windows(23).any(|w| w == b"upstream-credential-123"));
}

#[test]
fn decision_and_scan_api() {
    let (dir, gw) = setup();
    let bob = token(dir.path(), "bob", "10m", &["decide", "scan"]);
    let plain = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let decide = |t: String, body: Value| {
            let gw = &gw;
            async move {
                let r = gw.client.post(format!("{}/v1/decide", gw.base)).header("authorization", format!("Bearer {t}")).json(&body).send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (s, d) = decide(bob.clone(), json!({"action": "call_tool", "resource": "demo/refund", "arguments": {"order_id": "A1", "amount": 20}})).await;
        assert_eq!((s, d["decision"].as_str()), (200, Some("allow")), "{d}");
        assert!(d["audit_seq"].as_i64().unwrap() > 0);
        let (_, d) = decide(bob.clone(), json!({"action": "call_tool", "resource": "demo/refund", "arguments": {"order_id": "A1", "amount": 500}})).await;
        assert_eq!(d["decision"], "approval_required", "{d}");
        let (_, d) = decide(bob.clone(), json!({"action": "call_tool", "resource": "demo/delete_account", "arguments": {"user": "u"}})).await;
        assert_eq!(d["decision"], "deny", "{d}");
        assert_eq!(d["policies"], json!(["no-delete"]));
        // A credential in the arguments is refused by detection even where policy allows.
        let (_, d) = decide(bob.clone(), json!({"action": "call_tool", "resource": "demo/echo", "arguments": {"text": "token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"}})).await;
        assert_eq!(d["decision"], "deny", "{d}");
        let (s, d) = decide(bob.clone(), json!({"action": "fly", "resource": "demo/echo"})).await;
        assert_eq!(s, 400, "{d}");
        // Bodies another reader would read otherwise: serde_json's private key, keys that
        // differ only in case.
        for arguments in [
            json!({"$serde_json::private::RawValue": "{}"}),
            json!({"user": "a", "User": "b"}),
        ] {
            let (s, d) = decide(bob.clone(), json!({"action": "call_tool", "resource": "demo/echo", "arguments": arguments})).await;
            assert_eq!(s, 400, "{d}");
        }
        let (s, _) = decide(plain.clone(), json!({"action": "call_tool", "resource": "demo/echo"})).await;
        assert_eq!(s, 403);
        let r = gw.client.post(format!("{}/v1/scan", gw.base)).header("authorization", format!("Bearer {bob}")).json(&json!({"text": "mail ada@example.com, token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let found: Value = r.json().await.unwrap();
        let kinds: Vec<&str> = found["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"pii") && kinds.contains(&"secret"), "{found}");
        let doc: Value = gw.client.get(format!("{}/openapi.json", gw.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/v1/decide"]["post"].is_object());
    });
}

#[test]
fn a_crashed_stdio_upstream_is_restarted() {
    let (dir, gw) = setup();
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let s = gw.initialize(&bob).await;
        let (_, _, r) = gw
            .call(&bob, &s, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(text(&r), "order A1: 2 items, paid, shipped");
        let marker = dir.path().join("demo-received.jsonl").display().to_string();
        let killed = std::process::Command::new("pkill")
            .args(["-9", "-f", &marker])
            .status()
            .unwrap();
        assert!(killed.success());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, _, r) = gw
            .call(&bob, &s, "demo__get_order", json!({"order_id": "A2"}))
            .await;
        assert_eq!(text(&r), "order A2: 2 items, paid, shipped", "{r}");
    });
}

#[test]
fn unreachable_and_silent_upstreams_are_clear_errors() {
    let dir = workspace();
    let upstreams = format!(
        "{}\n[upstreams.silent]\ncommand = [\"sh\", \"-c\", \"cat > /dev/null\"]\n\n[upstreams.dead]\nurl = \"http://127.0.0.1:1/mcp\"\n",
        demo_stdio(dir.path())
    );
    configure(dir.path(), &upstreams, POLICIES);
    let config = std::fs::read_to_string(dir.path().join("warden.toml"))
        .unwrap()
        .replace("call_timeout_ms = 20000", "call_timeout_ms = 1500");
    std::fs::write(dir.path().join("warden.toml"), config).unwrap();
    add_agent(dir.path(), "bob", &["team=finance"]);
    let gw = Gateway::start(dir.path());
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        // The session starts; the listing holds what the working upstream offers.
        let s = gw.initialize(&bob).await;
        assert_eq!(
            gw.tools(&bob, &s).await,
            ["demo__echo", "demo__get_order", "demo__refund"]
        );
        let (status, _, body) = gw.call(&bob, &s, "dead__anything", json!({})).await;
        assert_eq!(status, 200);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("`dead`") && message.contains("unavailable"),
            "{body}"
        );
        let (_, _, body) = gw.call(&bob, &s, "silent__anything", json!({})).await;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("`silent`"), "{body}");
        // The working upstream is unaffected.
        let (_, _, r) = gw
            .call(&bob, &s, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(text(&r), "order A1: 2 items, paid, shipped");
    });
}

#[test]
fn an_agent_holds_at_most_its_session_limit() {
    let (dir, gw) = setup_with(Some(2));
    let alice = token(dir.path(), "alice", "10m", &[]);
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        let first = gw.initialize(&alice).await;
        let _second = gw.initialize(&alice).await;
        let (status, headers, body) = gw.post(Some(&alice), None, &init).await;
        assert_eq!(status, 429, "{body}");
        assert!(headers.get("mcp-session-id").is_none());
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("alice") && message.contains("max_sessions_per_agent"),
            "{message}"
        );
        // The limit is per agent.
        let theirs = gw.initialize(&bob).await;
        let (status, _, _) = gw
            .call(&bob, &theirs, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 200);
        // A closed session makes room; the open ones still work.
        assert_eq!(gw.delete_session(&alice, &first).await, 204);
        let third = gw.initialize(&alice).await;
        let (status, _, body) = gw
            .call(&alice, &third, "demo__get_order", json!({"order_id": "A1"}))
            .await;
        assert_eq!(status, 200, "{body}");
    });
}
