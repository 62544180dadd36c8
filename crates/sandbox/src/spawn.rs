//! The one place Warden starts a process: a [`Launch`] with an explicit environment (never
//! Warden's whole environment) and piped stdin/stdout/stderr.

use std::process::Stdio;

use crate::plan::Launch;
use crate::{Error, Result};

/// Starts `launch` with piped stdio. The process is killed if the handle is dropped.
pub fn spawn(launch: &Launch) -> Result<tokio::process::Child> {
    #[expect(
        clippy::disallowed_methods,
        reason = "this module is the single launch point"
    )]
    let mut cmd = tokio::process::Command::new(&launch.program);
    cmd.args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &launch.cwd {
        cmd.current_dir(dir);
    }
    cmd.spawn().map_err(|source| Error::Spawn {
        command: launch.display.clone(),
        source,
    })
}

/// Pipe capacity Warden asks for on the pipes it relays through.
pub const PIPE_CAPACITY: usize = 1024 * 1024;

/// Best effort: grows a pipe's kernel buffer to [`PIPE_CAPACITY`] so a large message crosses
/// in one write instead of a ping-pong of 64 KiB chunks (each one a context switch). Not a
/// pipe, or not allowed: left as it is.
pub fn widen_pipe(fd: impl std::os::fd::AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_CAPACITY);
}
