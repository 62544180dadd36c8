//! Percentiles over measured durations.

use std::time::Duration;

/// The median of `values` (the upper one of an even count); NaN when there are none.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Sorted samples in microseconds.
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn new(mut v: Vec<Duration>) -> Self {
        v.sort();
        Self(v.into_iter().map(|d| d.as_secs_f64() * 1e6).collect())
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (0..=100), nearest rank.
    pub fn pct(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0
            .get(rank.saturating_sub(1).min(self.0.len() - 1))
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// `  p50: BASE x µs, WITH y µs, added z µs; p99: ...`: `with` against its baseline `base`.
pub fn added(base_name: &str, base: &Samples, with_name: &str, with: &Samples) -> String {
    let row = |p: f64| {
        format!(
            "{base_name} {:.1} µs, {with_name} {:.1} µs, added {:.1} µs",
            base.pct(p),
            with.pct(p),
            with.pct(p) - base.pct(p)
        )
    };
    format!("  p50: {}; p99: {}", row(50.0), row(99.0))
}
