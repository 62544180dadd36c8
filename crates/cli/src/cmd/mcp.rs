//! `warden mcp`.

use warden_app::env::Env;

use crate::args::McpArgs;

pub fn run(args: McpArgs, env: &Env) -> i32 {
    let result = super::load(&args.config, env).and_then(|loaded| {
        let rt = super::runtime_single()?;
        rt.block_on(warden_app::mcp::serve_stdio(&loaded, &args.command, env))
    });
    result.unwrap_or_else(|e| super::fail(&e))
}
