//! Warden's one launch point and the sandbox around it.
//!
//! - [`profile`]: what a sandbox allows (paths, network, limits); pure data from the config.
//! - [`plan`]: the pure transform from a command and a profile to a [`Launch`], either the
//!   command itself or `warden sandbox-exec PLAN`; unit-tested without spawning.
//! - [`spawn()`]: starts a [`Launch`]; the only process start in Warden.
//! - `linux`: the helper behind `warden sandbox-exec`: namespaces, private mounts, limits,
//!   capabilities, Landlock, seccomp, then `execve`.
//! - [`probe`] and [`check`]: escape attempts run inside a sandbox, and the self-check that
//!   refuses a profile whose enforcement it cannot prove.

pub mod check;
mod error;
#[cfg(target_os = "linux")]
mod linux;
pub mod plan;
pub mod probe;
pub mod profile;
mod spawn;

pub use error::{Error, Result};
pub use plan::{Command, Helper, Launch, Mechanism, transform};
pub use profile::{Limits, Network, Profile};
pub use spawn::{PIPE_CAPACITY, spawn, widen_pipe};

/// Runs the sandbox helper (`warden sandbox-exec PLAN`): builds the sandbox and executes the
/// command in it. Returns the exit status to use when the command could not run, or the
/// command's own status.
pub fn exec_helper(plan: &str) -> i32 {
    #[cfg(target_os = "linux")]
    {
        linux::exec(plan)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = plan;
        eprintln!("warden sandbox: {}", Error::Unsupported);
        126
    }
}
