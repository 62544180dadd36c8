//! Added latency of `tools/call` through `warden mcp` against calling the same server directly.
//! Both run in the same process tree at the same time; measurements alternate in blocks so
//! machine noise hits both alike.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::stats::Samples;

const BLOCK: usize = 200;
const BLOCKS: usize = 25;
const WARMUP: usize = 300;

pub(crate) struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Peer {
    pub(crate) fn start(cmd: &mut Command) -> Result<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("stdout")?);
        let mut peer = Self {
            child,
            stdin,
            stdout,
            line: String::new(),
        };
        peer.roundtrip(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}).to_string())?;
        peer.stdin
            .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")?;
        Ok(peer)
    }

    /// `warden mcp --config CONFIG -- warden demo-server`.
    pub(crate) fn proxied(warden: &Path, config: &Path) -> Result<Self> {
        Self::proxied_by(warden, warden, config)
    }

    /// `proxy mcp --config CONFIG -- server demo-server`.
    pub(crate) fn proxied_by(proxy: &Path, server: &Path, config: &Path) -> Result<Self> {
        Self::start(
            Command::new(proxy)
                .arg("mcp")
                .arg("--config")
                .arg(config)
                .arg("--")
                .arg(server)
                .arg("demo-server"),
        )
    }

    /// The process's CPU time so far (user and system, all threads), in seconds.
    pub(crate) fn cpu_secs(&self) -> f64 {
        crate::gateway::cpu_secs(self.child.id())
    }

    pub(crate) fn roundtrip(&mut self, request: &str) -> Result<Duration> {
        // One write per message, as clients do: the line is built before the clock starts.
        let mut line = Vec::with_capacity(request.len() + 1);
        line.extend_from_slice(request.as_bytes());
        line.push(b'\n');
        let start = Instant::now();
        self.stdin.write_all(&line)?;
        self.stdin.flush()?;
        self.line.clear();
        self.stdout.read_line(&mut self.line)?;
        let elapsed = start.elapsed();
        anyhow::ensure!(
            self.line.contains("\"result\""),
            "unexpected answer: {}",
            &self
                .line
                .get(..200.min(self.line.len()))
                .unwrap_or_default()
        );
        Ok(elapsed)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(warden: &Path) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (config, plain) = configs(warden, dir.path())?;
    let cpus = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "?".into());
    for (what, config) in [
        ("policy + durable audit, detection off", &plain),
        (
            "policy + durable audit + detection with its defaults",
            &config,
        ),
    ] {
        table(warden, what, config, &cpus)?;
    }
    Ok(())
}

/// Two builds of Warden side by side (`latency --warden NEW --against OLD`): the same calls
/// through each, in alternating blocks, to the same upstream binary (NEW's demo server).
/// Detection off, so the rows show the relay, policy and audit.
pub fn versus(new: &Path, old: &Path) -> Result<()> {
    // A configuration (and so an audit file) for each side: two processes appending to one
    // file would each pay for the other's commits and checkpoints.
    let (dir_old, dir_new) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (_, plain_old) = configs(new, dir_old.path())?;
    let (_, plain_new) = configs(new, dir_new.path())?;
    println!(
        "## tools/call through two builds of `warden mcp` (detection off): {} against {}\n",
        new.display(),
        old.display()
    );
    rows(["old", "new", "new - old"], || {
        Ok((
            Peer::proxied_by(old, new, &plain_old)?,
            Peer::proxied_by(new, new, &plain_new)?,
        ))
    })
}

/// What [`over_rounds`] measured.
pub(crate) struct Rounds {
    /// Each round's B − A p50 (µs), sorted.
    pub added: Vec<f64>,
    /// Each round's B − A CPU time per call (µs, each peer's own process), sorted.
    pub added_cpu: Vec<f64>,
    /// All samples of each side.
    pub a: Samples,
    pub b: Samples,
}

