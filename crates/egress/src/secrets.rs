//! Secrets injected at the egress proxy: a sandboxed process holds only a placeholder
//! (`warden-secret-NAME`); the proxy puts the real value in its place in the requests it
//! carries to the secret's own hosts, over TLS only. Pure: what a request becomes.

use std::sync::Arc;

use base64::Engine as _;
use hyper::http::request::Parts;
use hyper::http::{HeaderValue, Uri};

use crate::rules::Rules;

/// What every placeholder starts with.
pub const PLACEHOLDER_PREFIX: &str = "warden-secret-";

/// One secret: its name, its value (never shown), and the destinations it may be sent to.
pub struct Secret {
    name: String,
    value: String,
    hosts: Rules,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// Why a secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret name `{0}` must be letters, digits and `_`, not starting with a digit")]
    Name(String),
    #[error("secret `{0}` names no host to send it to")]
    NoHost(String),
    #[error("secret `{0}` is empty or holds a control character; it cannot go in a header")]
    Value(String),
}

impl Secret {
    /// A secret `name` with `value`, sent only to the destinations `hosts` allows.
    pub fn new(name: &str, value: String, hosts: Rules) -> Result<Self, SecretError> {
        let mut chars = name.chars();
        let good_start = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !good_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(SecretError::Name(name.to_owned()));
        }
        if hosts.entries().is_empty() {
            return Err(SecretError::NoHost(name.to_owned()));
        }
        let value = value.trim_end_matches(['\r', '\n']).to_owned();
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(SecretError::Value(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            value,
            hosts,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the sandbox sees instead of the value.
    pub fn placeholder(&self) -> String {
        placeholder(&self.name)
    }
}

/// The placeholder of the secret `name`.
pub fn placeholder(name: &str) -> String {
    format!("{PLACEHOLDER_PREFIX}{name}")
}

/// A profile's secrets.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<Arc<Secret>>);

impl Secrets {
    /// The secrets, longest name first (so `A_B` is replaced before `A`).
    pub fn new(mut secrets: Vec<Secret>) -> Self {
        secrets.sort_by(|a, b| b.name.len().cmp(&a.name.len()).then(a.name.cmp(&b.name)));
        Self(secrets.into_iter().map(Arc::new).collect())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secrets that may be sent to `host:port`.
    pub fn for_destination(&self, host: &str, port: u16) -> Vec<Arc<Secret>> {
        self.0
            .iter()
            .filter(|s| s.hosts.allows_name(host, port).is_ok())
            .cloned()
            .collect()
    }
}

/// Why a request could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request cannot carry secret `{0}` where its placeholder stands")]
pub struct InjectError(String);

/// Puts the value of each of `secrets` in place of its placeholder in the request target and
/// the header values (inside `Basic` credentials too); the body is left as it is. Returns the
/// names of the secrets injected.
pub fn inject(parts: &mut Parts, secrets: &[Arc<Secret>]) -> Result<Vec<String>, InjectError> {
    let mut used = Vec::new();
    if let Some(target) = parts.uri.path_and_query().map(|p| p.as_str().to_owned())
        && let Some(new) = replace(target.as_bytes(), secrets, &mut used)
    {
        let first = used.first().cloned().unwrap_or_default();
        parts.uri = rebuild(&parts.uri, &new).ok_or(InjectError(first))?;
    }
    for (_, value) in parts.headers.iter_mut() {
        let bytes = value.as_bytes();
        let new = match basic_credentials(bytes) {
            Some(decoded) => replace(&decoded, secrets, &mut used).map(|plain| {
                let mut v = b"Basic ".to_vec();
                v.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(plain)
                        .as_bytes(),
                );
                v
            }),
            None => replace(bytes, secrets, &mut used),
        };
        if let Some(new) = new {
            let sensitive = HeaderValue::from_bytes(&new)
                .map(|mut v| {
                    v.set_sensitive(true);
                    v
                })
                .map_err(|_| InjectError(used.last().cloned().unwrap_or_default()))?;
            *value = sensitive;
        }
    }
    used.sort();
    used.dedup();
    Ok(used)
}

/// `Basic <base64>` decoded, when it is that.
fn basic_credentials(value: &[u8]) -> Option<Vec<u8>> {
    let rest = value
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case(b"basic "))
        .and(value.get(6..))?;
    base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()
}

/// `text` with every placeholder of `secrets` replaced (`None` when there was none), noting
/// the secrets used.
fn replace(text: &[u8], secrets: &[Arc<Secret>], used: &mut Vec<String>) -> Option<Vec<u8>> {
    let prefix = PLACEHOLDER_PREFIX.as_bytes();
    if !text.windows(prefix.len()).any(|w| w == prefix) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut rest = text;
    let mut changed = false;
    'scan: while !rest.is_empty() {
        if rest.starts_with(prefix) {
            for s in secrets {
                let p = s.placeholder();
                if let Some(after) = rest.strip_prefix(p.as_bytes()) {
                    out.extend_from_slice(s.value.as_bytes());
                    used.push(s.name.clone());
                    changed = true;
                    rest = after;
                    continue 'scan;
                }
            }
        }
        let (first, after) = rest.split_at(1);
        out.extend_from_slice(first);
        rest = after;
    }
    changed.then_some(out)
}

/// `uri` with a new path and query.
fn rebuild(uri: &Uri, path_and_query: &[u8]) -> Option<Uri> {
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        hyper::http::uri::PathAndQuery::try_from(path_and_query)
            .ok()
            .filter(|p| p.as_str().len() == path_and_query.len())?,
    );
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
