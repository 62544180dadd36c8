//! Throughput and added latency of `tools/call` through `warden serve` against calling the
//! same Streamable HTTP upstream (the built-in demo server over HTTP) directly, at 1, 16 and
//! 64 concurrent clients, with policy, detection and the durable audit log on. Each client
//! has its own keep-alive connection (and, through Warden, its own session); direct and
//! gateway rounds alternate, several times, so machine noise hits both alike.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::http1::{Answer, Conn};
use crate::stats::{Samples, median};

const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;
const CONCURRENCY: &[usize] = &[1, 16, 64];
/// Offered load of the paced run.
pub(crate) const PACED_RATE: f64 = 5000.0;

pub(crate) struct Kill(pub Child);

/// CPU time (user and system, all threads) process `pid` has used so far, in seconds: a
/// steadier measure of the work per call than rates on a shared VM.
pub(crate) fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // After the command name (in parentheses, which may hold anything): `state` is field 3,
    // `utime` 14 and `stime` 15, in clock ticks of 1/100 s.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU used by processes over a round, per call.
#[derive(Default)]
struct Cpu {
    secs: Vec<f64>,
    calls: usize,
}

impl Cpu {
    fn measure<T>(
        &mut self,
        pids: &[u32],
        calls: impl FnOnce() -> Result<(T, usize)>,
    ) -> Result<T> {
        let before: Vec<f64> = pids.iter().map(|p| cpu_secs(*p)).collect();
        let (out, n) = calls()?;
        self.secs.resize(pids.len(), 0.0);
        for ((total, p), b) in self.secs.iter_mut().zip(pids).zip(before) {
            *total += cpu_secs(*p) - b;
        }
        self.calls += n;
        Ok(out)
    }

    /// µs of CPU per call of process `i`.
    fn per_call(&self, i: usize) -> f64 {
        self.secs.get(i).copied().unwrap_or(f64::NAN) * 1e6 / self.calls.max(1) as f64
    }
}

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn first_line(child: &mut Child) -> Result<String> {
    let out = child.stdout.take().context("stdout")?;
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    std::thread::spawn(move || for _ in reader.lines() {});
    Ok(line.trim().to_owned())
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[derive(Clone)]
pub(crate) struct Target {
    pub url: String,
    pub token: Option<String>,
    pub tool: &'static str,
    /// Modern (2026-07-28) stateless requests, all in the agent's one context, instead of a
    /// legacy session per client.
    pub modern: bool,
}

/// Initializes a legacy session on `conn` as the agent of `auth` (`Bearer ...`); its id.
pub(crate) async fn open_session(conn: &mut Conn, auth: &str) -> Result<String> {
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}});
    let answer = post(conn, Some(auth), None, &init.to_string(), None).await?;
    let session = answer
        .header("mcp-session-id")
        .context("no session id")?
        .to_owned();
    let note = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(conn, Some(auth), Some(&session), &note.to_string(), None).await?;
    Ok(session)
}

/// A JSON-RPC POST from a benchmark client.
pub(crate) async fn post(
    conn: &mut Conn,
    auth: Option<&str>,
    session: Option<&str>,
    body: &str,
    modern: Option<&str>,
) -> Result<Answer> {
    let mut headers = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    if let Some(name) = modern {
        headers.push(("mcp-protocol-version", "2026-07-28"));
        headers.push(("mcp-method", "tools/call"));
        headers.push(("mcp-name", name));
    }
    if let Some(auth) = auth {
        headers.push(("authorization", auth));
    }
    if let Some(session) = session {
        headers.push(("mcp-session-id", session));
        headers.push(("mcp-protocol-version", "2025-11-25"));
    }
    conn.request("POST", &headers, body.as_bytes()).await
}

