//! Anomaly detection quality on a replayed trace: a seeded generator of normal agent traffic
//! with injected anomalies, replayed through `warden_controls::Anomalies` with its default
//! settings. Reports the share of injected anomalies found (by the signal meant to find each)
//! and false alerts per 10,000 normal calls.
//!
//! The normal traffic, per agent: either office hours (a start between 06:00 and 10:00 UTC,
//! 8 to 10 hours a day, every day) or around the clock; work sessions arrive at random
//! (Poisson), last an exponential 20 minutes on average (capped at two hours), and run at the
//! agent's rate (2 to 20 calls a minute) times a session intensity (log-normal, sigma 0.25);
//! 4 to 14 tools chosen with Zipf weights; one or two "send" tools whose arguments carry one of
//! 3 to 25 known destinations (Zipf weights); result sizes log-normal per tool (median 200 B to
//! 30 KB, sigma 0.2 to 0.7); each call refused with the agent's own small probability
//! (0.2 % to 2 %).
//!
//! Injected, per agent and kind, three times each, at least two hours apart and only after the
//! detector's learning period (three days from the agent's first call): a tool never used (1 to 3 calls); a send to an unknown address or host; a
//! three-minute burst at 10 to 25 times the agent's rate (at least 30 a minute); one result 50
//! to 500 times the tool's median; 4 to 10 calls at an hour at least three hours outside office
//! hours (office-hours agents only); 15 to 30 refused calls within two to three minutes.

use warden_controls::{Anomalies, Anomaly, AnomalySettings, Seen};

/// A small seeded generator (SplitMix64): the same seed gives the same trace on every machine
/// and every version, which a library generator does not promise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f()
    }

    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f()).ln()
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.f(), self.f());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// An index drawn with Zipf weights 1/(i+1)^s.
    fn zipf(&mut self, n: usize, s: f64) -> usize {
        let total: f64 = (1..=n).map(|i| (i as f64).powf(-s)).sum();
        let mut x = self.f() * total;
        for i in 0..n {
            x -= ((i + 1) as f64).powf(-s);
            if x <= 0.0 {
                return i;
            }
        }
        n.saturating_sub(1)
    }
}

const DAY: f64 = 86_400.0;
const DAYS: u64 = 14;
const AGENTS: usize = 12;
const PER_KIND: usize = 3;

struct Tool {
    name: String,
    median: f64,
    sigma: f64,
    /// Known destinations, for send tools.
    destinations: Vec<String>,
}

struct Profile {
    name: String,
    /// Office hours as (start hour, hours), or around the clock.
    office: Option<(f64, f64)>,
    rate_per_min: f64,
    tools: Vec<Tool>,
    deny: f64,
}

/// One call of the trace.
struct Event {
    time: f64,
    agent: usize,
    target: String,
    destinations: Vec<String>,
    denied: bool,
    bytes: u64,
    /// The injected anomaly it belongs to.
    injected: Option<usize>,
}

/// An injected anomaly.
struct Injected {
    agent: usize,
    kind: Anomaly,
    start: f64,
    end: f64,
}

