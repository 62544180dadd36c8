//! `[anomaly]` and `[agent_breaker]` become one [`warden_proxy::AgentGuard`]; the anomaly
//! baselines are kept in a JSON file (next to the audit log unless configured), read at start,
//! written every minute and at shutdown, so a restart does not start learning over.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use warden_controls::{Anomalies, Anomaly, AnomalySettings, Baselines, Severity};

use crate::config::Loaded;

/// How often baselines are written.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// When an alert pauses the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuspendAt {
    Low,
    Medium,
    High,
    Critical,
    /// Alerts only.
    Never,
}

/// `[anomaly]`: each agent's behaviour against its own baseline (off when absent). Every
/// field is optional; the defaults are the tuned ones in BENCHMARKS.md.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Calls before an agent's baseline is trusted (default 500).
    pub learn_calls: Option<u64>,
    /// And hours since its first call (default 1).
    pub learn_hours: Option<f64>,
    /// A new tool or destination is flagged only when new ones came up in at most this share of
    /// the agent's past uses (default 0.01).
    pub novelty_max: Option<f64>,
    /// Length of a rate window in seconds (default 60).
    pub rate_window_secs: Option<f64>,
    /// A window with more than this many times the usual calls is a spike (default 5).
    pub rate_factor: Option<f64>,
    /// ...and with at least this many calls (default 30).
    pub rate_min_calls: Option<u64>,
    /// A result this many log-scale deviations above the tool's usual size (default 5)...
    pub volume_deviations: Option<f64>,
    /// ...and at least this many bytes (default 4096) is unusual.
    pub volume_min_bytes: Option<u64>,
    /// An hour (with its neighbours) holding less than this share of the agent's calls is off
    /// hours (default 0.002)...
    pub off_hours_share: Option<f64>,
    /// ...once its hours have been watched this long (default 72)...
    pub off_hours_learn_hours: Option<f64>,
    /// ...and this many calls in such hours within an hour alert (default 3).
    pub off_hours_calls: Option<u32>,
    /// Seconds over which refused calls are counted (default 300).
    pub denial_window_secs: Option<f64>,
    /// Fewest refusals in the window for a burst (default 5)...
    pub denial_min: Option<u32>,
    /// ...at most this likely by chance given the agent's usual share (default 1e-6).
    pub denial_chance: Option<f64>,
    /// The same signal alerts again for an agent only after this long (default 600).
    pub cooldown_secs: Option<f64>,
    /// A second, different signal within this long is critical (default 600).
    pub escalate_secs: Option<f64>,
    /// Severity per signal (`new_tool = "high"`).
    #[serde(default)]
    pub severity: HashMap<Anomaly, Severity>,
    /// Alerts this severe or worse pause the agent (default `critical`; `never` for alerts
    /// only).
    pub suspend_at: Option<SuspendAt>,
    /// Where baselines are kept (default `baselines.json` next to the audit log).
    pub baselines: Option<PathBuf>,
}

impl AnomalyConfig {
    /// The detector's settings, checked.
    pub fn settings(&self) -> Result<AnomalySettings> {
        let d = AnomalySettings::default();
        let positive = |name: &str, v: Option<f64>, default: f64| -> Result<f64> {
            match v {
                None => Ok(default),
                Some(x) if x.is_finite() && x > 0.0 => Ok(x),
                Some(x) => bail!("[anomaly] {name} must be a positive number, not {x}"),
            }
        };
        let share = |name: &str, v: Option<f64>, default: f64| -> Result<f64> {
            match v {
                None => Ok(default),
                Some(x) if x > 0.0 && x < 1.0 => Ok(x),
                Some(x) => bail!("[anomaly] {name} must be between 0 and 1, not {x}"),
            }
        };
        Ok(AnomalySettings {
            learn_calls: self.learn_calls.unwrap_or(d.learn_calls),
            learn_secs: 3600.0 * positive("learn_hours", self.learn_hours, d.learn_secs / 3600.0)?,
            novelty_max: share("novelty_max", self.novelty_max, d.novelty_max)?,
            rate_window_secs: positive(
                "rate_window_secs",
                self.rate_window_secs,
                d.rate_window_secs,
            )?,
            rate_factor: positive("rate_factor", self.rate_factor, d.rate_factor)?,
            rate_min_calls: self.rate_min_calls.unwrap_or(d.rate_min_calls),
            volume_z: positive("volume_deviations", self.volume_deviations, d.volume_z)?,
            volume_min_bytes: self.volume_min_bytes.unwrap_or(d.volume_min_bytes),
            off_hours_share: share("off_hours_share", self.off_hours_share, d.off_hours_share)?,
            off_hours_learn_secs: 3600.0
                * positive(
                    "off_hours_learn_hours",
                    self.off_hours_learn_hours,
                    d.off_hours_learn_secs / 3600.0,
                )?,
            off_hours_calls: self.off_hours_calls.unwrap_or(d.off_hours_calls).max(1),
            denial_window_secs: positive(
                "denial_window_secs",
                self.denial_window_secs,
                d.denial_window_secs,
            )?,
            denial_min: self.denial_min.unwrap_or(d.denial_min).max(1),
            denial_chance: share("denial_chance", self.denial_chance, d.denial_chance)?,
            cooldown_secs: positive("cooldown_secs", self.cooldown_secs, d.cooldown_secs)?,
            escalate_secs: positive("escalate_secs", self.escalate_secs, d.escalate_secs)?,
            severity: self.severity.clone(),
        })
    }

