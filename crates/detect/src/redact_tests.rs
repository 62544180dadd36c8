use super::*;
use crate::{FindingKind, scan_with};

fn redact_secrets(text: &str) -> String {
    let findings = scan_with(text, |m| m.kind != FindingKind::Injection);
    redact(text, &findings, &mut Placeholders::default())
}

/// Every run of 6+ characters of `secret` (ignoring obfuscation) is gone from `out`.
fn assert_gone(out: &str, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    let clean: String = out
        .chars()
        .filter(|c| !crate::normalize::is_invisible(*c))
        .collect();
    for w in chars.windows(6) {
        let piece: String = w.iter().collect();
        assert!(
            !clean.contains(&piece),
            "`{piece}` of the secret survived in {out:?}"
        );
    }
}

#[test]
fn two_secrets_in_one_text_both_go() {
    let gh = format!("ghp_{}", "R8kq2VnX7mLp4TzW9yBc3HdF6jKs1QaE5uGo");
    let aws = "AKIAZ7QK4WTJ3XPLM2VB";
    let text = format!("GITHUB_TOKEN={gh}\nAWS_ACCESS_KEY_ID={aws}\nthen {gh} again");
    let out = redact_secrets(&text);
    assert_gone(&out, &gh);
    assert_gone(&out, aws);
    // The same value gets the same placeholder.
    assert_eq!(out.matches("[GITHUB_TOKEN_1]").count(), 2, "{out}");
}

#[test]
fn obfuscated_secrets_go_entirely() {
    let key = format!("sk_live_{}", "9fK2mQ7xR4tV8wZ1bN6cH3jL");
    // Zero-width characters inside the key.
    let split: String = key.chars().flat_map(|c| [c, '\u{200B}']).collect();
    // Full-width forms.
    let wide: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from_u32(c as u32 + 0xFEE0).unwrap()
            } else {
                c
            }
        })
        .collect();
    // Base64 inside a sentence.
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("key={key}"),
    );
    for text in [
        format!("pay with {split} now"),
        format!("pay with {wide} now"),
        format!("blob {b64} end"),
    ] {
        let out = redact_secrets(&text);
        assert!(out.contains("[STRIPE_KEY_1]"), "{out}");
        assert_gone(&out, &key);
        assert!(!out.contains(&b64), "{out}");
    }
}

#[test]
fn placeholders_are_stable_per_session() {
    let mut p = Placeholders::default();
    let a = redact(
        "a@x.io b@x.io",
        &scan_with("a@x.io b@x.io", |m| m.name == "email"),
        &mut p,
    );
    assert_eq!(a, "[EMAIL_1] [EMAIL_2]");
    let b = redact(
        "b@x.io",
        &scan_with("b@x.io", |m| m.name == "email"),
        &mut p,
    );
    assert_eq!(b, "[EMAIL_2]");
}
