//! A circuit breaker per upstream: too many failed (or too slow) calls in a window open it and
//! calls are refused at once; after a pause a few probe calls go through (half-open), and their
//! outcome closes or reopens it.

use std::collections::VecDeque;
use std::sync::Mutex;

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// Seconds of history the error rate is computed over.
    pub window_secs: f64,
    /// Fewest calls in the window before the rate counts.
    pub min_calls: u32,
    /// Share of failed calls (0-1) that opens the breaker.
    pub error_rate: f64,
    /// A call slower than this counts as failed.
    pub slow_secs: Option<f64>,
    /// How long it stays open before probing.
    pub open_secs: f64,
    /// Calls let through while half-open.
    pub probes: u32,
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BreakerState {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls are refused until `until` (Unix seconds).
    Open { until: f64 },
    /// A few probe calls are let through; `in_flight` of them are out.
    HalfOpen { in_flight: u32 },
}

impl BreakerState {
    /// `closed`, `open`, `half_open`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

/// Calls and failures ending within one second.
#[derive(Debug, Clone, Copy)]
struct Second {
    at: i64,
    calls: u64,
    failures: u64,
}

/// Outcomes within the window, counted per second (memory and time per call stay constant
/// whatever the call rate), with running totals.
#[derive(Debug, Default)]
struct Window {
    seconds: VecDeque<Second>,
    calls: u64,
    failures: u64,
}

impl Window {
    fn add(&mut self, now: f64, failed: bool, window_secs: f64) {
        let at = now.floor() as i64;
        match self.seconds.back_mut() {
            Some(last) if last.at >= at => {
                last.calls += 1;
                last.failures += u64::from(failed);
            }
            _ => self.seconds.push_back(Second {
                at,
                calls: 1,
                failures: u64::from(failed),
            }),
        }
        self.calls += 1;
        self.failures += u64::from(failed);
        let oldest = (now - window_secs).floor() as i64;
        while let Some(first) = self.seconds.front().copied()
            && first.at < oldest
        {
            self.calls -= first.calls;
            self.failures -= first.failures;
            self.seconds.pop_front();
        }
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    /// Recent outcomes while closed.
    recent: Window,
    /// Why it last opened.
    why: String,
}

/// One upstream's breaker.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

/// A call refused because the breaker is open.
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    /// Seconds until probing starts.
    pub retry_after_secs: f64,
    /// What opened it.
    pub why: String,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                recent: Window::default(),
                why: String::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current state.
    pub fn state(&self, now: f64) -> BreakerState {
        let mut inner = self.lock();
        if let BreakerState::Open { until } = inner.state
            && now >= until
        {
            inner.state = BreakerState::HalfOpen { in_flight: 0 };
        }
        inner.state
    }

    /// Lets a call through, or refuses it while open (or while half-open with every probe out).
    pub fn admit(&self, now: f64) -> Result<(), Open> {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => Ok(()),
            BreakerState::Open { until } if now < until => Err(Open {
                retry_after_secs: until - now,
                why: inner.why.clone(),
            }),
            BreakerState::Open { .. } => {
                inner.state = BreakerState::HalfOpen { in_flight: 1 };
                Ok(())
            }
            BreakerState::HalfOpen { in_flight } if in_flight < self.settings.probes.max(1) => {
                inner.state = BreakerState::HalfOpen {
                    in_flight: in_flight + 1,
                };
                Ok(())
            }
            BreakerState::HalfOpen { .. } => Err(Open {
                retry_after_secs: 1.0,
                why: format!("{}; probing whether it recovered", inner.why),
            }),
        }
    }

    /// An admitted call did not go ahead after all (another check refused it): while
    /// half-open, its probe is given back.
    pub fn cancel(&self) {
        let mut inner = self.lock();
        if let BreakerState::HalfOpen { in_flight } = inner.state {
            inner.state = BreakerState::HalfOpen {
                in_flight: in_flight.saturating_sub(1),
            };
        }
    }

