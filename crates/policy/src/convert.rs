//! JSON tool arguments and attributes to Cedar values.
//!
//! Values are built as [`RestrictedExpression`]s directly, never through Cedar's JSON entity
//! format, so an argument such as `{"__entity": ...}` stays an ordinary record and cannot smuggle
//! an entity reference into a decision.

use cedar_policy::RestrictedExpression;
use serde_json::Value;

/// Deepest argument nesting converted; deeper parts become the string `"<too deep>"`, which no
/// well-typed policy condition matches.
pub(crate) const MAX_DEPTH: usize = 32;

/// Converts a JSON value. `null` has no Cedar counterpart and yields `None` (record fields that
/// are `null` are left out, so `context.args has x` is false for them).
pub(crate) fn to_cedar(value: &Value) -> Option<RestrictedExpression> {
    convert(value, 0)
}

fn convert(value: &Value, depth: usize) -> Option<RestrictedExpression> {
    if depth > MAX_DEPTH {
        return Some(RestrictedExpression::new_string("<too deep>".to_owned()));
    }
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => {
            RestrictedExpression::new_set(items.iter().filter_map(|v| convert(v, depth + 1)))
        }
        Value::Object(map) => record(map, depth)?,
    })
}

/// Builds a Cedar record from a JSON object, dropping `null` fields.
pub(crate) fn record(
    map: &serde_json::Map<String, Value>,
    depth: usize,
) -> Option<RestrictedExpression> {
    record_of(map.iter(), depth)
}

/// [`record`] of some of an object's fields.
pub(crate) fn record_of<'a>(
    fields: impl Iterator<Item = (&'a String, &'a Value)>,
    depth: usize,
) -> Option<RestrictedExpression> {
    let fields = fields.filter_map(|(k, v)| convert(v, depth + 1).map(|e| (k.clone(), e)));
    // Duplicate keys are impossible in a JSON object map, so this cannot fail.
    RestrictedExpression::new_record(fields).ok()
}

/// Integers become `Long`; other numbers become `decimal` when Cedar can hold them exactly
/// (at most four fractional digits), otherwise their decimal text as a string.
fn number(n: &serde_json::Number) -> RestrictedExpression {
    if let Some(i) = n.as_i64() {
        return RestrictedExpression::new_long(i);
    }
    let text = n.to_string();
    match decimal_text(&text) {
        Some(d) => RestrictedExpression::new_decimal(d),
        None => RestrictedExpression::new_string(text),
    }
}

/// `80.5` -> `80.5`, `3` (as float `3.0`) -> `3.0`; `None` if not representable as a Cedar
/// decimal (exponent notation, more than 4 fractional digits, out of range).
pub(crate) fn decimal_text(text: &str) -> Option<String> {
    if text.contains(['e', 'E']) {
        return None;
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = if frac.is_empty() { "0" } else { frac };
    if frac.len() > 4 || int.trim_start_matches('-').len() > 15 {
        return None;
    }
    // Cedar holds a decimal as an i64 count of ten-thousandths.
    let digits = format!("{int}{frac:0<4}");
    digits.parse::<i64>().ok()?;
    Some(format!("{int}.{frac}"))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
