//! Resource limits and capabilities of the command's process.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use super::SetupError;
use crate::profile::Limits;

const MIB: u64 = 1024 * 1024;

/// Sets the profile's rlimits (soft and hard, never above the inherited hard limit) and turns
/// core dumps off.
pub(super) fn apply(limits: &Limits) -> Result<(), SetupError> {
    let wanted = [
        (
            Resource::RLIMIT_DATA,
            limits.memory_mb.map(|m| m * MIB),
            "memory",
        ),
        (Resource::RLIMIT_CPU, limits.cpu_secs, "CPU time"),
        (Resource::RLIMIT_NPROC, limits.processes, "processes"),
        (
            Resource::RLIMIT_FSIZE,
            limits.file_size_mb.map(|m| m * MIB),
            "file size",
        ),
        (Resource::RLIMIT_NOFILE, limits.open_files, "open files"),
        (Resource::RLIMIT_CORE, Some(0), "core dumps"),
    ];
    for (resource, value, what) in wanted {
        let Some(value) = value else { continue };
        let (_, hard) = getrlimit(resource).unwrap_or((u64::MAX, u64::MAX));
        let value = value.min(hard);
        setrlimit(resource, value, value).map_err(|e| {
            SetupError::other(
                format!("cannot limit {what} to {value}: {e}"),
                super::EXIT_SETUP,
            )
        })?;
    }
    Ok(())
}

/// Drops every capability the process holds in its user namespace (bounding, ambient,
/// effective, permitted, inheritable), so a command running as root keeps root's files and
/// nothing else.
pub(super) fn drop_capabilities() -> Result<(), SetupError> {
    use rustix::thread::{CapabilitySet, CapabilitySets};
    for bit in 0..64 {
        let _ = rustix::thread::remove_capability_from_bounding_set(
            CapabilitySet::from_bits_retain(1 << bit),
        );
    }
    let _ = rustix::thread::clear_ambient_capability_set();
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::empty(),
            permitted: CapabilitySet::empty(),
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(|e| SetupError::other(format!("cannot drop capabilities: {e}"), super::EXIT_SETUP))
}
