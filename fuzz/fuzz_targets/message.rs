//! JSON-RPC classification and id recovery never panic on any bytes, and a parsed message is
//! written back exactly as `serde_json` would write it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = warden_mcp::Message::parse(data) {
        let mut expected = serde_json::to_vec(&msg.value).unwrap_or_default();
        expected.push(b'\n');
        assert_eq!(msg.to_line(), expected);
        assert_eq!(
            warden_types::json::encoded_len(&msg.value) + 1,
            expected.len()
        );
    }
    let _ = warden_mcp::top_level_id(data);
});
