//! Rate limits, concurrency caps and budgets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;

/// What kind of action a call is, from its tool's facts. A call may be several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The tool only reads.
    Read,
    /// The tool changes something.
    Write,
    /// The tool reaches outside (open world).
    External,
    /// The tool may destroy something.
    Destructive,
}

impl Class {
    /// The classes of a tool with these facts.
    pub fn of(read_only: bool, destructive: bool, open_world: bool) -> Vec<Self> {
        let mut out = vec![if read_only { Self::Read } else { Self::Write }];
        if destructive && !read_only {
            out.push(Self::Destructive);
        }
        if open_world {
            out.push(Self::External);
        }
        out
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::External => "external",
            Self::Destructive => "destructive",
        }
    }
}

/// A dimension a rule counts separately by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
    Agent,
    Server,
    Tool,
    Class,
}

/// Which calls a rule applies to (all given fields must match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub agent: Option<String>,
    pub server: Option<String>,
    pub tool: Option<String>,
    pub class: Option<Class>,
}

/// A budget's allowances per period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Period length in seconds; periods are aligned to the Unix epoch (a day is a UTC day).
    pub period_secs: u64,
    pub calls: Option<u64>,
    pub bytes: Option<u64>,
    pub cost: Option<f64>,
}

/// What a rule limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Token bucket: `burst` calls at once, refilled at `per_sec`.
    Rate { burst: f64, per_sec: f64 },
    /// Calls in flight at once.
    Concurrency { max: u64 },
    /// Allowances per period.
    Budget(Budget),
}

/// One configured limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Shown in refusals and metrics.
    pub name: String,
    pub kind: Kind,
    /// Counted separately for each distinct value of these (none: one shared count).
    pub per: Vec<Dim>,
    pub filter: Filter,
}

/// A rule that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limit `{name}`: {message}")]
pub struct RuleError {
    pub name: String,
    pub message: String,
}

impl Rule {
    fn check(&self) -> Result<(), RuleError> {
        let bad = |message: &str| {
            Err(RuleError {
                name: self.name.clone(),
                message: message.to_owned(),
            })
        };
        match self.kind {
            Kind::Rate { burst, per_sec } if !(burst >= 1.0 && per_sec > 0.0) => {
                bad("a rate needs at least 1 call per period and a burst of at least 1")
            }
            Kind::Concurrency { max: 0 } => bad("`max` must be at least 1"),
            Kind::Budget(b) if b.period_secs == 0 => bad("the period must be at least 1 s"),
            Kind::Budget(b) if b.calls.is_none() && b.bytes.is_none() && b.cost.is_none() => {
                bad("a budget needs `calls`, `bytes` or `cost`")
            }
            _ => Ok(()),
        }
    }
}

/// The call being admitted.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub agent: &'a str,
    pub server: &'a str,
    pub tool: &'a str,
    pub classes: &'a [Class],
}

impl Rule {
    fn applies(&self, call: &Call<'_>) -> bool {
        let f = &self.filter;
        f.agent.as_deref().is_none_or(|a| a == call.agent)
            && f.server.as_deref().is_none_or(|s| s == call.server)
            && f.tool.as_deref().is_none_or(|t| t == call.tool)
            && f.class.is_none_or(|c| call.classes.contains(&c))
    }

    /// The key of the count this call falls in.
    fn key(&self, call: &Call<'_>) -> String {
        let mut key = String::new();
        for d in &self.per {
            let part = match d {
                Dim::Agent => call.agent,
                Dim::Server => call.server,
                Dim::Tool => call.tool,
                Dim::Class => call.classes.first().map_or("", |c| c.as_str()),
            };
            key.push_str(part);
            key.push('\u{1f}');
        }
        key
    }

    fn describe(&self) -> String {
        let per = if self.per.is_empty() {
            String::new()
        } else {
            let dims: Vec<&str> = self
                .per
                .iter()
                .map(|d| match d {
                    Dim::Agent => "agent",
                    Dim::Server => "server",
                    Dim::Tool => "tool",
                    Dim::Class => "class",
                })
                .collect();
            format!(" per {}", dims.join(" and "))
        };
        match self.kind {
            Kind::Rate { burst, per_sec } => {
                format!("{burst} calls at once, refilled at {per_sec:.3}/s{per}")
            }
            Kind::Concurrency { max } => format!("{max} calls in flight{per}"),
            Kind::Budget(b) => {
                let mut parts = Vec::new();
                if let Some(c) = b.calls {
                    parts.push(format!("{c} calls"));
                }
                if let Some(c) = b.bytes {
                    parts.push(format!("{c} bytes returned"));
                }
                if let Some(c) = b.cost {
                    parts.push(format!("cost {c}"));
                }
                format!("{} per {} s{per}", parts.join(", "), b.period_secs)
            }
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceeded {
    /// The rule's name.
    pub rule: String,
    /// `rate`, `concurrency` or `budget`.
    pub kind: &'static str,
    /// When trying again can succeed (for concurrency: a hint, when a call usually ends).
    pub retry_after_secs: f64,
    /// The rule in words.
    pub limit: String,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} limit `{}` reached ({}); retry after {:.0} s",
            self.kind,
            self.rule,
            self.limit,
            self.retry_after_secs.ceil()
        )
    }
}

