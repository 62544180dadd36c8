//! `warden ingest` and the hidden `warden data-server`.

use warden_app::env::Env;

use crate::args::IngestArgs;

pub fn ingest(args: IngestArgs, env: &Env) -> i32 {
    let tags = args.tags.into_iter().collect();
    let result = super::load(&args.config, env)
        .and_then(|l| warden_app::data::ingest(&l, env, &args.paths, &args.acl, &tags));
    match result {
        Ok(report) if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            warden_app::exit::OK
        }
        Ok(report) => {
            println!(
                "{} added, {} replaced in {}",
                report.added,
                report.replaced,
                report.store.display()
            );
            for (kind, n) in &report.redacted {
                println!("redacted: {n} x {kind}");
            }
            if report.hidden_removed > 0 {
                println!("hidden characters removed: {}", report.hidden_removed);
            }
            if report.injection_removed > 0 {
                println!(
                    "suspected instructions removed: {}",
                    report.injection_removed
                );
            }
            for p in &report.skipped {
                println!("skipped (not .txt, .md or .jsonl): {}", p.display());
            }
            warden_app::exit::OK
        }
        Err(e) => super::fail(&e),
    }
}

/// `warden data-server`: the built-in data server (stdio MCP), started by Warden with its
/// settings in the environment.
pub fn server() -> i32 {
    let var = warden_data::server::SETTINGS_VAR;
    let Some(settings) = std::env::var_os(var) else {
        eprintln!(
            "warden data-server: Warden starts this server itself (`data = true` on an upstream)"
        );
        return 2;
    };
    let settings: warden_data::ServiceSettings =
        match serde_json::from_str(&settings.to_string_lossy()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("warden data-server: unreadable settings: {e}");
                return warden_app::exit::FAILURE;
            }
        };
    let result = super::runtime_single().and_then(|rt| {
        rt.block_on(async {
            let service = warden_data::Service::open(&settings).await?;
            warden_data::server::serve(service).await?;
            Ok(())
        })
    });
    match result {
        Ok(()) => warden_app::exit::OK,
        Err(e) => super::fail(&e),
    }
}
