//! `warden approvals` and `warden approver`.

use std::io::Read;

use warden_app::approvals as ap;
use warden_app::env::Env;

use super::identity::with_store;
use crate::args::{ApprovalsCommand, ApproverCommand};

pub fn approvals(cmd: ApprovalsCommand, env: &Env) -> i32 {
    let mut out = std::io::stdout();
    let result = match cmd {
        ApprovalsCommand::List {
            config,
            status,
            json,
        } => {
            super::load(&config, env).and_then(|l| ap::list(&l, status.as_deref(), json, &mut out))
        }
        ApprovalsCommand::Show { config, id } => {
            super::load(&config, env).and_then(|l| ap::show(&l, &id, &mut out))
        }
        ApprovalsCommand::Approve {
            config,
            id,
            reason,
            hash,
        } => decide(&config, env, &id, true, &reason, hash.as_deref()),
        ApprovalsCommand::Deny {
            config,
            id,
            reason,
            hash,
        } => decide(&config, env, &id, false, &reason, hash.as_deref()),
    };
    match result {
        Ok(()) => warden_app::exit::OK,
        Err(e) => super::fail(&e),
    }
}

fn decide(
    config: &crate::args::ConfigArg,
    env: &Env,
    id: &str,
    approve: bool,
    reason: &str,
    hash: Option<&str>,
) -> anyhow::Result<()> {
    let loaded = super::load(config, env)?;
    let mut out = std::io::stdout();
    super::runtime_single()?.block_on(ap::decide(
        &loaded, env, id, approve, reason, hash, &mut out,
    ))
}

pub fn approver(cmd: ApproverCommand, env: &Env) -> i32 {
    let mut out = std::io::stdout();
    match cmd {
        ApproverCommand::Add {
            config,
            name,
            groups,
        } => with_store(&config, env, |_, s| {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            ap::approver_add(s, &name, &groups, &password, &mut out)
        }),
        ApproverCommand::List { config } => {
            with_store(&config, env, |_, s| ap::approver_list(s, &mut out))
        }
        ApproverCommand::Remove { config, name } => {
            with_store(&config, env, |_, s| ap::approver_remove(s, &name, &mut out))
        }
    }
}
