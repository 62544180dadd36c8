//! The seccomp filter: system calls a tool server has no business making fail with `EPERM`
//! (debugging other processes, mounting, new namespaces, kernel keyrings, modules, BPF, raw
//! and packet sockets, io_uring which bypasses this filter); `clone3` fails with `ENOSYS` so
//! the C library falls back to `clone`, whose namespace flags the filter can see.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

use super::SetupError;
use crate::plan::{Mechanism, Plan};

/// Refused outright.
const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_syslog,
    libc::SYS_quotactl,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_vhangup,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
];

/// Socket domains a tool server may use.
const ALLOWED_DOMAINS: &[i32] = &[
    libc::AF_UNIX,
    libc::AF_INET,
    libc::AF_INET6,
    libc::AF_NETLINK,
];

/// `clone` flags that would create namespaces.
const NAMESPACE_FLAGS: &[i32] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];

/// The obsolete `SOCK_PACKET` type (`libc` deprecates the constant).
const SOCK_PACKET: u64 = 10;

/// Socket types masked from `type`'s flags.
const SOCK_TYPE_MASK: u64 = 0xf;

fn failed(e: impl std::fmt::Display) -> SetupError {
    SetupError::new(Mechanism::Seccomp, e.to_string())
}

fn condition(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SetupError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(failed)
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, SetupError> {
    SeccompRule::new(conditions).map_err(failed)
}

/// Builds the filters (pure; unit-tested).
pub(super) fn filters() -> Result<Vec<BpfProgram>, SetupError> {
    let arch = std::env::consts::ARCH.try_into().map_err(failed)?;
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|nr| (*nr, Vec::new())).collect();
    let unsigned = |v: i32| u64::from(v.cast_unsigned());
    denied.insert(
        libc::SYS_socket,
        vec![
            // Any domain but local, IP and netlink (no packet, vsock, bluetooth, ...: vsock
            // is not confined by a network namespace).
            rule(
                ALLOWED_DOMAINS
                    .iter()
                    .map(|d| condition(0, SeccompCmpOp::Ne, unsigned(*d)))
                    .collect::<Result<Vec<_>, _>>()?,
            )?,
            rule(vec![condition(
                1,
                SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK),
                unsigned(libc::SOCK_RAW),
            )?])?,
            rule(vec![condition(
                1,
                SeccompCmpOp::MaskedEq(SOCK_TYPE_MASK),
                SOCK_PACKET,
            )?])?,
        ],
    );
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|f| {
            rule(vec![condition(
                0,
                SeccompCmpOp::MaskedEq(unsigned(*f)),
                unsigned(*f),
            )?])
        })
        .collect::<Result<Vec<_>, _>>()?;
    denied.insert(libc::SYS_clone, clone_rules);
    denied.insert(
        libc::SYS_socketpair,
        vec![rule(vec![condition(
            0,
            SeccompCmpOp::Ne,
            unsigned(libc::AF_UNIX),
        )?])?],
    );
    let eperm = SeccompFilter::new(
        denied,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM.cast_unsigned()),
        arch,
    )
    .map_err(failed)?;
    let no_clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS.cast_unsigned()),
        arch,
    )
    .map_err(failed)?;
    [eperm, no_clone3]
        .into_iter()
        .map(|f| BpfProgram::try_from(f).map_err(failed))
        .collect()
}

/// Installs the filters on the calling thread (no-new-privileges must already be set,
/// which Landlock's `restrict_self` does).
pub(super) fn install(plan: &Plan) -> Result<(), SetupError> {
    if plan.missing.contains(&Mechanism::Seccomp) {
        return Err(SetupError::missing(Mechanism::Seccomp));
    }
    rustix::thread::set_no_new_privs(true).map_err(failed)?;
    for program in filters()? {
        seccompiler::apply_filter(&program).map_err(failed)?;
    }
    Ok(())
}
