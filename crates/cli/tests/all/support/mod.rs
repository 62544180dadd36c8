//! Starting `warden mcp` against the demo server and talking to it line by line.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

pub fn warden() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_warden"))
}

/// A directory with the starter configuration (`warden init`), the audit log inside it.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(warden())
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Upstreams run confined; the demo server records what it receives in the workspace.
    let config = dir.path().join("warden.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(SANDBOX);
    std::fs::write(&config, text).unwrap();
    dir
}

/// A sandbox profile that may write the workspace (where tests keep their records).
pub const SANDBOX: &str =
    "\n[sandbox]\ndefault = \"workspace\"\n\n[sandbox.profiles.workspace]\nwrite = [\".\"]\n";

/// Calls that need approval are refused instead of held.
pub fn disable_approvals(dir: &Path) {
    let path = dir.join("warden.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "[approvals]\nenabled = true",
        "[approvals]\nenabled = false",
    );
    std::fs::write(path, text).unwrap();
}

pub fn set_limit(dir: &Path, bytes: usize) {
    let path = dir.join("warden.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "max_message_bytes = 4194304",
        &format!("max_message_bytes = {bytes}"),
    );
    std::fs::write(path, text).unwrap();
}

pub struct Session {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub record: PathBuf,
    next: i64,
}

impl Session {
    /// `warden mcp` with the demo server (recording what it receives) as upstream.
    pub fn start(dir: &Path) -> Self {
        let record = dir.join("upstream-received.jsonl");
        let upstream = vec![
            warden().display().to_string(),
            "demo-server".into(),
            "--record".into(),
            record.display().to_string(),
        ];
        Self::start_with(dir, &upstream, record)
    }

    pub fn start_with(dir: &Path, upstream: &[String], record: PathBuf) -> Self {
        Self::start_env(dir, upstream, record, &[])
    }

    /// [`Self::start_with`], Warden getting `env` besides the tests' own environment.
    pub fn start_env(
        dir: &Path,
        upstream: &[String],
        record: PathBuf,
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = Command::new(warden())
            .args(["mcp", "--config"])
            .arg(dir.join("warden.toml"))
            .arg("--")
            .args(upstream)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            lines,
            record,
            next: 0,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    pub fn send(&mut self, value: &Value) {
        self.send_raw(format!("{value}\n").as_bytes());
    }

    pub fn recv(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("an answer from warden");
        serde_json::from_str(&line).unwrap()
    }

    pub fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        self.lines
            .recv_timeout(wait)
            .ok()
            .map(|l| serde_json::from_str(&l).unwrap())
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let reply = self.recv();
            // A `list_changed` notification may come in between; nothing else may.
            if reply["id"].is_null()
                && reply["method"]
                    .as_str()
                    .is_some_and(|m| m.ends_with("/list_changed"))
            {
                continue;
            }
            assert_eq!(reply["id"], json!(id), "{reply}");
            return reply;
        }
    }

    pub fn initialize(&mut self) {
        let r = self.request("initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}));
        assert!(r["result"]["protocolVersion"].is_string(), "{r}");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    pub fn call(&mut self, tool: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": args}))
    }

    /// Closes stdin and waits for warden to exit; returns its exit code and stderr.
    pub fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The lines the upstream read, as it read them.
    pub fn upstream_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn upstream_received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// `warden audit verify` on the workspace's audit file passes.
pub fn assert_audit_verifies(dir: &Path) {
    let out = Command::new(warden())
        .args(["audit", "verify", "--file"])
        .arg(dir.join(".warden/audit.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

pub fn audit_records(dir: &Path) -> Vec<Value> {
    audit_records_at(&dir.join(".warden/audit.db"))
}

/// Every record of the audit file at `path`, as exported.
pub fn audit_records_at(path: &Path) -> Vec<Value> {
    let out = Command::new(warden())
        .args(["audit", "export", "--format", "jsonl", "--file"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
/// A one-request HTTP server; returns the body it received.
pub fn webhook_sink() -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        use std::io::Read as _;
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8(body).unwrap()
    });
    (url, handle)
}

pub mod gateway;
