//! The one place Warden starts a process: a stdio MCP server, with an explicit environment
//! (never Warden's whole environment) and piped stdin/stdout/stderr.

use std::path::PathBuf;
use std::process::Stdio;

use crate::{Error, Result};

/// What to launch.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Program to run (looked up in the `PATH` of `env`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The complete environment the process gets.
    pub env: Vec<(String, String)>,
    /// Working directory, if not Warden's.
    pub cwd: Option<PathBuf>,
}

/// Starts `spec` with piped stdio. The process is killed if the handle is dropped.
pub fn spawn(spec: &Spec) -> Result<tokio::process::Child> {
    #[expect(
        clippy::disallowed_methods,
        reason = "this module is the single launch point"
    )]
    let mut cmd = tokio::process::Command::new(resolve(spec));
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.spawn().map_err(|source| Error::Spawn {
        command: spec.program.clone(),
        source,
    })
}

/// With a cleared environment the OS looks the program up in a default `PATH`; look it up in
/// the `PATH` the child will get instead, so `node` or `uvx` resolve as the user expects.
fn resolve(spec: &Spec) -> PathBuf {
    let program = PathBuf::from(&spec.program);
    if program.components().count() > 1 {
        return program;
    }
    let path = spec
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

/// Pipe capacity Warden asks for on the pipes it relays through.
pub const PIPE_CAPACITY: usize = 1024 * 1024;

/// Best effort: grows a pipe's kernel buffer to [`PIPE_CAPACITY`] so a large message crosses
/// in one write instead of a ping-pong of 64 KiB chunks (each one a context switch). Not a
/// pipe, or not allowed: left as it is.
pub fn widen_pipe(fd: impl std::os::fd::AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_CAPACITY);
}
