//! Anomaly detection: each agent's behaviour against its own baseline, with streaming
//! statistics only (sets, counters, exponentially weighted means); nothing is stored per call.
//!
//! Six signals, each with a severity (configurable) and an explanation in its alert:
//!
//! - **new tool**: the agent uses a tool, resource or prompt it has never used (and new ones
//!   are rare for it);
//! - **new destination**: its arguments name a host or e-mail address it has never sent to
//!   (and new ones are rare for it);
//! - **rate spike**: its calls in the current window far exceed its usual active window;
//! - **data volume**: a result far larger than that tool usually returns to it (log-normal);
//! - **off hours**: several calls in an hour of the day (UTC) it almost never works in;
//! - **denial burst**: many more refused calls in a few minutes than its usual denial rate.
//!
//! An agent's baseline is trusted only after it has made `learn_calls` calls over at least
//! `learn_secs` (off hours wait longer, `off_hours_learn_secs`); until then it learns silently. Anomalous observations do not teach the
//! baseline (a spike does not make the next spike normal). Two different signals for the same
//! agent within `escalate_secs` make the second one critical. Baselines can be saved and
//! restored ([`Anomalies::baselines`], [`Anomalies::restore`]) so a restart does not start
//! learning over.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// How serious an alert is; an agent is suspended at a configured severity and above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// Which signal fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    NewTool,
    NewDestination,
    RateSpike,
    DataVolume,
    OffHours,
    DenialBurst,
}

impl Anomaly {
    /// Every signal.
    pub const ALL: [Self; 6] = [
        Self::NewTool,
        Self::NewDestination,
        Self::RateSpike,
        Self::DataVolume,
        Self::OffHours,
        Self::DenialBurst,
    ];

    /// `new_tool`, `new_destination`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewTool => "new_tool",
            Self::NewDestination => "new_destination",
            Self::RateSpike => "rate_spike",
            Self::DataVolume => "data_volume",
            Self::OffHours => "off_hours",
            Self::DenialBurst => "denial_burst",
        }
    }

    fn default_severity(self) -> Severity {
        match self {
            Self::OffHours => Severity::Low,
            Self::NewTool | Self::RateSpike | Self::DataVolume => Severity::Medium,
            Self::NewDestination | Self::DenialBurst => Severity::High,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Thresholds. [`AnomalySettings::default`] is tuned on the seeded replay in `warden-bench`
/// (`anomaly`), see BENCHMARKS.md.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalySettings {
    /// Calls an agent makes before its baseline is trusted.
    pub learn_calls: u64,
    /// And seconds since its first call.
    pub learn_secs: f64,
    /// A new tool or destination is flagged only when new ones came up in at most this share
    /// of the agent's past uses (Good-Turing).
    pub novelty_max: f64,
    /// Length of a rate window.
    pub rate_window_secs: f64,
    /// A window with more than this many times the usual active window's calls is a spike...
    pub rate_factor: f64,
    /// ...and with at least this many calls.
    pub rate_min_calls: u64,
    /// A result this many (log-scale) deviations above the tool's usual size is unusual...
    pub volume_z: f64,
    /// ...and at least this large.
    pub volume_min_bytes: u64,
    /// An hour of the day that, with the hours on either side, held less than this share of
    /// the agent's calls is off hours...
    pub off_hours_share: f64,
    /// ...once the agent's hours have been watched this long (a single day can miss an hour
    /// by chance)...
    pub off_hours_learn_secs: f64,
    /// ...and this many calls in such hours within an hour raise the alert.
    pub off_hours_calls: u32,
    /// Seconds over which refused calls are counted.
    pub denial_window_secs: f64,
    /// Fewest refusals in the window for a burst...
    pub denial_min: u32,
    /// ...and at most this likely by chance given the agent's usual share of refused calls
    /// (Poisson).
    pub denial_chance: f64,
    /// The same signal alerts again for the same agent only after this long.
    pub cooldown_secs: f64,
    /// A second, different signal within this long is critical.
    pub escalate_secs: f64,
    /// Severity per signal, overriding the defaults (off hours low; new tool, rate spike and
    /// data volume medium; new destination and denial burst high).
    pub severity: HashMap<Anomaly, Severity>,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        Self {
            learn_calls: 500,
            learn_secs: 3_600.0,
            novelty_max: 0.01,
            rate_window_secs: 60.0,
            rate_factor: 5.0,
            rate_min_calls: 30,
            volume_z: 5.0,
            volume_min_bytes: 4096,
            off_hours_share: 0.002,
            off_hours_learn_secs: 3.0 * 86_400.0,
            off_hours_calls: 3,
            denial_window_secs: 300.0,
            denial_min: 5,
            denial_chance: 1e-6,
            cooldown_secs: 600.0,
            escalate_secs: 600.0,
            severity: HashMap::new(),
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub agent: String,
    pub anomaly: Anomaly,
    pub severity: Severity,
    /// Why, in words, with the numbers that made it fire.
    pub why: String,
    /// Unix seconds.
    pub time: f64,
}

/// A governed call as the detector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub agent: &'a str,
    /// `<server>/<tool, uri or prompt>`.
    pub target: &'a str,
    /// Hosts and e-mail addresses in its arguments ([`crate::destinations`]).
    pub destinations: &'a [String],
    /// Whether it was refused.
    pub denied: bool,
    /// Unix seconds.
    pub now: f64,
}

/// Most tools and destinations remembered per agent (beyond it, new ones are not learned).
const MAX_KNOWN: usize = 4096;
/// Sub-windows of the denial window.
const DENIAL_SLOTS: usize = 10;
/// Weight of a new observation in the moving averages once past the first few.
const ALPHA: f64 = 0.02;
/// The same for the share of refused calls (a rate over many calls, which a few refusals in a
/// row must not move).
const DENIAL_ALPHA: f64 = 0.0005;
/// Observations before a tool's size baseline is used.
const VOLUME_MIN_SEEN: u64 = 20;
/// Smallest log-size deviation assumed (sizes that never vary still vary by this).
const VOLUME_MIN_SD: f64 = 0.5;
/// Active windows before the rate baseline is used.
const RATE_MIN_WINDOWS: u64 = 10;

/// An exponentially weighted mean and variance (plain averages for the first `1/alpha`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Moving {
    n: u64,
    mean: f64,
    var: f64,
}

