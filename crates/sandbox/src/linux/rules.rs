//! Landlock: the command may read the plan's `read` trees, write its `write` trees and
//! devices, and nothing else; with a private network it may neither bind nor connect TCP
//! ports; it may not signal processes or reach abstract sockets outside its domain.

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};

use super::SetupError;
use crate::plan::{Mechanism, Plan};
use crate::profile::Network;

/// The newest ABI Warden asks for; older kernels enforce what they know (the self-check
/// proves the part that matters).
const ABI_WANTED: ABI = ABI::V6;

/// The oldest ABI whose file-system rules Warden accepts: before ABI 3 (Linux 6.2) Landlock
/// cannot stop `truncate` on a readable file outside the write trees.
const ABI_REQUIRED: ABI = ABI::V3;

fn failed(e: impl std::fmt::Display) -> SetupError {
    SetupError::new(Mechanism::Landlock, e.to_string())
}

/// Restricts the calling process (and everything it executes).
pub(super) fn restrict(plan: &Plan) -> Result<(), SetupError> {
    if plan.missing.contains(&Mechanism::Landlock) {
        return Err(SetupError::missing(Mechanism::Landlock));
    }
    let abi = ABI_WANTED;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI_REQUIRED))
        .map_err(|e| {
            failed(format!(
                "this kernel's Landlock is older than ABI 3 (Linux 6.2) and cannot stop truncating files outside the write trees ({e}); upgrade the kernel"
            ))
        })?
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(failed)?;
    if plan.network != Network::Host {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(failed)?;
    }
    let status =
        ruleset
            .scope(Scope::from_all(abi))
            .map_err(failed)?
            .create()
            .map_err(failed)?
            .add_rules(path_beneath_rules(&plan.read, AccessFs::from_read(abi)))
            .map_err(failed)?
            .add_rules(path_beneath_rules(&plan.write, AccessFs::from_all(abi)))
            .map_err(failed)?
            .add_rules(path_beneath_rules(&plan.devices, AccessFs::from_all(abi)))
            .map_err(failed)?
            .add_rules(plan.bridge.iter().map(|b| {
                Ok::<_, landlock::RulesetError>(NetPort::new(b.port, AccessNet::ConnectTcp))
            }))
            .map_err(failed)?
            .restrict_self()
            .map_err(failed)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(failed("this kernel does not enforce Landlock"));
    }
    Ok(())
}
