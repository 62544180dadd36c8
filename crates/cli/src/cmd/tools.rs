//! `warden tools` and `warden tools approve`.

use warden_app::env::Env;

use crate::args::{ToolsArgs, ToolsCommand};

pub fn run(args: ToolsArgs, env: &Env) -> i32 {
    let mut out = std::io::stdout().lock();
    let result = match args.command {
        None => super::load(&args.config, env)
            .and_then(|l| warden_app::tools_cmd::list(&l, args.json, &mut out)),
        Some(ToolsCommand::Approve { config, tool }) => super::load(&config, env).and_then(|l| {
            super::runtime_single()?
                .block_on(warden_app::tools_cmd::approve(&l, env, &tool, &mut out))
        }),
    };
    match result {
        Ok(()) => warden_app::exit::OK,
        Err(e) => super::fail(&e),
    }
}
