//! The data plane: Warden between an MCP client and an upstream MCP server.
//!
//! [`stdio::run`] relays every message both ways, remapping ids, bridging a modern
//! (2026-07-28) client to a legacy upstream, and sending each governed request
//! (`tools/call`, `resources/read`, `prompts/get`) through the ordered stages in
//! [`pipeline`]: policy decision, durable audit record, then forward or refuse. Listings are
//! filtered so an agent sees only what policy may let it use.

mod anomaly;
mod approval;
mod bridge;
mod error;
pub mod facts;
mod guard;
pub mod metrics;
mod outcome;
mod pins;
pub mod pipeline;
mod relay;
mod reply;
mod roots;
mod session;
mod settings;
pub mod stdio;
pub mod trace;

pub use approval::{Announce, ApprovalSettings, Approvals, DecideError};
pub use error::{Error, Result};
pub use facts::{Hints, facts_from_hints, facts_from_tool};
pub use guard::{Act, Actions, DetectSettings, Screened, screen_arguments};
pub use metrics::Metrics;
pub use pins::Pinning;
pub use settings::{AgentGuard, Alerts, EgressCheck, PauseHook, Settings, ToolOverride};
pub use stdio::{Ended, Streams, run};
