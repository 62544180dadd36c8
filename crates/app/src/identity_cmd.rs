//! `warden agent`, `warden token` and `warden secret`: the identity store from a shell. The
//! gateway sees every change on its next request (it watches the store's commits).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use warden_identity::{Scope, Status, Store, parse_ttl};

use crate::config::Loaded;

/// Parses `key=value` attributes; values that read as JSON (numbers, booleans, arrays) are
/// taken as such, anything else as a string.
pub fn parse_attributes(pairs: &[String]) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("attribute `{pair}` must be key=value"))?;
        if k.is_empty() {
            bail!("attribute `{pair}` has no key");
        }
        let value = match serde_json::from_str::<Value>(v) {
            Ok(j @ (Value::Bool(_) | Value::Number(_) | Value::Array(_))) => j,
            _ => Value::String(v.to_owned()),
        };
        out.insert(k.to_owned(), value);
    }
    Ok(out)
}

/// `warden agent add`: checks the attributes against the policy schema first.
pub fn agent_add(
    loaded: &Loaded,
    store: &Store,
    name: &str,
    attributes: &[String],
    out: &mut impl Write,
) -> Result<()> {
    let attrs = parse_attributes(attributes)?;
    let engine = loaded.engine()?;
    engine.check_principal(&warden_types::Principal {
        id: name.to_owned(),
        attributes: attrs.clone().into_iter().collect(),
    })?;
    let agent = store.add_agent(name, attrs, warden_identity::now())?;
    writeln!(out, "added agent `{}`", agent.id)?;
    Ok(())
}

/// `warden agent list`.
pub fn agent_list(store: &Store, json_out: bool, out: &mut impl Write) -> Result<()> {
    let agents = store.agents()?;
    if json_out {
        writeln!(out, "{}", serde_json::to_string_pretty(&agents)?)?;
        return Ok(());
    }
    if agents.is_empty() {
        writeln!(out, "no agents (add one with `warden agent add NAME`)")?;
    }
    for a in agents {
        let status = match a.status {
            Status::Active => "active",
            Status::Suspended => "SUSPENDED",
        };
        writeln!(
            out,
            "{:<24} {:<10} {}",
            a.id,
            status,
            serde_json::to_string(&a.attributes)?
        )?;
    }
    Ok(())
}

/// `warden agent suspend|resume`.
pub fn agent_status(store: &Store, name: &str, status: Status, out: &mut impl Write) -> Result<()> {
    store.set_status(name, status)?;
    let what = match status {
        Status::Active => "resumed",
        Status::Suspended => "suspended: its tokens are refused from the next call",
    };
    writeln!(out, "agent `{name}` {what}")?;
    Ok(())
}

/// `warden agent remove`.
pub fn agent_remove(store: &Store, name: &str, out: &mut impl Write) -> Result<()> {
    store.remove_agent(name, warden_identity::now())?;
    writeln!(out, "removed agent `{name}` and revoked its tokens")?;
    Ok(())
}

/// `warden token issue`: prints the token alone on stdout (for `$(...)`).
pub fn token_issue(
    loaded: &Loaded,
    store: &Store,
    agent: &str,
    ttl: &str,
    scopes: &[String],
    out: &mut impl Write,
) -> Result<()> {
    let ttl = parse_ttl(ttl)?;
    let scopes = if scopes.is_empty() {
        vec![Scope::parse("mcp")?]
    } else {
        Scope::parse_list(&scopes.join(" "))?
    };
    let audience = format!("{}{}", loaded.public_url(None)?, warden_gateway::MCP_PATH);
    let issued = store.issue(agent, ttl, &scopes, &audience, warden_identity::now())?;
    writeln!(out, "{}", issued.token)?;
    eprintln!(
        "warden: token `{}` for `{agent}`, scope `{}`, audience {audience}, expires in {ttl} s",
        issued.claims.jti, issued.claims.scope
    );
    Ok(())
}

/// `warden token exchange`: a narrower token for a sub-agent.
pub fn token_exchange(
    store: &Store,
    subject: &str,
    actor: &str,
    ttl: Option<&str>,
    scopes: &[String],
    out: &mut impl Write,
) -> Result<()> {
    let ttl = ttl.map(parse_ttl).transpose()?;
    let scopes = if scopes.is_empty() {
        None
    } else {
        Some(Scope::parse_list(&scopes.join(" "))?)
    };
    let issued = store.exchange(
        subject.trim(),
        actor,
        scopes.as_deref(),
        ttl,
        warden_identity::now(),
    )?;
    writeln!(out, "{}", issued.token)?;
    Ok(())
}

/// `warden token list`.
pub fn token_list(
    store: &Store,
    agent: Option<&str>,
    all: bool,
    json_out: bool,
    out: &mut impl Write,
) -> Result<()> {
    let tokens = store.tokens(agent, all, warden_identity::now())?;
    if json_out {
        writeln!(out, "{}", serde_json::to_string_pretty(&tokens)?)?;
        return Ok(());
    }
    for t in tokens {
        let state = if t.revoked.is_some() {
            "revoked"
        } else {
            "valid"
        };
        let chain = if t.actors.is_empty() {
            String::new()
        } else {
            format!(" -> {}", t.actors.join(" -> "))
        };
        writeln!(
            out,
            "{} {}{} scope=`{}` expires={} {}",
            t.jti, t.agent, chain, t.scopes, t.expires, state
        )?;
    }
    Ok(())
}

/// `warden token revoke`.
pub fn token_revoke(store: &Store, jti: &str, out: &mut impl Write) -> Result<()> {
    store.revoke(jti, warden_identity::now())?;
    writeln!(
        out,
        "token `{jti}` revoked (and every token exchanged from it)"
    )?;
    Ok(())
}

/// `warden token rotate-key`.
pub fn rotate_key(store: &Store, out: &mut impl Write) -> Result<()> {
    let kid = store.rotate_key(warden_identity::now())?;
    writeln!(
        out,
        "new tokens are signed with key `{kid}`; earlier keys keep verifying the tokens they signed until those expire"
    )?;
    Ok(())
}

/// `warden secret set`: the value comes from stdin, never from the command line.
pub fn secret_set(store: &Store, name: &str, value: &str, out: &mut impl Write) -> Result<()> {
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        bail!("the secret's value (read from stdin) is empty");
    }
    store.set_secret(name, value, warden_identity::now())?;
    writeln!(
        out,
        "stored secret `{name}` (sealed; use it as ${{secret:{name}}} in warden.toml)"
    )?;
    Ok(())
}

/// `warden secret list`.
pub fn secret_list(store: &Store, out: &mut impl Write) -> Result<()> {
    for (name, updated) in store.secrets()? {
        writeln!(out, "{name} {}", json!({"updated": updated}))?;
    }
    Ok(())
}

/// `warden secret remove`.
pub fn secret_remove(store: &Store, name: &str, out: &mut impl Write) -> Result<()> {
    store.remove_secret(name)?;
    writeln!(out, "removed secret `{name}`")?;
    Ok(())
}
