//! `warden serve`.

use warden_app::env::Env;

use crate::args::ServeArgs;

pub fn run(args: ServeArgs, env: &Env) -> i32 {
    let result = super::load(&args.config, env).and_then(|loaded| {
        let exe = std::env::current_exe()?;
        // Single-threaded: the gateway serves from threads of its own, one per CPU, each with
        // its own runtime (`warden_gateway::serve`); this one accepts.
        let rt = super::runtime_single()?;
        rt.block_on(warden_app::gateway::serve(
            &loaded,
            &exe,
            env,
            &mut std::io::stdout(),
        ))
    });
    match result {
        Ok(()) => warden_app::exit::OK,
        Err(e) => super::fail(&e),
    }
}
