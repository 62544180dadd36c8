//! Private keys: PEM blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP), PuTTY key files.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::MatchStr as _;

use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Private key blocks.
///
/// What it detects: `-----BEGIN … PRIVATE KEY-----` blocks (to their END line, or to the end of
/// the text when truncated), PGP private key blocks and PuTTY `.ppk` private lines.
/// Why it matters: a private key is a credential that never expires by itself.
/// Example: an `id_ed25519` pasted into a chat.
/// False positives: the header alone (documentation) is not reported; a body must follow.
#[derive(Debug)]
pub struct PrivateKeys;

static META: Meta = Meta {
    id: "SEC002",
    kind: FindingKind::Secret,
    name: "private_keys",
    summary: "PEM, OpenSSH, PGP and PuTTY private keys",
};

static PEM: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r#"-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|[\r\n\s"'+])+((?:[A-Za-z0-9+/=:,\- "'+]|\\[rn]|[\r\n])+?)(?:-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----|$|[^A-Za-z0-9+/=:,\-\s\\"'+])"#,
    )
});
static PUTTY: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"PuTTY-User-Key-File-\d+:[^\n]*\n(?:[^\n]*\n){0,8}?Private-Lines:\s*\d+\s*\n((?:[A-Za-z0-9+/=]+\n?)+)",
    )
});

impl Detector for PrivateKeys {
    fn meta(&self) -> &Meta {
        &META
    }

    fn prepare(&self) {
        LazyLock::force(&PEM);
        LazyLock::force(&PUTTY);
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            if !view.text.contains("PRIVATE KEY") && !view.text.contains("PuTTY") {
                continue;
            }
            for caps in PEM.captures_iter(view.text.as_bytes()) {
                let (Some(all), Some(body)) = (caps.get(0), caps.get(1)) else {
                    continue;
                };
                if body
                    .as_str()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .count()
                    >= 16
                {
                    push(
                        out,
                        &META,
                        "private_key",
                        view,
                        all.start(),
                        all.end(),
                        0.95,
                    );
                }
            }
            for caps in PUTTY.captures_iter(view.text.as_bytes()) {
                if let Some(body) = caps.get(1) {
                    push(
                        out,
                        &META,
                        "private_key",
                        view,
                        body.start(),
                        body.end(),
                        0.95,
                    );
                }
            }
        }
    }
}
