//! Do held calls slow everyone else down? One agent keeps 1,000 calls held for approval
//! (1,000 open HTTP requests through `warden serve`, each a stored request with its own waiting
//! task), while another agent's unheld calls are measured; rounds without held calls alternate
//! with rounds with them, in the same run. The held calls expire between rounds.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::gateway::{Setup, Target, round, round_short};
use crate::stats::{Samples, median};

const HELD: usize = 1000;
/// Sessions the held calls are spread over.
const HOLDER_SESSIONS: usize = 10;
const CLIENTS: usize = 16;
const ROUNDS: usize = 3;
/// Long enough for the held round to finish before the calls expire.
const TIMEOUT_SECS: u64 = 20;

async fn hold(url: String, token: String, n: usize) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(HELD)
        .timeout(Duration::from_secs(TIMEOUT_SECS + 60))
        .build()?;
    let mut sessions = Vec::new();
    for _ in 0..HOLDER_SESSIONS {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "holder", "version": "1"}}});
        let resp = http
            .post(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(init.to_string())
            .send()
            .await?;
        let sid = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .context("no session")?
            .to_owned();
        resp.bytes().await?;
        sessions.push(sid);
    }
    let mut tasks = Vec::new();
    for i in 0..n {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        let sid = sessions
            .get(i % HOLDER_SESSIONS)
            .cloned()
            .unwrap_or_default();
        tasks.push(tokio::spawn(async move {
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "demo__refund", "arguments": {"order_id": format!("H-{i}"), "amount": 500}}});
            let sent = http
                .post(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("mcp-session-id", sid)
                .header("mcp-protocol-version", "2025-11-25")
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .body(body.to_string())
                .send()
                .await;
            if let Ok(resp) = sent {
                let _ = resp.bytes().await;
            }
        }));
    }
    Ok(tasks)
}

pub fn run(warden: &Path) -> Result<()> {
    let setup = Setup::new(warden, |t| {
        t.replace(
            "timeout_secs = 900",
            &format!("timeout_secs = {TIMEOUT_SECS}"),
        )
        .replace("progress_secs = 10", "progress_secs = 60")
    })?;
    let cli = |args: &[&str]| setup.cli(args);
    cli(&["agent", "add", "worker", "--attr", "team=bench"])?;
    cli(&["agent", "add", "holder", "--attr", "team=bench"])?;
    let worker = cli(&["token", "issue", "worker", "--ttl", "1h"])?;
    let holder = cli(&["token", "issue", "holder", "--ttl", "1h"])?;
    let (gateway, url) = setup.serve()?;
    let target = Target {
        url: url.clone(),
        token: Some(worker),
        tool: "demo__get_order",
        modern: false,
    };
    let pending = || -> Result<usize> {
        let list: Value = serde_json::from_str(&cli(&[
            "approvals",
            "list",
            "--status",
            "pending",
            "--json",
        ])?)?;
        Ok(list.as_array().map_or(0, Vec::len))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(round_short(&target, CLIENTS, Duration::from_millis(1500)))?;
    println!(
        "another agent's unheld tools/call through `warden serve` ({CLIENTS} clients, closed loop), without and with {HELD} calls held for approval"
    );
    println!(
        "{:>6} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "round", "free/s", "held/s", "f p50", "h p50", "f p99", "h p99", "held ready"
    );
    let (mut free_rates, mut held_rates, mut free_all, mut held_all) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in 1..=ROUNDS {
        let (fr, fs) = rt.block_on(round(&target, CLIENTS, None))?;
        // Hold 1,000 calls and wait until every one is stored and waiting.
        let started = Instant::now();
        let tasks = rt.block_on(hold(url.clone(), holder.clone(), HELD))?;
        while pending()? < HELD {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(TIMEOUT_SECS / 2),
                "the held calls were not all pending in time"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let ready = started.elapsed();
        let (hr, hs) = rt.block_on(round(&target, CLIENTS, None))?;
        anyhow::ensure!(
            pending()? == HELD,
            "held calls ended during the measured round"
        );
        // Let them expire (a denial) and every held request finish before the next round.
        rt.block_on(async {
            for t in tasks {
                let _ = t.await;
            }
        });
        let (f, h) = (Samples::new(fs.clone()), Samples::new(hs.clone()));
        println!(
            "{r:>6} {fr:>10.0} {hr:>10.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>8.1} s",
            f.pct(50.0),
            h.pct(50.0),
            f.pct(99.0),
            h.pct(99.0),
            ready.as_secs_f64()
        );
        free_rates.push(fr);
        held_rates.push(hr);
        free_all.extend(fs);
        held_all.extend(hs);
    }
    let (fr, hr) = (median(free_rates), median(held_rates));
    let (f, h) = (Samples::new(free_all), Samples::new(held_all));
    let slower = h.pct(50.0) / f.pct(50.0) - 1.0;
    println!(
        "median rate {fr:.0}/s free vs {hr:.0}/s with {HELD} held ({:+.1}%); p50 {:.0} vs {:.0} µs ({:+.1}%); p99 {:.0} vs {:.0} µs",
        (hr / fr - 1.0) * 100.0,
        f.pct(50.0),
        h.pct(50.0),
        slower * 100.0,
        f.pct(99.0),
        h.pct(99.0)
    );
    println!(
        "{}",
        json!({"held": HELD, "free_per_s": fr.round(), "held_per_s": hr.round(),
            "rate_change_pct": ((hr / fr - 1.0) * 1000.0).round() / 10.0,
            "p50_change_pct": (slower * 1000.0).round() / 10.0})
    );
    drop(gateway);
    drop(setup);
    Ok(())
}
