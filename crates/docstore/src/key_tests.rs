use base64::Engine as _;

use super::*;

#[test]
fn parses_hex_and_every_base64_form() {
    let bytes: Vec<u8> = (0u8..32)
        .map(|b| b.wrapping_mul(37).wrapping_add(250))
        .collect();
    let hex_text = hex::encode(&bytes);
    let from_hex = Key::parse(&hex_text).unwrap();
    assert_eq!(from_hex.to_hex(), hex_text);
    assert_eq!(
        Key::parse(&hex_text.to_uppercase()).unwrap().to_hex(),
        hex_text
    );
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    for text in [
        STANDARD.encode(&bytes),
        STANDARD_NO_PAD.encode(&bytes),
        URL_SAFE.encode(&bytes),
        URL_SAFE_NO_PAD.encode(&bytes),
        format!("  {}\n", STANDARD.encode(&bytes)),
    ] {
        assert_eq!(Key::parse(&text).unwrap().to_hex(), hex_text, "{text}");
    }
}

#[test]
fn rejects_other_input_without_echoing_it() {
    let secretish = "s3cr3t-value-that-must-not-leak";
    for text in [
        "",
        "   ",
        secretish,
        &"ab".repeat(31),
        &"ab".repeat(33),
        &base64::engine::general_purpose::STANDARD.encode([7u8; 31]),
        &base64::engine::general_purpose::STANDARD.encode([7u8; 33]),
    ] {
        let err = Key::parse(text).unwrap_err().to_string();
        assert!(err.starts_with("invalid document store key"), "{err}");
        if !text.trim().is_empty() {
            assert!(!err.contains(text.trim()), "{err}");
        }
    }
    let err = Key::parse(&base64::engine::general_purpose::STANDARD.encode([7u8; 31]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("31 bytes"), "{err}");
}

#[test]
fn debug_hides_the_bytes_and_generate_differs() {
    let a = Key::generate().unwrap();
    let b = Key::generate().unwrap();
    assert_ne!(a.to_hex(), b.to_hex());
    let shown = format!("{a:?}");
    assert_eq!(shown, "Key(..)");
    assert!(!shown.contains(&a.to_hex()));
}

#[test]
fn subkeys_are_distinct() {
    let k = Key::parse(&"11".repeat(32)).unwrap();
    assert_ne!(k.derive("seal"), k.derive("mac"));
    assert_ne!(k.cursor_key(), k.derive("seal"));
    assert_eq!(k.derive("seal"), k.derive("seal"));
}
