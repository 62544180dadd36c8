use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use warden_docstore::{Document, Error, Index, Page, SearchQuery};

use crate::doc;

const KEY: [u8; 32] = [9; 32];

fn readers(r: &[&str]) -> BTreeSet<String> {
    r.iter().map(|s| (*s).to_owned()).collect()
}

fn search(
    index: &Index,
    text: &str,
    who: &BTreeSet<String>,
    cursor: Option<&str>,
) -> Result<Page, Error> {
    index.search(&SearchQuery {
        text,
        readers: who,
        limit: 10,
        cursor,
        tags: &BTreeMap::new(),
    })
}

fn ids(page: &Page) -> Vec<&str> {
    page.hits.iter().map(|h| h.id.as_str()).collect()
}

#[test]
fn disjoint_readers_see_disjoint_documents() {
    let index = Index::build(
        vec![
            (
                1,
                doc(
                    "f1",
                    "Budget",
                    "budget plan for finance",
                    &["group:finance"],
                ),
            ),
            (
                2,
                doc("f2", "Forecast", "budget forecast", &["group:finance"]),
            ),
            (
                3,
                doc("e1", "Roadmap", "budget for engineering", &["group:eng"]),
            ),
            (4, doc("p1", "Handbook", "company handbook", &["public"])),
        ],
        1,
        KEY,
    );
    let finance = readers(&["group:finance"]);
    let eng = readers(&["group:eng"]);
    let a = search(&index, "budget", &finance, None).unwrap();
    let b = search(&index, "budget", &eng, None).unwrap();
    let mut a_ids = ids(&a);
    a_ids.sort_unstable();
    assert_eq!(a_ids, ["f1", "f2"]);
    assert_eq!(a.total, 2);
    assert_eq!(ids(&b), ["e1"]);
    assert_eq!(b.total, 1);
    assert_eq!(search(&index, "", &eng, None).unwrap().total, 1);
    assert_eq!(
        search(&index, "", &readers(&["group:eng", "public"]), None)
            .unwrap()
            .total,
        2
    );
    assert_eq!(
        search(&index, "", &readers(&["user:nobody"]), None)
            .unwrap()
            .total,
        0
    );
    assert_eq!(search(&index, "handbook", &finance, None).unwrap().total, 0);
}

#[test]
fn get_hides_unreadable_documents() {
    let index = Index::build(vec![(1, doc("s", "Secret", "x", &["user:alice"]))], 1, KEY);
    assert!(index.get("s", &readers(&["user:alice"])).is_some());
    assert_eq!(index.get("s", &readers(&["user:bob"])), None);
    assert_eq!(index.get("missing", &readers(&["user:alice"])), None);
    assert_eq!(index.len(), 1);
}

#[test]
fn all_terms_must_occur() {
    let index = Index::build(
        vec![
            (1, doc("a", "t", "red apple", &["public"])),
            (2, doc("b", "t", "green apple", &["public"])),
            (3, doc("c", "t", "red car", &["public"])),
        ],
        1,
        KEY,
    );
    let public = readers(&["public"]);
    assert_eq!(
        ids(&search(&index, "red apple", &public, None).unwrap()),
        ["a"]
    );
    assert_eq!(
        ids(&search(&index, "APPLE, red!", &public, None).unwrap()),
        ["a"]
    );
    assert_eq!(
        search(&index, "red banana", &public, None).unwrap().total,
        0
    );
    assert_eq!(search(&index, "apple", &public, None).unwrap().total, 2);
}

