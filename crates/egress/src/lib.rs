//! Egress control: the allow-list (`rules`), the DNS resolution Warden does itself
//! (`resolve`), the HTTP/HTTPS (`CONNECT`) proxy sandboxed processes reach the network
//! through (`proxy`), and the secrets it injects into requests to their own hosts (`secrets`,
//! over TLS it terminates with a per-process authority: `tls`).

pub mod args;
mod intercept;
pub mod proxy;
pub mod resolve;
pub mod rules;
pub mod secrets;
pub mod tls;

pub use proxy::{Event, Injection, Proxy, Report, RequestSeen};
pub use resolve::Resolver;
pub use rules::{Entry, EntryError, Refusal, Rules};
pub use secrets::{Secret, SecretError, Secrets};
pub use tls::Authority;
