//! The crate's error type: what went wrong, in words an operator can act on. Messages never
//! contain key material or document contents.

/// Everything that can fail in the document store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key text is not a 32-byte key (the text itself is never repeated).
    #[error("invalid document store key: {0}")]
    Key(String),
    /// The store was sealed with another key.
    #[error("the document store's key does not open it")]
    WrongKey,
    /// The store file was written by an incompatible version.
    #[error(
        "document store `{path}` has format version {found}; this build reads version {expected}"
    )]
    Format {
        /// The store file.
        path: String,
        /// Version found in the file.
        found: i64,
        /// Version this build reads and writes.
        expected: i64,
    },
    /// The records are not the ones the store last wrote: one was removed, added or replayed
    /// from an older copy outside Warden.
    #[error(
        "the document store does not match its own record of its contents: a record was removed, added or replayed outside Warden"
    )]
    Incomplete,
    /// A stored record does not open: it was modified or damaged.
    #[error("document record {seq} does not open: it was modified or damaged")]
    Tampered {
        /// Sequence number of the record.
        seq: i64,
    },
    /// SQLite failed.
    #[error("document store `{path}`: {message}")]
    Store {
        /// The store file.
        path: String,
        /// What SQLite said.
        message: String,
    },
    /// A file could not be read, or a document in it is invalid; `at` is `file` or `file:line`.
    #[error("`{at}`: {message}")]
    Load {
        /// Where: `file` or `file:line`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A document handed to the store is unusable (no id, nobody can read it).
    #[error("document `{id}`: {message}")]
    Invalid {
        /// The document's id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// Sealing or the random generator failed.
    #[error("cryptography failed: {0}")]
    Crypto(String),
    /// The cursor is not one this index issued, or belongs to another search.
    #[error("invalid cursor: {0}")]
    BadCursor(String),
    /// The cursor belongs to an older generation of the index.
    #[error("the cursor belongs to an older version of the document index; start the search again")]
    StaleCursor,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
