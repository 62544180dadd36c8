//! The pure transform from a command and a sandbox profile to a concrete launch: either the
//! command itself (no profile) or Warden's helper, `warden sandbox-exec PLAN`, which builds the
//! sandbox and then executes the command. Nothing here touches the OS except looking the
//! program up in the `PATH` the command will get, so every rule is unit-tested without
//! spawning.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::profile::{Limits, Network, Profile};
use crate::{Error, Result};

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// Program to run (looked up in the `PATH` of `env`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The complete environment the process gets.
    pub env: Vec<(String, String)>,
    /// Working directory, if not Warden's.
    pub cwd: Option<PathBuf>,
}

/// A concrete process start: what [`crate::spawn`] executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Executable path.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    /// Working directory of the started process.
    pub cwd: Option<PathBuf>,
    /// The profile confining it (`None`: unconfined).
    pub profile: Option<String>,
    /// The command as the user wrote it, for messages.
    pub display: String,
}

/// A mechanism the helper enforces (named in diagnostics and by the test hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// User, mount, PID, IPC, UTS and network namespaces.
    Namespaces,
    /// Landlock file-system and network rules.
    Landlock,
    /// The seccomp system-call filter.
    Seccomp,
}

impl Mechanism {
    /// Lower-case name used in messages and in `WARDEN_SANDBOX_UNAVAILABLE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Namespaces => "namespaces",
            Self::Landlock => "landlock",
            Self::Seccomp => "seccomp",
        }
    }

    /// Parses [`Self::name`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Namespaces, Self::Landlock, Self::Seccomp]
            .into_iter()
            .find(|m| m.name() == s)
    }
}

/// Everything the helper needs, decided before it runs: it only carries this out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Profile name, for messages.
    pub profile: String,
    /// Absolute path of the program.
    pub program: PathBuf,
    /// Its arguments (`argv[1..]`).
    pub args: Vec<String>,
    /// Working directory inside the sandbox.
    pub cwd: Option<PathBuf>,
    /// Landlock: readable trees.
    pub read: Vec<PathBuf>,
    /// Landlock: writable trees.
    pub write: Vec<PathBuf>,
    /// Landlock: device files opened read-write (`/dev/null`, ...).
    pub devices: Vec<PathBuf>,
    /// Replaced by empty read-only ones.
    pub hide: Vec<PathBuf>,
    /// Bound read-only over themselves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readonly: Vec<PathBuf>,
    /// Directories inside a write tree on the way to a hidden or read-only path, bound over
    /// themselves so that they cannot be renamed or removed (which would let the command put
    /// its own file where the protected one was), parents first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<PathBuf>,
    /// Fresh private tmpfs mounts (`/tmp`, `/dev/shm`).
    pub private: Vec<PathBuf>,
    /// Paths under a private mount that the profile names: bound back in from outside.
    pub keep: Vec<PathBuf>,
    /// Network.
    pub network: Network,
    /// Limits.
    pub limits: Limits,
    /// With the egress proxy: where it listens, and the port it appears on inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<Bridge>,
    /// Variables added to the command's environment (the proxy settings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    /// Files copied in: read from the first path before any mount, written read-only at the
    /// second (inside a private mount) after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<(PathBuf, PathBuf)>,
    /// Test hook: act as if these mechanisms were missing from the kernel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Mechanism>,
}

/// The way out of a private network: inside, `127.0.0.1:port`; outside, the egress proxy's
/// Unix socket (which init reaches through a directory handle opened before any mount, so the
/// socket's directory may be hidden from the command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    /// The proxy's socket.
    pub socket: PathBuf,
    /// The port inside the sandbox.
    pub port: u16,
}

/// The port the egress proxy appears on inside a sandbox.
pub const BRIDGE_PORT: u16 = 3128;

/// How to reach the helper: Warden's own executable, and the test hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Helper {
    /// Path of the `warden` executable.
    pub exe: PathBuf,
    /// Mechanisms to treat as unavailable (test hook, `WARDEN_SANDBOX_UNAVAILABLE`).
    pub missing: Vec<Mechanism>,
}

/// The helper's subcommand.
pub const HELPER_COMMAND: &str = "sandbox-exec";

/// Read-only trees every confined program needs to start (loader, libraries, certificates,
/// name-service files, and the sandbox's own `/proc`, which shows only its processes) when a
/// profile lists its own `read` paths.
pub const SYSTEM_READ: &[&str] = &[
    "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc",
];

/// Devices a program may open read-write.
pub const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// Private, empty, writable mounts every sandbox gets.
pub const PRIVATE: &[&str] = &["/tmp", "/dev/shm"];

/// Where a profile's trusted certificates appear inside (in the private `/tmp`).
pub const TRUST_INSIDE: &str = "/tmp/warden-trust.pem";

/// The variables TLS clients read their trusted certificates from: OpenSSL (and Python, Go,
/// rustls-native-certs), requests, curl, git, Node (which adds to its own).
const TRUST_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
];

