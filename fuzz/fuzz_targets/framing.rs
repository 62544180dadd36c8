//! Line framing with a small limit: every byte is consumed, no frame exceeds the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use warden_mcp::framing::{Frame, LineReader};

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let mut reader = LineReader::new(tokio::io::BufReader::with_capacity(16, data), 64);
        loop {
            match reader.next().await.unwrap() {
                Frame::Eof => break,
                Frame::Line(l) => assert!(l.len() <= 64),
                Frame::Oversized { len, .. } => assert!(len > 64),
            }
        }
    });
});