/// One client: its own connection, its own session when going through Warden.
async fn client(
    target: Target,
    until: Instant,
    pace: Option<(Duration, Duration)>,
) -> Result<Vec<(Instant, Duration)>> {
    let mut conn = Conn::connect(&target.url).await?;
    let auth = target.token.as_ref().map(|t| format!("Bearer {t}"));
    let auth = auth.as_deref();
    let (session, body) = if target.modern {
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
        (None, json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": target.tool, "arguments": {"order_id": "A-1001"}, "_meta": meta}}).to_string())
    } else {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}});
        let answer = post(&mut conn, auth, None, &init.to_string(), None).await?;
        let session = answer.header("mcp-session-id").map(str::to_owned);
        (session, json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": target.tool, "arguments": {"order_id": "A-1001"}}}).to_string())
    };
    let modern = target.modern.then_some(target.tool);
    // A session's first call is not sustained load: through Warden it starts the session's
    // upstream link (20-90 ms when 64 sessions open together), and every round opens new
    // sessions. It is made once, untimed, before the timed calls, direct and through Warden.
    let first = post(&mut conn, auth, session.as_deref(), &body, modern).await?;
    anyhow::ensure!(
        (200..300).contains(&first.status),
        "unexpected first answer ({}): {}",
        first.status,
        String::from_utf8_lossy(&first.body)
    );
    let mut out = Vec::new();
    // Paced: one call every `interval`, the first after `offset` (a slow answer delays the
    // calls behind it). Latency counts from the send: tokio's timers fire on millisecond
    // ticks, which would otherwise add up to 1 ms to every sample on both sides.
    let mut next = pace.map(|(_, offset)| Instant::now() + offset);
    while Instant::now() < until {
        let start = match (&mut next, pace) {
            (Some(at), Some((interval, _))) => {
                tokio::time::sleep_until((*at).into()).await;
                *at += interval;
                Instant::now()
            }
            _ => Instant::now(),
        };
        let answer = post(&mut conn, auth, session.as_deref(), &body, modern).await?;
        out.push((start, start.elapsed()));
        anyhow::ensure!(
            (200..300).contains(&answer.status) && answer.body.windows(7).any(|w| w == b"shipped"),
            "unexpected answer ({}): {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    // Closes the session: an agent may hold only so many open at once.
    if let Some(s) = &session {
        let mut headers = vec![("mcp-session-id", s.as_str())];
        if let Some(auth) = auth {
            headers.push(("authorization", auth));
        }
        conn.request("DELETE", &headers, b"").await?;
    }
    Ok(out)
}

pub(crate) async fn round(
    target: &Target,
    clients: usize,
    rate: Option<f64>,
) -> Result<(f64, Vec<Duration>)> {
    let (rate, all) = timed_round(target, clients, rate, ROUND).await?;
    Ok((rate, all.into_iter().map(|(_, d)| d).collect()))
}

/// A round of `length`: the rate and each call's send time and latency.
async fn timed_round(
    target: &Target,
    clients: usize,
    rate: Option<f64>,
    length: Duration,
) -> Result<(f64, Vec<(Instant, Duration)>)> {
    let started = Instant::now();
    let until = started + length;
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let pace = rate.map(|r| {
                let interval = Duration::from_secs_f64(clients as f64 / r);
                (interval, interval.mul_f64(i as f64 / clients as f64))
            });
            tokio::spawn(client(target.clone(), until, pace))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, all))
}

/// A `warden init` directory with the demo server over HTTP as upstream `demo` and a gateway
/// configured (not started) on a free port.
pub(crate) struct Setup {
    warden: std::path::PathBuf,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    /// The demo server over HTTP; `None` when the gateway starts it over stdio.
    upstream: Option<Kill>,
    pub upstream_url: String,
}

impl Setup {
    /// `edit` may change the starter `warden.toml` first.
    pub(crate) fn new(warden: &Path, edit: impl Fn(String) -> String) -> Result<Self> {
        let mut upstream = Kill(
            Command::new(warden)
                .args(["demo-server", "--http", "127.0.0.1:0"])
                .stdout(Stdio::piped())
                .spawn()?,
        );
        let upstream_url = first_line(&mut upstream.0)?;
        let section = format!("url = \"{upstream_url}\"");
        Self::with(warden, edit, &section, Some(upstream), upstream_url)
    }

