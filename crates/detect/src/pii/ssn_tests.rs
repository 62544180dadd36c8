use super::*;

#[test]
fn dashed_numbers_are_what_the_pattern_finds() {
    let re = pattern(DASHED);
    let pieces = [
        "123",
        "45",
        "6789",
        "1",
        "12",
        "1234",
        "-",
        " ",
        "  ",
        "a",
        "_",
        ".",
        "\n",
        "é",
        "123-45-6789",
        "123 45 6789",
        "078-05-1120",
    ];
    let mut found = 0;
    for t in crate::util::fragment_texts(0x55a_0000_1234_5678, &pieces, 5000, 16) {
        let b = t.as_bytes();
        let want: Vec<usize> = re.find_iter(b).map(|m| m.start()).collect();
        found += want.len();
        assert_eq!(dashed(b), want, "{t:?}");
    }
    assert!(found > 300, "{found}");
}
