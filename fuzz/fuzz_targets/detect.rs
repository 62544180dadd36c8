//! Normalization, decoding and every detector on arbitrary text: no panic, spans always on
//! character boundaries inside the text, redaction always valid UTF-8 without the found bytes,
//! and bounded work on nested encodings; flow tracking and the tool-definition scan on the same
//! text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let findings = warden_detect::scan(&text);
    for f in &findings {
        assert!(f.start <= f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        assert!((0.0..=1.0).contains(&f.confidence));
    }
    let input = warden_detect::Input::new(&text);
    assert!(input.views.len() <= warden_detect::MAX_VIEWS);
    let mut placeholders = warden_detect::Placeholders::default();
    let _ = warden_detect::redact(&text, &findings, &mut placeholders);
    // Flow tracking: a value is always found in itself (when long enough), never a panic on
    // hostile arguments; a tool definition with any description scans without a panic.
    let mut taint = warden_detect::taint::Taint::default();
    let source = warden_detect::taint::Source { kind: "private".into(), tool: "t".into(), seq: None };
    taint.add_text(source, &text);
    let found = taint.check(&serde_json::json!({ "x": text.as_ref() }));
    assert!(taint.is_empty() || !found.is_empty());
    let _ = warden_detect::tools::scan_tool(&serde_json::json!({ "name": text.as_ref(), "description": text.as_ref() }));
    let _ = warden_detect::tools::scan_instructions(&text);
    let _ = warden_detect::tools::shadows(&text, ["send_email"]);
});
