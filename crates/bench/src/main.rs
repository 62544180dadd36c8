//! `warden-bench`: the figures in BENCHMARKS.md, each measured side by side with its baseline in
//! the same run. Usage: `warden-bench [latency|gateway|approvals|controls|sandbox|anomaly|policy|audit|flow|data|detect|all] [--warden PATH] [--corpus FILE]...`;
//! `warden-bench latency --warden NEW --against OLD [--rounds N]` compares two builds, and so
//! does `warden-bench gateway --warden NEW --against OLD [--rounds N] [--modern]` (`--modern`:
//! stateless 2026-07-28 clients sharing the agent's one context);
//! `warden-bench gateway-paced [--warden PATH] [--seconds N] [--rate R] [--timeline FILE]` runs
//! the gateway's paced load alone, per quarter second; `warden-bench stream [--warden NEW]
//! [--against OLD]` times answers streamed as SSE events through `warden serve`;
//! `warden-bench listing [--warden NEW] [--against OLD]` times long tool listings through
//! `warden mcp`.
#![allow(
    clippy::disallowed_methods,
    reason = "the harness starts the binaries it measures"
)]

mod anomaly;
mod approvals;
mod audit;
mod controls;
mod data;
mod detect;
mod flow;
mod gateway;
mod http1;
mod inject;
mod latency;
mod listing;
mod policy;
mod sandbox;
mod stats;
mod stream;

use std::path::PathBuf;

use anyhow::Context;

/// mimalloc: the policy engine and JSON relay allocate many small short-lived values, and the
/// system allocator was a quarter of a decision's instructions (see BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map_or("all", String::as_str);
    let warden = args
        .iter()
        .position(|a| a == "--warden")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .unwrap_or_default()
                .with_file_name("warden")
        });
    if what == "egress-client" {
        return sandbox::client(&args);
    }
    if what == "tools-server" {
        return listing::server(&args);
    }
    if what == "otlp-sink" {
        return controls::sink();
    }
    let against = args
        .iter()
        .position(|a| a == "--against")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<usize>().ok());
    if what == "gateway-paced" {
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
        };
        let seconds = match value("--seconds") {
            None => 20,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("--seconds {s}: a whole number of seconds above 0"))?,
        };
        let rate = match value("--rate") {
            None => gateway::PACED_RATE,
            Some(s) => s
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r >= 1.0)
                .with_context(|| format!("--rate {s}: calls per second, at least 1"))?,
        };
        let timeline = value("--timeline").map(PathBuf::from);
        return gateway::paced(&warden, seconds, rate, timeline.as_deref());
    }
    if what == "stream" {
        return stream::run(&warden, against.as_deref());
    }
    if what == "listing" {
        return listing::run(&warden, against.as_deref());
    }
    if let (Some(old), "latency", Some(rounds)) = (&against, what, rounds) {
        return latency::versus_rounds(&warden, old, rounds);
    }
    if let (Some(old), "gateway") = (&against, what) {
        let modern = args.iter().any(|a| a == "--modern");
        return gateway::versus(&warden, old, rounds.unwrap_or(3), modern);
    }
    if let (Some(old), "latency") = (&against, what) {
        return latency::versus(&warden, old);
    }
    if matches!(what, "latency" | "all") {
        latency::run(&warden)?;
    }
    if matches!(what, "gateway" | "all") {
        gateway::run(&warden)?;
    }
    if matches!(what, "approvals" | "all") {
        approvals::run(&warden)?;
    }
    if matches!(what, "controls" | "all") {
        controls::run(&warden)?;
    }
    if matches!(what, "sandbox" | "all") {
        sandbox::run(&warden)?;
    }
    if matches!(what, "anomaly" | "all") {
        anomaly::run();
    }
    if matches!(what, "policy" | "all") {
        policy::run()?;
    }
    if matches!(what, "audit" | "all") {
        audit::run()?;
    }
    if matches!(what, "flow" | "all") {
        flow::run()?;
    }
    if matches!(what, "data" | "all") {
        data::run()?;
    }
    if what == "detect" {
        let corpora: Vec<PathBuf> = args
            .windows(2)
            .filter(|w| w.first().is_some_and(|a| a == "--corpus"))
            .filter_map(|w| w.get(1).map(PathBuf::from))
            .collect();
        detect::run(&corpora)?;
    }
    Ok(())
}
