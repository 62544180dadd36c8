//! Starting `warden serve` and talking to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::warden;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running gateway; killed on drop.
pub struct Gateway {
    pub child: Child,
    pub dir: PathBuf,
    pub base: String,
    pub client: reqwest::Client,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `warden.toml` for a gateway on a free port with `upstreams` (TOML) and policies.
pub fn configure(dir: &Path, upstreams: &str, policies: &str) -> u16 {
    let port = free_port();
    std::fs::write(dir.join("policies.cedar"), policies).unwrap();
    std::fs::write(
        dir.join("warden.toml"),
        format!(
            r#"
[policy]
schema = "warden.cedarschema"
files = ["policies.cedar"]

[audit]
path = "audit.db"

[gateway]
listen = "127.0.0.1:{port}"
call_timeout_ms = 20000

{upstreams}
{sandbox}"#,
            sandbox = super::SANDBOX
        ),
    )
    .unwrap();
    port
}

/// Sets `[gateway] max_sessions_per_agent` in the config `configure` wrote.
pub fn limit_sessions(dir: &Path, most: usize) {
    let config = dir.join("warden.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "call_timeout_ms = 20000",
            &format!("call_timeout_ms = 20000\nmax_sessions_per_agent = {most}"),
        ),
    )
    .unwrap();
}

/// The demo server over stdio as upstream `demo`, recording what it receives.
pub fn demo_stdio(dir: &Path) -> String {
    format!(
        "[upstreams.demo]\ncommand = [{:?}, \"demo-server\", \"--record\", {:?}]\n",
        warden().display().to_string(),
        dir.join("demo-received.jsonl").display().to_string()
    )
}

/// Runs a `warden` subcommand in `dir` (with its config); returns stdout.
pub fn cli(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(warden())
        .args(args)
        .arg("--config")
        .arg(dir.join("warden.toml"))
        .env("WARDEN_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success(), "warden {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

pub fn add_agent(dir: &Path, name: &str, attrs: &[&str]) {
    let mut args = vec!["agent", "add", name];
    for a in attrs {
        args.push("--attr");
        args.push(a);
    }
    cli(dir, &args);
}

pub fn token(dir: &Path, agent: &str, ttl: &str, scopes: &[&str]) -> String {
    let mut args = vec!["token", "issue", agent, "--ttl", ttl];
    for s in scopes {
        args.push("--scope");
        args.push(s);
    }
    cli(dir, &args).trim().to_owned()
}

impl Gateway {
    pub fn start(dir: &Path) -> Self {
        let mut child = Command::new(warden())
            .args(["serve", "--config"])
            .arg(dir.join("warden.toml"))
            .env("WARDEN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .strip_prefix("warden: serving MCP at ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        std::thread::spawn(move || for _ in lines {});
        let base = url.trim_end_matches("/mcp").to_owned();
        Self {
            child,
            dir: dir.to_owned(),
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn mcp(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// POSTs one JSON-RPC message; returns status, headers and the body as JSON (an SSE
    /// body is reduced to its last event).
    pub async fn post(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.post_with(token, session, body, &[]).await
    }

    pub async fn post_with(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
        extra: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let (status, headers, text) = self.post_text(token, session, body, extra).await;
        let value = if headers
            .get("content-type")
            .is_some_and(|c| c.to_str().unwrap().starts_with("text/event-stream"))
        {
            text.lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .rfind(|d| !d.is_empty())
                .map(|d| serde_json::from_str(d).unwrap())
                .unwrap_or(Value::Null)
        } else if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, headers, value)
    }

    /// [`Gateway::post_with`], the body as received (an SSE body whole).
    pub async fn post_text(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
        extra: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self
            .client
            .post(self.mcp())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-11-25");
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }

    /// `DELETE` of a legacy session; returns the status.
    pub async fn delete_session(&self, token: &str, session: &str) -> u16 {
        self.client
            .delete(self.mcp())
            .header("authorization", format!("Bearer {token}"))
            .header("mcp-session-id", session)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// `initialize` + `initialized`; returns the session id.
    pub async fn initialize(&self, token: &str) -> String {
        let (status, headers, body) = self
            .post(Some(token), None, &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
            .await;
        assert_eq!(status, 200, "{body}");
        let session = headers["mcp-session-id"].to_str().unwrap().to_owned();
        let (status, _, _) = self
            .post(
                Some(token),
                Some(&session),
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(status, 202);
        session
    }

    pub async fn tools(&self, token: &str, session: &str) -> Vec<String> {
        let (status, _, body) = self
            .post(
                Some(token),
                Some(session),
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let mut names: Vec<String> = body["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    pub async fn call(
        &self,
        token: &str,
        session: &str,
        tool: &str,
        args: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.post(Some(token), Some(session), &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": args}}))
            .await
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A child process killed (and reaped) when dropped, also when a test fails.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
