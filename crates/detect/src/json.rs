//! Walking a JSON document's strings: what is scanned in a tool call's arguments or result.

use serde_json::Value;

/// Calls `f(pointer, text)` for every string value of `doc` (depth-first; `pointer` is its
/// JSON pointer, `""` for the root) and replaces the string with what `f` returns, if anything.
pub fn for_each_string(doc: &mut Value, f: &mut dyn FnMut(&str, &str) -> Option<String>) {
    walk(doc, &mut String::new(), f);
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
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk(item, pointer, f);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                walk(item, pointer, f);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}
