//! What runtime controls cost per call: `warden mcp` with rate limits, a concurrency cap, a
//! budget, the upstream and agent breakers, anomaly scoring and OTLP span export, against the
//! same pipeline with them off, side by side in one run (1 KB `tools/call`, blocks
//! alternating).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;

use anyhow::Result;
use serde_json::json;

use crate::latency::{Peer, Rounds, median_and_rounds, over_rounds};

/// Rounds per configuration, each with fresh processes on both sides (the side started first
/// alternates). Where the scheduler places a pair of processes biases a whole round by tens of
/// microseconds on a shared VM, so a difference of a few needs many rounds.
const ROUNDS: usize = 15;

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

/// Anomaly scoring with every signal active after the first calls (the baseline is learned
/// at once), so each call pays for every check.
const ANOMALY: &str = r#"
[anomaly]
learn_calls = 1
learn_hours = 0.0001
off_hours_learn_hours = 0.0001
suspend_at = "never"
"#;

/// An OTLP sink in its own process (`warden-bench otlp-sink`), as a collector would be: its work
/// is not the load generator's. Killed when dropped.
struct Sink(std::process::Child, String);

impl Sink {
    fn start() -> Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("otlp-sink")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut url = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut url)?;
        }
        anyhow::ensure!(url.starts_with("http://"), "the OTLP sink did not start");
        Ok(Self(child, url.trim().to_owned()))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `warden-bench otlp-sink`: answers every POST with 200 (keep-alive); prints its URL, then
/// serves until killed.
pub fn sink() -> Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    println!("http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    std::thread::scope(|scope| {
        for conn in listener.incoming().flatten() {
            scope.spawn(move || {
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
    Ok(())
}

pub fn run(warden: &Path) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let init = Command::new(warden).arg("init").arg(dir.path()).output()?;
    anyhow::ensure!(init.status.success(), "warden init failed");
    // The starter configuration without its `[anomaly]` section: no controls at all.
    let starter = std::fs::read_to_string(dir.path().join("warden.toml"))?;
    let base = starter
        .find("\n[anomaly]\n")
        .map_or(starter.as_str(), |at| &starter[..at])
        .to_owned();
    anyhow::ensure!(
        base.contains("path = \".warden/audit.db\""),
        "the starter configuration names no audit file"
    );
    // Every configuration, and each row's baseline, gets its own audit file and baselines:
    // two processes appending to one SQLite file would measure their contention.
    let write = |name: &str, extra: &str| -> Result<std::path::PathBuf> {
        let path = dir.path().join(format!("{name}.toml"));
        let text = base.replace(
            "path = \".warden/audit.db\"",
            &format!("path = \"audit-{name}.db\""),
        );
        std::fs::write(&path, format!("{text}\n{extra}"))?;
        Ok(path)
    };
    let sink = Sink::start()?;
    let rows = [
        (
            "nothing (the same configuration on both sides)",
            write("same", "")?,
        ),
        ("limits and breakers", write("limits", CONTROLS)?),
        (
            "limits, breakers and anomaly scoring",
            write("anomaly", &format!("{CONTROLS}\n{ANOMALY}"))?,
        ),
        (
            "limits, breakers, anomaly scoring and OTLP export",
            write(
                "all",
                &format!(
                    "{CONTROLS}\n{ANOMALY}\n[telemetry]\notlp_endpoint = \"{}\"\n",
                    sink.1
                ),
            )?,
        ),
    ];
    // A destination for the anomaly scoring to find (a URL: not PII, so detection acts the
    // same on both sides).
    let text = format!("see https://api.example.com/v1/orders {}", "x".repeat(1000));
    let mut id = 0u64;
    let mut request = || {
        id += 1;
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": text}}}).to_string()
    };
    println!(
        "## Runtime controls: `warden mcp` with them vs without (1 KB tools/call, {ROUNDS} rounds of fresh processes)\n"
    );
    println!(
        "| with | without p50 | with p50 | added p50, median of rounds | rounds | without p99 | with p99 | calls each | added CPU per call, median of rounds (rounds) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (row, (what, config)) in rows.iter().enumerate() {
        let off = write(&format!("off-{row}"), "")?;
        // Each round starts both sides afresh: where the scheduler happens to place a pair of
        // processes biases a whole round, so one round is not enough on a shared VM.
        let Rounds {
            added,
            added_cpu,
            a,
            b,
        } = over_rounds(
            ROUNDS,
            || Peer::proxied(warden, &off),
            || Peer::proxied(warden, config),
            &mut request,
        )?;
        let n = a.len();
        let (median, rounds) = median_and_rounds(&added);
        let (cpu, cpu_rounds) = median_and_rounds(&added_cpu);
        println!(
            "| {what} | {:.1} µs | {:.1} µs | **{median:.1} µs** | {} | {:.1} µs | {:.1} µs | {n} | {cpu:.1} µs ({cpu_rounds}) |",
            a.pct(50.0),
            b.pct(50.0),
            rounds,
            a.pct(99.0),
            b.pct(99.0)
        );
    }
    Ok(())
}
