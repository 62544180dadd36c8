//! The way out of a private network namespace: init brings up loopback, listens on
//! `127.0.0.1:port` inside, and relays each connection to the egress proxy's Unix socket
//! outside, reached through a directory handle opened before the sandbox's mounts.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;

use super::SetupError;
use crate::plan::{Bridge, Mechanism};

/// Opened before the mounts: the socket's directory and the socket's name.
pub(super) struct Exit {
    dir: OwnedFd,
    name: String,
}

fn failed(e: impl std::fmt::Display) -> SetupError {
    SetupError::new(Mechanism::Namespaces, format!("egress bridge: {e}"))
}

/// Holds on to the proxy's socket directory.
pub(super) fn open_exit(bridge: &Bridge) -> Result<Exit, SetupError> {
    let dir = bridge.socket.parent().unwrap_or(Path::new("/"));
    let name = bridge
        .socket
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| failed("the socket has no name"))?
        .to_owned();
    let dir = open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| failed(format!("`{}`: {e}", dir.display())))?;
    Ok(Exit { dir, name })
}

/// Brings loopback up and listens on it (before the command starts, so it never races).
pub(super) fn listen(bridge: &Bridge) -> Result<TcpListener, SetupError> {
    loopback_up().map_err(failed)?;
    TcpListener::bind(("127.0.0.1", bridge.port)).map_err(failed)
}

/// Relays every connection (runs on its own thread in init until init exits).
pub(super) fn relay(listener: &TcpListener, exit: &Exit) {
    let target = format!("/proc/self/fd/{}/{}", exit.dir.as_raw_fd(), exit.name);
    for inside in listener.incoming().flatten() {
        // What the proxy sends goes on as it comes (a streamed answer arrives in pieces): with
        // Nagle on, each piece after the first waited for the tool's delayed acknowledgement.
        let _ = inside.set_nodelay(true);
        let Ok(outside) = UnixStream::connect(&target) else {
            let _ = inside.shutdown(Shutdown::Both);
            continue;
        };
        let (Ok(inside2), Ok(outside2)) = (inside.try_clone(), outside.try_clone()) else {
            continue;
        };
        std::thread::spawn(move || pump(inside, outside2, |s| s.shutdown(Shutdown::Write)));
        std::thread::spawn(move || pump(outside, inside2, |s| s.shutdown(Shutdown::Write)));
    }
}

/// Copies `from` to `to` until end of file, then half-closes `to`.
fn pump<R: Read, W: Write>(mut from: R, mut to: W, close: impl FnOnce(&W) -> std::io::Result<()>) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = close(&to);
}

/// `ip link set lo up`, inside the sandbox's own network namespace.
#[allow(unsafe_code)]
fn loopback_up() -> std::io::Result<()> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").or_else(|_| {
        // With loopback down no address is bindable yet; any datagram socket does for ioctl.
        std::net::UdpSocket::bind("[::]:0")
    });
    let fd = match &socket {
        Ok(s) => s.as_raw_fd(),
        Err(e) => return Err(std::io::Error::new(e.kind(), e.to_string())),
    };
    // SAFETY: `ifreq` is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `fd` is an open socket; `req` is a valid, initialized ifreq for this request.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above.
    if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
