//! Best-effort recovery of the top-level `"id"` from the first bytes of a message too large to
//! parse, so Warden can still answer (or fail) the request it belongs to.

use serde_json::Value;

/// Finds `"id": <string or integer>` at nesting depth 1 in `bytes`. Returns `None` when it is
/// not there, is of another type, or is cut off.
pub fn top_level_id(bytes: &[u8]) -> Option<Value> {
    let (start, end) = top_level_id_span(bytes)?;
    let v: Value = serde_json::from_slice(bytes.get(start..end)?).ok()?;
    (v.is_string() || v.as_i64().is_some()).then_some(v)
}

/// The byte range of the top-level `"id"` value (a string or an integer) in `bytes`.
pub fn top_level_id_span(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut i = 0usize;
    let mut expect_key = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' => {
                depth += 1;
                expect_key = depth == 1;
            }
            b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = true,
            b'"' => {
                let end = string_end(bytes, i)?;
                if depth == 1 && expect_key {
                    expect_key = false;
                    let key = bytes.get(i + 1..end)?;
                    let mut j = skip_ws(bytes, end + 1);
                    if bytes.get(j) != Some(&b':') {
                        return None;
                    }
                    j = skip_ws(bytes, j + 1);
                    if key == b"id" {
                        return value_span(bytes, j);
                    }
                    i = j;
                    continue;
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Index of the closing quote of the string starting at `start` (a SIMD search for the next
/// quote or backslash, so long strings are skipped quickly).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
        match bytes.get(i)? {
            b'\\' => i += 2,
            _ => return Some(i),
        }
    }
}

fn value_span(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    match bytes.get(i)? {
        b'"' => Some((i, string_end(bytes, i)? + 1)),
        b'-' | b'0'..=b'9' => {
            let len = bytes
                .get(i..)?
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'-')
                .count();
            Some((i, i + len))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_ids_in_truncated_prefixes() {
        assert_eq!(
            top_level_id(br#"{"jsonrpc":"2.0","id":42,"result":{"x":"#),
            Some(json!(42))
        );
        assert_eq!(
            top_level_id(br#"{"result":{"id":1,"t":"a\"b"},"id":"q\"1"}"#),
            Some(json!("q\"1"))
        );
        assert_eq!(top_level_id(br#"{"params":{"id":5},"method":"x""#), None);
        assert_eq!(top_level_id(br#"{"id":"unterminated"#), None);
        assert_eq!(top_level_id(b"garbage"), None);
    }
}