/// Fresh peers from `start_a` and `start_b` for each of `rounds` rounds (which side starts
/// first alternates: where the scheduler happens to place a pair of processes biases a whole
/// round on a shared VM), each round timed with [`compare`].
pub(crate) fn over_rounds(
    rounds: usize,
    mut start_a: impl FnMut() -> Result<Peer>,
    mut start_b: impl FnMut() -> Result<Peer>,
    request: &mut impl FnMut() -> String,
) -> Result<Rounds> {
    let (mut added, mut added_cpu, mut all_a, mut all_b) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (mut a, mut b) = if round % 2 == 0 {
            let a = start_a()?;
            (a, start_b()?)
        } else {
            let b = start_b()?;
            (start_a()?, b)
        };
        let (x, y, [cpu_a, cpu_b]) = compare(&mut a, &mut b, request)?;
        added_cpu.push(cpu_b - cpu_a);
        let (sx, sy) = (Samples::new(x.clone()), Samples::new(y.clone()));
        added.push(sy.pct(50.0) - sx.pct(50.0));
        all_a.extend(x);
        all_b.extend(y);
    }
    added.sort_by(f64::total_cmp);
    added_cpu.sort_by(f64::total_cmp);
    Ok(Rounds {
        added,
        added_cpu,
        a: Samples::new(all_a),
        b: Samples::new(all_b),
    })
}

/// The median of sorted values, and the values as text.
pub(crate) fn median_and_rounds(sorted: &[f64]) -> (f64, String) {
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    let rounds: Vec<String> = sorted.iter().map(|d| format!("{d:.1}")).collect();
    (median, rounds.join(", "))
}

/// Two builds side by side over `rounds` rounds of fresh processes (1 KB, then 64 KB calls),
/// for a difference too small for one round. Prints each round's NEW − OLD p50 and their
/// median.
pub fn versus_rounds(new: &Path, old: &Path, rounds: usize) -> Result<()> {
    let (dir_old, dir_new) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (_, plain_old) = configs(new, dir_old.path())?;
    let (_, plain_new) = configs(new, dir_new.path())?;
    for size in [1024usize, 64 * 1024] {
        let text = "x".repeat(size);
        let mut id = 0u64;
        let mut request = || {
            id += 1;
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": text}}}).to_string()
        };
        let Rounds {
            added,
            added_cpu,
            a,
            b,
        } = over_rounds(
            rounds,
            || Peer::proxied_by(old, new, &plain_old),
            || Peer::proxied_by(new, new, &plain_new),
            &mut request,
        )?;
        let (median, list) = median_and_rounds(&added);
        let (cpu, cpu_list) = median_and_rounds(&added_cpu);
        println!(
            "{} KB, {} against {}: old p50 {:.1} µs, new p50 {:.1} µs, new − old p50 median of rounds **{median:.1} µs** (rounds: {list}); old p99 {:.1} µs, new p99 {:.1} µs; new − old CPU per call, median of rounds **{cpu:.1} µs** (rounds: {cpu_list})",
            size / 1024,
            new.display(),
            old.display(),
            a.pct(50.0),
            b.pct(50.0),
            a.pct(99.0),
            b.pct(99.0),
        );
    }
    Ok(())
}

