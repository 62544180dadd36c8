//! Errors of the wire layer.

/// A wire-level failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a stream failed.
    #[error("{what}: {source}")]
    Io {
        /// Which stream.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
