//! `warden agent`, `warden token`, `warden secret`.

use std::io::Read;

use warden_app::env::Env;
use warden_app::identity_cmd as id;
use warden_identity::Status;

use crate::args::{AgentCommand, ConfigArg, SecretCommand, TokenCommand};

pub(crate) fn with_store(
    config: &ConfigArg,
    env: &Env,
    f: impl FnOnce(&warden_app::config::Loaded, &warden_identity::Store) -> anyhow::Result<()>,
) -> i32 {
    let result = super::load(config, env).and_then(|loaded| {
        let store = loaded.cli_store(env)?;
        f(&loaded, &store)
    });
    match result {
        Ok(()) => warden_app::exit::OK,
        Err(e) => super::fail(&e),
    }
}

pub fn agent(cmd: AgentCommand, env: &Env) -> i32 {
    let mut out = std::io::stdout();
    match cmd {
        AgentCommand::Add {
            config,
            name,
            attributes,
        } => with_store(&config, env, |l, s| {
            id::agent_add(l, s, &name, &attributes, &mut out)
        }),
        AgentCommand::List { config, json } => {
            with_store(&config, env, |_, s| id::agent_list(s, json, &mut out))
        }
        AgentCommand::Suspend { config, name } => with_store(&config, env, |_, s| {
            id::agent_status(s, &name, Status::Suspended, &mut out)
        }),
        AgentCommand::Resume { config, name } => with_store(&config, env, |_, s| {
            id::agent_status(s, &name, Status::Active, &mut out)
        }),
        AgentCommand::Remove { config, name } => {
            with_store(&config, env, |_, s| id::agent_remove(s, &name, &mut out))
        }
    }
}

pub fn token(cmd: TokenCommand, env: &Env) -> i32 {
    let mut out = std::io::stdout();
    match cmd {
        TokenCommand::Issue {
            config,
            agent,
            ttl,
            scopes,
        } => with_store(&config, env, |l, s| {
            id::token_issue(l, s, &agent, &ttl, &scopes, &mut out)
        }),
        TokenCommand::Exchange {
            config,
            actor,
            ttl,
            scopes,
            token,
        } => with_store(&config, env, |_, s| {
            let subject = match token {
                Some(t) => t,
                None => {
                    let mut t = String::new();
                    std::io::stdin().read_to_string(&mut t)?;
                    t
                }
            };
            id::token_exchange(s, &subject, &actor, ttl.as_deref(), &scopes, &mut out)
        }),
        TokenCommand::List {
            config,
            agent,
            all,
            json,
        } => with_store(&config, env, |_, s| {
            id::token_list(s, agent.as_deref(), all, json, &mut out)
        }),
        TokenCommand::RotateKey { config } => {
            with_store(&config, env, |_, s| id::rotate_key(s, &mut out))
        }
        TokenCommand::Revoke { config, id: jti } => {
            with_store(&config, env, |_, s| id::token_revoke(s, &jti, &mut out))
        }
    }
}

pub fn secret(cmd: SecretCommand, env: &Env) -> i32 {
    let mut out = std::io::stdout();
    match cmd {
        SecretCommand::Set { config, name } => with_store(&config, env, |_, s| {
            let mut value = String::new();
            std::io::stdin().read_to_string(&mut value)?;
            id::secret_set(s, &name, &value, &mut out)
        }),
        SecretCommand::List { config } => {
            with_store(&config, env, |_, s| id::secret_list(s, &mut out))
        }
        SecretCommand::Remove { config, name } => {
            with_store(&config, env, |_, s| id::secret_remove(s, &name, &mut out))
        }
    }
}
