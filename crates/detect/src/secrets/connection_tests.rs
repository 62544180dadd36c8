use super::*;

#[test]
fn searching_around_at_signs_finds_what_searching_the_text_finds() {
    let pieces = [
        "postgres://",
        "redis:",
        "x+y.z-1:",
        "//",
        "/",
        "user",
        ":",
        "p4ss",
        "w0rd!",
        "@",
        "db.example.com",
        "[::1]",
        "_",
        " ",
        "\n",
        "'",
        "é",
        "a".repeat(90).leak(),
        "b".repeat(150).leak(),
        "scheme".repeat(4).leak(),
        "mysql://root:s3cr3t@",
        "a:b:cdef@h",
    ];
    let mut found = 0;
    let mut beyond = 0;
    for t in crate::util::fragment_texts(0xc0de_c0de_0000_0001, &pieces, 4000, 24) {
        let b = t.as_bytes();
        let spans = |c: regex::bytes::Captures<'_>| {
            c.iter()
                .map(|g| g.map(|m| (m.start(), m.end())))
                .collect::<Vec<_>>()
        };
        let want: Vec<_> = URL_CREDS.captures_iter(b).map(spans).collect();
        found += want.len();
        let got: Vec<_> = crate::util::matches_in_runs(&URL_CREDS, b, &around_at_signs(b))
            .into_iter()
            .map(spans)
            .collect();
        assert_eq!(got, want, "{t:?}");
        let passwords_want: Vec<_> = want
            .iter()
            .filter_map(|g| g.get(1).copied().flatten())
            .collect();
        assert_eq!(passwords(b, &around_at_signs(b)), passwords_want, "{t:?}");
        beyond += usize::from(SEARCH.captures_iter(b).any(|c| {
            c.get(1).is_some_and(|m| m.len() > 21)
                || c.get(2).is_some_and(|m| m.len() > 100)
                || c.get(3).is_some_and(|m| m.len() > 200)
        }));
    }
    assert!(found > 500, "{found}");
    // Parts beyond `URL_CREDS`'s bounds are exercised.
    assert!(beyond > 100, "{beyond}");
}
