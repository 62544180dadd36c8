//! The egress proxy's inputs: any bytes as a request head, any text as an allow-list entry,
//! any JSON as tool arguments to scan for URLs. Errors, never a panic; a parsed head names a
//! host the allow-list can be asked about.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rules = warden_egress::Rules::parse(&["example.com", "*.example.org:*", "10.0.0.0/8:443"])
        .expect("fixed entries parse");
    if let Ok((_, host, port)) = warden_egress::proxy::destination(data) {
        let _ = rules.allows_name(&host, port);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(entry) = text.parse::<warden_egress::Entry>() {
            // What an entry prints parses back to the same entry.
            let again: warden_egress::Entry = entry.to_string().parse().expect("printed entry parses");
            assert_eq!(again, entry);
        }
        if let Ok(args) = serde_json::from_str::<serde_json::Value>(text) {
            let _ = warden_egress::args::first_refusal(&rules, &args);
        }
    }
});
