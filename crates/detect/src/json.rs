//! Walking a JSON document's strings: what is scanned in a tool call's arguments or result.

use serde_json::Value;

/// Calls `f(pointer, text)` for every string value of `doc` (depth-first; `pointer` is its
/// JSON pointer, `""` for the root) and replaces the string with what `f` returns, if anything.
pub fn for_each_string(doc: &mut Value, f: &mut dyn FnMut(&str, &str) -> Option<String>) {
    walk(doc, &mut String::new(), f);
}

/// Calls `f(pointer, text)` for every string value of `doc`, reading only.
pub fn for_each_str(doc: &Value, f: &mut dyn FnMut(&str, &str)) {
    walk_ref(doc, &mut String::new(), f);
}

fn walk_ref(v: &Value, pointer: &mut String, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(pointer, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                push_index(pointer, i);
                walk_ref(item, pointer, f);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = pointer.len();
                push_key(pointer, k);
                walk_ref(item, pointer, f);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
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
