//! `warden serve`.

use warden_app::env::Env;

use crate::args::ServeArgs;

pub fn run(args: ServeArgs, env: &Env) -> i32 {
    let result = super::load(&args.config, env).and_then(|loaded| {
        let exe = std::env::current_exe()?;
        let rt = super::runtime()?;
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