#[test]
fn tags_must_all_match_exactly() {
    let mut a = doc("a", "t", "report", &["public"]);
    a.tags = [
        ("year".to_owned(), "2024".to_owned()),
        ("kind".to_owned(), "memo".to_owned()),
    ]
    .into();
    let mut b = doc("b", "t", "report", &["public"]);
    b.tags = [("year".to_owned(), "2025".to_owned())].into();
    let index = Index::build(vec![(1, a), (2, b)], 1, KEY);
    let public = readers(&["public"]);
    let run = |tags: &[(&str, &str)]| {
        let tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let page = index
            .search(&SearchQuery {
                text: "report",
                readers: &public,
                limit: 10,
                cursor: None,
                tags: &tags,
            })
            .unwrap();
        ids(&page)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&[("year", "2024")]), ["a"]);
    assert_eq!(run(&[("year", "2025")]), ["b"]);
    assert_eq!(run(&[("year", "2024"), ("kind", "memo")]), ["a"]);
    assert!(run(&[("year", "2025"), ("kind", "memo")]).is_empty());
    assert!(run(&[("year", "202")]).is_empty());
    assert_eq!(run(&[]).len(), 2);
}

/// 10,000 documents over a small vocabulary, about half readable by `user:reader`.
fn corpus() -> Vec<(i64, Document)> {
    let words = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..10_000)
        .map(|i| {
            let len = 3 + (next() % 12) as usize;
            let text: Vec<&str> = (0..len).map(|_| words[(next() % 8) as usize]).collect();
            let acl: &[&str] = match next() % 4 {
                0 | 1 => &["user:reader"],
                2 => &["group:other"],
                _ => &["group:other", "group:readers"],
            };
            // Sequence numbers with gaps, as after removals.
            (
                i * 3 + 7,
                doc(&format!("d{i}"), &format!("doc {i}"), &text.join(" "), acl),
            )
        })
        .collect()
}

/// BM25 computed independently of the index, for the expected order.
fn expected(docs: &[(i64, Document)], term: Option<&str>, who: &BTreeSet<String>) -> Vec<String> {
    let tokens = |d: &Document| -> Vec<String> {
        let mut t: Vec<String> = Vec::new();
        for w in d.title.split_whitespace() {
            t.push(w.to_lowercase());
            t.push(w.to_lowercase());
        }
        t.extend(d.text.split_whitespace().map(str::to_lowercase));
        t
    };
    // Scores use the document alone: every term weighs 1, lengths normalize against 64.
    let lens: Vec<usize> = docs.iter().map(|(_, d)| tokens(d).len()).collect();
    let avgdl = 64.0;
    let idf = 1.0;
    let mut scored: Vec<(f64, i64, String)> = docs
        .iter()
        .zip(&lens)
        .filter(|((_, d), _)| d.acl.iter().any(|a| who.contains(a)))
        .filter_map(|((seq, d), &len)| {
            let score = match term {
                None => 0.0,
                Some(t) => {
                    let tf = tokens(d).iter().filter(|x| *x == t).count() as f64;
                    if tf == 0.0 {
                        return None;
                    }
                    idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len as f64 / avgdl))
                }
            };
            Some((score, *seq, d.id.clone()))
        })
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
    // Scores equal up to rounding are ordered by seq too.
    scored.into_iter().map(|(_, _, id)| id).collect()
}