/// One row per argument size: the same echo calls through the two peers `start` gives (fresh
/// ones for each size), in alternating blocks, and the second's p50 and p99 minus the first's.
/// Each peer's CPU time per call is a steadier measure of its work than latency on a shared VM
/// whose speed changes by the hour.
fn rows(names: [&str; 3], mut start: impl FnMut() -> Result<(Peer, Peer)>) -> Result<()> {
    let [a, b, diff] = names;
    println!(
        "| argument size | {a} p50 | {b} p50 | {diff} p50 | {a} p99 | {b} p99 | {diff} p99 | calls each | {a} CPU/call | {b} CPU/call |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for size in [1024usize, 64 * 1024] {
        let (mut first, mut second) = start()?;
        let text = "x".repeat(size);
        let mut id = 0u64;
        let mut request = || {
            id += 1;
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": text}}}).to_string()
        };
        let (x, y, cpu) = compare(&mut first, &mut second, &mut request)?;
        let n = x.len();
        let (x, y) = (Samples::new(x), Samples::new(y));
        println!(
            "| {} KB | {:.1} µs | {:.1} µs | **{:.1} µs** | {:.1} µs | {:.1} µs | **{:.1} µs** | {n} | {:.0} µs | {:.0} µs |",
            size / 1024,
            x.pct(50.0),
            y.pct(50.0),
            y.pct(50.0) - x.pct(50.0),
            x.pct(99.0),
            y.pct(99.0),
            y.pct(99.0) - x.pct(99.0),
            cpu[0],
            cpu[1],
        );
    }
    println!();
    Ok(())
}

/// The starter configuration in `dir`, and a copy with detection switched off.
fn configs(warden: &Path, dir: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let init = Command::new(warden).arg("init").arg(dir).output()?;
    anyhow::ensure!(init.status.success(), "warden init failed");
    let config = dir.join("warden.toml");
    // The same configuration with detection switched off: the proxy's own cost (policy and
    // durable audit) apart from the cost of scanning arguments and results.
    let plain = dir.join("warden-no-detect.toml");
    let text = std::fs::read_to_string(&config)?;
    let off = detection_off(text.clone());
    anyhow::ensure!(
        off != text,
        "the starter config has no [detect] lines to switch off"
    );
    std::fs::write(&plain, off)?;
    Ok((config, plain))
}

/// The starter `warden.toml` with detection on arguments and results switched off.
pub(crate) fn detection_off(text: String) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("arguments = {") {
                "arguments = { injection = \"off\", pii = \"off\", secret = \"off\" }".to_owned()
            } else if l.starts_with("results = {") {
                "results = { injection = \"off\", pii = \"off\", secret = \"off\" }".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Warms both peers up, then times `BLOCKS` alternating blocks of calls on each (which side
/// goes first alternates too, so machine noise hits both alike). Returns each side's times and
/// each peer's CPU time per call in µs (its own process, not its children; warm-up included).
pub(crate) fn compare(
    a: &mut Peer,
    b: &mut Peer,
    request: &mut impl FnMut() -> String,
) -> Result<(Vec<Duration>, Vec<Duration>, [f64; 2])> {
    settle();
    let before = [a.cpu_secs(), b.cpu_secs()];
    for _ in 0..WARMUP {
        a.roundtrip(&request())?;
        b.roundtrip(&request())?;
    }
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for block in 0..BLOCKS {
        for side in [block % 2, 1 - block % 2] {
            for _ in 0..BLOCK {
                if side == 0 {
                    first.push(a.roundtrip(&request())?);
                } else {
                    second.push(b.roundtrip(&request())?);
                }
            }
        }
    }
    let calls = (BLOCKS * BLOCK + WARMUP) as f64;
    let cpu = [
        (a.cpu_secs() - before[0]) * 1e6 / calls,
        (b.cpu_secs() - before[1]) * 1e6 / calls,
    ];
    Ok((first, second, cpu))
}

/// Writes out the dirty pages earlier runs left: once there are a gigabyte or two of them, the
/// kernel throttles whoever dirties more (on this VM a 64 KB append then took 170 µs instead
/// of 13), and a 64 KB row writes several hundred megabytes of audit.
pub(crate) fn settle() {
    let _ = Command::new("sync").status();
}

fn table(warden: &Path, what: &str, config: &Path, cpus: &str) -> Result<()> {
    println!("## tools/call latency: direct vs through `warden mcp` ({what}; CPUs {cpus})\n");
    rows(["direct", "warden", "added"], || {
        Ok((
            Peer::start(Command::new(warden).arg("demo-server"))?,
            Peer::proxied(warden, config)?,
        ))
    })
}
