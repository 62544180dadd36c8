use super::*;

#[test]
fn decimal_text_accepts_cedar_range_only() {
    assert_eq!(decimal_text("80.5").as_deref(), Some("80.5"));
    assert_eq!(decimal_text("-1.25").as_deref(), Some("-1.25"));
    assert_eq!(decimal_text("1.23456"), None);
    assert_eq!(decimal_text("1e30"), None);
    // Cedar's range: an i64 count of ten-thousandths.
    assert_eq!(
        decimal_text("922337203685477.5807").as_deref(),
        Some("922337203685477.5807")
    );
    assert_eq!(decimal_text("922337203685477.5808"), None);
    assert_eq!(decimal_text("999999999999999.5"), None);
    assert_eq!(decimal_text("-0.5").as_deref(), Some("-0.5"));
}

#[test]
fn a_number_beyond_cedar_decimals_is_text_and_the_context_builds() {
    let value = serde_json::json!({ "n": 999_999_999_999_999.5 });
    let record = to_cedar(&value).unwrap();
    let context = cedar_policy::Context::from_pairs([("args".to_owned(), record)]);
    assert!(context.is_ok(), "{context:?}");
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