fn page_through(index: &Index, text: &str, who: &BTreeSet<String>) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = None;
    for _ in 0..10_000 {
        let page = index
            .search(&SearchQuery {
                text,
                readers: who,
                limit: 7,
                cursor: cursor.as_deref(),
                tags: &BTreeMap::new(),
            })
            .unwrap();
        assert!(page.hits.len() <= 7);
        assert_eq!(*total.get_or_insert(page.total), page.total);
        out.extend(page.hits.into_iter().map(|h| h.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    (out, total.unwrap_or(0))
}

#[test]
fn paging_returns_every_readable_match_once_in_order() {
    let docs = corpus();
    let index = Index::build(docs.clone(), 42, KEY);
    let who = readers(&["user:reader", "group:readers"]);
    for (text, term) in [("", None), ("gamma", Some("gamma")), ("doc", Some("doc"))] {
        let want = expected(&docs, term, &who);
        assert!(want.len() > 3_000, "{text}: {}", want.len());
        let (got, total) = page_through(&index, text, &who);
        assert_eq!(total, want.len(), "{text}");
        let unique: BTreeSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "{text}: duplicates");
        assert_eq!(got, want, "{text}");
        for id in &got {
            assert!(index.get(id, &who).is_some());
        }
    }
}

#[test]
fn limit_is_clamped() {
    let docs = corpus();
    let index = Index::build(docs, 1, KEY);
    let who = readers(&["user:reader"]);
    let run = |limit| {
        index
            .search(&SearchQuery {
                text: "",
                readers: &who,
                limit,
                cursor: None,
                tags: &BTreeMap::new(),
            })
            .unwrap()
            .hits
            .len()
    };
    assert_eq!(run(0), 1);
    assert_eq!(run(1_000), 100);
}

#[test]
fn cursors_are_bound_to_their_search() {
    let docs = corpus();
    let index = Index::build(docs.clone(), 1, KEY);
    let who = readers(&["user:reader"]);
    let first = search(&index, "gamma", &who, None).unwrap();
    let cursor = first.next_cursor.clone().unwrap();
    // The genuine cursor works.
    let second = search(&index, "gamma", &who, Some(&cursor)).unwrap();
    assert_eq!(second.hits.len(), 10);
    assert!(second.hits.iter().all(|h| !first.hits.contains(h)));

    // Forged or modified.
    for bad in [
        "",
        "garbage",
        "AAAA",
        &format!("{cursor}A"),
        &cursor[..cursor.len() - 2],
    ] {
        let err = search(&index, "gamma", &who, Some(bad)).unwrap_err();
        assert!(matches!(err, Error::BadCursor(_)), "{bad}: {err}");
    }
    let mut chars: Vec<char> = cursor.chars().collect();
    for i in [0, 5, 20, chars.len() - 1] {
        let original = chars[i];
        chars[i] = if original == 'A' { 'B' } else { 'A' };
        let modified: String = chars.iter().collect();
        let err = search(&index, "gamma", &who, Some(&modified)).unwrap_err();
        assert!(matches!(err, Error::BadCursor(_)), "{err}");
        chars[i] = original;
    }

    // Another query, other readers, other tags.
    let err = search(&index, "delta", &who, Some(&cursor)).unwrap_err();
    assert!(matches!(err, Error::BadCursor(_)), "{err}");
    assert!(err.to_string().contains("different search"), "{err}");
    let err = search(
        &index,
        "gamma",
        &readers(&["user:reader", "group:other"]),
        Some(&cursor),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadCursor(_)), "{err}");
    let tags: BTreeMap<String, String> = [("a".to_owned(), "b".to_owned())].into();
    let err = index
        .search(&SearchQuery {
            text: "gamma",
            readers: &who,
            limit: 10,
            cursor: Some(&cursor),
            tags: &tags,
        })
        .unwrap_err();
    assert!(matches!(err, Error::BadCursor(_)), "{err}");

    // Another generation (same key) is stale; another key is not ours at all.
    let rebuilt = Index::build(docs.clone(), 2, KEY);
    let err = search(&rebuilt, "gamma", &who, Some(&cursor)).unwrap_err();
    assert!(matches!(err, Error::StaleCursor), "{err}");
    let other_key = Index::build(docs, 1, [8; 32]);
    let err = search(&other_key, "gamma", &who, Some(&cursor)).unwrap_err();
    assert!(matches!(err, Error::BadCursor(_)), "{err}");
}

#[test]
fn hits_carry_title_snippet_and_tags() {
    let mut d = doc(
        "a",
        "Title here",
        "Some intro. The needle is here. More text.",
        &["public"],
    );
    d.tags.insert("k".into(), "v".into());
    let index = Index::build(vec![(1, d)], 1, KEY);
    let page = search(&index, "needle", &readers(&["public"]), None).unwrap();
    let hit = &page.hits[0];
    assert_eq!(hit.title, "Title here");
    assert!(hit.snippet.contains("needle is here"));
    assert!(hit.score > 0.0);
    assert_eq!(hit.tags.get("k").map(String::as_str), Some("v"));
    assert_eq!(page.next_cursor, None);
}

