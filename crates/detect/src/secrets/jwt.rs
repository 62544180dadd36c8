//! JSON Web Tokens.

use std::sync::LazyLock;

use base64::Engine as _;
use regex::bytes::Regex;

use crate::util::MatchStr as _;

use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// JSON Web Tokens.
///
/// What it detects: `header.payload.signature` where the header is base64url JSON with an
/// `alg` (or `typ`) member.
/// Why it matters: a bearer token grants whatever its claims say until it expires.
/// Example: `Authorization: Bearer eyJhbGciOi…`.
/// False positives: base64 text that happens to start with `eyJ` but is not a JOSE header.
#[derive(Debug)]
pub struct Jwt;

static META: Meta = Meta {
    id: "SEC003",
    kind: FindingKind::Secret,
    name: "jwt",
    summary: "JSON Web Tokens",
};

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"\b(eyJ[A-Za-z0-9_-]{8,})\.(eyJ[A-Za-z0-9_-]{4,}|[A-Za-z0-9_-]{8,})\.([A-Za-z0-9_-]*)")
});

impl Detector for Jwt {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&JWT);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            if !view.text.contains("eyJ") {
                continue;
            }
            for caps in JWT.captures_iter(view.text.as_bytes()) {
                let (Some(all), Some(header)) = (caps.get(0), caps.get(1)) else {
                    continue;
                };
                if jose_header(header.as_str()) {
                    push(out, &META, "jwt", view, all.start(), all.end(), 0.9);
                }
            }
        }
    }
}

fn jose_header(b64: &str) -> bool {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let trimmed = if b64.len() % 4 == 1 {
        b64.get(..b64.len() - 1).unwrap_or(b64)
    } else {
        b64
    };
    let Ok(bytes) = engine.decode(trimmed) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    text.contains("\"alg\"") || text.contains("\"typ\"") || text.contains("\"kid\"")
}
