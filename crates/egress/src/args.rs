//! URLs in a tool call's arguments, checked against the egress allow-list before the call is
//! forwarded: a server confined to an egress profile should not be asked to fetch what its
//! proxy would refuse anyway, and the refusal belongs in the decision, not in a tool error.

use serde_json::Value;

use crate::rules::{Refusal, Rules};

/// Schemes whose URLs name a network destination.
/// (Browsers and URL libraries also read `http:\\host`, `http:/host` and `http:host` as
/// `http://host`, so a scheme and its colon are enough.)
const SCHEMES: &[&str] = &["http:", "https:", "ws:", "wss:", "ftp:"];

/// The first URL in `args` the rules refuse: its JSON pointer, the URL, and why.
pub fn first_refusal(rules: &Rules, args: &Value) -> Option<(String, String, Refusal)> {
    let mut found = None;
    walk(args, &mut String::new(), &mut |pointer, text| {
        if found.is_some() {
            return;
        }
        for url in urls(text) {
            let Ok(parsed) = url::Url::parse(url) else {
                continue;
            };
            let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default())
            else {
                continue;
            };
            if let Err(r) = rules.allows_name(host, port) {
                found = Some((pointer.to_owned(), url.to_owned(), r));
                return;
            }
        }
    });
    found
}

/// Candidate URLs in `text`: from a scheme to the first character no URL contains unescaped.
fn urls(text: &str) -> impl Iterator<Item = &str> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes().to_vec();
    let mut starts: Vec<usize> = SCHEMES
        .iter()
        .flat_map(|s| lower.match_indices(s).map(|(i, _)| i))
        // A scheme starts a word: `news:` is not `ws:`.
        .filter(|i| {
            *i == 0
                || bytes.get(i - 1).is_none_or(|b| {
                    !b.is_ascii_alphanumeric() && *b != b'+' && *b != b'.' && *b != b'-'
                })
        })
        .collect();
    starts.sort_unstable();
    starts.into_iter().filter_map(move |start| {
        let rest = text.get(start..)?;
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(rest.len());
        rest.get(..end)
    })
}

fn walk(v: &Value, pointer: &mut String, f: &mut impl FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(pointer, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk(item, pointer, f);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                // A key can carry a URL too.
                f(pointer, k);
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

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
