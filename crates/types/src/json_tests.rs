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

/// Random values from a fixed seed, so failures reproduce.
struct Gen(fastrand::Rng);

impl Gen {
    fn string(&mut self) -> String {
        let len = self.0.usize(..40);
        (0..len)
            .map(|_| match self.0.u8(..6) {
                0 => char::from(self.0.u8(..0x20)),
                1 => ['"', '\\', '/'][self.0.usize(..3)],
                2 => self.0.char(..),
                _ => char::from(self.0.u8(0x20..0x80)),
            })
            .collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.0.u8(..if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.0.bool()),
            2 => json!(self.0.i64(..)),
            3 => json!(f64::from(self.0.u32(..1 << 20)) / 7.0),
            4 => Value::String(self.string()),
            5 => Value::Array(
                (0..self.0.usize(..5))
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.0.usize(..5) {
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
    let mut g = Gen(fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15));
    for _ in 0..5_000 {
        same_as_serde(&g.value(0));
    }
}
