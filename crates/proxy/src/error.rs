//! Errors that end a proxy session.

/// Why a session could not run or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading from or writing to one side failed.
    #[error("{side}: {source}")]
    Io {
        /// `client` or `upstream`.
        side: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The audit log failed at start-up or shutdown.
    #[error(transparent)]
    Audit(#[from] warden_audit::Error),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
