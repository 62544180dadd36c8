//! The SSE reader on arbitrary bytes fed in arbitrary chunks: never panics, never returns more
//! data than the limit, and gives the same events however the bytes are cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_mcp::sse::Parser;

fuzz_target!(|input: (u8, Vec<u8>)| {
    let (cut, bytes) = input;
    let limit = 256;
    let run = |chunks: Vec<&[u8]>| {
        let mut p = Parser::new(limit);
        let mut out: Vec<Vec<u8>> = Vec::new();
        for c in chunks {
            if p.feed(c, |d| out.push(d.to_vec())).is_err() {
                return None;
            }
        }
        p.finish(|d| out.push(d.to_vec())).ok()?;
        Some(out)
    };
    let whole = run(vec![&bytes]);
    let at = usize::from(cut).min(bytes.len());
    let (a, b) = bytes.split_at(at);
    let split = run(vec![a, b]);
    if let (Some(w), Some(s)) = (&whole, &split) {
        assert_eq!(w, s);
        assert!(w.iter().all(|e| e.len() <= limit));
    }
});
