//! Credentials inside connection strings and URLs.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::util::MatchStr as _;

use super::looks_like_placeholder;
use crate::util::{pattern, push};
use crate::{Detector, Finding, FindingKind, Input, Meta};

/// Passwords in connection strings.
///
/// What it detects: `scheme://user:password@host` URLs (databases, brokers, HTTP, FTP, JDBC)
/// and MongoDB/Redis/AMQP connection strings; the span is the password.
/// Why it matters: database URLs end up in logs and tool arguments with the password inline.
/// Example: `postgres://app:s3cr3t@db:5432/app` → `s3cr3t`.
/// False positives: placeholders (`user:password@`, `${PASS}`, `****`) are skipped.
#[derive(Debug)]
pub struct ConnectionStrings;

static META: Meta = Meta {
    id: "SEC004",
    kind: FindingKind::Secret,
    name: "connection_strings",
    summary: "passwords inside connection strings and URLs",
};

static URL_CREDS: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"\b(?:[a-zA-Z][a-zA-Z0-9+.-]{1,20}):(?://|/)?(?:[^\s:@/'\x22<>]{1,100}):([^\s@/'\x22<>]{3,200})@[A-Za-z0-9.\-\[\]_]+",
    )
});

impl Detector for ConnectionStrings {
    fn meta(&self) -> &Meta {
        &META
    }

    fn scan(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        for view in &input.views {
            if !view.text.contains('@') {
                continue;
            }
            for caps in URL_CREDS.captures_iter(view.text.as_bytes()) {
                let Some(pw) = caps.get(1) else { continue };
                let v = pw.as_str();
                if looks_like_placeholder(v)
                    || v.eq_ignore_ascii_case("password")
                    || v.eq_ignore_ascii_case("pass")
                {
                    continue;
                }
                push(
                    out,
                    &META,
                    "connection_password",
                    view,
                    pw.start(),
                    pw.end(),
                    0.85,
                );
            }
        }
    }
}
