//! The helper behind `warden sandbox-exec PLAN`: builds the sandbox a [`Plan`] describes and
//! runs the command inside it. It runs as a freshly executed, single-threaded process, so the
//! forks below are safe.
//!
//! Process tree: Warden → **helper** (unshares the namespaces, writes the id maps, forwards
//! signals, exits with the command's status) → **init**, PID 1 of the new PID namespace
//! (private mounts, reaps orphans; dies with the helper, taking every process in the
//! namespace with it) → **command** (session, limits, capabilities dropped, no new
//! privileges, Landlock, seccomp, then `execve`).

#![allow(unsafe_code)]

mod bridge;
mod fs;
mod limits;
mod rules;
mod seccomp;

use std::path::Path;

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::plan::{Mechanism, Plan};
use crate::profile::Network;

/// Exit status when the sandbox could not be built (the command never ran).
pub const EXIT_SETUP: i32 = 126;
/// PIDs the kernel skips when PID numbers wrap.
const RESERVED_PIDS: u64 = 300;

/// Exit status when the program was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// Why the sandbox could not be built: the mechanism, what failed, and what to do.
#[derive(Debug)]
pub(crate) struct SetupError {
    mechanism: Option<Mechanism>,
    message: String,
    status: i32,
}

impl SetupError {
    pub(crate) fn new(mechanism: Mechanism, message: impl Into<String>) -> Self {
        Self {
            mechanism: Some(mechanism),
            message: message.into(),
            status: EXIT_SETUP,
        }
    }

    fn other(message: impl Into<String>, status: i32) -> Self {
        Self {
            mechanism: None,
            message: message.into(),
            status,
        }
    }

    /// The test hook's "this kernel lacks it".
    pub(crate) fn missing(mechanism: Mechanism) -> Self {
        Self::new(mechanism, "not available (WARDEN_SANDBOX_UNAVAILABLE)")
    }
}

/// What to do about a missing mechanism.
fn hint(mechanism: Mechanism) -> &'static str {
    match mechanism {
        Mechanism::Namespaces => {
            "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, \
             kernel.apparmor_restrict_unprivileged_userns=0; in a container, run it with a \
             seccomp profile that permits unshare)"
        }
        Mechanism::Landlock => {
            "use a kernel with Landlock ABI 3 or newer (Linux 6.2 or later, `landlock` in the \
             lsm= boot parameter or CONFIG_LSM)"
        }
        Mechanism::Seccomp => "use a kernel built with CONFIG_SECCOMP_FILTER",
    }
}

/// Runs the helper: never returns on success of `execve` in the command process; returns the
/// exit status to use otherwise.
pub fn exec(plan: &str) -> i32 {
    // Nothing Warden's own parent left open (without close-on-exec) reaches the command: an
    // open file or socket would bypass the hidden paths and the private network.
    // SAFETY: close_range takes no pointers; descriptors 0-2 (the pipes) stay.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    let plan: Plan = match serde_json::from_str(plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warden sandbox: unreadable plan: {e}");
            return EXIT_SETUP;
        }
    };
    // Where Warden was, looked up again by name inside the sandbox: the directory itself may
    // be hidden there, or under the private /tmp.
    let here = match std::env::current_dir() {
        Ok(dir) => Some(dir),
        Err(e) => {
            eprintln!(
                "warden sandbox `{}`: the working directory cannot be read ({e}); the command \
                 starts in the sandbox's empty private `/tmp`",
                plan.profile
            );
            None
        }
    };
    match outer(&plan, here.as_deref()) {
        Ok(code) => code,
        Err(e) => report(&plan, &e),
    }
}

/// Prints the diagnostic for `e` on stderr (the upstream's log) and gives its status.
fn report(plan: &Plan, e: &SetupError) -> i32 {
    match e.mechanism {
        Some(m) => eprintln!(
            "warden sandbox `{}`: {}: {}; {}, or set `sandbox = \"off\"` to run unconfined",
            plan.profile,
            m.name(),
            e.message,
            hint(m)
        ),
        None => eprintln!("warden sandbox `{}`: {}", plan.profile, e.message),
    }
    e.status
}

/// Signals the helper and init pass on instead of acting on.
fn forwarded() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    set
}

fn outer(plan: &Plan, here: Option<&Path>) -> Result<i32, SetupError> {
    if plan.missing.contains(&Mechanism::Namespaces) {
        return Err(SetupError::missing(Mechanism::Namespaces));
    }
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let mut flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if plan.network != Network::Host {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    nix::sched::unshare(flags)
        .map_err(|e| SetupError::new(Mechanism::Namespaces, format!("unshare: {e}")))?;
    let map = |file: &str, text: String| {
        std::fs::write(file, text)
            .map_err(|e| SetupError::new(Mechanism::Namespaces, format!("{file}: {e}")))
    };
    map("/proc/self/setgroups", "deny".to_owned())?;
    map("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    map("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    let signals = forwarded();
    signals
        .thread_block()
        .map_err(|e| SetupError::other(format!("sigprocmask: {e}"), EXIT_SETUP))?;
    // SAFETY: the helper is a freshly executed single-threaded process (dispatched before any
    // runtime or thread starts), so the child may run arbitrary code after fork.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = init(plan, &signals, here).unwrap_or_else(|e| report(plan, &e));
            std::process::exit(code)
        }
        Ok(ForkResult::Parent { child }) => Ok(wait_for(child, &signals, false)),
        Err(e) => Err(SetupError::other(format!("fork: {e}"), EXIT_SETUP)),
    }
}

