//! Egress control: the allow-list (`rules`), the DNS resolution Warden does itself
//! (`resolve`), and the HTTP/HTTPS (`CONNECT`) proxy sandboxed processes reach the network
//! through (`proxy`).

pub mod args;
pub mod proxy;
pub mod resolve;
pub mod rules;

pub use proxy::{Event, Proxy, Report};
pub use resolve::Resolver;
pub use rules::{Entry, EntryError, Refusal, Rules};
