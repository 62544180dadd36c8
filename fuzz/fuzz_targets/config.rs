//! Any text as `warden.toml`: an error with a location, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = warden_app::config::parse(std::path::Path::new("fuzz.toml"), text);
    }
});