fn profile(rng: &mut Rng, i: usize) -> Profile {
    let office = (rng.f() < 0.67).then(|| (rng.int(6, 10) as f64, rng.int(8, 10) as f64));
    let n_tools = rng.int(4, 14) as usize;
    let n_send = rng.int(1, 2) as usize;
    let tools = (0..n_tools)
        .map(|k| {
            let send = k >= n_tools - n_send;
            let destinations = if send {
                let n = rng.int(3, 25);
                (0..n)
                    .map(|d| {
                        if rng.f() < 0.5 {
                            format!("contact{d}@partner{}.example", d % 4)
                        } else {
                            format!("api{d}.service{i}.example")
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Tool {
                name: format!("srv{}/tool{k}", k % 3),
                median: (rng.range(200f64.ln(), 30_000f64.ln())).exp(),
                sigma: rng.range(0.2, 0.7),
                destinations,
            }
        })
        .collect();
    Profile {
        name: format!("agent{i}"),
        office,
        rate_per_min: rng.range(2.0, 20.0),
        tools,
        deny: rng.range(0.002, 0.02),
    }
}

fn working(p: &Profile, t: f64) -> bool {
    match p.office {
        None => true,
        Some((start, hours)) => {
            let h = (t.rem_euclid(DAY)) / 3600.0;
            let end = start + hours;
            h >= start && h < end
        }
    }
}

fn normal_call(rng: &mut Rng, p: &Profile, agent: usize, time: f64) -> Event {
    let k = rng.zipf(p.tools.len(), 1.1);
    let tool = p.tools.get(k).unwrap_or_else(|| unreachable!());
    let destinations = if tool.destinations.is_empty() {
        Vec::new()
    } else {
        let d = rng.zipf(tool.destinations.len(), 1.0);
        tool.destinations.get(d).cloned().into_iter().collect()
    };
    let denied = rng.f() < p.deny;
    let bytes = (tool.median * (tool.sigma * rng.normal()).exp()) as u64;
    Event {
        time,
        agent,
        target: tool.name.clone(),
        destinations,
        denied,
        bytes,
        injected: None,
    }
}

/// Normal traffic of one agent.
fn normal(rng: &mut Rng, p: &Profile, agent: usize, out: &mut Vec<Event>) {
    let end = DAYS as f64 * DAY;
    // Sessions start at 2 an hour during work time.
    let mut t = rng.exp(1800.0);
    while t < end {
        if working(p, t) {
            let length = rng.exp(1200.0).min(7200.0);
            let rate = p.rate_per_min * (0.25 * rng.normal()).exp() / 60.0;
            let mut c = t + rng.exp(1.0 / rate);
            while c < t + length && c < end {
                out.push(normal_call(rng, p, agent, c));
                c += rng.exp(1.0 / rate);
            }
        }
        t += rng.exp(1800.0);
    }
}

/// A time in the agent's work hours (or, for off hours, far from them) at least three days
/// after `first` and two hours from every other injection of the agent.
fn slot(rng: &mut Rng, p: &Profile, first: f64, taken: &[f64], off_hours: bool) -> Option<f64> {
    for _ in 0..10_000 {
        let t = rng.range(first + 3.0 * DAY, DAYS as f64 * DAY - 3600.0);
        let ok_hour = if off_hours {
            let (start, hours) = p.office?;
            let h = t.rem_euclid(DAY) / 3600.0;
            let from_start = (h - start).rem_euclid(24.0);
            from_start >= hours + 3.0 && from_start <= 24.0 - 3.0 - 0.5
        } else {
            working(p, t)
        };
        if ok_hour && taken.iter().all(|o| (o - t).abs() >= 7200.0) {
            return Some(t);
        }
    }
    None
}

/// How strong the injected anomalies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// As described in the module documentation (the acceptance target).
    Clear,
    /// Weaker: bursts at 3 to 6 times the rate (at least 20 a minute), results 8 to 30 times
    /// the median, 3 calls off hours, 6 to 10 refusals; where the detector's reach ends.
    Subtle,
}

/// Adds the calls of injection number `id` (of `kind`, for agent `agent` with profile `p`,
/// from `start`) to `out`; returns when it ends.
fn inject(
    rng: &mut Rng,
    strength: Strength,
    (p, agent): (&Profile, usize),
    (kind, start, id): (Anomaly, f64, usize),
    out: &mut Vec<Event>,
) -> f64 {
    let call = |time: f64, target: String| Event {
        time,
        agent,
        target,
        destinations: Vec::new(),
        denied: false,
        bytes: 500,
        injected: Some(id),
    };
    // One of the agent's usual calls at `time`, as part of this injection.
    let usual = |rng: &mut Rng, time: f64, denied: bool| Event {
        denied,
        injected: Some(id),
        ..normal_call(rng, p, agent, time)
    };
    let first = p
        .tools
        .first()
        .map_or("srv0/tool0", |t| t.name.as_str())
        .to_owned();
    match kind {
        Anomaly::NewTool => {
            let n = rng.int(1, 3);
            for i in 0..n {
                out.push(call(
                    start + i as f64 * 20.0,
                    format!("srv9/never_used_{id}"),
                ));
            }
            start + n as f64 * 20.0
        }
        Anomaly::NewDestination => {
            let send = p.tools.iter().rfind(|t| !t.destinations.is_empty());
            let mut e = call(start, send.map_or(first, |t| t.name.clone()));
            e.destinations = vec![if rng.f() < 0.5 {
                format!("drop{id}@exfil{}.test", rng.int(0, 999))
            } else {
                format!("upload{id}.exfil{}.test", rng.int(0, 999))
            }];
            out.push(e);
            start
        }
        Anomaly::RateSpike => {
            let per_min = match strength {
                Strength::Clear => (p.rate_per_min * rng.range(10.0, 25.0)).max(30.0),
                Strength::Subtle => (p.rate_per_min * rng.range(3.0, 6.0)).max(20.0),
            };
            let mut t = start;
            while t < start + 180.0 {
                out.push(usual(rng, t, false));
                t += rng.exp(60.0 / per_min);
            }
            start + 180.0
        }
        Anomaly::DataVolume => {
            let k = rng.int(0, p.tools.len() as u64 - 1) as usize;
            let tool = p.tools.get(k).unwrap_or_else(|| unreachable!());
            let mut e = call(start, tool.name.clone());
            e.destinations = tool.destinations.first().cloned().into_iter().collect();
            let (lo, hi): (f64, f64) = match strength {
                Strength::Clear => (50.0, 500.0),
                Strength::Subtle => (8.0, 30.0),
            };
            e.bytes = (tool.median * rng.range(lo.ln(), hi.ln()).exp()) as u64;
            out.push(e);
            start
        }
        Anomaly::OffHours => {
            let n = match strength {
                Strength::Clear => rng.int(4, 10),
                Strength::Subtle => 3,
            };
            let span = rng.range(600.0, 1800.0);
            for i in 0..n {
                out.push(usual(rng, start + span * i as f64 / n as f64, false));
            }
            start + span
        }
        Anomaly::DenialBurst => {
            let n = match strength {
                Strength::Clear => rng.int(15, 30),
                Strength::Subtle => rng.int(6, 10),
            };
            let span = rng.range(120.0, 180.0);
            for i in 0..n {
                out.push(usual(rng, start + span * i as f64 / n as f64, true));
            }
            start + span
        }
    }
}

/// What one replay found.
#[derive(Debug, Default)]
pub struct Report {
    pub normal_calls: u64,
    /// (kind, injected, found).
    pub by_kind: Vec<(Anomaly, usize, usize)>,
    pub false_alerts: usize,
    /// A few of the false alerts, to read.
    pub false_examples: Vec<String>,
    /// The injections not found.
    pub missed: Vec<String>,
}

impl Report {
    pub fn injected(&self) -> usize {
        self.by_kind.iter().map(|k| k.1).sum()
    }

    pub fn found(&self) -> usize {
        self.by_kind.iter().map(|k| k.2).sum()
    }

    pub fn false_per_10k(&self) -> f64 {
        self.false_alerts as f64 * 10_000.0 / self.normal_calls.max(1) as f64
    }
}

/// Generates the trace for `seed` and replays it.
pub fn evaluate(seed: u64, strength: Strength, settings: &AnomalySettings) -> Report {
    let mut rng = Rng(seed);
    let profiles: Vec<Profile> = (0..AGENTS).map(|i| profile(&mut rng, i)).collect();
    let mut events = Vec::new();
    let mut injected = Vec::new();
    for (a, p) in profiles.iter().enumerate() {
        let before = events.len();
        normal(&mut rng, p, a, &mut events);
        let first = events.get(before).map_or(0.0, |e| e.time);
        let mut taken = Vec::new();
        for kind in Anomaly::ALL {
            for _ in 0..PER_KIND {
                let Some(start) = slot(&mut rng, p, first, &taken, kind == Anomaly::OffHours)
                else {
                    continue;
                };
                taken.push(start);
                let what = (kind, start, injected.len());
                let end = inject(&mut rng, strength, (p, a), what, &mut events);
                injected.push(Injected {
                    agent: a,
                    kind,
                    start,
                    end,
                });
            }
        }
    }
    events.sort_by(|x, y| x.time.total_cmp(&y.time));
    let detector = Anomalies::new(settings.clone());
    let mut found = vec![false; injected.len()];
    let mut report = Report::default();
    for e in &events {
        let p = profiles.get(e.agent).unwrap_or_else(|| unreachable!());
        let mut alerts = detector.observe(&Seen {
            agent: &p.name,
            target: &e.target,
            destinations: &e.destinations,
            denied: e.denied,
            now: e.time,
        });
        if !e.denied {
            alerts.extend(detector.observe_result(&p.name, &e.target, e.bytes, e.time));
        }
        if e.injected.is_none() {
            report.normal_calls += 1;
        }
        for alert in alerts {
            // Whichever injection of this agent it falls within (or just after) explains it.
            let mut explained = false;
            for (i, inj) in injected.iter().enumerate() {
                if inj.agent == e.agent && alert.time >= inj.start && alert.time <= inj.end + 600.0
                {
                    explained = true;
                    if inj.kind == alert.anomaly
                        && alert.time <= inj.end + 60.0
                        && let Some(f) = found.get_mut(i)
                    {
                        *f = true;
                    }
                }
            }
            if !explained {
                report.false_alerts += 1;
                if report.false_examples.len() < 5 {
                    report.false_examples.push(format!(
                        "{} {} {}: {}",
                        alert.agent,
                        alert.anomaly.as_str(),
                        alert.severity.as_str(),
                        alert.why
                    ));
                }
            }
        }
    }
    for (i, inj) in injected.iter().enumerate() {
        if !found.get(i).copied().unwrap_or(true) {
            let p = profiles.get(inj.agent).unwrap_or_else(|| unreachable!());
            report.missed.push(format!(
                "{} {} at day {:.0} {:02.0}:{:02.0} UTC (office {:?}, {:.1} calls a minute)",
                p.name,
                inj.kind.as_str(),
                (inj.start / DAY).floor(),
                (inj.start.rem_euclid(DAY) / 3600.0).floor(),
                (inj.start.rem_euclid(3600.0) / 60.0).floor(),
                p.office,
                p.rate_per_min
            ));
        }
    }
    for kind in Anomaly::ALL {
        let of_kind: Vec<usize> = (0..injected.len())
            .filter(|i| injected.get(*i).is_some_and(|x| x.kind == kind))
            .collect();
        let hits = of_kind
            .iter()
            .filter(|i| found.get(**i).copied().unwrap_or(false))
            .count();
        report.by_kind.push((kind, of_kind.len(), hits));
    }
    report
}

/// Seeds reported in BENCHMARKS.md.
pub const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

pub fn run() {
    let settings = AnomalySettings::default();
    println!(
        "\n## Anomaly detection on a seeded replay ({AGENTS} agents, {DAYS} days, default settings)\n"
    );
    println!(
        "| seed | strength | normal calls | injected | found | found % | false alerts | per 10,000 normal calls |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut by_signal = Vec::new();
    for strength in [Strength::Clear, Strength::Subtle] {
        let mut totals: Vec<(Anomaly, usize, usize)> =
            Anomaly::ALL.iter().map(|k| (*k, 0, 0)).collect();
        for seed in SEEDS {
            let r = evaluate(seed, strength, &settings);
            println!(
                "| {seed} | {strength:?} | {} | {} | {} | {:.1} % | {} | {:.2} |",
                r.normal_calls,
                r.injected(),
                r.found(),
                100.0 * r.found() as f64 / r.injected().max(1) as f64,
                r.false_alerts,
                r.false_per_10k()
            );
            for ex in &r.false_examples {
                eprintln!("  false alert (seed {seed}): {ex}");
            }
            for m in r.missed.iter().filter(|_| strength == Strength::Clear) {
                eprintln!("  missed (seed {seed}): {m}");
            }
            for (t, k) in totals.iter_mut().zip(&r.by_kind) {
                t.1 += k.1;
                t.2 += k.2;
            }
        }
        by_signal.push(totals);
    }
    println!(
        "\n| signal | clear: found | clear % | subtle: found | subtle % |\n|---|---|---|---|---|"
    );
    let pct = |hits: usize, n: usize| 100.0 * hits as f64 / n.max(1) as f64;
    if let [clear, subtle] = by_signal.as_slice() {
        for ((kind, n, hits), (_, sn, shits)) in clear.iter().zip(subtle) {
            println!(
                "| {} | {hits} of {n} | {:.1} % | {shits} of {sn} | {:.1} % |",
                kind.as_str(),
                pct(*hits, *n),
                pct(*shits, *sn)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The acceptance target on one seed that is not among the reported ones.
    #[test]
    fn finds_injected_anomalies_with_few_false_alerts() {
        let r = evaluate(42, Strength::Clear, &AnomalySettings::default());
        assert!(r.injected() >= 150, "{r:?}");
        assert!(r.normal_calls > 100_000, "{r:?}");
        assert!(r.found() as f64 >= 0.95 * r.injected() as f64, "{r:?}");
        assert!(r.false_per_10k() < 1.0, "{r:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_trace() {
        let s = AnomalySettings::default();
        let (a, b) = (
            evaluate(7, Strength::Clear, &s),
            evaluate(7, Strength::Clear, &s),
        );
        assert_eq!(a.normal_calls, b.normal_calls);
        assert_eq!(a.false_alerts, b.false_alerts);
        assert_eq!(a.by_kind, b.by_kind);
    }
}