    /// The demo server of build `demo` as a stdio upstream the gateway starts (in its sandbox).
    pub(crate) fn stdio(warden: &Path, demo: &Path) -> Result<Self> {
        let command = [demo.display().to_string(), "demo-server".to_owned()];
        Self::command(warden, &command, |t| t)
    }

    /// Upstream `demo` started by `command` over stdio; `edit` may change the starter
    /// `warden.toml` first (add upstreams, say).
    pub(crate) fn command(
        warden: &Path,
        command: &[String],
        edit: impl Fn(String) -> String,
    ) -> Result<Self> {
        let section = format!("command = {command:?}");
        Self::with(warden, edit, &section, None, String::new())
    }

    /// The workspace directory (`warden init`'s).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn with(
        warden: &Path,
        edit: impl Fn(String) -> String,
        upstream_section: &str,
        upstream: Option<Kill>,
        upstream_url: String,
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let init = Command::new(warden).arg("init").arg(dir.path()).output()?;
        anyhow::ensure!(init.status.success(), "warden init failed");
        let config = dir.path().join("warden.toml");
        let mut text = edit(std::fs::read_to_string(&config)?);
        let port = free_port()?;
        text.push_str(&format!(
            "\n[gateway]\nlisten = \"127.0.0.1:{port}\"\n\n[upstreams.demo]\n{upstream_section}\n"
        ));
        std::fs::write(&config, text)?;
        Ok(Self {
            warden: warden.to_owned(),
            dir,
            config,
            upstream,
            upstream_url,
        })
    }

    /// The HTTP upstream's process id.
    pub(crate) fn upstream_pid(&self) -> Result<u32> {
        Ok(self
            .upstream
            .as_ref()
            .context("the upstream runs over stdio")?
            .0
            .id())
    }

    /// Runs a `warden` command on this configuration; its trimmed stdout.
    pub(crate) fn cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.warden)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "warden {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// Starts `warden serve`; the process and its MCP URL.
    pub(crate) fn serve(&self) -> Result<(Kill, String)> {
        self.serve_with(&self.warden)
    }

    /// Starts `binary serve` on this configuration (another build of Warden).
    pub(crate) fn serve_with(&self, binary: &Path) -> Result<(Kill, String)> {
        let mut gateway = Kill(
            Command::new(binary)
                .args(["serve", "--config"])
                .arg(&self.config)
                .stdout(Stdio::piped())
                .spawn()?,
        );
        let url = first_line(&mut gateway.0)?
            .strip_prefix("warden: serving MCP at ")
            .context("warden serve did not start")?
            .to_owned();
        Ok((gateway, url))
    }

    /// Adds the benchmark's agent, issues its token and starts `binary serve`: the gateway
    /// and a target calling the demo tool through it as that agent.
    pub(crate) fn through(&self, binary: &Path, modern: bool) -> Result<(Kill, Target)> {
        self.cli(&["agent", "add", "bench-agent", "--attr", "team=bench"])?;
        let token = self.cli(&["token", "issue", "bench-agent", "--ttl", "1h"])?;
        let (gateway, url) = self.serve_with(binary)?;
        let target = Target {
            url,
            token: Some(token),
            tool: "demo__get_order",
            modern,
        };
        Ok((gateway, target))
    }
}

pub fn run(warden: &Path) -> Result<()> {
    // The setting first (policy and the durable audit log), then with detection on
    // arguments and results as the starter configuration has it.
    one(
        warden,
        "policy, durable audit, detection off",
        crate::latency::detection_off,
    )?;
    println!();
    one(warden, "policy, detection, durable audit", |t| t)
}

