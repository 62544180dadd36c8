//! Governed data access, served by `warden data-server`: the SQL agents send, rewritten with
//! row filters and column masks and run read-only on SQLite or PostgreSQL (`sql`), and the
//! permission-aware search over the encrypted document store (`service`, over
//! `warden-docstore`). Every query, search and read is audited with what was applied before
//! its answer leaves (`docs/data.md`).

pub mod server;
pub mod service;
pub mod sql;

pub use service::{Service, ServiceSettings};
