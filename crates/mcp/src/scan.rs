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

/// The byte range of the value of `key` (written without escapes) among the members of the
/// object whose `{` is at `open`, in bytes that are valid JSON.
pub(crate) fn member_span(bytes: &[u8], open: usize, key: &[u8]) -> Option<(usize, usize)> {
    if bytes.get(open) != Some(&b'{') {
        return None;
    }
    let mut i = skip_ws(bytes, open + 1);
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None; // `}`: not there
        }
        let key_end = string_end(bytes, i)?;
        let mut j = skip_ws(bytes, key_end + 1);
        if bytes.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(bytes, j + 1);
        let value_end = value_end(bytes, j)?;
        if bytes.get(i + 1..key_end)? == key {
            return Some((j, value_end));
        }
        i = skip_ws(bytes, value_end);
        if bytes.get(i) != Some(&b',') {
            return None;
        }
        i = skip_ws(bytes, i + 1);
    }
}

/// Where the value starting at `i` ends (exclusive), in bytes that are valid JSON.
fn value_end(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i)? {
        b'"' => Some(string_end(bytes, i)? + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match bytes.get(j)? {
                    b'"' => j = string_end(bytes, j)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let len = bytes
                .get(i..)?
                .iter()
                .take_while(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                .count();
            Some(i + len)
        }
    }
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

    #[test]
    fn finds_members_of_an_object() {
        let text = br#" {"a" : [1, {"x":"}"}], "params" :{"name":"t\"","arguments": {"k":"v]"} , "z":-1.5e3}, "b":true}"#;
        let (ps, pe) = member_span(text, 1, b"params").unwrap();
        let params: serde_json::Value = serde_json::from_slice(&text[ps..pe]).unwrap();
        assert_eq!(params["z"], json!(-1500.0));
        let (s, e) = member_span(text, ps, b"arguments").unwrap();
        assert_eq!(&text[s..e], br#"{"k":"v]"}"#);
        let (s, e) = member_span(text, ps, b"z").unwrap();
        assert_eq!(&text[s..e], b"-1.5e3");
        let (s, e) = member_span(text, 1, b"b").unwrap();
        assert_eq!(&text[s..e], b"true");
        assert_eq!(member_span(text, ps, b"nope"), None);
        assert_eq!(member_span(text, 1, b"x"), None);
        assert_eq!(member_span(br#"{}"#, 0, b"a"), None);
        assert_eq!(member_span(br#"[1]"#, 0, b"a"), None);
    }
}
