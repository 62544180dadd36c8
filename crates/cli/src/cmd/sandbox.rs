//! `warden sandbox ...`: the self-check, and the two internal entry points that run inside a
//! sandbox (the helper that builds it, the probe that tries to escape it).

use warden_app::env::Env;
use warden_app::exit;
use warden_sandbox::check::PROBE_COMMAND;
use warden_sandbox::plan::HELPER_COMMAND;

use crate::args::SandboxCommand;

pub fn run(cmd: SandboxCommand, env: &Env) -> i32 {
    let SandboxCommand::Check { config, profile } = cmd;
    let result = super::load(&config, env).and_then(|loaded| {
        let rt = super::runtime_single()?;
        let mut out = std::io::stdout().lock();
        rt.block_on(warden_app::sandbox::check_all(
            &loaded,
            env,
            profile.as_deref(),
            &mut out,
        ))
    });
    match result {
        Ok(true) => exit::OK,
        Ok(false) => exit::CHECK_FAILED,
        Err(e) => super::fail(&e),
    }
}

/// Runs `warden sandbox-exec PLAN` or `warden sandbox-probe ACTION...` when that is what was
/// asked; `None` otherwise.
pub fn internal() -> Option<i32> {
    let mut args = std::env::args();
    let _ = args.next();
    match args.next().as_deref() {
        Some(HELPER_COMMAND) => {
            let plan = args.next().unwrap_or_default();
            Some(warden_sandbox::exec_helper(&plan))
        }
        Some(PROBE_COMMAND) => {
            let actions: Vec<String> = args.collect();
            let mut out = std::io::stdout().lock();
            Some(match warden_sandbox::probe::run(&actions, &mut out) {
                Ok(()) => 0,
                Err(_) => 1,
            })
        }
        Some(warden_data::server::COMMAND) => Some(super::data::server()),
        Some(warden_app::exec_server::COMMAND) => {
            let settings = args.next().unwrap_or_default();
            Some(exec_server(&settings))
        }
        _ => None,
    }
}

/// `warden exec-server SETTINGS`: the built-in exec tool's MCP server (started by Warden).
fn exec_server(settings: &str) -> i32 {
    let settings: warden_app::exec_server::ExecSettings = match serde_json::from_str(settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warden exec-server: unreadable settings: {e}");
            return exit::FAILURE;
        }
    };
    let result = super::runtime_single()
        .and_then(|rt| Ok(rt.block_on(warden_app::exec_server::serve(settings))?));
    match result {
        Ok(()) => exit::OK,
        Err(e) => super::fail(&e),
    }
}
