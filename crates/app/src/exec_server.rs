//! The built-in `exec` tool (opt-in: `exec = { ... }` on an upstream): an MCP server of
//! Warden's own, started unconfined as a stdio upstream, whose one tool runs a command inside
//! the configured sandbox profile, with a timeout and output limits. The call goes through the
//! whole pipeline like any tool call (policy sees `context.args.command`), and each command
//! gets a fresh sandbox that dies with it.
#![expect(
    clippy::indexing_slicing,
    reason = "indexing a serde_json::Value by key yields Null, it never panics"
)]

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use warden_mcp::era::{META_VERSION, MODERN};
use warden_sandbox::{Command, Helper, Profile};

/// The shell that runs each command line.
const SHELL: &str = "/bin/sh";

/// The hidden subcommand that runs this server.
pub const COMMAND: &str = "exec-server";

/// What the server is started with (one JSON argument).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSettings {
    /// The profile every command runs in.
    pub profile: Profile,
    /// Warden's executable (the sandbox helper) and the test hook.
    pub helper_exe: std::path::PathBuf,
    pub missing: Vec<warden_sandbox::Mechanism>,
    /// Longest a command may run.
    pub timeout_ms: u64,
    /// Most bytes kept of stdout and of stderr each.
    pub max_output_bytes: usize,
    /// The commands' environment.
    pub env: Vec<(String, String)>,
    /// Working directory of commands that do not name one.
    pub cwd: Option<std::path::PathBuf>,
}

fn tool(s: &ExecSettings) -> Value {
    json!({
        "name": "exec",
        "description": format!(
            "Run a shell command (`/bin/sh -c`) inside the sandbox profile `{}`; it is killed after {} ms, and at most {} bytes of stdout and of stderr are returned.",
            s.profile.name, s.timeout_ms, s.max_output_bytes
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "minLength": 1, "description": "the command line, run by /bin/sh -c"},
                "stdin": {"type": "string", "description": "text written to the program's standard input"},
                "cwd": {"type": "string", "description": "working directory (absolute)"}
            },
            "required": ["command"]
        },
        "annotations": {"readOnlyHint": false, "destructiveHint": true, "openWorldHint": s.profile.network != warden_sandbox::Network::None}
    })
}

fn text_result(text: String, is_error: bool, structured: Value) -> Value {
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": is_error})
}

/// Reads at most `limit` bytes of `r`, draining (and counting) the rest.
async fn capped(mut r: impl tokio::io::AsyncRead + Unpin, limit: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut truncated = false;
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return (kept, truncated),
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                let take = n.min(room);
                kept.extend_from_slice(buf.get(..take).unwrap_or_default());
                truncated |= take < n;
            }
        }
    }
}

/// Runs one `exec` call.
async fn exec(s: &ExecSettings, args: &Value) -> Value {
    let Some(line) = args["command"].as_str().filter(|c| !c.trim().is_empty()) else {
        return text_result(
            "`command` must be a non-empty string".into(),
            true,
            json!({}),
        );
    };
    let cwd = match args["cwd"].as_str() {
        Some(c)
            if warden_sandbox::plan::PRIVATE
                .iter()
                .any(|m| std::path::Path::new(c).starts_with(m)) =>
        {
            return text_result(
                format!(
                    "`cwd` cannot be under the sandbox's private {}",
                    warden_sandbox::plan::PRIVATE.join(" or ")
                ),
                true,
                json!({}),
            );
        }
        Some(c) if std::path::Path::new(c).is_absolute() => Some(c.into()),
        Some(c) => {
            return text_result(
                format!("`cwd` must be absolute, not `{c}`"),
                true,
                json!({}),
            );
        }
        None => s.cwd.clone(),
    };
    let command = Command {
        program: SHELL.to_owned(),
        args: vec!["-c".to_owned(), line.to_owned()],
        env: s.env.clone(),
        cwd,
    };
    let helper = Helper {
        exe: s.helper_exe.clone(),
        missing: s.missing.clone(),
    };
    let launch = match warden_sandbox::transform(&command, Some(&s.profile), &helper) {
        Ok(l) => l,
        Err(e) => return text_result(e.to_string(), true, json!({})),
    };
    let mut child = match warden_sandbox::spawn(&launch) {
        Ok(c) => c,
        Err(e) => return text_result(e.to_string(), true, json!({})),
    };
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return text_result("the command started without pipes".into(), true, json!({}));
    };
    let input = args["stdin"].as_str().unwrap_or_default().to_owned();
    tokio::spawn(async move {
        let _ = stdin.write_all(input.as_bytes()).await;
    });
    let limit = s.max_output_bytes;
    let out = tokio::spawn(capped(stdout, limit));
    let err = tokio::spawn(capped(stderr, limit));
    let timeout = Duration::from_millis(s.timeout_ms);
    let (status, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => (status.ok(), false),
        Err(_) => {
            // Killing the helper takes the whole sandbox (every process in it) down.
            let _ = child.kill().await;
            (None, true)
        }
    };
    let (stdout, out_cut) = out.await.unwrap_or_default();
    let (stderr, err_cut) = err.await.unwrap_or_default();
    let code = status.and_then(|s| s.code());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    let how = if timed_out {
        format!("killed after {} ms", s.timeout_ms)
    } else {
        code.map_or_else(
            || "killed by a signal".to_owned(),
            |c| format!("exit status {c}"),
        )
    };
    let mut text = format!("{how}\n");
    if !stdout.is_empty() {
        text.push_str(&format!(
            "--- stdout{} ---\n{stdout}\n",
            if out_cut { " (truncated)" } else { "" }
        ));
    }
    if !stderr.is_empty() {
        text.push_str(&format!(
            "--- stderr{} ---\n{stderr}\n",
            if err_cut { " (truncated)" } else { "" }
        ));
    }
    text_result(
        text,
        timed_out || code != Some(0),
        json!({"exit_code": code, "timed_out": timed_out, "stdout": stdout, "stderr": stderr, "truncated": out_cut || err_cut}),
    )
}

async fn handle(s: &ExecSettings, msg: &Value) -> Option<Value> {
    let id = msg.get("id")?.clone();
    let method = msg.get("method")?.as_str()?;
    let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
    let modern = params["_meta"][META_VERSION].as_str() == Some(MODERN);
    let info = json!({"name": "warden-exec", "version": env!("CARGO_PKG_VERSION")});
    let mut result = match method {
        "initialize" | "server/discover" | "ping" => {
            crate::demo_server::lifecycle(method, &params, &info)?
        }
        "tools/list" => json!({"tools": [tool(s)]}),
        "tools/call" if params["name"] == "exec" => exec(s, &params["arguments"]).await,
        "tools/call" => text_result(
            format!("unknown tool `{}`", params["name"]),
            true,
            json!({}),
        ),
        _ => {
            return Some(
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("method not found: {method}")}}),
            );
        }
    };
    if modern && let Some(obj) = result.as_object_mut() {
        obj.insert("resultType".into(), json!("complete"));
    }
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// Serves on stdin/stdout until stdin closes; calls run concurrently.
pub async fn serve(settings: ExecSettings) -> std::io::Result<()> {
    let settings = Arc::new(settings);
    let out = Arc::new(tokio::sync::Mutex::new(tokio::io::stdout()));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(line) = lines.next_line().await? {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let (settings, out) = (settings.clone(), out.clone());
        tasks.spawn(async move {
            if let Some(reply) = handle(&settings, &msg).await {
                let line = warden_mcp::message::line(&reply);
                let mut out = out.lock().await;
                let _ = out.write_all(&line).await;
                let _ = out.flush().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}
