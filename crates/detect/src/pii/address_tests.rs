use super::*;

#[test]
fn forms_searched_apart_find_what_the_alternation_finds() {
    let whole = pattern(&format!("{NUMBER_FIRST}|{WORD_FIRST}|{COMPOUND}"));
    let pieces = [
        "12 Main St",
        "1600 Amphitheatre Parkway",
        "Calle Mayor 5",
        "Rue de Rivoli 3",
        "Hauptstraße 12",
        "Storgatan 4b",
        "12",
        " 3 ",
        "1600",
        "7b",
        " ",
        "  ",
        "\n",
        ",",
        ".",
        "Main",
        "Amphitheatre",
        "St",
        "Street",
        "Ave",
        "Plaza",
        "Way",
        "Apt. 4",
        "Suite",
        "#",
        "Calle",
        "Rue",
        "Via",
        "Mayor",
        "Élysée",
        "Haupt",
        "straße",
        "gatan",
        "tie",
        "Bahnhof",
        "x",
        "é",
    ];
    let mut matched = 0;
    for t in crate::util::fragment_texts(0x5eed_add2_e55e_5001, &pieces, 4000, 20) {
        let want: Vec<(usize, usize)> = whole
            .find_iter(t.as_bytes())
            .map(|m| (m.start(), m.end()))
            .collect();
        matched += want.len();
        assert_eq!(addresses(t.as_bytes()), want, "{t:?}");
    }
    // The texts exercise matches, not only misses.
    assert!(matched > 1000, "{matched}");
}