impl Moving {
    fn add(&mut self, x: f64) {
        self.add_with(x, ALPHA);
    }

    fn add_with(&mut self, x: f64, alpha: f64) {
        self.n += 1;
        let a = (1.0 / self.n as f64).max(alpha);
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }

    fn sd(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }
}

/// P(X >= k) for X ~ Poisson(lambda), summed from k up (exact enough for tiny tails).
fn poisson_tail(k: u64, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    let ln_fact: f64 = (2..=k).map(|i| (i as f64).ln()).sum();
    let mut term = (-lambda + k as f64 * lambda.ln() - ln_fact).exp();
    let mut sum = 0.0;
    let mut i = k;
    while term > sum * 1e-12 && i < k + 1000 {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
    }
    sum.min(1.0)
}

/// What an agent used (tools, destinations), how often, and how often something new came up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Known {
    counts: HashMap<String, u32>,
    /// Items seen exactly once.
    once: u64,
    /// Observations.
    seen: u64,
}

impl Known {
    /// Good-Turing: the chance that the next observation is something never seen, estimated
    /// as the share of observations that were of items seen only once. Nothing seen at all
    /// (a learned agent that never named a destination) makes any new one rare.
    fn novelty(&self) -> f64 {
        if self.seen == 0 {
            0.0
        } else {
            self.once as f64 / self.seen as f64
        }
    }

    /// Counts an observation; returns whether the item was new.
    fn add(&mut self, item: &str) -> bool {
        self.seen += 1;
        if let Some(c) = self.counts.get_mut(item) {
            if *c == 1 {
                self.once = self.once.saturating_sub(1);
            }
            *c = c.saturating_add(1);
            return false;
        }
        if self.counts.len() < MAX_KNOWN {
            self.counts.insert(item.to_owned(), 1);
            self.once += 1;
        }
        true
    }

    fn len(&self) -> usize {
        self.counts.len()
    }
}

/// One agent's baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Baseline {
    first_seen: f64,
    calls: u64,
    tools: Known,
    destinations: Known,
    /// Start of the current rate window and its calls.
    window_start: f64,
    window_calls: u64,
    window_flagged: bool,
    /// Calls per active window.
    rate: Moving,
    /// Log result size per target.
    volume: HashMap<String, Moving>,
    /// Calls per hour of the day (UTC).
    hours: [u64; 24],
    /// Recent calls in off hours.
    off_hours_recent: Vec<f64>,
    /// (slot index, calls, denials) for the denial window.
    denial_slots: [(i64, u64, u64); DENIAL_SLOTS],
    /// Share of calls refused.
    denial_rate: Moving,
    /// When each signal last alerted.
    last_alert: [f64; 6],
}

impl Baseline {
    fn learned(&self, s: &AnomalySettings, now: f64) -> bool {
        self.calls >= s.learn_calls && now - self.first_seen >= s.learn_secs
    }
}

/// Saved baselines, by agent ([`Anomalies::baselines`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Baselines(HashMap<String, Baseline>);