/// PID 1 of the sandbox: prepares the mounts, starts the command, reaps until it ends.
fn init(plan: &Plan, signals: &SigSet, here: Option<&Path>) -> Result<i32, SetupError> {
    // If the helper dies (even by SIGKILL), init dies, and with it the whole namespace.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| SetupError::other(format!("prctl: {e}"), EXIT_SETUP))?;
    let exit = plan.bridge.as_ref().map(bridge::open_exit).transpose()?;
    fs::prepare(plan)?;
    // Init holds handles to the host (the proxy's directory): keep the command, which runs
    // as the same user, out of /proc/1.
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| SetupError::other(format!("prctl: {e}"), EXIT_SETUP))?;
    let _ = nix::unistd::sethostname("warden-sandbox");
    let listener = plan.bridge.as_ref().map(bridge::listen).transpose()?;
    // RLIMIT_NPROC does not bind root; a PID namespace's own pid_max (Linux 6.14+) does. Once
    // PIDs wrap, the kernel skips the first RESERVED_PIDS, so those are added on top.
    if let Some(n) = plan.limits.processes {
        let _ = std::fs::write(
            "/proc/sys/kernel/pid_max",
            (n + RESERVED_PIDS + 1).to_string(),
        );
    }
    // SAFETY: init is single-threaded (forked from the single-threaded helper).
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let e = command(plan, here);
            std::process::exit(report(plan, &e))
        }
        Ok(ForkResult::Parent { child }) => {
            if let (Some(listener), Some(exit)) = (listener, exit) {
                std::thread::spawn(move || bridge::relay(&listener, &exit));
            }
            Ok(wait_for(child, signals, true))
        }
        Err(e) => Err(SetupError::other(format!("fork: {e}"), EXIT_SETUP)),
    }
}

/// Waits for `child`, passing forwarded signals on to it; as PID 1 (`reap_all`) also collects
/// every orphan. Returns the child's status as a shell would (128 + signal when killed).
fn wait_for(child: Pid, signals: &SigSet, reap_all: bool) -> i32 {
    loop {
        match signals.wait() {
            Ok(Signal::SIGCHLD) => {
                let target = if reap_all { None } else { Some(child) };
                while let Ok(status) = waitpid(target, Some(WaitPidFlag::WNOHANG)) {
                    match status {
                        WaitStatus::Exited(pid, code) if pid == child => return code,
                        WaitStatus::Signaled(pid, sig, _) if pid == child => {
                            return 128 + sig as i32;
                        }
                        WaitStatus::StillAlive => break,
                        _ => {}
                    }
                }
            }
            Ok(sig) => {
                let _ = kill(child, sig);
            }
            Err(_) => {}
        }
    }
}

/// Enters the command's working directory by its name inside the sandbox. Every process keeps
/// its directory across mounts: one inherited from outside would still be the host's
/// directory, whose files a relative path reaches even where the sandbox hides that directory
/// or keeps a private /tmp over it. A configured directory that cannot be entered is an
/// error; the inherited one, when it is not there inside, gives way to the private `/tmp`
/// (empty: a server that scopes itself by relative path finds nothing rather than `/`).
fn enter_working_directory(plan: &Plan, here: Option<&Path>) -> Result<(), SetupError> {
    if let Some(dir) = &plan.cwd {
        return std::env::set_current_dir(dir).map_err(|e| {
            SetupError::other(
                format!("cannot enter working directory `{}`: {e}", dir.display()),
                EXIT_SETUP,
            )
        });
    }
    if let Some(dir) = here {
        match std::env::set_current_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) => eprintln!(
                "warden sandbox `{}`: the working directory `{}` is not visible inside the \
                 sandbox ({e}); the command starts in the sandbox's empty private `/tmp` (set \
                 the upstream's `cwd` to choose)",
                plan.profile,
                dir.display()
            ),
        }
    }
    std::env::set_current_dir("/tmp")
        .map_err(|e| SetupError::other(format!("cannot enter `/tmp`: {e}"), EXIT_SETUP))
}

/// The command's process: everything that confines it, then `execve`. Returns only on failure.
/// `here` is the directory Warden ran in, for a command without a working directory of its own.
fn command(plan: &Plan, here: Option<&Path>) -> SetupError {
    if let Err(e) = SigSet::empty().thread_set_mask() {
        return SetupError::other(format!("sigprocmask: {e}"), EXIT_SETUP);
    }
    let _ = nix::unistd::setsid();
    if let Err(e) = limits::apply(&plan.limits) {
        return e;
    }
    if let Err(e) = enter_working_directory(plan, here) {
        return e;
    }
    if let Err(e) = limits::drop_capabilities() {
        return e;
    }
    if let Err(e) = rules::restrict(plan) {
        return e;
    }
    if let Err(e) = seccomp::install(plan) {
        return e;
    }
    #[expect(
        clippy::disallowed_methods,
        reason = "the sandbox helper executes the confined command"
    )]
    let mut cmd = std::process::Command::new(&plan.program);
    cmd.args(&plan.args)
        .envs(plan.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let e = std::os::unix::process::CommandExt::exec(&mut cmd);
    let status = if e.kind() == std::io::ErrorKind::NotFound {
        EXIT_NOT_FOUND
    } else {
        EXIT_SETUP
    };
    SetupError::other(
        format!("cannot run `{}`: {e}", plan.program.display()),
        status,
    )
}
