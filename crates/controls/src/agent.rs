//! The per-agent breaker: an agent that collects too many denials or detector findings within a
//! window is paused until a person resumes it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// When an agent is paused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentBreakerSettings {
    /// Seconds of history counted.
    pub window_secs: f64,
    /// Denied calls within the window that pause the agent (0: not counted).
    pub max_denials: u32,
    /// Calls with detector findings within the window that pause the agent (0: not counted).
    pub max_findings: u32,
}

/// What an agent did that counts against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A call was refused.
    Denial,
    /// A call's arguments or result had detector findings.
    Finding,
}

#[derive(Debug, Default)]
struct Inner {
    recent: HashMap<String, VecDeque<(f64, Signal)>>,
    /// Paused agents and why (when no one else keeps the pause, see [`AgentBreaker::pause`]).
    paused: HashMap<String, String>,
}

/// Counts per agent; shared by every session of a process.
#[derive(Debug)]
pub struct AgentBreaker {
    settings: AgentBreakerSettings,
    inner: Mutex<Inner>,
}

impl AgentBreaker {
    /// No agent paused.
    pub fn new(settings: AgentBreakerSettings) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Why `agent` is paused, if it is.
    pub fn paused(&self, agent: &str) -> Option<String> {
        self.lock().paused.get(agent).cloned()
    }

    /// Counts a signal. When it trips the breaker, returns why and the agent's counts start
    /// over; the caller pauses the agent (here with [`AgentBreaker::pause`], or elsewhere, for
    /// example as a suspension in the identity store).
    pub fn record(&self, agent: &str, signal: Signal, now: f64) -> Option<String> {
        let s = self.settings;
        let limit = match signal {
            Signal::Denial => s.max_denials,
            Signal::Finding => s.max_findings,
        };
        if limit == 0 {
            return None;
        }
        let mut inner = self.lock();
        if inner.paused.contains_key(agent) {
            return None;
        }
        let recent = inner.recent.entry(agent.to_owned()).or_default();
        recent.push_back((now, signal));
        while recent
            .front()
            .is_some_and(|(t, _)| *t < now - s.window_secs)
        {
            recent.pop_front();
        }
        let count = recent.iter().filter(|(_, k)| *k == signal).count();
        if count < limit as usize {
            return None;
        }
        let why = format!(
            "{count} {} within {} s",
            match signal {
                Signal::Denial => "denied calls",
                Signal::Finding => "calls with detector findings",
            },
            s.window_secs
        );
        inner.recent.remove(agent);
        Some(why)
    }

    /// Pauses `agent` until [`AgentBreaker::resume`] (an anomaly alert severe enough).
    pub fn pause(&self, agent: &str, why: &str) {
        let mut inner = self.lock();
        inner.recent.remove(agent);
        inner
            .paused
            .entry(agent.to_owned())
            .or_insert_with(|| why.to_owned());
    }

    /// Lets a paused agent act again.
    pub fn resume(&self, agent: &str) {
        self.lock().paused.remove(agent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_in_a_window_pause_the_agent_until_resumed() {
        let b = AgentBreaker::new(AgentBreakerSettings {
            window_secs: 60.0,
            max_denials: 3,
            max_findings: 0,
        });
        assert_eq!(b.record("a", Signal::Denial, 0.0), None);
        assert_eq!(b.record("a", Signal::Denial, 10.0), None);
        assert_eq!(
            b.record("a", Signal::Finding, 11.0),
            None,
            "findings not counted"
        );
        assert_eq!(b.record("b", Signal::Denial, 12.0), None, "another agent");
        // The first denial left the window: still two.
        assert_eq!(b.record("a", Signal::Denial, 65.0), None);
        let why = b.record("a", Signal::Denial, 66.0).unwrap();
        assert!(why.contains("3 denied calls"), "{why}");
        b.pause("a", &why);
        assert_eq!(b.paused("a"), Some(why));
        assert_eq!(b.paused("b"), None);
        b.resume("a");
        assert_eq!(b.paused("a"), None);
        assert_eq!(
            b.record("a", Signal::Denial, 67.0),
            None,
            "counts start over"
        );
    }

    #[test]
    fn tripping_does_not_pause_by_itself() {
        let b = AgentBreaker::new(AgentBreakerSettings {
            window_secs: 60.0,
            max_denials: 0,
            max_findings: 1,
        });
        assert!(b.record("a", Signal::Finding, 0.0).is_some());
        assert_eq!(b.paused("a"), None);
    }
}
