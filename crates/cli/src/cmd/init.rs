//! `warden init`.

use crate::args::InitArgs;

pub fn run(args: InitArgs) -> i32 {
    match warden_app::init::write(&args.dir) {
        Ok(files) => {
            for f in files {
                println!("wrote {f}");
            }
            println!(
                "next: edit warden.toml, then `warden policy test policy-tests.toml` and `warden mcp --config warden.toml -- <server command>`"
            );
            0
        }
        Err(e) => super::fail(&e),
    }
}
