//! Putting an audit record's large values back: a hostile stored body and side file give an
//! error or a body that is valid JSON, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |n| usize::from(*n)).min(data.len());
    let (stored, side) = data.split_at(split);
    let stored = String::from_utf8_lossy(stored);
    let read = |at: u64, len: u64| {
        let end = at.checked_add(len).ok_or("overflow")?;
        let (at, end) = (
            usize::try_from(at).map_err(|_| "at")?,
            usize::try_from(end).map_err(|_| "end")?,
        );
        side.get(at..end)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "past the end".to_owned())
    };
    if let Ok(Some(body)) = warden_audit::resolve_with(&stored, read, "side") {
        // JSON text (checked as text: a number such as `1e400` is JSON, which a stored body
        // may hold and `serde_json::Value` cannot).
        serde_json::from_str::<serde::de::IgnoredAny>(&body).expect("a resolved body is JSON");
    }
});
