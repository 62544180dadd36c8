use super::*;

#[test]
fn two_streams_find_what_an_overlapping_search_finds() {
    let Some(Shared {
        automaton: Engine::Dfa(dfa),
        ..
    }) = SHARED.as_ref()
    else {
        panic!("the shared literals make a DFA");
    };
    let literals: Vec<Vec<u8>> = [
        crate::secrets::table().literal_list().to_vec(),
        crate::injection::table().literal_list().to_vec(),
        words(crate::pii::SSN_WORDS),
        words(crate::pii::BIRTH_WORDS),
    ]
    .concat();
    let reference = crate::anchored::automaton(&literals).unwrap();
    // Every 7th literal, upper- and lowercased, between filler: literals straddle the middle
    // of texts of every length, short ones walked once, long ones in two streams.
    let mut pieces: Vec<String> = literals
        .iter()
        .step_by(7)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    pieces.extend(pieces.clone().iter().map(|p| p.to_uppercase()));
    pieces.extend([" ", "x", "é", "\n", "the", "0", "-"].map(str::to_owned));
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let mut lengths = std::collections::BTreeSet::new();
    for t in crate::util::fragment_texts(0x3c6e_f372_fe94_f82b, &refs, 3000, 120) {
        let want: Vec<Occurrence> = reference
            .find_overlapping_iter(&t)
            .map(|m| (m.pattern().as_u32(), m.start() as u32, m.end() as u32))
            .collect();
        assert_eq!(two_streams(dfa, t.as_bytes()), Some(want), "{t:?}");
        lengths.insert(t.len() / 64);
    }
    // Short and long texts both.
    assert!(lengths.len() > 10, "{lengths:?}");
}
