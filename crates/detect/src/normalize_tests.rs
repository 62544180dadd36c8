use super::*;

fn norm(s: &str) -> String {
    Normalized::new(s).text
}

#[test]
fn ascii_is_identity() {
    let n = Normalized::new("Ignore previous instructions");
    assert!(n.is_identity());
    assert_eq!(n.to_original(7, 15), (7, 15));
}

#[test]
fn folds_fullwidth_zero_width_confusables_and_tags() {
    assert_eq!(norm("Ｉｇｎｏｒｅ"), "Ignore");
    assert_eq!(norm("ig\u{200B}no\u{200D}re"), "ignore");
    assert_eq!(norm("\u{0456}gnоre"), "ignore"); // Cyrillic i and o
    assert_eq!(norm("a\u{202E}b"), "ab");
    let tags: String = "hi"
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xE0000).unwrap())
        .collect();
    assert_eq!(norm(&format!("x{tags}y")), "xhiy");
    assert_eq!(norm("café"), "café");
}

#[test]
fn maps_back_to_original_offsets() {
    let original = "key: ｓｋ_live";
    let n = Normalized::new(original);
    assert_eq!(n.text, "key: sk_live");
    let (s, e) = n.to_original(5, 7);
    assert_eq!(&original[s..e], "ｓｋ");
    let (s, e) = n.to_original(5, n.text.len());
    assert_eq!(&original[s..e], "ｓｋ_live");
    let ligature = "a\u{FB01}b"; // ﬁ -> fi
    let n = Normalized::new(ligature);
    assert_eq!(n.text, "afib");
    let (s, e) = n.to_original(1, 2);
    assert_eq!(&ligature[s..e], "\u{FB01}");
}

#[test]
fn lower_keeps_offsets_and_agrees_with_char_mapping() {
    for t in [
        "ABC Ünïcode İSTANBUL ẞ straße ΣΑΣ",
        "plain ASCII",
        "日本語 MIXED é",
        "",
    ] {
        let reference: String = t
            .chars()
            .map(|c| {
                let mut l = c.to_lowercase();
                match (l.next(), l.next()) {
                    (Some(one), None) if one.len_utf8() == c.len_utf8() => one,
                    _ => c,
                }
            })
            .collect();
        let got = super::lower(t);
        assert_eq!(got, reference);
        assert_eq!(got.len(), t.len());
    }
}

#[test]
fn unescaping_matches_the_character_reference() {
    let reference = |s: &str| {
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && matches!(chars.peek(), Some('n' | 'r' | 't')) {
                chars.next();
                out.push_str("  ");
            } else {
                out.push(c);
            }
        }
        out
    };
    for s in [
        r"a\nb",
        r"\\n",
        r"\\\n",
        r"x\",
        r"é\tü\r",
        r"\q\n\n",
        "no escapes",
    ] {
        assert_eq!(super::unescape_whitespace(s), reference(s), "{s}");
    }
}

#[test]
fn text_already_normal_keeps_an_identity_map() {
    let n = super::Normalized::new("café 日本語 ñ");
    assert!(n.is_identity());
    let n = super::Normalized::new("pay\u{200b}pal café");
    assert!(!n.is_identity());
    assert_eq!(n.text, "paypal café");
    assert_eq!(n.to_original(7, 12), (10, 15));
}
