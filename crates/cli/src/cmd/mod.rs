//! One module per subcommand, plus what they share.

pub mod approvals;
pub mod audit;
pub mod data;
pub mod demo;
pub mod detect;
pub mod identity;
pub mod init;
pub mod mcp;
pub mod policy;
pub mod sandbox;
pub mod serve;
pub mod tools;

use std::path::PathBuf;

use warden_app::config::Loaded;
use warden_app::env::Env;
use warden_app::exit;

use crate::args::ConfigArg;

/// Logs go to stderr only (stdout may be an MCP channel); `WARDEN_LOG` sets the filter and
/// `WARDEN_LOG_FORMAT=json` writes one JSON object per line (for log collectors).
pub fn init_logging(env: &Env) {
    let filter = tracing_subscriber::EnvFilter::new(env.get("WARDEN_LOG").unwrap_or("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if env.get("WARDEN_LOG_FORMAT") == Some("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The configuration to use: `--config`, `$WARDEN_CONFIG`, `./warden.toml`, or defaults.
pub fn load(arg: &ConfigArg, env: &Env) -> anyhow::Result<Loaded> {
    let path = arg
        .config
        .clone()
        .or_else(|| env.get("WARDEN_CONFIG").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("warden.toml")).filter(|p| p.exists()));
    Loaded::load(path.as_deref(), env)
}

/// Prints an error the way every command does and returns the failure code.
pub fn fail(e: &anyhow::Error) -> i32 {
    eprintln!("warden: {e:#}");
    exit::FAILURE
}

/// A single-threaded runtime: one stdio session has one client, and keeping every task on one
/// thread saves a cross-thread wake-up at each hop of a relayed message.
pub fn runtime_single() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// A multi-threaded runtime for commands that need one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
