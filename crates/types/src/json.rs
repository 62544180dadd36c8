//! JSON output for [`serde_json::Value`], byte for byte what `serde_json::to_vec` writes, with
//! string contents copied eight bytes at a time.
//!
//! Every message Warden relays is serialized at least once on the call's path (and the audit
//! record once more), and the payload is mostly string contents: `serde_json` checks each byte
//! of a string against its escape table one at a time, which made serialization the largest
//! cost of relaying a 64 KB call. Here a whole block of 32 bytes is checked at once (no quote,
//! no backslash, no control character; a loop without early exit, which the compiler turns
//! into vector instructions) and copied with the run it belongs to.

use serde_json::Value;

/// Where output goes: a buffer, or a count of the bytes that would be written.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

struct Count(usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// `value` as compact JSON (what `serde_json::to_vec` returns).
pub fn to_vec(value: &Value) -> Vec<u8> {
    // Sized up front (grown from empty, a 64 KB message was copied about once more by the
    // buffer's doublings), with room for the newline that ends a stdio line.
    let mut out = Vec::with_capacity(size_hint(value) + 16);
    emit(&mut out, value);
    out
}

/// Appends `value` as compact JSON to `out`.
pub fn extend(out: &mut Vec<u8>, value: &Value) {
    out.reserve(size_hint(value));
    emit(out, value);
}

/// Appends `s` as a JSON string (quoted and escaped) to `out`.
pub fn extend_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    string(out, s);
}

/// About the length of `value` as compact JSON (exact where no string needs escaping and
/// numbers are short), from the lengths of its strings: no byte of them is read.
fn size_hint(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items.iter().map(|v| size_hint(v) + 1).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 4 + size_hint(v))
                .sum::<usize>()
                + 2
        }
    }
}

/// The length of `value` as compact JSON, without writing it.
pub fn encoded_len(value: &Value) -> usize {
    let mut count = Count(0);
    emit(&mut count, value);
    count.0
}

fn emit(out: &mut impl Sink, value: &Value) {
    match value {
        Value::Null => out.put(b"null"),
        Value::Bool(true) => out.put(b"true"),
        Value::Bool(false) => out.put(b"false"),
        // Numbers are rare and short: `serde_json`'s own formatting (itoa / ryu).
        Value::Number(n) => out.put(n.to_string().as_bytes()),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                emit(out, item);
            }
            out.put(b"]");
        }
        Value::Object(map) => {
            out.put(b"{");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                string(out, key);
                out.put(b":");
                emit(out, item);
            }
            out.put(b"}");
        }
    }
}

/// Bytes checked at once.
const BLOCK: usize = 32;

/// Whether no byte of `block` needs escaping (`"`, `\\`, below 0x20).
fn plain(block: &[u8; BLOCK]) -> bool {
    block
        .iter()
        .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'))
}

fn string(out: &mut impl Sink, s: &str) {
    let bytes = s.as_bytes();
    out.put(b"\"");
    let mut run = 0; // start of the bytes not yet written
    let mut i = 0;
    loop {
        while let Some(block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<BLOCK>) {
            if !plain(block) {
                break;
            }
            i += BLOCK;
        }
        // At most one block, byte by byte, then back to whole blocks.
        let stop = (i + BLOCK).min(bytes.len());
        while i < stop {
            let b = bytes.get(i).copied().unwrap_or_default();
            i += 1;
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => {
                    out.put(bytes.get(run..i - 1).unwrap_or_default());
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                    let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
                    out.put(&[b'\\', b'u', b'0', b'0', hi, lo]);
                    run = i;
                    continue;
                }
                _ => continue,
            };
            out.put(bytes.get(run..i - 1).unwrap_or_default());
            out.put(escape);
            run = i;
        }
        if i >= bytes.len() {
            break;
        }
    }
    out.put(bytes.get(run..).unwrap_or_default());
    out.put(b"\"");
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
