//! Errors of the audit store.

/// Something went wrong reading or writing the audit log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite file could not be opened, read or written.
    #[error("audit store `{path}`: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The writer thread is gone (the log was closed or crashed).
    #[error("audit writer is not running")]
    Closed,
    /// A write failed; the record was not stored.
    #[error("audit write failed: {0}")]
    Write(String),
    /// A stored record could not be decoded.
    #[error("audit record {seq} is unreadable: {message}")]
    Corrupt {
        /// Sequence number of the record.
        seq: i64,
        /// What is wrong.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn sqlite(path: &std::path::Path) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
    move |source| Error::Sqlite {
        path: path.display().to_string(),
        source,
    }
}
