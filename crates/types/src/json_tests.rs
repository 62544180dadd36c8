use serde_json::{Map, Value, json};

use super::{encoded_len, to_vec};

fn same_as_serde(value: &Value) {
    let ours = to_vec(value);
    let theirs = serde_json::to_vec(value).unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    assert_eq!(encoded_len(value), theirs.len());
}

#[test]
fn every_character_that_needs_escaping_at_every_offset() {
    // Each special byte at each position of a block, inside runs of plain text of every length
    // around block boundaries.
    let specials: Vec<char> = (0u8..0x20)
        .map(char::from)
        .chain(['"', '\\', '\u{7f}', '/', 'é', '€', '😀', '\u{2028}'])
        .collect();
    for &c in &specials {
        for before in 0..70 {
            for after in [0, 1, 7, 8, 9, 31, 32, 33] {
                let s = format!("{}{c}{}", "a".repeat(before), "b".repeat(after));
                same_as_serde(&Value::String(s));
            }
        }
    }
    same_as_serde(&Value::String(specials.iter().collect()));
    same_as_serde(&Value::String(String::new()));
}

#[test]
fn values_of_every_kind() {
    same_as_serde(&json!({
        "jsonrpc": "2.0", "id": 7, "neg": -12, "big": u64::MAX, "f": 1.5e300, "small": -0.0001,
        "t": true, "n": null, "arr": [1, "two", [], {}, [null, false]],
        "obj": {"key \"quoted\"\n": {"deep": ["\u{0}\u{1f}"]}}
    }));
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn string(&mut self) -> String {
        let len = self.below(40);
        (0..len)
            .map(|_| match self.below(6) {
                0 => char::from(u8::try_from(self.below(0x20)).unwrap_or(0)),
                1 => ['"', '\\', '/'][usize::try_from(self.below(3)).unwrap_or(0)],
                2 => {
                    char::from_u32(u32::try_from(self.below(0x11_0000)).unwrap_or(0)).unwrap_or('?')
                }
                _ => char::from(u8::try_from(0x20 + self.below(0x60)).unwrap_or(b'a')),
            })
            .collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 1),
            2 => json!(self.next() as i64),
            3 => json!(f64::from(u32::try_from(self.below(1 << 20)).unwrap_or(0)) / 7.0),
            4 => Value::String(self.string()),
            5 => Value::Array((0..self.below(5)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.below(5) {
                    let key = self.string();
                    map.insert(key, self.value(depth + 1));
                }
                Value::Object(map)
            }
        }
    }
}

#[test]
fn random_values_match_serde_json() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    for _ in 0..5_000 {
        same_as_serde(&g.value(0));
    }
}
