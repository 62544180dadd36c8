//! `[limits]`: the rate, concurrency and budget tables of `warden.toml`, and the checked
//! `warden_controls` rules built from them.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest message accepted from the client or the upstream.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// How long Warden waits for the upstream's answers to its own requests.
    #[serde(default = "default_timeout")]
    pub upstream_timeout_ms: u64,
    /// `[[limits.rate]]`: token buckets.
    #[serde(default)]
    pub rate: Vec<LimitConfig>,
    /// `[[limits.concurrency]]`: calls in flight at once.
    #[serde(default)]
    pub concurrency: Vec<LimitConfig>,
    /// `[[limits.budget]]`: allowances per period.
    #[serde(default)]
    pub budget: Vec<LimitConfig>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: default_max_message(),
            upstream_timeout_ms: default_timeout(),
            rate: Vec::new(),
            concurrency: Vec::new(),
            budget: Vec::new(),
        }
    }
}

/// One `[[limits.rate]]`, `[[limits.concurrency]]` or `[[limits.budget]]` table (the same
/// shape; which fields each kind takes is checked when the limits are built).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Shown in refusals.
    pub name: String,
    /// Counted separately per `agent`, `server`, `tool`, `class` (none: one count for all).
    #[serde(default)]
    pub per: Vec<warden_controls::Dim>,
    /// Only calls of this agent, server, tool or class (`read`, `write`, `external`,
    /// `destructive`).
    pub agent: Option<String>,
    pub server: Option<String>,
    pub tool: Option<String>,
    pub class: Option<warden_controls::Class>,
    /// Rate: calls per `every_secs`; budget: calls per period.
    pub calls: Option<u64>,
    /// Rate: the period of `calls` (default 1 s).
    pub every_secs: Option<f64>,
    /// Rate: calls allowed at once after a quiet spell (default `calls`).
    pub burst: Option<u64>,
    /// Concurrency: calls in flight at once.
    pub max: Option<u64>,
    /// Budget: `minute`, `hour`, `day`, `week`, or seconds.
    pub period: Option<Period>,
    /// Budget: bytes of results returned per period.
    pub bytes: Option<u64>,
    /// Budget: sum of the calls' `cost` (`[tools.<name>] cost`) per period.
    pub cost: Option<f64>,
}

/// A budget period.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Period {
    Secs(u64),
    Named(String),
}

impl Period {
    fn secs(&self, what: &str) -> Result<u64> {
        Ok(match self {
            Self::Secs(s) => *s,
            Self::Named(n) => match n.as_str() {
                "minute" => 60,
                "hour" => 3600,
                "day" => 86_400,
                "week" => 604_800,
                other => bail!(
                    "{what}: period `{other}` is not minute, hour, day, week or a number of seconds"
                ),
            },
        })
    }
}

impl LimitsConfig {
    /// The rules, checked; `None` when there are none.
    pub fn build(&self) -> Result<Option<std::sync::Arc<warden_controls::Limits>>> {
        use warden_controls::{Budget, Filter, Kind, Rule};
        let mut rules = Vec::new();
        let tables = [
            ("rate", &self.rate, &["calls", "every_secs", "burst"][..]),
            ("concurrency", &self.concurrency, &["max"][..]),
            (
                "budget",
                &self.budget,
                &["period", "calls", "bytes", "cost"][..],
            ),
        ];
        for (table, list, allowed) in tables {
            for l in list {
                let what = format!("[[limits.{table}]] `{}`", l.name);
                let given = [
                    ("calls", l.calls.is_some()),
                    ("every_secs", l.every_secs.is_some()),
                    ("burst", l.burst.is_some()),
                    ("max", l.max.is_some()),
                    ("period", l.period.is_some()),
                    ("bytes", l.bytes.is_some()),
                    ("cost", l.cost.is_some()),
                ];
                if let Some((field, _)) = given.iter().find(|(f, set)| *set && !allowed.contains(f))
                {
                    bail!("{what}: `{field}` does not belong in a {table} limit");
                }
                let kind = match table {
                    "rate" => {
                        let calls = l.calls.with_context(|| format!("{what} needs `calls`"))?;
                        let every = l.every_secs.unwrap_or(1.0);
                        if every.is_nan() || every <= 0.0 {
                            bail!("{what}: every_secs must be positive");
                        }
                        Kind::Rate {
                            burst: l.burst.unwrap_or(calls) as f64,
                            per_sec: calls as f64 / every,
                        }
                    }
                    "concurrency" => Kind::Concurrency {
                        max: l.max.with_context(|| format!("{what} needs `max`"))?,
                    },
                    _ => Kind::Budget(Budget {
                        period_secs: l
                            .period
                            .as_ref()
                            .with_context(|| format!("{what} needs `period`"))?
                            .secs(&what)?,
                        calls: l.calls,
                        bytes: l.bytes,
                        cost: l.cost,
                    }),
                };
                rules.push(Rule {
                    name: l.name.clone(),
                    kind,
                    per: l.per.clone(),
                    filter: Filter {
                        agent: l.agent.clone(),
                        server: l.server.clone(),
                        tool: l.tool.clone(),
                        class: l.class,
                    },
                });
            }
        }
        let mut names = std::collections::HashSet::new();
        for r in &rules {
            if !names.insert(r.name.clone()) {
                bail!("[limits]: two limits are named `{}`", r.name);
            }
        }
        if rules.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            warden_controls::Limits::new(rules).map_err(|e| anyhow::anyhow!("[limits] {e}"))?,
        ))
    }
}

fn default_max_message() -> usize {
    4 * 1024 * 1024
}

fn default_timeout() -> u64 {
    10_000
}
