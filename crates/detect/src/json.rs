//! Walking a JSON document's strings: what is scanned in a tool call's arguments or result.
//! Object keys are strings the other side reads too (a token or an instruction can be a key),
//! so they are visited as well, each before its value, at the pointer `<object>/{key N}` (the
//! member's position, not its name: a finding's pointer must not repeat what was found).

use serde_json::Value;

/// Calls `f(pointer, text)` for every string value and object key of `doc` (depth-first;
/// `pointer` is its JSON pointer, `""` for the root) and replaces the string with what `f`
/// returns, if anything. A key replaced by one the object already has gets a ` (N)` suffix, so
/// no member is lost.
pub fn for_each_string(doc: &mut Value, f: &mut dyn FnMut(&str, &str) -> Option<String>) {
    walk(doc, &mut String::new(), f);
}

/// Calls `f(pointer, text)` for every string value and object key of `doc`, reading only.
pub fn for_each_str(doc: &Value, f: &mut dyn FnMut(&str, &str)) {
    walk_ref(doc, &mut String::new(), true, f);
}

/// [`for_each_str`] for string values only: what a document holds as data, where its keys are
/// its shape (the fingerprints of a private result).
pub fn for_each_value_str(doc: &Value, f: &mut dyn FnMut(&str, &str)) {
    walk_ref(doc, &mut String::new(), false, f);
}

fn walk_ref(v: &Value, pointer: &mut String, keys: bool, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(pointer, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                push_index(pointer, i);
                walk_ref(item, pointer, keys, f);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (i, (k, item)) in map.iter().enumerate() {
                let len = pointer.len();
                if keys {
                    push_key_position(pointer, i);
                    f(pointer, k);
                    pointer.truncate(len);
                }
                push_key(pointer, k);
                walk_ref(item, pointer, keys, f);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn push_key_position(pointer: &mut String, i: usize) {
    pointer.push_str("/{key ");
    pointer.push_str(&i.to_string());
    pointer.push('}');
}

fn push_index(pointer: &mut String, i: usize) {
    pointer.push('/');
    pointer.push_str(&i.to_string());
}

fn push_key(pointer: &mut String, k: &str) {
    pointer.push('/');
    pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
}

fn walk(v: &mut Value, pointer: &mut String, f: &mut dyn FnMut(&str, &str) -> Option<String>) {
    match v {
        Value::String(s) => {
            if let Some(new) = f(pointer, s) {
                *s = new;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                push_index(pointer, i);
                walk(item, pointer, f);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            let mut renamed = Vec::new();
            for (i, k) in map.keys().enumerate() {
                let len = pointer.len();
                push_key_position(pointer, i);
                if let Some(new) = f(pointer, k).filter(|new| new != k) {
                    renamed.push((k.clone(), new));
                }
                pointer.truncate(len);
            }
            for (old, new) in renamed {
                let Some(i) = map.keys().position(|k| *k == old) else {
                    continue;
                };
                let Some((_, value)) = map.shift_remove_entry(&old) else {
                    continue;
                };
                let mut key = new.clone();
                let mut n = 2;
                while map.contains_key(&key) {
                    key = format!("{new} ({n})");
                    n += 1;
                }
                map.shift_insert(i, key, value);
            }
            for (k, item) in map.iter_mut() {
                let len = pointer.len();
                push_key(pointer, k);
                walk(item, pointer, f);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{for_each_str, for_each_string, for_each_value_str};

    #[test]
    fn keys_are_visited_by_position_and_replaced_without_losing_a_member() {
        let doc = json!({"a": "x", "tok": {"b": "y"}});
        let mut seen = Vec::new();
        for_each_str(&doc, &mut |p, t| seen.push(format!("{p}={t}")));
        assert_eq!(
            seen,
            [
                "/{key 0}=a",
                "/a=x",
                "/{key 1}=tok",
                "/tok/{key 0}=b",
                "/tok/b=y"
            ]
        );
        let mut values = Vec::new();
        for_each_value_str(&doc, &mut |p, t| values.push(format!("{p}={t}")));
        assert_eq!(values, ["/a=x", "/tok/b=y"]);
        // Two keys redacted to the same placeholder, a third already named so: all kept, in
        // their places.
        let mut doc = json!({"s1": 1, "keep": 2, "s2": 3, "[S]": 4});
        for_each_string(&mut doc, &mut |_, t| {
            t.starts_with('s').then(|| "[S]".to_owned())
        });
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["[S] (2)", "keep", "[S] (3)", "[S]"]);
        assert_eq!(doc["[S] (2)"], 1);
        assert_eq!(doc["[S] (3)"], 3);
    }
}
