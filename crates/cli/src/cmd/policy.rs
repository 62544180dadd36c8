//! `warden policy validate | test`.

use warden_app::env::Env;
use warden_app::exit;

use crate::args::PolicyCommand;

pub fn run(cmd: PolicyCommand, env: &Env) -> i32 {
    match cmd {
        // The rest of the configuration that start-up would refuse is checked too: a CI run of
        // `validate` should not pass what `warden mcp` then will not start with.
        PolicyCommand::Validate(config) => match super::load(&config, env).and_then(|l| {
            l.config.limits.build()?;
            l.engine()
        }) {
            Ok(engine) => {
                println!(
                    "ok: {} policies valid against the schema",
                    engine.policies().count()
                );
                exit::OK
            }
            Err(e) => super::fail(&e),
        },
        PolicyCommand::Test(args) => {
            let results = super::load(&args.config, env).and_then(|loaded| {
                let engine = loaded.engine()?;
                warden_app::policy_cmd::test(&engine, &loaded, &args.cases)
            });
            match results {
                Ok(results) => {
                    let failed = results.iter().filter(|r| !r.passed).count();
                    for r in &results {
                        println!(
                            "{} {}: {}",
                            if r.passed { "ok  " } else { "FAIL" },
                            r.name,
                            r.detail
                        );
                    }
                    println!("{} passed, {failed} failed", results.len() - failed);
                    if failed == 0 {
                        exit::OK
                    } else {
                        exit::CHECK_FAILED
                    }
                }
                Err(e) => super::fail(&e),
            }
        }
    }
}