/// Turns `command` into a launch: as it is when `profile` is `None`, else through the helper.
pub fn transform(command: &Command, profile: Option<&Profile>, helper: &Helper) -> Result<Launch> {
    let program = resolve(command);
    if !program.is_file() {
        return Err(Error::NotFound(command.program.clone()));
    }
    let display = std::iter::once(command.program.as_str())
        .chain(command.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let Some(profile) = profile else {
        return Ok(Launch {
            program,
            args: command.args.clone(),
            env: command.env.clone(),
            cwd: command.cwd.clone(),
            profile: None,
            display,
        });
    };
    let plan = plan(command, program, profile, helper)?;
    Ok(Launch {
        program: helper.exe.clone(),
        args: vec![HELPER_COMMAND.to_owned(), serde_json::to_string(&plan)?],
        env: command.env.clone(),
        cwd: None,
        profile: Some(profile.name.clone()),
        display,
    })
}

/// The helper's plan for `command` under `profile`.
pub fn plan(
    command: &Command,
    program: PathBuf,
    profile: &Profile,
    helper: &Helper,
) -> Result<Plan> {
    for path in profile
        .read
        .iter()
        .chain(&profile.write)
        .chain(&profile.hide)
        .chain(&profile.readonly)
        .chain(command.cwd.as_slice())
    {
        if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(Error::ParentDir(path.clone()));
        }
        if !path.is_absolute() {
            return Err(Error::RelativePath {
                profile: profile.name.clone(),
                path: path.clone(),
            });
        }
    }
    let reads_all = profile.read.iter().any(|p| p == Path::new("/"));
    let mut read: Vec<PathBuf> = if reads_all {
        vec![PathBuf::from("/")]
    } else {
        let mut read = profile.read.clone();
        read.extend(SYSTEM_READ.iter().map(PathBuf::from));
        // The program itself, wherever it lives (a virtualenv, node_modules/.bin).
        if program.is_absolute() {
            read.push(program.clone());
        }
        read
    };
    dedup(&mut read);
    let mut write = profile.write.clone();
    write.extend(PRIVATE.iter().map(PathBuf::from));
    dedup(&mut write);
    let private: Vec<PathBuf> = PRIVATE.iter().map(PathBuf::from).collect();
    let cwd = command.cwd.clone();
    let bridge = match (profile.network, &profile.egress) {
        (Network::EgressProxy, Some(socket)) => Some(Bridge {
            socket: socket.clone(),
            port: BRIDGE_PORT,
        }),
        (Network::EgressProxy, None) => return Err(Error::NoEgressProxy(profile.name.clone())),
        _ => None,
    };
    let mut env: Vec<(String, String)> = bridge
        .as_ref()
        .map(|b| {
            let url = format!("http://127.0.0.1:{}", b.port);
            [
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "ALL_PROXY",
                "http_proxy",
                "https_proxy",
                "all_proxy",
            ]
            .iter()
            .map(|k| ((*k).to_owned(), url.clone()))
            .chain(
                ["NO_PROXY", "no_proxy"]
                    .iter()
                    .map(|k| ((*k).to_owned(), String::new())),
            )
            .collect()
        })
        .unwrap_or_default();
    let pinned = pinned(&profile.hide, &profile.readonly, &write);
    let copies: Vec<(PathBuf, PathBuf)> = profile
        .trust
        .iter()
        .map(|outside| (outside.clone(), PathBuf::from(TRUST_INSIDE)))
        .collect();
    if !copies.is_empty() {
        env.extend(
            TRUST_VARS
                .iter()
                .map(|k| ((*k).to_owned(), TRUST_INSIDE.to_owned())),
        );
    }
    env.extend(profile.env.iter().cloned());
    let mut keep: Vec<PathBuf> = read
        .iter()
        .chain(&profile.write)
        .chain(cwd.as_slice())
        .filter(|p| private.iter().any(|m| p.starts_with(m) && p.as_path() != m))
        .cloned()
        .collect();
    dedup(&mut keep);
    Ok(Plan {
        profile: profile.name.clone(),
        program,
        args: command.args.clone(),
        cwd,
        read,
        write,
        devices: DEVICES.iter().map(PathBuf::from).collect(),
        hide: profile.hide.clone(),
        readonly: profile.readonly.clone(),
        pinned,
        private,
        keep,
        network: profile.network,
        limits: profile.limits,
        bridge,
        env,
        copies,
        missing: helper.missing.clone(),
    })
}

/// Every directory strictly between a write tree and a protected path inside it, parents
/// first. (The write tree itself cannot be renamed: its parent is not writable, or it would
/// have folded into a larger tree.)
fn pinned(hide: &[PathBuf], readonly: &[PathBuf], write: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for protected in hide.iter().chain(readonly) {
        for tree in write.iter().filter(|w| protected.starts_with(w)) {
            let mut dir = protected.parent();
            while let Some(d) = dir.filter(|d| d != tree && d.starts_with(tree)) {
                out.push(d.to_owned());
                dir = d.parent();
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Sorts, removes duplicates and paths inside another listed path.
fn dedup(paths: &mut Vec<PathBuf>) {
    paths.sort();
    paths.dedup();
    let all = paths.clone();
    paths.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q)));
}

/// With a cleared environment the OS looks the program up in a default `PATH`; look it up in
/// the `PATH` the child will get instead, so `node` or `uvx` resolve as the user expects.
pub fn resolve(command: &Command) -> PathBuf {
    let program = PathBuf::from(&command.program);
    if program.components().count() > 1 {
        return program;
    }
    let path = command
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    std::env::split_paths(path)
        .map(|dir| dir.join(&program))
        .find(|candidate| candidate.is_file())
        .unwrap_or(program)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
