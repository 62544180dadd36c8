use super::*;

/// The whole assignment as one pattern, searched the usual way: the reference
/// [`assignments`] must agree with.
fn reference(hay: &[u8]) -> Vec<Assignment> {
    let whole = pattern(&format!(r"([\w.-]*(?i:{NAME_WORDS})[\w.-]*){TAIL}"));
    whole
        .captures_iter(hay)
        .filter_map(|c| {
            let name = c.get(1)?;
            let (quoted, value) = match (2..=4).find_map(|g| c.get(g)) {
                Some(v) => (true, v),
                None => (false, c.get(5)?),
            };
            Some(Assignment {
                name: (name.start(), name.end()),
                value: (value.start(), value.end()),
                quoted,
            })
        })
        .collect()
}

#[test]
fn assignments_are_what_the_whole_pattern_finds() {
    let pieces = [
        "password",
        "PASSWD",
        "pass",
        "pwd",
        "my-pwd",
        "xpwd",
        "secret",
        "api_key",
        "API-KEY",
        "apikey",
        "x-api-key",
        "client_secret",
        "token",
        "tokenizer",
        "credentials",
        "db.",
        "_",
        "-",
        ".",
        " ",
        "  ",
        "\t",
        "\n",
        "=",
        ":",
        ":=",
        "=>",
        ",",
        "'",
        "\"",
        "`",
        "\\",
        "\\'",
        "abc",
        "Tr0ub4dor&3",
        "hunter2hunter2",
        "0123456789abcdef",
        "é",
        "K",
        "İ",
        "ẞ",
        "TOKEN",
        "Secret",
        ";",
        ")",
        "<",
        "x".repeat(60).leak(),
    ];
    let mut matched = 0;
    for t in crate::util::fragment_texts(0x1234_5678_9abc_def1, &pieces, 4000, 24) {
        let want = reference(t.as_bytes());
        matched += want.len();
        let lower = crate::normalize::lower(&t);
        assert_eq!(assignments(t.as_bytes(), lower.as_bytes()), want, "{t:?}");
    }
    // The texts exercise matches, not only misses.
    assert!(matched > 1000, "{matched}");
}
