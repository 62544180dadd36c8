//! Runtime controls on calls, pure and synchronous: token-bucket rate limits, concurrency caps
//! and budgets per period (calls, bytes returned, declared cost), each keyed by any of agent,
//! server, tool and action class, and optionally applying to a subset of calls.
//!
//! [`Anomalies`] keeps each agent's baseline and says when it strays from it.
//! [`AgentBreaker`] pauses an agent that collects too many denials or findings.
//! [`Breaker`] guards an upstream: too many failures in a window open it, a pause and a
//! probe close it.
//!
//! [`Limits::admit`] checks every rule that applies to a call and, only if all pass, takes from
//! each at once (a refused call costs nothing). The returned [`Admission`] holds the call's
//! concurrency slots until it is dropped and records the bytes and cost of the result.

mod agent;
mod anomaly;
mod breaker;
mod destinations;
mod limits;

pub use agent::{AgentBreaker, AgentBreakerSettings, Signal};
pub use anomaly::{Alert, Anomalies, Anomaly, AnomalySettings, Baselines, Seen, Severity};
pub use breaker::{Breaker, BreakerSettings, BreakerState, Open};
pub use destinations::{MAX_DESTINATIONS, destinations};
pub use limits::{
    Admission, Budget, Call, Class, Dim, Exceeded, Filter, Kind, Limits, Rule, RuleError, Standing,
};
