//! Errors from planning and starting a launch.

use std::path::PathBuf;

/// Why a launch could not be planned or started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    /// The program does not exist (looked up in the `PATH` the command gets).
    #[error("cannot start `{0}`: no such program (looked up in the PATH given to it)")]
    NotFound(String),
    /// A profile path is not absolute (profiles are resolved before they reach this crate).
    #[error("sandbox profile `{profile}`: path `{}` must be absolute", path.display())]
    RelativePath { profile: String, path: PathBuf },
    /// A profile asks for the egress proxy but none was started for it.
    #[error(
        "sandbox profile `{0}`: network = \"egress-proxy\" but no egress proxy is running for it"
    )]
    NoEgressProxy(String),
    /// A path the sandbox acts on climbs with `..`.
    #[error("path `{}` must not contain `..`", .0.display())]
    ParentDir(PathBuf),
    /// The plan could not be encoded for the helper.
    #[error("cannot encode the sandbox plan: {0}")]
    Encode(#[from] serde_json::Error),
    /// The sandbox is not available on this platform.
    #[error("sandboxing needs Linux; set `sandbox = \"off\"` to run unconfined")]
    Unsupported,
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
