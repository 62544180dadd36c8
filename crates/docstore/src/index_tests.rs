use super::*;

fn doc(id: &str, title: &str, text: &str, acl: &[&str]) -> Document {
    Document {
        id: id.into(),
        title: title.into(),
        text: text.into(),
        acl: acl.iter().map(|s| (*s).to_owned()).collect(),
        tags: BTreeMap::new(),
        source: None,
    }
}

#[test]
fn index_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Index>();
}

#[test]
fn seek_finds_the_first_position_at_or_after() {
    let list: Vec<Posting> = [1u32, 3, 5, 7, 9, 11, 13, 15, 17]
        .iter()
        .map(|&doc| Posting { doc, tf: 1 })
        .collect();
    assert_eq!(seek(&list, 0, 0), 0);
    assert_eq!(seek(&list, 0, 1), 0);
    assert_eq!(seek(&list, 0, 2), 1);
    assert_eq!(seek(&list, 2, 13), 6);
    assert_eq!(seek(&list, 0, 16), 8);
    assert_eq!(seek(&list, 0, 18), 9);
    assert_eq!(seek(&list, 9, 20), 9);
}

#[test]
fn snippet_is_around_the_first_match_and_bounded() {
    let words: HashSet<&str> = ["needle"].into_iter().collect();
    let text = format!(
        "{} Needle here {}",
        "hay ".repeat(100),
        "straw ".repeat(100)
    );
    let s = snippet(&text, &words);
    assert!(s.chars().count() <= SNIPPET_CHARS);
    assert!(s.contains("Needle here"), "{s}");
    assert!(s.starts_with("hay"), "{s}");
    let none: HashSet<&str> = HashSet::new();
    assert_eq!(snippet("  a\n\n b  ", &none), "a b");
    let multibyte = "é".repeat(500);
    assert_eq!(snippet(&multibyte, &none).chars().count(), SNIPPET_CHARS);
}

#[test]
fn title_terms_count_double() {
    let index = Index::build(
        vec![
            (1, doc("a", "other", "apple pear", &["public"])),
            (2, doc("b", "apple", "other pear", &["public"])),
        ],
        1,
        [0; 32],
    );
    let readers: BTreeSet<String> = ["public".to_owned()].into();
    let tags = BTreeMap::new();
    let page = index
        .search(&SearchQuery {
            text: "apple",
            readers: &readers,
            limit: 10,
            cursor: None,
            tags: &tags,
        })
        .unwrap();
    let ids: Vec<&str> = page.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["b", "a"]);
}
