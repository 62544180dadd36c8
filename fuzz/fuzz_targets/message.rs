//! JSON-RPC classification and id recovery never panic on any bytes; a parsed message is
//! written back exactly as `serde_json` would write it; a line kept to be relayed as it came
//! says exactly what was parsed, with any id spliced in.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = warden_mcp::Message::parse(data) {
        let mut expected = serde_json::to_vec(msg.value()).unwrap_or_default();
        expected.push(b'\n');
        assert_eq!(msg.to_line(), expected);
        assert_eq!(
            warden_types::json::encoded_len(msg.value()) + 1,
            expected.len()
        );
    }
    let mut line = data.to_vec();
    if let Ok(mut msg) = warden_mcp::Message::parse_line(&mut line) {
        let same = |msg: &warden_mcp::Message| {
            let wire = msg.to_line();
            assert_eq!(wire.iter().filter(|b| **b == b'\n').count(), 1);
            assert_eq!(wire.last(), Some(&b'\n'));
            let back: Value = serde_json::from_slice(&wire).expect("relayed bytes parse");
            assert_eq!(&back, msg.value());
        };
        same(&msg);
        if !matches!(msg.kind, warden_mcp::Kind::Notification { .. }) {
            msg.set_id(Value::from(4_000_000_001_i64));
            same(&msg);
            msg.set_id(Value::from("relayed \"id\""));
            same(&msg);
        }
    }
    let _ = warden_mcp::top_level_id(data);
});
