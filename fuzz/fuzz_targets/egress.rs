//! The egress proxy's inputs: any bytes as a request head, any text as an allow-list entry,
//! any JSON as tool arguments to scan for URLs, any bytes as a request target and header value
//! in a tunnel where a secret is injected. Errors, never a panic; a parsed head names a host
//! the allow-list can be asked about; a request without a placeholder is left as it is.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rules = warden_egress::Rules::parse(&["example.com", "*.example.org:*", "10.0.0.0/8:443"])
        .expect("fixed entries parse");
    if let Ok((_, host, port)) = warden_egress::proxy::destination(data) {
        let _ = rules.allows_name(&host, port);
    }
    inject(data);
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

/// The first line as the request target, the rest as a header value.
fn inject(data: &[u8]) {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (target, value) = data.split_at(split);
    let Ok(target) = std::str::from_utf8(target) else { return };
    let Ok(request) = http::Request::builder()
        .uri(format!("/{target}"))
        .header("authorization", value.get(1..).unwrap_or_default())
        .body(())
    else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    let before = (parts.uri.clone(), parts.headers.clone());
    let hosts = warden_egress::Rules::parse(&["api.example"]).expect("fixed entry parses");
    let secret = warden_egress::Secret::new("T", "v4lue".to_owned(), hosts).expect("fixed secret");
    let secrets = warden_egress::Secrets::new(vec![secret]).for_destination("api.example", 443);
    if let Ok(used) = warden_egress::secrets::inject(&mut parts, &secrets) {
        if used.is_empty() {
            assert_eq!((parts.uri, parts.headers), before);
        }
    }
}
