//! Warden's tamper-evident audit log.
//!
//! Every record carries the SHA-256 hash of the record before it, so changing, deleting,
//! inserting or reordering any record breaks the chain from that point on; [`verify`] finds the
//! first bad record and says why. Records live in an embedded SQLite file (WAL mode); values
//! over [`INLINE_MAX`] bytes live beside it, in [`side_path`], named by digest in the record.
//!
//! Writes go through [`Log`]: whoever appends first commits everything queued in one
//! transaction (group commit), then acknowledges each record with its sequence number. An
//! acknowledged record is committed: it survives the process being killed, and with
//! [`Durability::PowerLoss`] it is also fsynced before the acknowledgement.

mod error;
mod payload;
mod record;
mod store;
mod verify;
mod writer;

pub use error::{Error, Result};
pub use payload::{INLINE_MAX, resolve_with, side_path};
pub use record::{GENESIS, Record, chain_hash};
pub use store::Reader;
pub use verify::{Problem, Report, verify};
pub use writer::{Durability, Log};