fn one(warden: &Path, what: &str, edit: impl Fn(String) -> String) -> Result<()> {
    let setup = Setup::new(warden, edit)?;
    let (gateway, through) = setup.through(warden, false)?;
    let upstream_url = setup.upstream_url.clone();
    let direct = Target {
        url: upstream_url,
        token: None,
        tool: "get_order",
        modern: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("tools/call through `warden serve` ({what}) vs direct to the same HTTP upstream");
    println!(
        "{ROUNDS} alternating rounds of {} s per setting; rates are medians of rounds, latencies pooled",
        ROUND.as_secs()
    );
    println!(
        "CPU per call (µs, from /proc): Warden's; the upstream's and the load generator's, direct and through Warden"
    );
    println!(
        "{:>8} {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "clients",
        "direct/s",
        "warden/s",
        "d p50",
        "w p50",
        "d p99",
        "w p99",
        "+p50 µs",
        "+p99 µs",
        "w CPU",
        "up d",
        "up w",
        "gen d",
        "gen w"
    );
    let pids = [gateway.0.id(), setup.upstream_pid()?, std::process::id()];
    let mut summary: Vec<Value> = Vec::new();
    for &clients in CONCURRENCY {
        rt.block_on(async {
            // Warm-up: connections, sessions, caches.
            let warm = Duration::from_millis(500);
            let _ = tokio::time::timeout(warm * 4, round_short(&direct, clients, warm)).await;
            let _ = tokio::time::timeout(warm * 4, round_short(&through, clients, warm)).await;
        });
        let (mut d_rates, mut w_rates, mut d_all, mut w_all) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut d_cpu, mut w_cpu) = (Cpu::default(), Cpu::default());
        for _ in 0..ROUNDS {
            let (r, s) = d_cpu.measure(&pids, || {
                let out = rt.block_on(round(&direct, clients, None))?;
                let n = out.1.len();
                Ok((out, n))
            })?;
            d_rates.push(r);
            d_all.extend(s);
            let (r, s) = w_cpu.measure(&pids, || {
                let out = rt.block_on(round(&through, clients, None))?;
                let n = out.1.len();
                Ok((out, n))
            })?;
            w_rates.push(r);
            w_all.extend(s);
        }
        let (dr, wr) = (median(d_rates), median(w_rates));
        let (d, w) = (Samples::new(d_all), Samples::new(w_all));
        println!(
            "{clients:>8} {dr:>12.0} {wr:>12.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>10.0} {:>10.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0}",
            d.pct(50.0),
            w.pct(50.0),
            d.pct(99.0),
            w.pct(99.0),
            w.pct(50.0) - d.pct(50.0),
            w.pct(99.0) - d.pct(99.0),
            w_cpu.per_call(0),
            d_cpu.per_call(1),
            w_cpu.per_call(1),
            d_cpu.per_call(2),
            w_cpu.per_call(2)
        );
        summary.push(json!({"clients": clients, "direct_per_s": dr.round(), "warden_per_s": wr.round(),
            "added_p50_us": (w.pct(50.0) - d.pct(50.0)).round(), "added_p99_us": (w.pct(99.0) - d.pct(99.0)).round(),
            "warden_cpu_us_per_call": w_cpu.per_call(0).round(), "upstream_cpu_us_per_call_direct": d_cpu.per_call(1).round(),
            "upstream_cpu_us_per_call_through": w_cpu.per_call(1).round()}));
    }
    // Latency at a sustained offered load: 64 clients sending 5,000 calls/s between them.
    let rate = PACED_RATE;
    println!("\n64 clients pacing {rate} calls/s in total (each client one call every 12.8 ms)");
    println!(
        "{:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "offered/s",
        "served/s",
        "d p50",
        "w p50",
        "d p99",
        "w p99",
        "+p50 µs",
        "+p99 µs",
        "w CPU",
        "up w",
        "gen w"
    );
    let (mut d_all, mut w_all, mut served) = (Vec::new(), Vec::new(), Vec::new());
    let mut w_cpu = Cpu::default();
    for _ in 0..ROUNDS {
        let (_, s) = rt.block_on(round(&direct, 64, Some(rate)))?;
        d_all.extend(s);
        let (r, s) = w_cpu.measure(&pids, || {
            let out = rt.block_on(round(&through, 64, Some(rate)))?;
            let n = out.1.len();
            Ok((out, n))
        })?;
        served.push(r);
        w_all.extend(s);
    }
    let served = median(served);
    let (d, w) = (Samples::new(d_all), Samples::new(w_all));
    println!(
        "{rate:>10.0} {served:>12.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>10.0} {:>10.0} {:>9.0} {:>9.0} {:>9.0}",
        d.pct(50.0),
        w.pct(50.0),
        d.pct(99.0),
        w.pct(99.0),
        w.pct(50.0) - d.pct(50.0),
        w.pct(99.0) - d.pct(99.0),
        w_cpu.per_call(0),
        w_cpu.per_call(1),
        w_cpu.per_call(2)
    );
    summary.push(json!({"clients": 64, "offered_per_s": rate, "warden_served_per_s": served.round(),
        "added_p50_us": (w.pct(50.0) - d.pct(50.0)).round(), "added_p99_us": (w.pct(99.0) - d.pct(99.0)).round()}));
    println!("{}", Value::Array(summary));
    drop(gateway);
    drop(setup);
    Ok(())
}

