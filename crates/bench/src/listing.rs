//! Start-up and long tool listings through `warden mcp` (`warden-bench listing --warden W
//! [--against OLD]`). Start-up: from starting the process to the answer to `initialize`,
//! Warden in front of the demo server against the demo server alone. Listings:
//! an upstream that lists 100 or 1,000 tools, listed again and again as agents do (at start,
//! on `list_changed`, per conversation), directly and through Warden, with another server's
//! as many tools already pinned in the same approvals file (a second server in the same
//! workspace: every listing is checked for names that imitate its tools), each build in a
//! workspace of its own; the first listing through Warden, which pins every tool, is timed on
//! its own. The same through `warden serve` with two upstreams. The upstream is this binary
//! (`warden-bench tools-server N PREFIX`), so both sides list the very same bytes.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::gateway::{Setup, open_session, post};
use crate::http1::Conn;
use crate::latency::Peer;
use crate::stats::Samples;

/// Listings timed per side and size, in alternating blocks.
const LISTINGS: usize = 40;
const BLOCK: usize = 5;

/// `warden-bench tools-server N PREFIX`: a stdio MCP server with `N` tools named
/// `PREFIX` + `tool_<i>`, each with a description and a small input schema.
pub fn server(args: &[String]) -> Result<()> {
    let count: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .context("tools-server N [PREFIX]")?;
    let prefix = args.get(2).map_or("", String::as_str);
    let tools: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "name": format!("{prefix}tool_{i}"),
                "description": format!("Lists, reads and updates the items of kind {i} in the repository; returns at most `limit` of them."),
                "inputSchema": {"type": "object", "properties": {"id": {"type": "string", "description": "Item id."}, "limit": {"type": "integer", "minimum": 1}}, "required": ["id"]},
                "annotations": {"readOnlyHint": i % 2 == 0}
            })
        })
        .collect();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let message: Value = serde_json::from_str(&line?)?;
        let Some(id) = message.get("id") else {
            continue;
        };
        let result = match message.get("method").and_then(Value::as_str) {
            Some("initialize") => json!({
                "protocolVersion": message.pointer("/params/protocolVersion"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "tools-server", "version": "1"}
            }),
            Some("tools/list") => json!({"tools": tools}),
            Some("tools/call") => json!({"content": [{"type": "text", "text": "ok"}]}),
            _ => json!({}),
        };
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": result});
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

/// Start-ups timed per side, alternating.
const STARTS: usize = 15;

pub fn run(warden: &Path, against: Option<&Path>) -> Result<()> {
    startup(warden, against)?;
    gateway(warden, against)?;
    let bench = std::env::current_exe()?;
    println!("## tools/list through `warden mcp` (another server's as many tools pinned)\n");
    println!(
        "| tools | build | first listing (pins every tool) | direct p50 | through Warden p50 | p99 | added p50 | Warden CPU per listing |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for count in [100, 1000] {
        let through = |proxy: &Path, config: &Path, prefix: &str| {
            let mut cmd = Command::new(proxy);
            cmd.arg("mcp").arg("--config").arg(config).arg("--");
            cmd.arg(&bench).args(tools_server(count, prefix));
            Peer::start(&mut cmd)
        };
        let mut builds = vec![("NEW", warden)];
        builds.extend(against.map(|old| ("OLD", old)));
        // Each build in a workspace of its own, the other server's tools pinned first.
        let mut sides = Vec::new();
        for (name, build) in &builds {
            let dir = tempfile::tempdir()?;
            let (config, other) = configs(warden, dir.path())?;
            through(warden, &other, "other_")?.roundtrip(LIST)?;
            let mut peer = through(build, &config, "")?;
            let first = peer.roundtrip(LIST)?;
            let cpu = peer.cpu_secs();
            sides.push((*name, dir, peer, first, cpu, Vec::new()));
        }
        let mut direct = Peer::start(Command::new(&bench).args(tools_server(count, "")))?;
        let mut base = Vec::new();
        direct.roundtrip(LIST)?;
        for block in 0..LISTINGS / BLOCK {
            for turn in 0..=sides.len() {
                let who = (turn + block) % (sides.len() + 1);
                for _ in 0..BLOCK {
                    match sides.get_mut(who) {
                        Some((_, _, peer, _, _, times)) => times.push(peer.roundtrip(LIST)?),
                        None => base.push(direct.roundtrip(LIST)?),
                    }
                }
            }
        }
        let base = Samples::new(base);
        for (name, _dir, peer, first, before, times) in sides {
            let cpu = (peer.cpu_secs() - before) / LISTINGS as f64 * 1e3;
            let with = Samples::new(times);
            println!(
                "| {count} | {name} | {:.1} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {cpu:.2} ms |",
                first.as_secs_f64() * 1e3,
                base.pct(50.0) / 1e3,
                with.pct(50.0) / 1e3,
                with.pct(99.0) / 1e3,
                (with.pct(50.0) - base.pct(50.0)) / 1e3,
            );
        }
    }
    println!();
    Ok(())
}

/// Agent sessions opened on `warden serve` per build.
const SESSIONS: usize = 10;
/// Tools each of the gateway's two upstreams lists.
const GATEWAY_TOOLS: usize = 300;

