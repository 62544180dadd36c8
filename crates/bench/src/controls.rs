//! What runtime controls cost per call: `warden mcp` with rate limits, a concurrency cap, a
//! budget, the upstream and agent breakers and OTLP span export, against the same pipeline with
//! them off, side by side in one run (1 KB `tools/call`, blocks alternating).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;

use anyhow::Result;
use serde_json::json;

use crate::latency::{Peer, compare};
use crate::stats::Samples;

const CONTROLS: &str = r#"
[[limits.rate]]
name = "calls"
per = ["agent", "tool"]
calls = 1000000
every_secs = 1

[[limits.concurrency]]
name = "in-flight"
per = ["agent"]
max = 64

[[limits.budget]]
name = "daily"
per = ["agent"]
period = "day"
calls = 100000000
bytes = 100000000000

[breaker]
min_calls = 10
error_rate = 0.5

[agent_breaker]
max_denials = 1000
max_findings = 1000
"#;

/// An OTLP sink: answers every POST with 200 (keep-alive), counting the requests.
fn sink() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let Ok(clone) = conn.try_clone() else { return };
                let mut reader = BufReader::new(clone);
                let mut writer = conn;
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err()
                        || writer
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok(url)
}

pub fn run(warden: &Path) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let init = Command::new(warden).arg("init").arg(dir.path()).output()?;
    anyhow::ensure!(init.status.success(), "warden init failed");
    let off = dir.path().join("warden.toml");
    let base = std::fs::read_to_string(&off)?;
    let limits = dir.path().join("warden-limits.toml");
    std::fs::write(&limits, format!("{base}\n{CONTROLS}"))?;
    let all = dir.path().join("warden-controls.toml");
    let endpoint = sink()?;
    std::fs::write(
        &all,
        format!("{base}\n{CONTROLS}\n[telemetry]\notlp_endpoint = \"{endpoint}\"\n"),
    )?;
    let text = "x".repeat(1024);
    let mut id = 0u64;
    let mut request = || {
        id += 1;
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": text}}}).to_string()
    };
    println!("## Runtime controls: `warden mcp` with them vs without (1 KB tools/call)\n");
    println!("| with | without p50 | with p50 | added p50 | without p99 | with p99 | calls each |");
    println!("|---|---|---|---|---|---|---|");
    for (what, config) in [
        ("limits and breakers", &limits),
        ("limits, breakers and OTLP export", &all),
    ] {
        let (mut plain, mut controlled) =
            (Peer::proxied(warden, &off)?, Peer::proxied(warden, config)?);
        let (a, b) = compare(&mut plain, &mut controlled, &mut request)?;
        let n = a.len();
        let (a, b) = (Samples::new(a), Samples::new(b));
        println!(
            "| {what} | {:.1} µs | {:.1} µs | **{:.1} µs** | {:.1} µs | {:.1} µs | {n} |",
            a.pct(50.0),
            b.pct(50.0),
            b.pct(50.0) - a.pct(50.0),
            a.pct(99.0),
            b.pct(99.0)
        );
    }
    Ok(())
}
