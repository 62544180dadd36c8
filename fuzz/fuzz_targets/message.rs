//! JSON-RPC classification and id recovery never panic on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = warden_mcp::Message::parse(data) {
        let _ = msg.to_line();
    }
    let _ = warden_mcp::top_level_id(data);
});
