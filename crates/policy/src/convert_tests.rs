use super::*;

#[test]
fn decimal_text_accepts_cedar_range_only() {
    assert_eq!(decimal_text("80.5").as_deref(), Some("80.5"));
    assert_eq!(decimal_text("-1.25").as_deref(), Some("-1.25"));
    assert_eq!(decimal_text("1.23456"), None);
    assert_eq!(decimal_text("1e30"), None);
}

#[test]
fn null_is_dropped_and_nesting_is_bounded() {
    assert!(to_cedar(&Value::Null).is_none());
    let mut deep = serde_json::json!(1);
    for _ in 0..100 {
        deep = serde_json::json!({ "a": deep });
    }
    assert!(to_cedar(&deep).is_some());
}
