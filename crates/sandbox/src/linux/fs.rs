//! Init's mounts, in the sandbox's own mount namespace: nothing propagates back to the host;
//! a fresh `/proc` for the new PID namespace; private tmpfs `/tmp` and `/dev/shm` (with the
//! profile's paths under them bound back in); hidden paths covered by empty read-only ones.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{AT_FDCWD, OFlag, OpenHow, ResolveFlag, openat2};
use nix::mount::{MsFlags, mount};

use super::SetupError;
use crate::plan::{Mechanism, Plan};

fn failed(what: &str, path: &Path, e: impl std::fmt::Display) -> SetupError {
    SetupError::new(
        Mechanism::Namespaces,
        format!("{what} `{}`: {e}", path.display()),
    )
}

/// Prepares every mount the plan asks for.
pub(super) fn prepare(plan: &Plan) -> Result<(), SetupError> {
    let root = Path::new("/");
    mount(
        None::<&str>,
        root,
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| failed("cannot make private", root, e))?;
    let proc = Path::new("/proc");
    mount(
        Some("proc"),
        proc,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| failed("cannot mount a private", proc, e))?;
    // Hold on to what must survive the private mounts before they cover it.
    let kept: Vec<(PathBuf, OwnedFd, bool)> = plan
        .keep
        .iter()
        .filter_map(|p| {
            // No symbolic link anywhere on the way: a link planted under /tmp must not bind
            // a host tree into the sandbox.
            let how = OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
            let fd = openat2(AT_FDCWD, p.as_path(), how).ok()?;
            let is_dir = nix::sys::stat::fstat(&fd)
                .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
                .unwrap_or(false);
            Some((p.clone(), fd, is_dir))
        })
        .collect();
    // Files to copy in, read while the host's tree is still in view. Only into a private
    // mount: a copy never writes to the host.
    let mut copies = Vec::with_capacity(plan.copies.len());
    for (from, to) in &plan.copies {
        if !plan.private.iter().any(|m| to.starts_with(m) && to != m) {
            return Err(failed(
                "will not copy outside a private mount to",
                to,
                "refused",
            ));
        }
        let bytes = std::fs::read(from).map_err(|e| failed("cannot read", from, e))?;
        copies.push((to, bytes));
    }
    let tmp_options = format!("size={}m,mode=1777", plan.limits.tmp_mb);
    for dir in plan.private.iter().filter(|d| d.is_dir()) {
        mount(
            Some("tmpfs"),
            dir.as_path(),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(tmp_options.as_str()),
        )
        .map_err(|e| failed("cannot mount a private", dir, e))?;
    }
    for (path, fd, is_dir) in &kept {
        let made = if *is_dir {
            std::fs::create_dir_all(path)
        } else {
            path.parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(path)
                        .map(drop)
                })
        };
        made.map_err(|e| failed("cannot recreate", path, e))?;
        let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
        mount(
            Some(source.as_str()),
            path.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| failed("cannot bind back", path, e))?;
    }
    drop(kept);
    for (to, bytes) in copies {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(to)
            .and_then(|mut f| f.write_all(&bytes))
            .map_err(|e| failed("cannot write", to, e))?;
    }
    // Parents first, each recursively (a later bind must not drop what is mounted below).
    for dir in &plan.pinned {
        if dir.is_dir() {
            bind(dir, MsFlags::MS_REC).map_err(|e| failed("cannot pin", dir, e))?;
        }
    }
    for path in &plan.readonly {
        if std::fs::symlink_metadata(path).is_ok() {
            bind(path, MsFlags::MS_REC)
                .and_then(|()| {
                    mount(
                        None::<&str>,
                        path.as_path(),
                        None::<&str>,
                        MsFlags::MS_REMOUNT
                            | MsFlags::MS_BIND
                            | MsFlags::MS_RDONLY
                            | MsFlags::MS_NOSUID
                            | MsFlags::MS_NODEV,
                        None::<&str>,
                    )
                })
                .map_err(|e| failed("cannot make read-only", path, e))?;
        }
    }
    for path in &plan.hide {
        hide(path)?;
    }
    Ok(())
}

/// Binds `path` over itself: a mount point cannot be renamed, removed or replaced.
fn bind(path: &Path, extra: MsFlags) -> nix::Result<()> {
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | extra,
        None::<&str>,
    )
}

/// Covers a directory with an empty read-only tmpfs, a file with `/dev/null`.
fn hide(path: &Path) -> Result<(), SetupError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let result = if meta.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=4k,mode=0555"),
        )
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    result.map_err(|e| failed("cannot hide", path, e))
}
