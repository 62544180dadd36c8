//! Parsing that also tells whether the bytes mean exactly the parsed value to any reader.
//!
//! Warden may pass a message on as the bytes it received (with its own id spliced in) instead
//! of serializing its parsed copy again, which for a large message is the biggest cost of
//! relaying it. That is safe only when every JSON reader finds in those bytes what Warden
//! found, and two things in valid JSON can be read differently:
//!
//! - **duplicate keys**: `serde_json` keeps the last, other readers the first (a call could
//!   show policy one tool name and the server another);
//! - **numbers that are not exact integers**: a float's text may carry more digits than
//!   Warden's `f64` (and an integer beyond 64 bits is read as an `f64` here, exactly by
//!   Python).
//!
//! Everything else reads the same everywhere (escapes decode one way; invalid UTF-8, lone
//! surrogates, control characters and excessive nesting are errors). A message with either
//! of the two is still relayed, as Warden's own serialization of what it read.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as `serde_json::from_slice` does; the flag says whether the bytes are
/// faithful (no duplicate key, no number other than a 64-bit integer).
pub(crate) fn parse(bytes: &[u8]) -> serde_json::Result<(Value, bool)> {
    let mut faithful = true;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Seed(&mut faithful).deserialize(&mut de)?;
    de.end()?;
    Ok((value, faithful))
}

/// Builds a `Value` like `serde_json`'s own visitor, clearing the flag on a duplicate key or
/// a float.
struct Seed<'a>(&'a mut bool);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        *self.0 = false;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Seed(&mut *self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Seed(&mut *self.0))?;
            if out.insert(key, value).is_some() {
                *self.0 = false;
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> (Value, bool) {
        let got = parse(text.as_bytes()).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(got.0, theirs, "{text}");
        got
    }

    #[test]
    fn reads_what_serde_json_reads() {
        assert!(check(r#"{"a":[1,-2,"x\u0041\n",true,null,{"b":{}}],"c":18446744073709551615}"#).1);
        assert!(check(r#"  {"name" : "echo" , "arguments":{"text":"\ud83d\ude00"}} "#).1);
        assert!(check("[]").1);
    }

    #[test]
    fn duplicate_keys_and_floats_are_not_faithful() {
        assert!(!check(r#"{"name":"read","name":"delete"}"#).1);
        assert!(!check(r#"{"a":{"x":1,"x":1}}"#).1);
        // The same key written two ways is a duplicate too.
        assert!(!check(r#"{"id":1,"\u0069d":2}"#).1);
        assert!(!check(r#"{"amount":50.0000000000000000001}"#).1);
        assert!(!check(r#"{"amount":123456789012345678901234567890}"#).1);
        assert!(!check(r#"[1e2]"#).1);
    }

    #[test]
    fn errors_stay_errors() {
        for bad in [
            r#"{"a":"\ud800"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1}x"#,
            r#"{"a":1,}"#,
            &"[".repeat(200),
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
        }
    }
}
