//! Warden's document store: documents that agents may search, kept encrypted at rest and
//! searched with the reader's permissions applied inside the search.
//!
//! - [`load_path`] reads `.txt`, `.md` and `.jsonl` files into [`Document`]s, strictly
//!   (errors name `file:line`; a document nobody could read is refused).
//! - [`prepare`] sanitizes a document before it is stored: hidden text, suspected prompt
//!   injection, personal data and secrets are removed or replaced by placeholders, so what an
//!   agent later reads cannot carry instructions it should not follow or values it should not
//!   see.
//! - [`Store`] keeps documents in one SQLite file, each sealed with AES-256-GCM under a key
//!   derived from the store [`Key`]. Ids are stored only as a keyed MAC (a blind index), so
//!   the file reveals no id, title, text, ACL or tag: a copied file or backup is useless
//!   without the key.
//! - [`Index`] searches a snapshot in memory with BM25. The ACL filter is applied while
//!   candidates are collected, before ranking and paging, so a caller sees exactly the
//!   documents it may read: pages are full, `total` is exact, and nothing unreadable can leak
//!   through ranking or truncation. Cursors are authenticated and bound to the query and
//!   readers, so they cannot be forged or replayed by another caller.
//!
//! Pure and synchronous: no async runtime, no network.

#![warn(missing_docs)]

mod document;
mod error;
mod index;
mod key;
mod sanitize;
mod store;
mod tokenize;

pub use document::{Defaults, Document, Loaded, MAX_FILE_BYTES, MAX_LINE_BYTES, load_path};
pub use error::{Error, Result};
pub use index::{Hit, Index, MAX_LIMIT, Page, SNIPPET_CHARS, SearchQuery};
pub use key::{KEY_LEN, Key};
pub use sanitize::{REMOVED, Report, Sanitize, check_id, prepare, strip_hidden};
pub use store::{FORMAT_VERSION, PutReport, Store};
pub use tokenize::MAX_TOKEN_CHARS;