/// Baselines of every agent; shared by every session of a process.
#[derive(Debug)]
pub struct Anomalies {
    settings: AnomalySettings,
    agents: Mutex<HashMap<String, Baseline>>,
}

impl Anomalies {
    /// No baselines yet.
    pub fn new(settings: AnomalySettings) -> Self {
        Self {
            settings,
            agents: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Baseline>> {
        self.agents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of every baseline, to save.
    pub fn baselines(&self) -> Baselines {
        Baselines(self.lock().clone())
    }

    /// Replaces the baselines with saved ones.
    pub fn restore(&self, saved: Baselines) {
        *self.lock() = saved.0;
    }

    /// Agents with a baseline.
    pub fn agents(&self) -> usize {
        self.lock().len()
    }

    /// Observes a governed call; returns the alerts it raises (usually none).
    pub fn observe(&self, seen: &Seen<'_>) -> Vec<Alert> {
        let s = &self.settings;
        let now = seen.now;
        let mut alerts = Vec::new();
        let mut agents = self.lock();
        let b = match agents.get_mut(seen.agent) {
            Some(b) => b,
            None => agents
                .entry(seen.agent.to_owned())
                .or_insert_with(|| Baseline {
                    first_seen: now,
                    window_start: now,
                    ..Baseline::default()
                }),
        };
        let learned = b.learned(s, now);
        b.calls += 1;
        let mut fire = |b: &mut Baseline, anomaly: Anomaly, why: String| {
            let last = b.last_alert.get(anomaly.index()).copied().unwrap_or(0.0);
            let new_key = matches!(anomaly, Anomaly::NewTool | Anomaly::NewDestination);
            if !new_key && last > 0.0 && now - last < s.cooldown_secs {
                return;
            }
            if let Some(slot) = b.last_alert.get_mut(anomaly.index()) {
                *slot = now;
            }
            alerts.push((anomaly, why));
        };

        // New tool or resource, or new destinations: only where the agent's own history makes
        // new ones rare (an agent that often uses new ones is not flagged for each).
        let novelty = b.tools.novelty();
        let known = b.tools.len();
        if b.tools.add(seen.target) && learned && novelty <= s.novelty_max {
            fire(
                b,
                Anomaly::NewTool,
                format!(
                    "first use of `{}` after {} calls to {known} others (new ones came in {:.2} % of its calls)",
                    seen.target,
                    b.calls - 1,
                    100.0 * novelty
                ),
            );
        }
        for d in seen.destinations {
            let novelty = b.destinations.novelty();
            let known = b.destinations.len();
            if b.destinations.add(d) && learned && novelty <= s.novelty_max {
                fire(
                    b,
                    Anomaly::NewDestination,
                    format!(
                        "`{d}` in the arguments of `{}` is a destination this agent never used ({known} known; new ones came in {:.2} % of its destinations)",
                        seen.target,
                        100.0 * novelty
                    ),
                );
            }
        }
        // Rate: close finished windows (a window with calls teaches the baseline unless it
        // was a spike; idle windows do not count, an agent's rate is its rate when active).
        if now - b.window_start >= s.rate_window_secs {
            if b.window_calls > 0 && !b.window_flagged {
                b.rate.add(b.window_calls as f64);
            }
            let windows = ((now - b.window_start) / s.rate_window_secs).floor();
            b.window_start += windows * s.rate_window_secs;
            b.window_calls = 0;
            b.window_flagged = false;
        }
        b.window_calls += 1;
        if learned && !b.window_flagged && b.rate.n >= RATE_MIN_WINDOWS {
            let usual = b.rate.mean;
            let bar = (usual * s.rate_factor)
                .max(usual + 6.0 * b.rate.sd())
                .max(s.rate_min_calls as f64);
            if b.window_calls as f64 > bar {
                b.window_flagged = true;
                let why = format!(
                    "{} calls within {} s; usually {:.1} per active window",
                    b.window_calls, s.rate_window_secs, usual
                );
                fire(b, Anomaly::RateSpike, why);
            }
        }
        // Hour of the day, with its neighbours (an agent that works 09:00-17:00 is not off
        // hours at 08:30).
        let hour = usize::try_from((now.max(0.0) as u64 % 86_400) / 3600).unwrap_or(0);
        let total: u64 = b.hours.iter().sum();
        let in_hour: u64 = [23, 0, 1]
            .iter()
            .filter_map(|d| b.hours.get((hour + d) % 24))
            .sum();
        if learned
            && now - b.first_seen >= s.off_hours_learn_secs
            && total > 0
            && (in_hour as f64) < s.off_hours_share * total as f64
        {
            b.off_hours_recent.retain(|t| now - t < 3600.0);
            b.off_hours_recent.push(now);
            if b.off_hours_recent.len() >= s.off_hours_calls as usize {
                let why = format!(
                    "{} calls within the hour at {hour:02}:00 UTC; the hours {:02}:00-{:02}:59 held {in_hour} of its {total} calls",
                    b.off_hours_recent.len(),
                    (hour + 23) % 24,
                    (hour + 1) % 24,
                );
                b.off_hours_recent.clear();
                fire(b, Anomaly::OffHours, why);
            }
        }
        if let Some(h) = b.hours.get_mut(hour) {
            *h += 1;
        }
        // Denials: counts in sub-windows of the denial window.
        let slot_secs = s.denial_window_secs / DENIAL_SLOTS as f64;
        let slot_index = (now / slot_secs).floor() as i64;
        let slot_pos = usize::try_from(slot_index.rem_euclid(DENIAL_SLOTS as i64)).unwrap_or(0);
        if let Some(slot) = b.denial_slots.get_mut(slot_pos) {
            if slot.0 != slot_index {
                *slot = (slot_index, 0, 0);
            }
            slot.1 += 1;
            slot.2 += u64::from(seen.denied);
        }
        let (calls, denials) = b
            .denial_slots
            .iter()
            .filter(|(i, _, _)| slot_index - i < DENIAL_SLOTS as i64)
            .fold((0, 0), |(c, d), (_, sc, sd)| (c + sc, d + sd));
        let expected = b.denial_rate.mean * calls as f64;
        let burst = seen.denied
            && learned
            && denials >= u64::from(s.denial_min)
            && poisson_tail(denials, expected) < s.denial_chance;
        if burst {
            let why = format!(
                "{denials} refused calls of {calls} within {} s; its usual rate predicts {expected:.1}",
                s.denial_window_secs
            );
            fire(b, Anomaly::DenialBurst, why);
        } else {
            b.denial_rate
                .add_with(if seen.denied { 1.0 } else { 0.0 }, DENIAL_ALPHA);
        }
        let last = b.last_alert;
        drop(agents);
        self.finish(seen.agent, now, alerts, last)
    }

    /// Observes the size of what a call returned (bytes of its text).
    pub fn observe_result(&self, agent: &str, target: &str, bytes: u64, now: f64) -> Vec<Alert> {
        let s = &self.settings;
        let mut agents = self.lock();
        let Some(b) = agents.get_mut(agent) else {
            return Vec::new();
        };
        let learned = b.learned(s, now);
        let x = (bytes as f64 + 1.0).ln();
        let mut alerts = Vec::new();
        if !b.volume.contains_key(target) {
            if b.volume.len() >= MAX_KNOWN {
                return Vec::new();
            }
            b.volume.insert(target.to_owned(), Moving::default());
        }
        let Some(stats) = b.volume.get_mut(target) else {
            return Vec::new();
        };
        let z = (x - stats.mean) / stats.sd().max(VOLUME_MIN_SD);
        let unusual =
            learned && stats.n >= VOLUME_MIN_SEEN && bytes >= s.volume_min_bytes && z > s.volume_z;
        if unusual {
            let usual = stats.mean.exp() - 1.0;
            let slot = b.last_alert.get_mut(Anomaly::DataVolume.index());
            if let Some(last) = slot.filter(|t| **t <= 0.0 || now - **t >= s.cooldown_secs) {
                *last = now;
                alerts.push((
                    Anomaly::DataVolume,
                    format!(
                        "`{target}` returned {bytes} bytes; it usually returns about {usual:.0} ({z:.1} deviations above)"
                    ),
                ));
            }
        } else {
            stats.add(x);
        }
        let last = b.last_alert;
        drop(agents);
        self.finish(agent, now, alerts, last)
    }

    /// Severity per alert; a second different signal within `escalate_secs` (by `last`, when
    /// each signal last alerted for the agent) is critical.
    fn finish(
        &self,
        agent: &str,
        now: f64,
        fired: Vec<(Anomaly, String)>,
        last: [f64; 6],
    ) -> Vec<Alert> {
        let s = &self.settings;
        fired
            .into_iter()
            .map(|(anomaly, why)| {
                let base = s
                    .severity
                    .get(&anomaly)
                    .copied()
                    .unwrap_or_else(|| anomaly.default_severity());
                let other = Anomaly::ALL.iter().find(|a| {
                    **a != anomaly
                        && last
                            .get(a.index())
                            .is_some_and(|t| *t > 0.0 && now - t <= s.escalate_secs)
                });
                let (severity, why) = match other {
                    Some(o) => (
                        Severity::Critical,
                        format!("{why}; together with {} for this agent", o.as_str()),
                    ),
                    None => (base, why),
                };
                Alert {
                    agent: agent.to_owned(),
                    anomaly,
                    severity,
                    why,
                    time: now,
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "anomaly_tests.rs"]
mod tests;