/// Where a call stands against the rules that apply to it, before it is counted: the tightest
/// allowance of each kind (`None` when no rule of that kind applies). For policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standing {
    /// Names of the rules that apply.
    pub rules: Vec<String>,
    /// Whole calls the emptiest token bucket holds now.
    pub rate_left: Option<u64>,
    /// Free slots of the fullest concurrency cap.
    pub slots_free: Option<u64>,
    /// Calls, bytes and cost left this period, tightest budget first.
    pub calls_left: Option<u64>,
    pub bytes_left: Option<u64>,
    pub cost_left: Option<f64>,
}

fn tighter<T: PartialOrd + Copy>(slot: &mut Option<T>, v: T) {
    if slot.is_none_or(|cur| v < cur) {
        *slot = Some(v);
    }
}

#[derive(Debug)]
enum Count {
    Bucket {
        tokens: f64,
        at: f64,
    },
    InFlight(u64),
    Period {
        index: u64,
        calls: u64,
        bytes: u64,
        cost: f64,
    },
}

#[derive(Debug, Default)]
struct State {
    /// Per rule (by index), the counts by key.
    counts: Vec<HashMap<String, Count>>,
}

/// Every configured limit and the counts, shared by all sessions of a process.
#[derive(Debug)]
pub struct Limits {
    rules: Vec<Rule>,
    state: Mutex<State>,
}

/// A call let through: holds its concurrency slots until dropped; records what came back.
#[derive(Debug)]
pub struct Admission {
    limits: Arc<Limits>,
    slots: Vec<(usize, String)>,
    budgets: Vec<(usize, String, u64)>,
}

