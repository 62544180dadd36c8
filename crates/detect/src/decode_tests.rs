use super::*;

/// The run finders agree with the patterns they stand for, on text made to hit their edges.
#[test]
fn run_finders_match_their_patterns() {
    let base64 = regex::bytes::Regex::new(r"[A-Za-z0-9+/_-]{16,}={0,2}")
        .unwrap_or_else(|_| crate::util::never());
    let hex = regex::bytes::Regex::new(r"(?:\\x[0-9A-Fa-f]{2}){6,}|(?:[0-9A-Fa-f]{2}){8,}")
        .unwrap_or_else(|_| crate::util::never());
    let pieces: &[&[u8]] = &[
        b"\\x",
        b"\\x4",
        b"4f",
        b"A",
        b"b",
        b"0123456789",
        b"abcdef",
        b"+/",
        b"-_",
        b"=",
        b"==",
        b" ",
        b"g",
        b"\\",
        b"x",
        b"\xc3\xa9",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..30000 {
        let mut t = Vec::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for k in 0..(state % 40) {
            let i = (state.rotate_left(k as u32 * 5) % pieces.len() as u64) as usize;
            t.extend_from_slice(pieces.get(i).copied().unwrap_or_default());
        }
        let want: Vec<_> = base64.find_iter(&t).map(|m| (m.start(), m.end())).collect();
        let runs = alphabet_runs(&t, 16);
        assert_eq!(
            base64_runs(&t, &runs),
            want,
            "{:?}",
            String::from_utf8_lossy(&t)
        );
        let want: Vec<_> = hex.find_iter(&t).map(|m| (m.start(), m.end())).collect();
        assert_eq!(
            hex_runs(&t, &runs),
            want,
            "{:?}",
            String::from_utf8_lossy(&t)
        );
    }
}