    fn suspend_at(&self) -> Option<Severity> {
        match self.suspend_at.unwrap_or(SuspendAt::Critical) {
            SuspendAt::Low => Some(Severity::Low),
            SuspendAt::Medium => Some(Severity::Medium),
            SuspendAt::High => Some(Severity::High),
            SuspendAt::Critical => Some(Severity::Critical),
            SuspendAt::Never => None,
        }
    }
}

/// Keeps the baselines on disk while it lives; saves once more when dropped.
#[derive(Debug)]
pub struct Keeper {
    anomalies: Arc<Anomalies>,
    path: PathBuf,
    _saver: std::thread::JoinHandle<()>,
}

impl Keeper {
    /// Writes the baselines (to a temporary file renamed over the old one).
    pub fn save(&self) -> Result<()> {
        save(&self.anomalies, &self.path)
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Err(e) = self.save() {
            tracing::error!("could not save anomaly baselines: {e:#}");
        }
    }
}

fn save(anomalies: &Anomalies, path: &Path) -> Result<()> {
    let text = serde_json::to_vec(&anomalies.baselines()).context("encoding baselines")?;
    if let Some(dir) = path.parent() {
        warden_types::file::create_private_dir(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
        0o600,
    )
    .open(&tmp)
    .and_then(|mut f| std::io::Write::write_all(&mut f, &text))
    .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace `{}`", path.display()))
}

/// Reads saved baselines; an unreadable file is moved aside (learning starts over) rather
/// than stopping Warden.
fn load(anomalies: &Anomalies, path: &Path) {
    let Ok(text) = std::fs::read(path) else {
        return;
    };
    match serde_json::from_slice::<Baselines>(&text) {
        Ok(saved) => anomalies.restore(saved),
        Err(e) => {
            let aside = path.with_extension("json.unreadable");
            tracing::error!(
                "anomaly baselines `{}` are unreadable ({e}); moved to `{}`, learning starts over",
                path.display(),
                aside.display()
            );
            let _ = std::fs::rename(path, aside);
        }
    }
}

impl Loaded {
    /// Where anomaly baselines are kept.
    pub fn baselines_path(&self) -> Option<PathBuf> {
        let config = self.config.anomaly.as_ref()?;
        Some(match &config.baselines {
            Some(p) => self.resolve(p),
            None => self.audit_path().parent().map_or_else(
                || PathBuf::from("baselines.json"),
                |d| d.join("baselines.json"),
            ),
        })
    }

    /// The agent breaker and anomaly detection from `[agent_breaker]` and `[anomaly]`, or
    /// `None` when neither is configured. `on_pause` keeps pauses elsewhere (the gateway's
    /// identity store); without it they are kept in memory.
    pub fn agent_guard(
        &self,
        on_pause: Option<warden_proxy::PauseHook>,
    ) -> Result<Option<(warden_proxy::AgentGuard, Option<Keeper>)>> {
        let breaker = match &self.config.agent_breaker {
            Some(c) => c.settings()?,
            None if self.config.anomaly.is_some() => warden_controls::AgentBreakerSettings {
                window_secs: 1.0,
                max_denials: 0,
                max_findings: 0,
            },
            None => return Ok(None),
        };
        let mut guard = warden_proxy::AgentGuard {
            breaker: Arc::new(warden_controls::AgentBreaker::new(breaker)),
            on_pause,
            anomalies: None,
            suspend_at: None,
        };
        let mut keeper = None;
        if let (Some(config), Some(path)) = (&self.config.anomaly, self.baselines_path()) {
            let anomalies = Arc::new(Anomalies::new(config.settings()?));
            load(&anomalies, &path);
            let weak: Weak<Anomalies> = Arc::downgrade(&anomalies);
            let for_thread = path.clone();
            let saver = std::thread::Builder::new()
                .name("warden-baselines".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(SAVE_EVERY);
                        let Some(a) = weak.upgrade() else { return };
                        if let Err(e) = save(&a, &for_thread) {
                            tracing::error!("could not save anomaly baselines: {e:#}");
                        }
                    }
                })
                .context("baselines thread")?;
            guard.anomalies = Some(anomalies.clone());
            guard.suspend_at = config.suspend_at();
            keeper = Some(Keeper {
                anomalies,
                path,
                _saver: saver,
            });
        }
        Ok(Some((guard, keeper)))
    }
}
