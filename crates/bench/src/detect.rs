//! Detector speed: all detectors together over 4 KB tool outputs, single-threaded, with the
//! per-text latency distribution and throughput. The texts are 4 KB windows cut from the
//! injection and benign corpora (`--corpus FILE`, repeatable), so the mix of clean and attacked
//! text is realistic.

use std::path::PathBuf;
use std::time::Instant;

use crate::stats::Samples;

const SIZE: usize = 4096;
/// Warm-up, five timed rounds, per-stage timing.
const PARTS: usize = 7;

/// Cuts `text` into `SIZE`-byte windows on character boundaries.
fn windows(text: &str, out: &mut Vec<String>) {
    let mut start = 0;
    while start + SIZE / 2 < text.len() {
        let mut end = (start + SIZE).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(w) = text.get(start..end) {
            out.push(w.to_owned());
        }
        start = end;
    }
}

/// One timed round: every text through all detectors. A function of its own, so that an
/// instruction count covers exactly the timed scans, which wall-clock noise does not touch:
/// `valgrind --tool=callgrind --toggle-collect=warden_bench::detect::scan_round
/// target/release/warden-bench detect --corpus …` (`BENCHMARKS.md`).
#[inline(never)]
fn scan_round(round: &[String], per_text: &mut Vec<std::time::Duration>) -> usize {
    let mut found = 0;
    for t in round {
        let s = Instant::now();
        found += warden_detect::scan(t).len();
        per_text.push(s.elapsed());
    }
    found
}

pub fn run(corpora: &[PathBuf]) -> anyhow::Result<()> {
    let mut texts = Vec::new();
    let mut joined = String::new();
    for c in corpora {
        for line in std::fs::read_to_string(c)?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                joined.push_str(t);
                joined.push('\n');
                if joined.len() > SIZE * 8 {
                    windows(&joined, &mut texts);
                    joined.clear();
                }
            }
        }
    }
    anyhow::ensure!(texts.len() >= PARTS, "too few texts: pass --corpus FILE");
    // Interleaved parts: the first warms the engines up (the regex engines build their
    // automata lazily as they meet new text; a running gateway is in that warm state), the
    // middle ones are timed rounds through all detectors, the last goes through each detector
    // alone. No timed part has been seen by the automata it is timed with; the rounds give a
    // median on this noisy machine.
    let mut parts: Vec<Vec<String>> = vec![Vec::new(); PARTS];
    for (i, t) in texts.into_iter().enumerate() {
        if let Some(part) = parts.get_mut(i % PARTS) {
            part.push(t);
        }
    }
    let stages = parts.pop().unwrap_or_default();
    let rounds = parts.split_off(1);
    let _ = warden_detect::self_check();
    for t in parts.iter().flatten() {
        std::hint::black_box(warden_detect::scan(t));
    }
    let mut per_text = Vec::new();
    let mut speeds = Vec::new();
    let mut found = 0usize;
    let mut total = 0usize;
    for round in &rounds {
        let bytes: usize = round.iter().map(String::len).sum();
        let start = Instant::now();
        found += scan_round(round, &mut per_text);
        speeds.push(bytes as f64 / 1e6 / start.elapsed().as_secs_f64());
        total += round.len();
    }
    speeds.sort_by(f64::total_cmp);
    let s = Samples::new(per_text);
    println!(
        "detect: {} rounds of ~{} texts of ~4 KB, all detectors, 1 thread: {:.1} MB/s median round ({:.1}-{:.1}); per text p50 {:.1} µs, p99 {:.1} µs over {} texts ({} findings)",
        rounds.len(),
        total / rounds.len().max(1),
        speeds.get(speeds.len() / 2).copied().unwrap_or(0.0),
        speeds.first().copied().unwrap_or(0.0),
        speeds.last().copied().unwrap_or(0.0),
        s.pct(50.0),
        s.pct(99.0),
        total,
        found
    );
    // Where the time goes: each detector alone over the last third (inputs prepared once).
    let bytes: usize = stages.iter().map(String::len).sum();
    let inputs: Vec<warden_detect::Input<'_>> = stages
        .iter()
        .map(|t| warden_detect::Input::new(t))
        .collect();
    let prep = Instant::now();
    for t in &stages {
        std::hint::black_box(warden_detect::Input::new(t));
    }
    let prep = prep.elapsed();
    let viewed: usize = inputs
        .iter()
        .flat_map(|i| i.views.iter().map(|v| v.text.len()))
        .sum();
    println!(
        "  {:<22} {:>8.1} MB/s   (views hold {:.2}x the input bytes)",
        "normalize+decode",
        bytes as f64 / 1e6 / prep.as_secs_f64(),
        viewed as f64 / bytes as f64
    );
    for d in warden_detect::DETECTORS {
        let start = Instant::now();
        let mut out = Vec::new();
        for input in &inputs {
            out.clear();
            d.scan(input, &mut out);
        }
        println!(
            "  {:<22} {:>8.1} MB/s",
            d.meta().name,
            bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
