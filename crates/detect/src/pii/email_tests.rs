use super::*;

#[test]
fn any_local_search_finds_what_the_address_pattern_finds() {
    let long = "a".repeat(70);
    let pieces = [
        "a",
        "bob",
        "x.y",
        long.as_str(),
        "b".repeat(30).leak(),
        "@",
        "@example.com",
        "@mail.example.org",
        "example",
        ".",
        ".com",
        "-",
        "+tag",
        "'",
        "%",
        " ",
        "\n",
        "é",
        "\"",
        "<",
        "1",
    ];
    let mut matched = 0;
    let mut long_local = 0;
    for t in crate::util::fragment_texts(0x1f83_d9ab_fb41_bd6b, &pieces, 4000, 24) {
        let want: Vec<(usize, usize)> = EMAIL
            .find_iter(t.as_bytes())
            .map(|m| (m.start(), m.end()))
            .collect();
        matched += want.len();
        long_local += usize::from(SEARCH.find_iter(t.as_bytes()).any(|m| {
            m.as_bytes()
                .iter()
                .position(|&c| c == b'@')
                .is_some_and(|p| p > LOCAL_MAX)
        }));
        assert_eq!(addresses(t.as_bytes()), want, "{t:?}");
    }
    // Matches, and local parts too long for an address, are both exercised.
    assert!(matched > 1000 && long_local > 100, "{matched} {long_local}");
}
