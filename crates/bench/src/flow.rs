//! What session tracking and value-level flow checks add to one call, with 10,000 fingerprints
//! in the session: checking a call's arguments (1 KB of text, as written and decoded) against
//! them, and fingerprinting its private result (1 KB) afterwards, as the proxy does. Measured
//! per call in-process (the work runs under the session lock, outside any I/O), against the
//! same loop doing nothing.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;
use warden_detect::taint::{Source, Taint};

use crate::stats::Samples;

const CALLS: usize = 20_000;
const PRINTS: usize = 10_000;

/// Pseudo-random lower-case words, `len` bytes.
fn words(seed: u64, len: usize) -> String {
    let mut x = seed;
    let mut s = String::with_capacity(len + 8);
    while s.len() < len {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let n = 3 + (x >> 60) as usize % 6;
        for i in 0..n {
            s.push(char::from(b'a' + ((x >> (8 + 5 * i)) % 26) as u8));
        }
        s.push(' ');
    }
    s.truncate(len);
    s
}

pub fn run() -> Result<()> {
    let mut taint = Taint::default();
    let source = |tool: &str| Source {
        kind: "private".to_owned(),
        tool: tool.to_owned(),
        seq: Some(1),
    };
    // Fill the session to 10,000 fingerprints with earlier private results.
    let mut seed = 1;
    while taint.len() < PRINTS {
        let text = words(seed, 1024.min(PRINTS - taint.len() + 40));
        taint.add_text(source("read_file"), &text);
        seed += 1;
    }
    let prints = taint.len();
    let result = json!({"content": [{"type": "text", "text": words(999, 1024)}]});
    let mut with = Vec::with_capacity(CALLS);
    let mut without = Vec::with_capacity(CALLS);
    let mut found = 0usize;
    for i in 0..CALLS {
        // Arguments: 1 KB of text, a tenth of calls carrying a value from the session.
        let mut body = words(10_000 + i as u64, 1024);
        if i % 10 == 0 {
            body.replace_range(100..140, &words(1, 40));
        }
        let args = json!({"to": "someone@example.com", "subject": "weekly report", "body": body});
        let t = Instant::now();
        std::hint::black_box(&args);
        without.push(t.elapsed());
        let t = Instant::now();
        let matches = taint.check(&args);
        let kinds: Vec<&str> = matches
            .iter()
            .filter_map(|m| taint.source(m.source).map(|s| s.kind.as_str()))
            .collect();
        std::hint::black_box(&kinds);
        taint.add(source("search_emails"), &result);
        with.push(t.elapsed());
        found += usize::from(!matches.is_empty());
    }
    let (base, flow) = (Samples::new(without), Samples::new(with));
    println!(
        "session flow tracking, {CALLS} calls with {prints} fingerprints in the session (1 KB arguments checked, 1 KB private result fingerprinted; {found} calls carried a session value)"
    );
    println!("{}", crate::stats::added("nothing", &base, "flow", &flow));
    Ok(())
}
