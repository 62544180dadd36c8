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
//! Escapes decode one way, and invalid UTF-8, lone surrogates, control characters and
//! excessive nesting are errors. A message with either of the two is still relayed, as
//! Warden's own serialization of what it read.
//!
//! One more reading is refused outright: `serde_json` (with its `raw_value` feature, on in
//! this workspace, and so in Warden's own Rust servers) reads an object whose first key is
//! `$serde_json::private::RawValue` as the JSON text inside its string, where every other
//! reader sees the object. A key starting with `$serde_json::private::` anywhere is a parse
//! error. Objects with two keys that differ only in case are noted ([`Reading::case_twins`]):
//! readers that match keys without regard to case (Go's `encoding/json` into a struct) may
//! read `"Name"` where Warden reads `"name"`, and the governed path refuses such requests.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as `serde_json::from_slice` does (but for serde_json's private keys,
/// refused); the flag says whether the bytes are faithful (no duplicate key, no number other
/// than a 64-bit integer).
pub(crate) fn parse(bytes: &[u8]) -> serde_json::Result<(Value, Reading)> {
    let mut reading = Reading {
        faithful: true,
        case_twins: false,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Seed(&mut reading).deserialize(&mut de)?;
    de.end()?;
    Ok((value, reading))
}

/// What [`parse`] noticed about the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    /// No duplicate key, no number other than a 64-bit integer: every reader reads the value.
    pub faithful: bool,
    /// Some object has two keys that differ only in case (`name`, `Name`): readers that match
    /// keys regardless of case (Go's `encoding/json`) read them as one.
    pub case_twins: bool,
}

/// A key as readers that ignore case compare it (Go's `EqualFold`: the Kelvin sign is `k`,
/// the long s is `s`).
fn folded(key: &str) -> String {
    if key.is_ascii() {
        key.to_ascii_lowercase()
    } else {
        key.chars()
            .flat_map(char::to_uppercase)
            .flat_map(char::to_lowercase)
            .collect()
    }
}

/// Objects with more keys than this compare folded keys in a hash set; smaller ones (nearly
/// all) compare each new key with the ones before, without allocating.
const FEW_KEYS: usize = 16;

/// Whether `key` (not among `earlier`'s keys) equals one of them regardless of case.
/// `folded_keys` holds the earlier keys folded once the object has more than [`FEW_KEYS`].
fn case_twin(
    earlier: &Map<String, Value>,
    folded_keys: &mut Option<std::collections::HashSet<String>>,
    key: &str,
) -> bool {
    if earlier.len() < FEW_KEYS {
        return earlier.keys().any(|k| {
            if k.is_ascii() && key.is_ascii() {
                k.eq_ignore_ascii_case(key)
            } else {
                folded(k) == folded(key)
            }
        });
    }
    let set = folded_keys.get_or_insert_with(|| earlier.keys().map(|k| folded(k)).collect());
    !set.insert(folded(key))
}

/// The prefix of the keys `serde_json` gives a meaning of its own.
const PRIVATE: &str = "$serde_json::private::";

/// Builds a `Value` like `serde_json`'s own visitor, noting what it reads in a [`Reading`].
struct Seed<'a>(&'a mut Reading);

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
        self.0.faithful = false;
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
        // Keys as case-blind readers see them, once the object has many.
        let mut folded_keys: Option<std::collections::HashSet<String>> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with(PRIVATE) {
                return Err(serde::de::Error::custom(format_args!(
                    "the key `{key}` is reserved"
                )));
            }
            if !self.0.case_twins && !out.contains_key(&key) {
                self.0.case_twins = case_twin(&out, &mut folded_keys, &key);
            }
            let value = map.next_value_seed(Seed(&mut *self.0))?;
            if out.insert(key, value).is_some() {
                self.0.faithful = false;
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
        (got.0, got.1.faithful)
    }

    #[test]
    fn keys_that_differ_only_in_case_are_noticed() {
        let twins = |text: &str| parse(text.as_bytes()).unwrap().1.case_twins;
        assert!(twins(r#"{"name":"read","Name":"delete"}"#));
        assert!(twins(r#"{"a":{"b":{"ARGUMENTS":1,"arguments":2}}}"#));
        // Go folds the Kelvin sign to `k` and the long s to `s`.
        assert!(twins("{\"kind\":1,\"\u{212A}ind\":2}"));
        assert!(twins("{\"arguments\":1,\"argument\u{17F}\":2}"));
        assert!(!twins(r#"{"name":"a","names":"b","a":{"name":1}}"#));
        // An exact duplicate is a duplicate (not faithful), not a case twin.
        let (_, reading) = parse(br#"{"name":"a","name":"b"}"#).unwrap();
        assert!(!reading.faithful && !reading.case_twins);
        // Objects with many keys take the other way of comparing: twins at either end of it.
        let many = |extra: &str| {
            let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
            format!("{{{},{extra}}}", keys.join(","))
        };
        assert!(!twins(&many(r#""z":1"#)));
        assert!(twins(&many(r#""K39":1"#)));
        assert!(twins(&many(r#""K3":1"#)));
        assert!(twins(&many("\"\u{212A}20\":1")));
        let (_, reading) = parse(many(r#""k7":1"#).as_bytes()).unwrap();
        assert!(!reading.faithful && !reading.case_twins);
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
    fn serde_jsons_private_keys_are_refused() {
        let wrapped = r#"{"path":{"$serde_json::private::RawValue":"{\"p\":\"/etc/shadow\"}"}}"#;
        // What serde_json itself reads there: the inner text, not the object.
        let theirs: Value = serde_json::from_str(wrapped).unwrap();
        assert_eq!(theirs["path"]["p"], "/etc/shadow");
        for text in [
            wrapped,
            r#"{"a":1,"$serde_json::private::RawValue":"1"}"#,
            r#"[{"$serde_json::private::Number":"1"}]"#,
        ] {
            let e = parse(text.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("is reserved"), "{e}");
        }
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
