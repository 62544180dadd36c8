use super::*;

/// The run finders agree with the patterns they stand for, on text made to hit their edges.
#[test]
fn run_finders_match_their_patterns() {
    let base64 = regex::bytes::Regex::new(r"[A-Za-z0-9+/_-]{16,}={0,2}")
        .unwrap_or_else(|_| crate::util::never());
    let hex = regex::bytes::Regex::new(r"(?:\\x[0-9A-Fa-f]{2}){6,}|(?:[0-9A-Fa-f]{2}){8,}")
        .unwrap_or_else(|_| crate::util::never());
    let pieces = [
        "\\x",
        "\\x4",
        "4f",
        "A",
        "b",
        "0123456789",
        "abcdef",
        "+/",
        "-_",
        "=",
        "==",
        " ",
        "g",
        "\\",
        "x",
        "é",
    ];
    for t in crate::util::fragment_texts(0x9e37_79b9_7f4a_7c15, &pieces, 30000, 40) {
        let t = t.into_bytes();
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

#[test]
fn block_tested_runs_are_the_byte_by_byte_runs() {
    let pieces = [
        "A",
        "b",
        "0",
        "+",
        "/",
        "-",
        "_",
        " ",
        "=",
        ".",
        "é",
        "abcdefgh",
        "0123456789abcdef",
        "x",
    ];
    for t in crate::util::fragment_texts(0x0dd5_eed5_1234_4321, &pieces, 5000, 60) {
        let t = t.into_bytes();
        for min in [1, 2, 3, 7, 8, 12, 15, 16, 17, 20, 31, 32, 40] {
            assert_eq!(
                alphabet_runs(&t, min),
                alphabet_runs_bytewise(&t, min),
                "min {min} in {:?}",
                String::from_utf8_lossy(&t)
            );
        }
        // Runs are maximal: the longer ones are the shared runs a view keeps, filtered.
        let shared = alphabet_runs(&t, RUNS_MIN);
        for min in [RUNS_MIN, 17, 31, 50, 62] {
            let longer: Vec<_> = shared
                .iter()
                .copied()
                .filter(|(s, e)| e - s >= min)
                .collect();
            assert_eq!(alphabet_runs(&t, min), longer, "min {min}");
        }
    }
}