/// `tools/list` through `warden serve` with two stdio upstreams of [`GATEWAY_TOOLS`] tools
/// each: every new agent session starts its own upstreams and reviews their listings; its
/// first and second listing are timed, sessions alternating between builds.
fn gateway(warden: &Path, against: Option<&Path>) -> Result<()> {
    let bench = std::env::current_exe()?;
    let server = |prefix: &str| {
        let mut command = vec![bench.display().to_string()];
        command.extend(tools_server(GATEWAY_TOOLS, prefix));
        command
    };
    let second = format!("\n[upstreams.beta]\ncommand = {:?}\n", server("b_"));
    let mut builds = vec![("NEW", warden)];
    builds.extend(against.map(|old| ("OLD", old)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut sides = Vec::new();
        for (name, build) in &builds {
            let setup = Setup::command(warden, &server("a_"), |t| t + &second)?;
            allow_every_tool(setup.dir())?;
            let (gateway, target) = setup.through(build, false)?;
            let auth = format!("Bearer {}", target.token.context("a token")?);
            sides.push((*name, setup, gateway, target.url, auth, Vec::new(), Vec::new()));
        }
        for _ in 0..SESSIONS {
            for (_, _, _, url, auth, first, again) in &mut sides {
                let mut conn = Conn::connect(url).await?;
                let session = open_session(&mut conn, auth).await?;
                for times in [first, again] {
                    let started = std::time::Instant::now();
                    let answer = post(&mut conn, Some(auth), Some(&session), LIST, None).await?;
                    times.push(started.elapsed());
                    let listed: Value = serde_json::from_slice(&answer.body)?;
                    let count = listed
                        .pointer("/result/tools")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    anyhow::ensure!(count == 2 * GATEWAY_TOOLS, "{count} tools listed");
                }
            }
        }
        println!(
            "## tools/list through `warden serve`, two stdio upstreams of {GATEWAY_TOOLS} tools each ({SESSIONS} sessions a build, alternating)\n"
        );
        println!("| build | a session's first listing p50 | its second p50 |");
        println!("|---|---|---|");
        for (name, _, _, _, _, first, again) in sides {
            println!(
                "| {name} | {:.1} ms | {:.1} ms |",
                Samples::new(first).pct(50.0) / 1e3,
                Samples::new(again).pct(50.0) / 1e3
            );
        }
        println!();
        Ok(())
    })
}

/// Start to `initialize` answered: the demo server alone, and behind each build of Warden
/// (the starter workspace, whose upstream runs in the sandbox Warden proves at start).
fn startup(warden: &Path, against: Option<&Path>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (config, _) = configs(warden, dir.path())?;
    let mut builds = vec![("NEW", warden)];
    builds.extend(against.map(|old| ("OLD", old)));
    let mut direct = Vec::new();
    let mut through = vec![Vec::new(); builds.len()];
    for _ in 0..STARTS {
        let started = std::time::Instant::now();
        drop(Peer::start(Command::new(warden).arg("demo-server"))?);
        direct.push(started.elapsed());
        for ((_, build), times) in builds.iter().zip(&mut through) {
            let started = std::time::Instant::now();
            drop(Peer::proxied_by(build, warden, &config)?);
            times.push(started.elapsed());
        }
    }
    println!("## Start-up: process start to `initialize` answered ({STARTS} each, alternating)\n");
    println!("| build | demo server alone p50 | behind `warden mcp` p50 | added p50 |");
    println!("|---|---|---|---|");
    let direct = Samples::new(direct);
    for ((name, _), times) in builds.iter().zip(through) {
        let with = Samples::new(times);
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
            direct.pct(50.0) / 1e3,
            with.pct(50.0) / 1e3,
            (with.pct(50.0) - direct.pct(50.0)) / 1e3
        );
    }
    println!();
    Ok(())
}

/// Adds to the starter policies of workspace `dir` one that lets the agent call every tool.
fn allow_every_tool(dir: &Path) -> Result<()> {
    let policies = dir.join("policies.cedar");
    let mut text = std::fs::read_to_string(&policies)?;
    text.push_str(
        "\n@id(\"bench-every-tool\")\npermit (principal, action == Action::\"call_tool\", resource);\n",
    );
    std::fs::write(&policies, text)?;
    Ok(())
}

/// The arguments that make this binary a tool server of `count` tools named `prefix` +
/// `tool_<i>` ([`server`]).
fn tools_server(count: usize, prefix: &str) -> [String; 3] {
    [
        "tools-server".to_owned(),
        count.to_string(),
        prefix.to_owned(),
    ]
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;

/// The starter workspace with a policy that lets the agent call every tool (so every tool is
/// listed and pinned), and a second configuration for another upstream in the same workspace.
fn configs(warden: &Path, dir: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let init = Command::new(warden).arg("init").arg(dir).output()?;
    anyhow::ensure!(init.status.success(), "warden init failed");
    allow_every_tool(dir)?;
    let config = dir.join("warden.toml");
    let text = std::fs::read_to_string(&config)?;
    let named = |name: &str| {
        text.replacen(
            "[upstream]\n",
            &format!("[upstream]\nname = \"{name}\"\n"),
            1,
        )
    };
    anyhow::ensure!(
        named("demo") != text,
        "the starter config has no [upstream]"
    );
    std::fs::write(&config, named("demo"))?;
    let other = dir.join("other.toml");
    std::fs::write(&other, named("other"))?;
    Ok((config, other))
}
