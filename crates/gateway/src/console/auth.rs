//! Console sign-in: approver accounts from the identity store, server-side sessions, CSRF.
//!
//! - A session id is 128 random bits, sent only as an `HttpOnly`, `SameSite=Lax` cookie
//!   (`Secure` when the public URL is https) scoped to `/console`; the server keeps a hash of
//!   it. Signing in always mints a new id and forgets any id the browser sent before, so an id
//!   planted before sign-in (session fixation) never becomes a session.
//! - Every state-changing request is a POST carrying the session's CSRF token, and its
//!   `Origin`, when sent, must be this console's. The sign-in form is protected the same way by
//!   a token bound to a short-lived cookie (login CSRF).
//! - Repeated failures for one name lock that name for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// Session cookie name.
pub(crate) const COOKIE: &str = "warden_console";
/// Sign-in form cookie name.
pub(crate) const LOGIN_COOKIE: &str = "warden_login";
/// A session unused this long ends.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in whatever happens.
const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// Failed sign-ins for one name before it is locked.
const MAX_FAILURES: u32 = 5;
/// How long failures are remembered and a locked name stays locked.
const LOCKOUT: Duration = Duration::from_secs(5 * 60);

/// A signed-in approver.
#[derive(Debug, Clone)]
pub(crate) struct Me {
    pub name: String,
    pub groups: Vec<String>,
    pub csrf: String,
    created: Instant,
    seen: Instant,
}

impl Me {
    /// May decide requests of any group and manage agents.
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "*")
    }
}

/// Console sessions and sign-in failures.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_hash: Mutex<HashMap<String, Me>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn digest(sid: &str) -> String {
    hex::encode(Sha256::digest(sid.as_bytes()))
}

/// Constant-time comparison of two tokens.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value.
pub(crate) fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sessions {
    /// The approver the request's cookie belongs to (and marks the session used).
    pub fn current(&self, headers: &HeaderMap) -> Option<Me> {
        let sid = cookie(headers, COOKIE)?;
        let key = digest(sid);
        let mut map = lock(&self.by_hash);
        let now = Instant::now();
        let me = map.get_mut(&key)?;
        if now.duration_since(me.seen) > IDLE || now.duration_since(me.created) > ABSOLUTE {
            map.remove(&key);
            return None;
        }
        me.seen = now;
        Some(me.clone())
    }

    /// Starts a session for a signed-in approver: a fresh id (returned, for the cookie); the
    /// id the browser had before, if any, is forgotten.
    pub fn start(
        &self,
        previous: Option<&str>,
        name: String,
        groups: Vec<String>,
    ) -> Result<String, String> {
        let sid = warden_identity::random_id().map_err(|e| e.to_string())?;
        let csrf = warden_identity::random_id().map_err(|e| e.to_string())?;
        let now = Instant::now();
        let mut map = lock(&self.by_hash);
        if let Some(old) = previous {
            map.remove(&digest(old));
        }
        map.retain(|_, s| {
            now.duration_since(s.seen) <= IDLE && now.duration_since(s.created) <= ABSOLUTE
        });
        map.insert(
            digest(&sid),
            Me {
                name,
                groups,
                csrf,
                created: now,
                seen: now,
            },
        );
        Ok(sid)
    }

    /// Ends the session of this cookie.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(sid) = cookie(headers, COOKIE) {
            lock(&self.by_hash).remove(&digest(sid));
        }
    }

    /// Whether `name` is locked after too many failures.
    pub fn locked(&self, name: &str) -> bool {
        let mut f = lock(&self.failures);
        match f.get(name) {
            Some((_, since)) if since.elapsed() > LOCKOUT => {
                f.remove(name);
                false
            }
            Some((n, _)) => *n >= MAX_FAILURES,
            None => false,
        }
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, name: &str) {
        let mut f = lock(&self.failures);
        if f.len() > 10_000 {
            f.retain(|_, (_, since)| since.elapsed() <= LOCKOUT);
        }
        let entry = f.entry(name.to_owned()).or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    /// Forgets failures after a successful sign-in.
    pub fn succeeded(&self, name: &str) {
        lock(&self.failures).remove(name);
    }
}
