//! What a sandbox allows: paths, network and resource limits. Pure data, built from the config
//! and carried to the helper inside a [`crate::Plan`]. What the OS does with it is
//! `linux/`'s business; when to ask a human is policy's.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One named sandbox profile, its paths already absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The name the config gave it (for messages and the audit log).
    pub name: String,
    /// Readable (and executable) trees. `/` reads everything not hidden.
    pub read: Vec<PathBuf>,
    /// Readable and writable trees.
    pub write: Vec<PathBuf>,
    /// Trees and files replaced by empty ones inside the sandbox (secrets, Warden's own state).
    pub hide: Vec<PathBuf>,
    /// Trees and files that stay readable but never writable, even inside a `write` tree
    /// (Warden's configuration and policies).
    #[serde(default)]
    pub readonly: Vec<PathBuf>,
    /// What the network looks like from inside.
    pub network: Network,
    /// Resource limits.
    pub limits: Limits,
    /// With [`Network::EgressProxy`]: the Unix socket Warden's egress proxy listens on.
    #[serde(default)]
    pub egress: Option<PathBuf>,
    /// Variables the profile adds to the command's environment (the placeholders of the
    /// secrets its egress proxy injects).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// A PEM bundle outside the sandbox that its TLS clients trust instead of the system's
    /// (the system's roots and the authority of Warden's secret injection): copied to
    /// [`crate::plan::TRUST_INSIDE`] and named by `SSL_CERT_FILE` and its kin.
    #[serde(default)]
    pub trust: Option<PathBuf>,
}

/// The network a sandboxed process sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// A private network namespace with nothing in it: no connection leaves.
    None,
    /// A private network namespace whose only way out is Warden's egress proxy.
    EgressProxy,
    /// The host's network, unconfined (an explicit opt-out).
    Host,
}

/// Resource limits; `None` leaves the inherited limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Writable data memory (heap and private mappings), MiB.
    pub memory_mb: Option<u64>,
    /// CPU time, seconds (the process is killed past it).
    pub cpu_secs: Option<u64>,
    /// Processes and threads in the sandbox.
    pub processes: Option<u64>,
    /// Largest file the sandbox may write, MiB.
    pub file_size_mb: Option<u64>,
    /// Open file descriptors.
    pub open_files: Option<u64>,
    /// Size of the private `/tmp`, MiB.
    pub tmp_mb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: Some(4096),
            cpu_secs: None,
            processes: Some(512),
            file_size_mb: Some(1024),
            open_files: Some(4096),
            tmp_mb: 512,
        }
    }
}

impl Profile {
    /// The default for a stdio tool server: read everything not hidden, write only a private
    /// `/tmp`, no network.
    pub fn server_default(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            read: vec![PathBuf::from("/")],
            write: Vec::new(),
            hide: Vec::new(),
            readonly: Vec::new(),
            network: Network::None,
            limits: Limits::default(),
            egress: None,
            env: Vec::new(),
            trust: None,
        }
    }
}