pub(crate) async fn round_short(target: &Target, clients: usize, length: Duration) -> Result<()> {
    let until = Instant::now() + length;
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(client(target.clone(), until, None)))
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Two builds of `warden serve` side by side, detection off (`gateway --warden NEW --against OLD [--rounds
/// N]`): each on its own configuration and upstream (NEW's demo server), the same load on
/// each in alternating rounds (which goes first alternates too). Prints, per concurrency and
/// for the paced load, each build's median rate and CPU per call, and the median of the
/// rounds' NEW − OLD CPU per call: whether Warden's work changed, on a machine whose speed
/// changes by the minute.
pub fn versus(new: &Path, old: &Path, rounds: usize, modern: bool) -> Result<()> {
    let side = |binary: &Path| -> Result<(Setup, Kill, Target)> {
        let setup = Setup::new(new, crate::latency::detection_off)?;
        let (gateway, target) = setup.through(binary, modern)?;
        Ok((setup, gateway, target))
    };
    let (old_setup, old_gateway, old_target) = side(old)?;
    let (new_setup, new_gateway, new_target) = side(new)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "## tools/call through two builds of `warden serve`{}: {} against {}, {rounds} rounds of {} s each\n",
        if modern {
            " (modern clients, one agent context)"
        } else {
            ""
        },
        new.display(),
        old.display(),
        ROUND.as_secs()
    );
    println!(
        "| load | old calls/s | new calls/s | old p99 | new p99 | old CPU/call | new CPU/call | new − old CPU/call, median of rounds (rounds) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let loads: Vec<(usize, Option<f64>)> = CONCURRENCY
        .iter()
        .map(|&c| (c, None))
        .chain([(64, Some(PACED_RATE))])
        .collect();
    /// One build's gateway and what its rounds measured at one load.
    struct Side<'a> {
        target: &'a Target,
        /// The gateway's and its upstream's process ids.
        pids: [u32; 2],
        rates: Vec<f64>,
        samples: Vec<Duration>,
        cpu: Vec<f64>,
    }
    let (old_upstream, new_upstream) = (old_setup.upstream_pid()?, new_setup.upstream_pid()?);
    for (clients, rate) in loads {
        let mut sides = [
            (&old_target, &old_gateway, old_upstream),
            (&new_target, &new_gateway, new_upstream),
        ]
        .map(|(target, gateway, upstream)| Side {
            target,
            pids: [gateway.0.id(), upstream],
            rates: Vec::new(),
            samples: Vec::new(),
            cpu: Vec::new(),
        });
        rt.block_on(async {
            let warm = Duration::from_millis(500);
            for side in &sides {
                let _ =
                    tokio::time::timeout(warm * 4, round_short(side.target, clients, warm)).await;
            }
        });
        for r in 0..rounds {
            for i in [r % 2, 1 - r % 2] {
                let Some(side) = sides.get_mut(i) else {
                    continue;
                };
                let mut c = Cpu::default();
                let (per_s, samples) = c.measure(&side.pids, || {
                    let out = rt.block_on(round(side.target, clients, rate))?;
                    let n = out.1.len();
                    Ok((out, n))
                })?;
                side.rates.push(per_s);
                side.samples.extend(samples);
                side.cpu.push(c.per_call(0));
            }
        }
        let [old, new] = sides;
        let mut diff: Vec<f64> = new.cpu.iter().zip(&old.cpu).map(|(n, o)| n - o).collect();
        diff.sort_by(f64::total_cmp);
        let (d, list) = crate::latency::median_and_rounds(&diff);
        let load = match rate {
            Some(rate) => format!("{clients} clients paced at {rate:.0}/s"),
            None => format!("{clients} clients"),
        };
        println!(
            "| {load} | {:.0} | {:.0} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | **{d:.1} µs** ({list}) |",
            median(old.rates),
            median(new.rates),
            Samples::new(old.samples).pct(99.0),
            Samples::new(new.samples).pct(99.0),
            median(old.cpu),
            median(new.cpu),
        );
    }
    Ok(())
}

