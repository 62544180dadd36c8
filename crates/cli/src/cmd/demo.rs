//! `warden demo` and the hidden `warden demo-server`.

use warden_app::env::Env;
use warden_app::exit;

use crate::args::{DemoArgs, DemoServerArgs};

pub fn run(args: DemoArgs, env: &Env) -> i32 {
    let result = (|| {
        let exe = std::env::current_exe()?;
        let (dir, _keep) = match args.dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::tempdir()?;
                (t.path().to_owned(), Some(t))
            }
        };
        let rt = super::runtime()?;
        rt.block_on(warden_app::demo::run(
            &exe,
            &dir,
            env,
            &mut std::io::stdout(),
        ))
    })();
    match result {
        Ok(true) => exit::OK,
        Ok(false) => {
            eprintln!("warden: the demo did not behave as expected");
            exit::CHECK_FAILED
        }
        Err(e) => super::fail(&e),
    }
}

pub fn serve(args: DemoServerArgs) -> i32 {
    let result = match args.http {
        Some(addr) => super::runtime()
            .map_err(std::io::Error::other)
            .and_then(|rt| {
                rt.block_on(warden_app::demo_server::serve_http(
                    addr,
                    args.record.as_deref(),
                ))
            }),
        None => warden_app::demo_server::serve(args.record.as_deref(), args.rug_pull),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => super::fail(&e.into()),
    }
}
