//! Counters the data plane keeps for Prometheus (`GET /metrics` on `warden serve`): governed
//! calls by server, method and outcome; upstream latency of allowed calls; detector findings;
//! limit refusals; breaker openings; agents paused; anomaly alerts. Rendered in the Prometheus text format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    calls: BTreeMap<(String, String, String), u64>,
    latency: BTreeMap<String, Histogram>,
    findings: BTreeMap<(String, String), u64>,
    limited: BTreeMap<String, u64>,
    breaker_opened: BTreeMap<String, u64>,
    agents_paused: u64,
    anomalies: BTreeMap<(&'static str, &'static str), u64>,
}

/// The process's counters, shared by every session.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A governed request and its decision.
    pub fn call(&self, server: &str, method: &str, outcome: &str) {
        *self
            .lock()
            .calls
            .entry((server.to_owned(), method.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// How long an allowed call took upstream.
    pub fn latency(&self, server: &str, secs: f64) {
        let mut inner = self.lock();
        let h = inner.latency.entry(server.to_owned()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le
                && let Some(c) = h.counts.get_mut(i)
            {
                *c += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Detector findings of one kind (`injection`, `pii`, `secret`) in one direction.
    pub fn findings(&self, kind: &str, direction: &str, n: u64) {
        *self
            .lock()
            .findings
            .entry((kind.to_owned(), direction.to_owned()))
            .or_default() += n;
    }

    /// A call refused by a limit.
    pub fn limited(&self, rule: &str) {
        *self.lock().limited.entry(rule.to_owned()).or_default() += 1;
    }

    /// An upstream's breaker opened.
    pub fn breaker_opened(&self, server: &str) {
        *self
            .lock()
            .breaker_opened
            .entry(server.to_owned())
            .or_default() += 1;
    }

    /// An agent was paused by its breaker.
    pub fn agent_paused(&self) {
        self.lock().agents_paused += 1;
    }

    /// An anomaly alert, by signal and severity.
    pub fn anomaly(&self, signal: &'static str, severity: &'static str) {
        *self.lock().anomalies.entry((signal, severity)).or_default() += 1;
    }

    /// Appends the Prometheus text format of every counter to `out`.
    pub fn render(&self, out: &mut String) {
        let inner = self.lock();
        family(
            out,
            "warden_calls_total",
            "counter",
            "Governed requests (tools/call, resources/read, prompts/get) by decision.",
        );
        for ((server, method, outcome), n) in &inner.calls {
            let _ = writeln!(
                out,
                "warden_calls_total{{server=\"{}\",method=\"{}\",outcome=\"{}\"}} {n}",
                label(server),
                label(method),
                label(outcome)
            );
        }
        family(
            out,
            "warden_upstream_latency_seconds",
            "histogram",
            "Time from forwarding an allowed call to its answer.",
        );
        for (server, h) in &inner.latency {
            let server = label(server);
            for (le, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "warden_upstream_latency_seconds_bucket{{server=\"{server}\",le=\"{le}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "warden_upstream_latency_seconds_bucket{{server=\"{server}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "warden_upstream_latency_seconds_sum{{server=\"{server}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "warden_upstream_latency_seconds_count{{server=\"{server}\"}} {}",
                h.count
            );
        }
        family(
            out,
            "warden_findings_total",
            "counter",
            "Detector findings by kind and direction.",
        );
        for ((kind, direction), n) in &inner.findings {
            let _ = writeln!(
                out,
                "warden_findings_total{{kind=\"{}\",direction=\"{}\"}} {n}",
                label(kind),
                label(direction)
            );
        }
        family(
            out,
            "warden_limit_refusals_total",
            "counter",
            "Calls refused by a rate limit, concurrency cap or budget.",
        );
        for (rule, n) in &inner.limited {
            let _ = writeln!(
                out,
                "warden_limit_refusals_total{{limit=\"{}\"}} {n}",
                label(rule)
            );
        }
        family(
            out,
            "warden_breaker_opened_total",
            "counter",
            "Times an upstream's circuit breaker opened.",
        );
        for (server, n) in &inner.breaker_opened {
            let _ = writeln!(
                out,
                "warden_breaker_opened_total{{server=\"{}\"}} {n}",
                label(server)
            );
        }
        family(
            out,
            "warden_agents_paused_total",
            "counter",
            "Agents paused by the agent breaker.",
        );
        let _ = writeln!(out, "warden_agents_paused_total {}", inner.agents_paused);
        family(
            out,
            "warden_anomalies_total",
            "counter",
            "Anomaly alerts, by signal and severity.",
        );
        for ((signal, severity), n) in &inner.anomalies {
            let _ = writeln!(
                out,
                "warden_anomalies_total{{signal=\"{signal}\",severity=\"{severity}\"}} {n}"
            );
        }
    }
}

/// `# HELP` and `# TYPE` lines.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value escaped for the text format.
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.call("shop", "tools/call", "allow");
        m.call("shop", "tools/call", "allow");
        m.call("a\"b", "tools/call", "deny");
        m.latency("shop", 0.003);
        m.latency("shop", 0.2);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "warden_calls_total{server=\"shop\",method=\"tools/call\",outcome=\"allow\"} 2"
        ));
        assert!(out.contains("server=\"a\\\"b\""));
        assert!(
            out.contains("warden_upstream_latency_seconds_bucket{server=\"shop\",le=\"0.005\"} 1")
        );
        assert!(
            out.contains("warden_upstream_latency_seconds_bucket{server=\"shop\",le=\"0.25\"} 2")
        );
        assert!(out.contains("warden_upstream_latency_seconds_count{server=\"shop\"} 2"));
    }
}