/// The paced load alone, for a longer stretch, through one `warden serve` (detection off):
/// `gateway-paced [--seconds N] [--rate R] [--timeline FILE]`. Prints the latency per quarter
/// second (where the slow calls cluster in time: checkpoints, stalls) and overall; the
/// timeline file gets one line per call, `send offset µs<TAB>latency µs`.
pub fn paced(warden: &Path, seconds: u64, rate: f64, timeline: Option<&Path>) -> Result<()> {
    let setup = Setup::new(warden, crate::latency::detection_off)?;
    let (gateway, through) = setup.through(warden, false)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let pids = [gateway.0.id()];
    let mut cpu = Cpu::default();
    let (served, calls, started) = cpu.measure(&pids, || {
        let started = Instant::now();
        let (served, calls) = rt.block_on(timed_round(
            &through,
            64,
            Some(rate),
            Duration::from_secs(seconds),
        ))?;
        let n = calls.len();
        Ok(((served, calls, started), n))
    })?;
    let window = Duration::from_millis(250);
    let mut windows: Vec<Vec<Duration>> = Vec::new();
    for (at, took) in &calls {
        let i = (at.duration_since(started).as_micros() / window.as_micros()) as usize;
        if windows.len() <= i {
            windows.resize_with(i + 1, Vec::new);
        }
        if let Some(w) = windows.get_mut(i) {
            w.push(*took);
        }
    }
    println!("window (s)  calls  p50 µs  p99 µs  max µs");
    for (i, w) in windows.into_iter().enumerate() {
        let s = Samples::new(w);
        println!(
            "{:>10.2} {:>6} {:>7.0} {:>7.0} {:>7.0}",
            i as f64 * window.as_secs_f64(),
            s.len(),
            s.pct(50.0),
            s.pct(99.0),
            s.pct(100.0)
        );
    }
    if let Some(path) = timeline {
        let mut text = String::new();
        for (at, took) in &calls {
            text.push_str(&format!(
                "{}\t{}\n",
                at.duration_since(started).as_micros(),
                took.as_micros()
            ));
        }
        std::fs::write(path, text)?;
    }
    let all = Samples::new(calls.into_iter().map(|(_, d)| d).collect());
    println!(
        "offered {rate:.0}/s, served {served:.0}/s: p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs; Warden CPU {:.0} µs per call",
        all.pct(50.0),
        all.pct(99.0),
        all.pct(99.9),
        cpu.per_call(0)
    );
    Ok(())
}
