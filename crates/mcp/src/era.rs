//! The two protocol eras and how to tell them apart.

use serde_json::Value;

use crate::Message;

/// The modern protocol revision (no `initialize`, per-request `_meta`).
pub const MODERN: &str = "2026-07-28";
/// The newest revision with the `initialize` handshake.
pub const LEGACY_LATEST: &str = "2025-11-25";
/// Legacy revisions Warden speaks.
pub const LEGACY: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// `_meta` key carrying the protocol version on every modern request.
pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key carrying the client's capabilities on every modern request.
pub const META_CLIENT_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key carrying the client's identity.
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key carrying the server's identity on modern results.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A protocol era.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2024-11-05 .. 2025-11-25: `initialize` handshake, sessions, server-to-client requests.
    Legacy,
    /// 2026-07-28: stateless, per-request `_meta`, `server/discover`, `resultType`.
    Modern,
}

impl Era {
    /// `legacy` or `modern`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legacy => "legacy",
            Self::Modern => "modern",
        }
    }
}

/// The `_meta` object of a request's params.
pub fn meta(msg: &Message) -> Option<&serde_json::Map<String, Value>> {
    msg.params()?.get("_meta")?.as_object()
}

/// The era a client request reveals, if any: `initialize` is legacy; `server/discover` or a
/// modern version in `_meta` is modern.
pub fn of_request(msg: &Message) -> Option<Era> {
    match msg.method()? {
        "initialize" => Some(Era::Legacy),
        "server/discover" => Some(Era::Modern),
        _ => match meta(msg)?.get(META_VERSION)?.as_str()? {
            v if LEGACY.contains(&v) => None,
            _ => Some(Era::Modern),
        },
    }
}