impl Limits {
    /// Checks the rules.
    pub fn new(rules: Vec<Rule>) -> Result<Arc<Self>, RuleError> {
        for r in &rules {
            r.check()?;
        }
        let counts = rules.iter().map(|_| HashMap::new()).collect();
        Ok(Arc::new(Self {
            rules,
            state: Mutex::new(State { counts }),
        }))
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits `call` at `now` (Unix seconds), or says which limit it hits first and when to
    /// retry. Nothing is taken from any rule unless every rule admits the call.
    pub fn admit(self: &Arc<Self>, call: &Call<'_>, now: f64) -> Result<Admission, Exceeded> {
        let applying: Vec<(usize, &Rule, String)> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.applies(call))
            .map(|(i, r)| (i, r, r.key(call)))
            .collect();
        let mut state = self.lock();
        // First pass: would every rule admit it?
        for (i, rule, key) in &applying {
            let count = state.counts.get(*i).and_then(|m| m.get(key));
            let exceeded = |kind: &'static str, retry: f64| Exceeded {
                rule: rule.name.clone(),
                kind,
                retry_after_secs: retry.max(0.0),
                limit: rule.describe(),
            };
            match (rule.kind, count) {
                (Kind::Rate { burst, per_sec }, Some(Count::Bucket { tokens, at })) => {
                    let now_tokens = (tokens + (now - at).max(0.0) * per_sec).min(burst);
                    if now_tokens < 1.0 {
                        return Err(exceeded("rate", (1.0 - now_tokens) / per_sec));
                    }
                }
                (Kind::Concurrency { max }, Some(Count::InFlight(n))) if *n >= max => {
                    return Err(exceeded("concurrency", 1.0));
                }
                (
                    Kind::Budget(b),
                    Some(Count::Period {
                        index,
                        calls,
                        bytes,
                        cost,
                    }),
                ) => {
                    let current = period_index(now, b.period_secs);
                    if *index == current {
                        let spent = b.calls.is_some_and(|c| *calls >= c)
                            || b.bytes.is_some_and(|c| *bytes >= c)
                            || b.cost.is_some_and(|c| *cost >= c);
                        if spent {
                            let end = (current + 1) as f64 * b.period_secs as f64;
                            return Err(exceeded("budget", end - now));
                        }
                    }
                }
                _ => {}
            }
        }
        // Second pass: take.
        let mut admission = Admission {
            limits: self.clone(),
            slots: Vec::new(),
            budgets: Vec::new(),
        };
        for (i, rule, key) in applying {
            let Some(counts) = state.counts.get_mut(i) else {
                continue;
            };
            let count = counts.entry(key.clone());
            match rule.kind {
                Kind::Rate { burst, per_sec } => {
                    let c = count.or_insert(Count::Bucket {
                        tokens: burst,
                        at: now,
                    });
                    if let Count::Bucket { tokens, at } = c {
                        *tokens = (*tokens + (now - *at).max(0.0) * per_sec).min(burst) - 1.0;
                        *at = now;
                    }
                }
                Kind::Concurrency { .. } => {
                    if let Count::InFlight(n) = count.or_insert(Count::InFlight(0)) {
                        *n += 1;
                    }
                    admission.slots.push((i, key));
                }
                Kind::Budget(b) => {
                    let current = period_index(now, b.period_secs);
                    let c = count.or_insert(Count::Period {
                        index: current,
                        calls: 0,
                        bytes: 0,
                        cost: 0.0,
                    });
                    if let Count::Period {
                        index,
                        calls,
                        bytes,
                        cost,
                    } = c
                    {
                        if *index != current {
                            *index = current;
                            *calls = 0;
                            *bytes = 0;
                            *cost = 0.0;
                        }
                        *calls += 1;
                    }
                    admission.budgets.push((i, key, current));
                }
            }
        }
        Ok(admission)
    }

    /// Where `call` stands at `now`, without counting it.
    pub fn standing(&self, call: &Call<'_>, now: f64) -> Standing {
        let mut out = Standing::default();
        let state = self.lock();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.applies(call) {
                continue;
            }
            out.rules.push(rule.name.clone());
            let count = state.counts.get(i).and_then(|m| m.get(&rule.key(call)));
            match (rule.kind, count) {
                (Kind::Rate { burst, per_sec }, c) => {
                    let tokens = match c {
                        Some(Count::Bucket { tokens, at }) => {
                            (tokens + (now - at).max(0.0) * per_sec).min(burst)
                        }
                        _ => burst,
                    };
                    tighter(&mut out.rate_left, tokens.max(0.0).floor() as u64);
                }
                (Kind::Concurrency { max }, c) => {
                    let n = match c {
                        Some(Count::InFlight(n)) => *n,
                        _ => 0,
                    };
                    tighter(&mut out.slots_free, max.saturating_sub(n));
                }
                (Kind::Budget(b), c) => {
                    let (calls, bytes, cost) = match c {
                        Some(Count::Period {
                            index,
                            calls,
                            bytes,
                            cost,
                        }) if *index == period_index(now, b.period_secs) => (*calls, *bytes, *cost),
                        _ => (0, 0, 0.0),
                    };
                    if let Some(max) = b.calls {
                        tighter(&mut out.calls_left, max.saturating_sub(calls));
                    }
                    if let Some(max) = b.bytes {
                        tighter(&mut out.bytes_left, max.saturating_sub(bytes));
                    }
                    if let Some(max) = b.cost {
                        tighter(&mut out.cost_left, (max - cost).max(0.0));
                    }
                }
            }
        }
        out
    }

    /// Calls in flight, calls, bytes and cost used this period, for a rule and key (tests,
    /// metrics).
    pub fn usage(&self, rule: &str, key: &[&str]) -> Option<(u64, u64, u64, f64)> {
        let i = self.rules.iter().position(|r| r.name == rule)?;
        let mut k = String::new();
        for part in key {
            k.push_str(part);
            k.push('\u{1f}');
        }
        match self.lock().counts.get(i)?.get(&k)? {
            Count::InFlight(n) => Some((*n, 0, 0, 0.0)),
            Count::Period {
                calls, bytes, cost, ..
            } => Some((0, *calls, *bytes, *cost)),
            Count::Bucket { .. } => Some((0, 0, 0, 0.0)),
        }
    }
}

fn period_index(now: f64, period_secs: u64) -> u64 {
    (now.max(0.0) as u64) / period_secs.max(1)
}

impl Admission {
    /// Whether any of the call's budgets counts bytes or cost (if not, [`Admission::record`]
    /// need not be called, and the result need not be measured).
    pub fn counts_results(&self) -> bool {
        self.budgets.iter().any(|(i, _, _)| {
            matches!(
                self.limits.rules.get(*i).map(|r| r.kind),
                Some(Kind::Budget(
                    Budget { bytes: Some(_), .. } | Budget { cost: Some(_), .. }
                ))
            )
        })
    }

    /// Adds what the call returned to its budgets (in the period it was admitted in).
    pub fn record(&self, bytes: u64, cost: f64) {
        let mut state = self.limits.lock();
        for (i, key, period) in &self.budgets {
            if let Some(Count::Period {
                index,
                bytes: b,
                cost: c,
                ..
            }) = state.counts.get_mut(*i).and_then(|m| m.get_mut(key))
                && index == period
            {
                *b = b.saturating_add(bytes);
                *c += cost;
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let mut state = self.limits.lock();
        for (i, key) in &self.slots {
            if let Some(Count::InFlight(n)) = state.counts.get_mut(*i).and_then(|m| m.get_mut(key))
            {
                *n = n.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
