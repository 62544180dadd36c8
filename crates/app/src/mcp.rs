//! `warden mcp -- CMD ARGS...`: start the upstream, proxy this process's stdio to it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncWriteExt, BufReader};
use warden_audit::Log;
use warden_proxy::{Ended, Streams, run};
use warden_sandbox::{Command, spawn, widen_pipe};

use crate::config::{Loaded, require_command};
use crate::env::Env;

/// How long an upstream gets to exit after its stdin is closed before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Runs one stdio session. Returns the process exit code.
pub async fn serve_stdio(loaded: &Loaded, command: &[String], env: &Env) -> Result<i32> {
    let exec = loaded.config.upstream.exec.as_ref();
    let data = loaded.config.upstream.data == Some(true);
    match (exec, data) {
        (Some(_), true) => {
            anyhow::bail!("[upstream] has both `exec` and `data`: choose one")
        }
        (Some(_), false) if !command.is_empty() => anyhow::bail!(
            "[upstream] exec runs Warden's built-in exec tool: give no command after `--`"
        ),
        (None, true) if !command.is_empty() => anyhow::bail!(
            "[upstream] data runs Warden's built-in data server: give no command after `--`"
        ),
        (Some(_), false) | (None, true) => {}
        (None, false) => require_command(command)?,
    }
    // The detectors are built and checked on a thread of their own while the rest starts, the
    // upstream included; nothing is relayed before they pass (fail closed).
    let detectors = tokio::task::spawn_blocking(warden_detect::self_check);
    let engine = Arc::new(loaded.engine()?);
    if data {
        loaded.check_data(env).await?;
    }
    let mut settings = if exec.is_some() {
        loaded.settings(&["exec".to_owned()])
    } else if data {
        loaded.settings(&["data".to_owned()])
    } else {
        loaded.settings(command)
    };
    settings.principal_meta = data;
    let audit_path = loaded.audit_path();
    let log = Log::open(&audit_path, loaded.config.audit.durability)?;
    // `${secret:...}` in a webhook header needs the identity store; open it only then.
    let needs_secrets = loaded
        .config
        .approvals
        .webhook
        .iter()
        .chain(&loaded.config.alerts.webhook)
        .any(|w| w.headers.values().any(|v| v.contains("${secret:")));
    let secrets = needs_secrets.then(|| loaded.cli_store(env)).transpose()?;
    settings.approvals = loaded.approvals(&log, env, secrets.as_ref(), None)?;
    settings.pins = loaded.pinning()?;
    settings.limits = loaded.config.limits.build()?;
    settings.breaker = loaded
        .config
        .breaker
        .as_ref()
        .map(crate::config::BreakerConfig::build)
        .transpose()?;
    settings.alerts = loaded.alerts(env, secrets.as_ref())?;
    let exporter = loaded.exporter()?;
    settings.spans = exporter.as_ref().map(|e| e.spans.clone());
    // No identity store here: a paused agent stays paused until Warden restarts.
    let (agent_guard, keeper) = match loaded.agent_guard(None)? {
        Some((guard, keeper)) => (Some(guard), keeper),
        None => (None, None),
    };
    settings.agent_guard = agent_guard;
    let _watch = settings
        .approvals
        .as_ref()
        .map(warden_proxy::Approvals::watch);
    let helper = crate::sandbox::helper(env)?;
    // The built-in exec tool runs unconfined (it builds a sandbox per command); the profile
    // its commands run in is proved and labels the session like any other.
    let (command, profile, confine) = match exec {
        Some(e) => {
            let (command, profile) = loaded.exec_upstream(e, &helper, env)?;
            (command, Some(profile), false)
        }
        // Warden's own data server runs unconfined (it reads the configured databases).
        None if data => (loaded.data_upstream(&helper.exe, env)?, None, false),
        None => {
            let (program, args) = command.split_first().context("no upstream command")?;
            let command = Command {
                program: program.clone(),
                args: args.to_vec(),
                env: loaded.upstream_env(env),
                cwd: loaded.upstream_cwd(),
            };
            let profile = loaded.sandbox_profile(loaded.config.upstream.sandbox.as_deref(), env)?;
            (command, profile, true)
        }
    };
    let _egress = match &profile {
        Some(p) => crate::sandbox::start_egress(loaded, p, &log, env)?,
        None => None,
    };
    if let Some(p) = &profile {
        crate::sandbox::prove(loaded, p, &helper, env).await?;
    }
    crate::sandbox::confine(&mut settings, loaded, profile.as_ref())?;
    let launch = if confine {
        crate::sandbox::launch(&settings.server, &command, profile.as_ref(), &helper)?
    } else {
        warden_sandbox::transform(&command, None, &helper)?
    };
    let mut child = spawn(&launch)?;
    let checked = detectors
        .await
        .unwrap_or_else(|_| Err(vec!["the self-check panicked".to_owned()]));
    if let Err(problems) = checked {
        let _ = child.start_kill();
        anyhow::bail!("detectors failed their self-check: {}", problems.join("; "));
    }
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        anyhow::bail!("upstream `{}` started without pipes", launch.display);
    };
    widen_pipe(&stdin);
    widen_pipe(&stdout);
    // The upstream's stderr is its log: pass it through to ours, where MCP clients collect it.
    let stderr_task = tokio::spawn(async move {
        let mut stderr = stderr;
        let _ = tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await;
    });
    let session = format!(
        "{:x}-{:x}",
        warden_types::now_unix_micros(),
        std::process::id()
    );
    let (client_in, client_out) = client_stdio();
    let streams = Streams {
        client_in: BufReader::with_capacity(64 * 1024, client_in),
        client_out,
        upstream_in: BufReader::with_capacity(64 * 1024, stdout),
        upstream_out: stdin,
    };
    let server = settings.server.clone();
    let closer = log.clone();
    let ended = run(settings, engine, log, session, streams).await?;
    // Every span sink is gone with the session: send what is queued.
    if let Some(e) = exporter {
        e.finish(Duration::from_secs(5)).await;
    }
    let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    let _ = stderr_task.await;
    // Every record is committed (run flushed the log); checkpoint and stop the log's thread.
    closer.close();
    drop(keeper);
    let _ = tokio::io::stdout().flush().await;
    Ok(match (ended, status) {
        (Ended::ClientClosed, _) => 0,
        (Ended::UpstreamClosed, Some(s)) if s.success() => 0,
        (Ended::UpstreamClosed, s) => {
            let how = s.map_or_else(|| "did not exit".to_owned(), |s| s.to_string());
            eprintln!("warden: upstream `{server}` ended ({how})");
            1
        }
    })
}

type Input = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
type Output = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

/// The client's side of stdio. When stdin and stdout are pipes (as MCP clients start servers)
/// they are driven by the event loop directly; anything else (a terminal, a file) goes through
/// tokio's blocking stdio, which costs a thread hand-off per read or write.
fn client_stdio() -> (Input, Output) {
    use std::os::fd::AsFd;
    use tokio::net::unix::pipe;
    widen_pipe(std::io::stdin());
    widen_pipe(std::io::stdout());
    let input: Input = match std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(pipe::Receiver::from_owned_fd)
    {
        Ok(Ok(rx)) => Box::new(rx),
        _ => Box::new(tokio::io::stdin()),
    };
    let output: Output = match std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(pipe::Sender::from_owned_fd)
    {
        Ok(Ok(tx)) => Box::new(tx),
        _ => Box::new(tokio::io::stdout()),
    };
    (input, output)
}
