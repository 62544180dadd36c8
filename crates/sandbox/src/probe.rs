//! Escape attempts run inside a sandbox by `warden sandbox-probe ACTION...`: each action is
//! tried and reported as one JSON line, so the self-check (and tests) can prove that every
//! mechanism really enforces. Nothing here decides; it only tries and tells.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The action as given.
    pub action: String,
    /// Whether the attempt succeeded (for an escape attempt: the sandbox failed).
    pub ok: bool,
    /// The value read or the error met.
    pub detail: String,
}

/// Runs each action in turn and writes one JSON line per action to `out`.
pub fn run(actions: &[String], out: &mut impl Write) -> std::io::Result<()> {
    for action in actions {
        let (ok, detail) = match attempt(action) {
            Ok(detail) => (true, detail),
            Err(e) => (false, e),
        };
        let outcome = Outcome {
            action: action.clone(),
            ok,
            detail,
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string(&outcome).map_err(std::io::Error::other)?
        )?;
    }
    Ok(())
}

fn attempt(action: &str) -> Result<String, String> {
    let (verb, arg) = action.split_once(':').unwrap_or((action, ""));
    let io = |e: std::io::Error| e.to_string();
    match verb {
        "ids" => Ok(format!(
            "pid={} ppid={}",
            std::process::id(),
            std::os::unix::process::parent_id()
        )),
        "read" => {
            let mut text = String::new();
            std::fs::File::open(arg)
                .and_then(|mut f| f.read_to_string(&mut text))
                .map_err(io)?;
            Ok(text)
        }
        "write" => std::fs::write(arg, "escaped")
            .map(|()| String::new())
            .map_err(io),
        "link" => {
            let (from, to) = arg.split_once('>').ok_or("link:FROM>TO")?;
            std::fs::hard_link(from, to)
                .map(|()| String::new())
                .map_err(io)
        }
        "seccomp-mode" => {
            let status = std::fs::read_to_string("/proc/self/status").map_err(io)?;
            Ok(status
                .lines()
                .find_map(|l| l.strip_prefix("Seccomp:"))
                .unwrap_or_default()
                .trim()
                .to_owned())
        }
        "alloc" => {
            let mib: usize = arg.parse().map_err(|e| format!("{e}"))?;
            let mut block: Vec<u8> = Vec::new();
            block
                .try_reserve_exact(mib * 1024 * 1024)
                .map_err(|e| e.to_string())?;
            // Touch every page so the memory is really taken.
            block.resize(mib * 1024 * 1024, 1);
            Ok(format!("{} bytes", block.len()))
        }
        "proxy" => {
            // CONNECT through the egress proxy the sandbox was given; the status line.
            let port = crate::plan::BRIDGE_PORT;
            let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
            s.set_read_timeout(Some(Duration::from_secs(15)))
                .map_err(io)?;
            write!(s, "CONNECT {arg} HTTP/1.1\r\nHost: {arg}\r\n\r\n").map_err(io)?;
            let mut head = [0u8; 256];
            let n = s.read(&mut head).map_err(io)?;
            let text = String::from_utf8_lossy(head.get(..n).unwrap_or_default()).into_owned();
            Ok(text.lines().next().unwrap_or_default().to_owned())
        }
        "connect" => {
            let addr: SocketAddr = arg.parse().map_err(|e| format!("{e}"))?;
            TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map(|_| String::new())
                .map_err(io)
        }
        _ => os::attempt(verb, arg),
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod os {
    /// Opens (and closes) a socket of the given kind.
    fn socket(domain: i32, kind: i32, protocol: i32) -> Result<String, String> {
        // SAFETY: plain system call with integer arguments.
        let fd = unsafe { libc::socket(domain, kind, protocol) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        // SAFETY: `fd` was just returned by socket(2) and is not used again.
        unsafe { libc::close(fd) };
        Ok(String::new())
    }

    /// Attempts that need raw system calls.
    pub(super) fn attempt(verb: &str, arg: &str) -> Result<String, String> {
        let last = || std::io::Error::last_os_error().to_string();
        match verb {
            "raw-socket" => socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
            "packet-socket" => socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0),
            "vsock-socket" => socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0),
            "ptrace" => {
                let pid: libc::pid_t = arg.parse().map_err(|e| format!("{e}"))?;
                // SAFETY: PTRACE_ATTACH takes no pointers; a success is detached at once.
                let r = unsafe {
                    libc::ptrace(
                        libc::PTRACE_ATTACH,
                        pid,
                        std::ptr::null_mut::<libc::c_void>(),
                        0,
                    )
                };
                if r < 0 {
                    return Err(last());
                }
                // SAFETY: as above.
                unsafe {
                    libc::ptrace(
                        libc::PTRACE_DETACH,
                        pid,
                        std::ptr::null_mut::<libc::c_void>(),
                        0,
                    )
                };
                Ok(String::new())
            }
            "kill" => {
                let pid: i32 = arg.parse().map_err(|e| format!("{e}"))?;
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                    .map(|()| String::new())
                    .map_err(|e| e.to_string())
            }
            "unshare" => nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
            "mount" => nix::mount::mount(
                Some("tmpfs"),
                arg,
                Some("tmpfs"),
                nix::mount::MsFlags::empty(),
                None::<&str>,
            )
            .map(|()| String::new())
            .map_err(|e| e.to_string()),
            "limits" => {
                use nix::sys::resource::{Resource, getrlimit};
                let get = |r| getrlimit(r).map(|(soft, _)| soft).unwrap_or(u64::MAX);
                Ok(format!(
                    "data={} nproc={} nofile={} fsize={}",
                    get(Resource::RLIMIT_DATA),
                    get(Resource::RLIMIT_NPROC),
                    get(Resource::RLIMIT_NOFILE),
                    get(Resource::RLIMIT_FSIZE)
                ))
            }
            _ => Err(format!("unknown probe action `{verb}`")),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    pub(super) fn attempt(verb: &str, _arg: &str) -> Result<String, String> {
        Err(format!("probe action `{verb}` needs Linux"))
    }
}
