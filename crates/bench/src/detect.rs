//! Detector speed: all detectors together over 4 KB tool outputs, single-threaded, with the
//! per-text latency distribution and throughput. The texts are 4 KB windows cut from the
//! injection and benign corpora (`--corpus FILE`, repeatable), so the mix of clean and attacked
//! text is realistic.

use std::path::PathBuf;
use std::time::Instant;

use crate::stats::Samples;

const SIZE: usize = 4096;

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
    texts.truncate(12000);
    anyhow::ensure!(texts.len() >= 3, "no texts: pass --corpus FILE");
    // Three interleaved thirds: one warms the engines up (the regex engines build their
    // automata lazily as they meet new text; a running gateway is in that warm state), one is
    // timed through all detectors, one through each detector alone. Neither timed third has
    // been seen by the automata it is timed with.
    let mut thirds: [Vec<String>; 3] = Default::default();
    for (i, t) in texts.into_iter().enumerate() {
        if let Some(part) = thirds.get_mut(i % 3) {
            part.push(t);
        }
    }
    let [warm, texts, stages] = thirds;
    let bytes: usize = texts.iter().map(String::len).sum();
    let _ = warden_detect::self_check();
    for t in &warm {
        std::hint::black_box(warden_detect::scan(t));
    }
    let mut per_text = Vec::with_capacity(texts.len());
    let mut found = 0usize;
    let start = Instant::now();
    for t in &texts {
        let s = Instant::now();
        found += warden_detect::scan(t).len();
        per_text.push(s.elapsed());
    }
    let secs = start.elapsed().as_secs_f64();
    let s = Samples::new(per_text);
    println!(
        "detect: {} texts of ~4 KB ({:.1} MB), all detectors, 1 thread: {:.1} MB/s; per text p50 {:.1} µs, p99 {:.1} µs ({} findings)",
        texts.len(),
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs,
        s.pct(50.0),
        s.pct(99.0),
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