/// Latency at scale: `cargo test -p warden-docstore --release -- --ignored --nocapture`.
#[test]
#[ignore = "slow; run in release"]
fn search_latency_at_100k_documents() {
    let vocabulary: Vec<String> = (0..5_000).map(|i| format!("w{i}")).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let docs: Vec<(i64, Document)> = (0..100_000)
        .map(|i| {
            let mut words: Vec<&str> = (0..59)
                .map(|_| vocabulary[(next() % 5_000) as usize].as_str())
                .collect();
            words.push("common");
            let acl: &[&str] = if i % 2 == 0 {
                &["public"]
            } else {
                &["group:x"]
            };
            (
                i,
                doc(
                    &format!("d{i}"),
                    &format!("title {}", vocabulary[(i % 5000) as usize]),
                    &words.join(" "),
                    acl,
                ),
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let index = Index::build(docs, 1, KEY);
    eprintln!("build: {:?}", started.elapsed());
    let who = readers(&["public", "group:x"]);
    for text in ["", "common", "w17", "w17 w42", "common title", "missing"] {
        let mut times = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..200 {
            let started = std::time::Instant::now();
            let page = index
                .search(&SearchQuery {
                    text,
                    readers: &who,
                    limit: 20,
                    cursor: cursor.as_deref(),
                    tags: &BTreeMap::new(),
                })
                .unwrap();
            times.push(started.elapsed());
            cursor = page.next_cursor;
        }
        times.sort();
        let p99 = times[times.len() * 99 / 100];
        eprintln!("{text:?}: p50 {:?} p99 {p99:?}", times[times.len() / 2]);
        assert!(
            p99 < std::time::Duration::from_millis(20),
            "{text:?}: p99 {p99:?}"
        );
    }
}

/// A score depends on the document alone: documents the caller cannot read change nothing
/// it can observe (ranking statistics over the whole store would let it count them).
#[test]
fn scores_do_not_depend_on_unreadable_documents() {
    let mine = (1, doc("mine", "Memo", "the merger is on", &["user:eve"]));
    let alone = Index::build(vec![mine.clone()], 1, [7; 32]);
    let mut crowd = vec![mine];
    for i in 0..5 {
        crowd.push((
            i + 2,
            doc(
                &format!("boss-{i}"),
                "Memo",
                "merger merger talks",
                &["user:boss"],
            ),
        ));
    }
    let crowded = Index::build(crowd, 1, [7; 32]);
    let eve = readers(&["user:eve"]);
    let a = search(&alone, "merger", &eve, None).unwrap();
    let b = search(&crowded, "merger", &eve, None).unwrap();
    assert_eq!((a.total, b.total), (1, 1));
    assert_eq!(a.hits[0].score, b.hits[0].score);
}

/// A cursor is sealed: it does not show the store position it stands for.
#[test]
fn cursors_do_not_show_positions() {
    let docs: Vec<(i64, Document)> = (0..30)
        .map(|i| (1000 + i, doc(&format!("d{i}"), "T", "word", &["public"])))
        .collect();
    let index = Index::build(docs, 1, [7; 32]);
    let who = readers(&["public"]);
    let first = search(&index, "word", &who, None).unwrap();
    let cursor = first.next_cursor.unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&cursor)
        .unwrap();
    let seq = 1009i64.to_be_bytes();
    assert!(
        !raw.windows(8).any(|w| w == seq),
        "the position is in clear"
    );
    // The same position twice gives two different cursors (a fresh nonce), both valid.
    let again = search(&index, "word", &who, None)
        .unwrap()
        .next_cursor
        .unwrap();
    assert_ne!(cursor, again);
    let a = search(&index, "word", &who, Some(&cursor)).unwrap();
    let b = search(&index, "word", &who, Some(&again)).unwrap();
    assert_eq!(ids(&a), ids(&b));
}
