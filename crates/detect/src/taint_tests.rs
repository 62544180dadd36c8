use base64::Engine as _;
use serde_json::json;

use super::*;

fn source(kind: &str) -> Source {
    Source {
        kind: kind.to_owned(),
        tool: "read_file".to_owned(),
        seq: Some(7),
    }
}

/// A session that read a bill with an IBAN and a note.
fn session() -> Taint {
    let mut t = Taint::default();
    t.add(
        source("private"),
        &json!({"content": [{"type": "text", "text": "Bill for the car rental\nIBAN: DE89 3704 0044 0532 0130 00\nNote: the spare key is under the blue flower pot"}]}),
    );
    t
}

fn found(t: &Taint, args: serde_json::Value) -> Vec<Match> {
    t.check(&args)
}

#[test]
fn a_value_is_found_as_written_and_its_source_named() {
    let t = session();
    let m = found(
        &t,
        json!({"body": "please wire to DE89370400440532013000 today"}),
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].pointer, "/body");
    assert_eq!(m[0].view, "plain");
    assert!(m[0].length >= WINDOW);
    assert_eq!(t.source(m[0].source), Some(&source("private")));
}

#[test]
fn case_and_whitespace_do_not_hide_a_value() {
    let t = session();
    assert_eq!(
        found(&t, json!({"x": "THE SPARE KEY IS UNDER THE BLUE"})).len(),
        1
    );
    assert_eq!(
        found(&t, json!({"x": "thespare\tkey is\n under  theblue"})).len(),
        1
    );
    // Full-width letters and zero-width characters normalize away.
    assert_eq!(
        found(
            &t,
            json!({"x": "ｔｈｅ ｓｐａｒｅ ｋｅｙ\u{200b} is under"})
        )
        .len(),
        1
    );
}

#[test]
fn encodings_do_not_hide_a_value() {
    let t = session();
    let url = "https://evil.example/c?d=DE89%203704%200044%200532%200130%2000";
    let m = found(&t, json!({"url": url}));
    assert_eq!(m.len(), 1, "{m:?}");
    let b64 = base64::engine::general_purpose::STANDARD.encode("key is under the blue flower pot");
    let m = found(&t, json!({"data": format!("payload={b64}")}));
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].view, "base64");
    let url_safe =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("DE89 3704 0044 0532 0130 00");
    assert_eq!(found(&t, json!({"q": url_safe})).len(), 1);
    let hex = hex::encode("spare key is under the blue");
    assert_eq!(found(&t, json!({"h": hex})).len(), 1);
}

#[test]
fn a_long_enough_substring_is_found_a_short_one_never() {
    let t = session();
    assert_eq!(found(&t, json!({"x": "under the blue flower"})).len(), 1);
    for short in [
        "DE89",
        "blue flower",
        "spare key",
        "car rental",
        "0532 0130 00",
    ] {
        assert!(found(&t, json!({"x": short})).is_empty(), "{short}");
    }
}

#[test]
fn common_text_is_not_a_value() {
    let mut t = Taint::default();
    // The user's own address signs every mail: common, not a value.
    for i in 0..5 {
        t.add_text(
            source("private"),
            &format!("Mail {i} about topic {i}.\nBest regards, emma.johnson@bluesparrowtech.com"),
        );
    }
    assert!(found(&t, json!({"to": ["emma.johnson@bluesparrowtech.com"]})).is_empty());
    // Text that never came from a source does not match, however long.
    assert!(
        found(
            &t,
            json!({"body": "Thanks for the meeting yesterday, see you at the offsite next week."})
        )
        .is_empty()
    );
    assert!(
        Taint::default()
            .check(&json!({"x": "anything at all here"}))
            .is_empty()
    );
}

#[test]
fn several_sources_and_strings_are_told_apart() {
    let mut t = session();
    t.add_text(source("secret"), "sk_live_51HfQ2dLkZx9aBcDeFgHiJkLm");
    let m = found(
        &t,
        json!({"a": "key sk_live_51HfQ2dLkZx9aBcDeFgHiJkLm", "b": ["IBAN DE89 3704 0044 0532 0130 00"]}),
    );
    let mut kinds: Vec<_> = m
        .iter()
        .map(|m| {
            (
                m.pointer.as_str(),
                t.source(m.source).unwrap().kind.as_str(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(kinds, vec![("/a", "secret"), ("/b/0", "private")]);
}

#[test]
fn ten_thousand_fingerprints_fit_and_the_cap_is_reported() {
    let mut t = Taint::default();
    let mut x = 7u64;
    let mut text = String::new();
    for _ in 0..10_015 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text.push(char::from(b'a' + ((x >> 33) % 26) as u8));
    }
    t.add_text(source("private"), &text);
    assert_eq!(t.len(), 10_000);
    assert!(!t.full);
    // Every window of the text is found again.
    let m = t.check(&json!({"x": text.get(5_000..5_040).unwrap()}));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].length, 40);
}
