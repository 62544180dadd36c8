//! The `warden` binary: parses arguments and dispatches; every command lives in `cmd/`.

mod args;
mod cmd;

use clap::Parser;

/// mimalloc: the policy engine and JSON relay allocate many small short-lived values, and the
/// system allocator was a quarter of a decision's instructions (see BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The sandbox helper and its probe run inside a sandbox, before anything reads the
    // environment or starts a thread.
    if let Some(code) = cmd::sandbox::internal() {
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = args::Cli::parse();
    let env = warden_app::env::Env::from_process();
    cmd::init_logging(&env);
    let code = match cli.command {
        args::Command::Init(a) => cmd::init::run(a),
        args::Command::Mcp(a) => cmd::mcp::run(a, &env),
        args::Command::Policy(a) => cmd::policy::run(a, &env),
        args::Command::Audit(a) => cmd::audit::run(a, &env),
        args::Command::Scan(a) => cmd::detect::scan(a),
        args::Command::Eval(a) => cmd::detect::eval(a),
        args::Command::Train(a) => cmd::detect::train(a),
        args::Command::Serve(a) => cmd::serve::run(a, &env),
        args::Command::Agent(a) => cmd::identity::agent(a, &env),
        args::Command::Token(a) => cmd::identity::token(a, &env),
        args::Command::Secret(a) => cmd::identity::secret(a, &env),
        args::Command::Approvals(a) => cmd::approvals::approvals(a, &env),
        args::Command::Approver(a) => cmd::approvals::approver(a, &env),
        args::Command::Sandbox(a) => cmd::sandbox::run(a, &env),
        args::Command::Tools(a) => cmd::tools::run(a, &env),
        args::Command::Ingest(a) => cmd::data::ingest(a, &env),
        args::Command::Demo(a) => cmd::demo::run(a, &env),
        args::Command::DemoServer(a) => cmd::demo::serve(a),
    };
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
