//! MCP on the wire: JSON-RPC framing with size limits, message classification, both protocol
//! eras (legacy `initialize` handshake and modern 2026-07-28 per-request metadata), and the one
//! place Warden launches a stdio server process.
//!
//! Messages are handled as `serde_json::Value` so every field Warden does not understand passes
//! through untouched (see docs/ARCHITECTURE.md for why not a typed SDK model).

pub mod era;
mod error;
mod faithful;
pub mod framing;
pub mod message;
mod scan;
pub mod sse;

pub use error::{Error, Result};
pub use message::{Id, Kind, Message, Wire};
pub use scan::top_level_id;