    /// Records how an admitted call ended: `failed` (an error answer, a timeout, the upstream
    /// gone) and how long it took. Returns the new state when this call changed it.
    pub fn record(&self, now: f64, failed: bool, took_secs: f64) -> Option<BreakerState> {
        let s = self.settings;
        let failed = failed || s.slow_secs.is_some_and(|slow| took_secs > slow);
        let mut inner = self.lock();
        match inner.state {
            BreakerState::HalfOpen { .. } => {
                inner.recent.clear();
                inner.state = if failed {
                    inner.why = "a probe call failed".to_owned();
                    BreakerState::Open {
                        until: now + s.open_secs,
                    }
                } else {
                    BreakerState::Closed
                };
                Some(inner.state)
            }
            BreakerState::Open { .. } => None,
            BreakerState::Closed => {
                inner.recent.add(now, failed, s.window_secs);
                let (calls, failures) = (inner.recent.calls, inner.recent.failures);
                if calls >= u64::from(s.min_calls.max(1))
                    && failures as f64 >= s.error_rate * calls as f64
                {
                    inner.why = format!(
                        "{failures} of the last {calls} calls failed within {} s",
                        s.window_secs
                    );
                    inner.recent.clear();
                    inner.state = BreakerState::Open {
                        until: now + s.open_secs,
                    };
                    return Some(inner.state);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            window_secs: 10.0,
            min_calls: 4,
            error_rate: 0.5,
            slow_secs: Some(2.0),
            open_secs: 5.0,
            probes: 1,
        })
    }

    #[test]
    fn opens_on_errors_probes_after_the_pause_and_closes_on_success() {
        let b = breaker();
        for (t, failed) in [(0.0, false), (1.0, true), (2.0, false)] {
            assert!(b.admit(t).is_ok());
            assert_eq!(b.record(t, failed, 0.1), None);
        }
        // The fourth call makes 2 of 4 slow or failed: open.
        assert!(b.admit(3.0).is_ok());
        assert_eq!(
            b.record(3.0, false, 2.5),
            Some(BreakerState::Open { until: 8.0 })
        );
        let refused = b.admit(4.0).unwrap_err();
        assert!((refused.retry_after_secs - 4.0).abs() < 1e-9);
        assert!(refused.why.contains("2 of the last 4"), "{}", refused.why);
        // After the pause one probe goes through; a second waits for it.
        assert_eq!(b.state(8.0).as_str(), "half_open");
        assert!(b.admit(8.0).is_ok());
        assert!(b.admit(8.1).is_err());
        // A probe that did not go ahead (another check refused it) is given back.
        b.cancel();
        assert!(b.admit(8.15).is_ok(), "the probe is free again");
        assert_eq!(b.record(8.2, false, 0.1), Some(BreakerState::Closed));
        b.cancel();
        assert_eq!(b.state(8.25), BreakerState::Closed, "no effect when closed");
        assert!(b.admit(8.3).is_ok());
    }

    #[test]
    fn a_failed_probe_reopens_and_old_failures_leave_the_window() {
        let b = breaker();
        for t in [0.0, 1.0] {
            b.record(t, true, 0.1);
        }
        // Twenty seconds later those failures are out of the window.
        for t in [20.0, 21.0, 22.0] {
            assert_eq!(b.record(t, false, 0.1), None);
        }
        assert_eq!(b.record(23.0, true, 0.1), None, "1 of 4 is under the rate");
        for t in [24.0, 25.0, 26.0] {
            b.record(t, true, 0.1);
        }
        assert!(b.admit(27.0).is_err());
        assert!(b.admit(40.0).is_ok(), "probe");
        assert!(matches!(
            b.record(40.5, true, 0.1),
            Some(BreakerState::Open { .. })
        ));
        assert!(b.admit(41.0).is_err());
    }
}
