//! `[sandbox]`: the profiles stdio upstreams run in, which one each upstream gets, and the
//! self-check that refuses a profile Warden cannot prove. A command becomes a
//! [`warden_sandbox::Launch`] here; the sandbox crate does the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use warden_sandbox::{Command, Helper, Launch, Limits, Mechanism, Network, Profile};

use crate::config::Loaded;
use crate::env::Env;

/// The built-in profile every stdio upstream gets unless the config says otherwise.
pub const BUILT_IN: &str = "server";

/// The value of an upstream's `sandbox` that runs it unconfined.
pub const OFF: &str = "off";

/// Secrets under the home directory no tool server needs: hidden in every profile unless the
/// profile names them in `read` or `write`.
const HIDDEN_IN_HOME: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".config/gh",
    ".kube",
    ".docker",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".password-store",
];

/// Paths of local services a confined process must not reach (Unix sockets cross network
/// namespaces): hidden in every profile unless named.
const HIDDEN_SOCKETS: &[&str] = &[
    "/run/user",
    "/run/dbus",
    "/var/run/dbus",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd",
    "/run/podman",
    "/run/snapd.socket",
    "/run/systemd/private",
    "/run/systemd/journal",
];

/// `[sandbox]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Profile for stdio upstreams that do not name one (`server`, built in, when absent).
    pub default: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// The DNS server the egress proxy asks (the system resolver when absent).
    pub dns: Option<std::net::SocketAddr>,
}

/// `[sandbox.profiles.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Readable trees (default `["/"]`: everything not hidden).
    pub read: Option<Vec<PathBuf>>,
    /// Writable trees (besides a private `/tmp`).
    #[serde(default)]
    pub write: Vec<PathBuf>,
    /// Extra paths to hide.
    #[serde(default)]
    pub hide: Vec<PathBuf>,
    /// `none` (default), `egress-proxy` or `host`.
    pub network: Option<Network>,
    /// With `egress-proxy`: the destinations allowed (`example.com`, `*.example.com:443`,
    /// `127.0.0.1:8080`, `10.0.0.0/8:*`).
    #[serde(default)]
    pub egress: Vec<String>,
    /// Resource limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// With `egress-proxy`: secrets the proxy injects into HTTPS requests to their hosts, by
    /// the name of the variable that holds the placeholder inside.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretConfig>,
}

/// `[sandbox.profiles.<name>.secrets.<NAME>]`: the sandbox sees `NAME=warden-secret-NAME`;
/// the egress proxy puts the value in the placeholder's place in the target and headers of
/// HTTPS requests to `hosts`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// Where the secret may go (egress syntax: `api.github.com`, `*.example.com:8443`).
    pub hosts: Vec<String>,
    /// The variable of Warden's own environment that holds the value.
    pub env: Option<String>,
    /// Or the file that holds it (`~/` and relative paths as elsewhere).
    pub file: Option<PathBuf>,
}

/// `[sandbox.profiles.<name>.limits]`; 0 means unlimited.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub memory_mb: Option<u64>,
    pub cpu_secs: Option<u64>,
    pub processes: Option<u64>,
    pub file_size_mb: Option<u64>,
    pub open_files: Option<u64>,
    pub tmp_mb: Option<u64>,
}

impl LimitsConfig {
    fn build(self) -> Limits {
        let d = Limits::default();
        let pick = |set: Option<u64>, default: Option<u64>| match set {
            Some(0) => None,
            Some(v) => Some(v),
            None => default,
        };
        Limits {
            memory_mb: pick(self.memory_mb, d.memory_mb),
            cpu_secs: pick(self.cpu_secs, d.cpu_secs),
            processes: pick(self.processes, d.processes),
            file_size_mb: pick(self.file_size_mb, d.file_size_mb),
            open_files: pick(self.open_files, d.open_files),
            tmp_mb: self.tmp_mb.unwrap_or(d.tmp_mb),
        }
    }
}

/// `exec = { ... }` on an upstream: Warden's built-in `exec` tool.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The profile commands run in (`[sandbox] default` when absent; never `off`).
    pub profile: Option<String>,
    /// Longest a command may run (default 30 s).
    pub timeout_ms: Option<u64>,
    /// Most bytes of stdout and of stderr returned each (default 64 KiB).
    pub max_output_bytes: Option<usize>,
    /// Working directory of commands that do not name one.
    pub cwd: Option<PathBuf>,
}

/// How Warden reaches its sandbox helper (its own executable) and the test hook
/// `WARDEN_SANDBOX_UNAVAILABLE=landlock,...`.
pub fn helper(env: &Env) -> Result<Helper> {
    let exe = std::env::current_exe().context("cannot find Warden's own executable")?;
    let mut missing = Vec::new();
    for name in env
        .get("WARDEN_SANDBOX_UNAVAILABLE")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        missing.push(
            Mechanism::parse(name).with_context(|| {
                format!("WARDEN_SANDBOX_UNAVAILABLE: unknown mechanism `{name}`")
            })?,
        );
    }
    Ok(Helper { exe, missing })
}

impl Loaded {
    /// The profile for an upstream whose config says `choice` (`None`: the default; `off`:
    /// unconfined, returned as `None`).
    pub fn sandbox_profile(&self, choice: Option<&str>, env: &Env) -> Result<Option<Profile>> {
        let sandbox = &self.config.sandbox;
        let name = choice.or(sandbox.default.as_deref()).unwrap_or(BUILT_IN);
        if name == OFF {
            return Ok(None);
        }
        let config = match sandbox.profiles.get(name) {
            Some(c) => c.clone(),
            None if name == BUILT_IN => ProfileConfig::default(),
            None => {
                let known: Vec<&str> = sandbox.profiles.keys().map(String::as_str).collect();
                bail!(
                    "sandbox profile `{name}` is not defined (profiles: {}; `{BUILT_IN}` is built in, `{OFF}` runs unconfined)",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )
            }
        };
        let path = |p: &Path| self.expand(p, env);
        let read: Vec<PathBuf> = match &config.read {
            Some(list) => list.iter().map(|p| path(p)).collect(),
            None => vec![PathBuf::from("/")],
        };
        let write: Vec<PathBuf> = config.write.iter().map(|p| path(p)).collect();
        // A secret is shown only when the profile names it exactly (naming `~` or a file
        // inside `~/.ssh` does not show `~/.ssh`).
        let named = |p: &Path| read.iter().chain(&write).any(|r| r == p);
        let mut hide: Vec<PathBuf> = env
            .get("HOME")
            .map(|home| {
                HIDDEN_IN_HOME
                    .iter()
                    .map(|h| Path::new(home).join(h))
                    .collect()
            })
            .unwrap_or_default();
        // Sockets that would reach outside the sandbox whatever its network: the session bus
        // and per-user services (systemd-run, agents), the system bus, container engines.
        if let Some(runtime) = env.get("XDG_RUNTIME_DIR") {
            hide.push(PathBuf::from(runtime));
        }
        hide.extend(HIDDEN_SOCKETS.iter().map(PathBuf::from));
        hide.retain(|p| !named(p));
        // Warden's own state (audit log, approvals, identities, keys, baselines) stays hidden
        // even inside a readable or writable tree.
        hide.push(absolute(&self.data_dir));
        hide.extend(sqlite_files(&self.audit_path()));
        // The approvals waiting for a human, wherever they are kept; the files secrets are
        // read from (the sandbox holds placeholders, never values).
        let approvals = absolute(&self.approvals_path());
        if !approvals.starts_with(absolute(&self.data_dir)) {
            hide.extend(sqlite_files(&approvals));
        }
        hide.extend(
            config
                .secrets
                .values()
                .filter_map(|s| s.file.as_deref())
                .map(&path),
        );
        hide.extend(config.hide.iter().map(|p| path(p)));
        // What decides Warden's behaviour stays readable but is never written from inside,
        // even within a write tree.
        let readonly = self.rules_files();
        let network = config.network.unwrap_or(Network::None);
        let rules = warden_egress::Rules::parse(&config.egress)
            .with_context(|| format!("sandbox profile `{name}`"))?;
        let egress = match network {
            Network::EgressProxy => Some(
                self.egress_dir()
                    .join(format!("{name}-{}.sock", std::process::id())),
            ),
            _ if !rules.entries().is_empty() => {
                bail!("sandbox profile `{name}`: `egress` needs network = \"egress-proxy\"")
            }
            _ if !config.secrets.is_empty() => {
                bail!("sandbox profile `{name}`: `secrets` need network = \"egress-proxy\"")
            }
            _ => None,
        };
        let mut secret_env = Vec::new();
        for (secret, c) in &config.secrets {
            // The value is read when the proxy starts; the rest is checked now.
            let hosts = warden_egress::Rules::parse(&c.hosts)
                .with_context(|| format!("sandbox profile `{name}`: secret `{secret}`"))?;
            warden_egress::Secret::new(secret, "-".to_owned(), hosts)
                .with_context(|| format!("sandbox profile `{name}`"))?;
            if c.env.is_some() == c.file.is_some() {
                bail!(
                    "sandbox profile `{name}`: secret `{secret}` needs exactly one of `env` or `file`"
                );
            }
            secret_env.push((secret.clone(), warden_egress::secrets::placeholder(secret)));
        }
        let trust = (!secret_env.is_empty()).then(|| self.trust_bundle());
        Ok(Some(Profile {
            name: name.to_owned(),
            read,
            write,
            hide,
            readonly,
            network,
            limits: config.limits.build(),
            egress,
            env: secret_env,
            trust,
        }))
    }

    /// The built-in exec server for `exec`: the command that starts it (Warden itself,
    /// unconfined) and the profile its commands run in.
    pub fn exec_upstream(
        &self,
        exec: &ExecConfig,
        helper: &Helper,
        env: &Env,
    ) -> Result<(Command, Profile)> {
        let Some(profile) = self.sandbox_profile(exec.profile.as_deref(), env)? else {
            bail!("exec: commands always run in a sandbox profile; `off` is not one");
        };
        let settings = crate::exec_server::ExecSettings {
            profile: profile.clone(),
            helper_exe: helper.exe.clone(),
            missing: helper.missing.clone(),
            timeout_ms: exec.timeout_ms.unwrap_or(30_000),
            max_output_bytes: exec.max_output_bytes.unwrap_or(64 * 1024),
            env: ["PATH", "LANG", "TZ"]
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), env.get(k)?.to_owned())))
                .collect(),
            cwd: exec.cwd.as_deref().map(|p| self.expand(p, env)),
        };
        let command = Command {
            program: helper.exe.display().to_string(),
            args: vec![
                crate::exec_server::COMMAND.to_owned(),
                serde_json::to_string(&settings)?,
            ],
            env: Vec::new(),
            cwd: None,
        };
        Ok((command, profile))
    }

    /// `~/` from `HOME`, relative paths from the config's directory, made absolute.
    fn expand(&self, p: &Path, env: &Env) -> PathBuf {
        if let (Ok(rest), Some(home)) = (p.strip_prefix("~"), env.get("HOME")) {
            return Path::new(home).join(rest);
        }
        absolute(&self.resolve(p))
    }
}

/// A SQLite database and its write-ahead log and shared-memory files.
fn sqlite_files(db: &Path) -> impl Iterator<Item = PathBuf> {
    let db = absolute(db);
    ["", "-wal", "-shm"].into_iter().map(move |suffix| {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// The launch for `command` under `profile` (unconfined when `None`, with a warning: an
/// opt-out is always logged).
pub fn launch(
    server: &str,
    command: &Command,
    profile: Option<&Profile>,
    helper: &Helper,
) -> Result<Launch> {
    if profile.is_none() {
        tracing::warn!(
            server,
            "upstream `{server}` runs unconfined (sandbox = \"off\")"
        );
    }
    Ok(warden_sandbox::transform(command, profile, helper)?)
}

/// `warden sandbox check`: every defined profile and the default (or just `only`), each
/// finding on its own line. Returns whether all were proved.
pub async fn check_all(
    loaded: &Loaded,
    env: &Env,
    only: Option<&str>,
    out: &mut impl std::io::Write,
) -> Result<bool> {
    let sandbox = &loaded.config.sandbox;
    let mut names: Vec<&str> = match only {
        Some(name) => vec![name],
        None => std::iter::once(sandbox.default.as_deref().unwrap_or(BUILT_IN))
            .chain(sandbox.profiles.keys().map(String::as_str))
            .collect(),
    };
    names.dedup();
    let helper = helper(env)?;
    let mut all = true;
    let mut log = None;
    for name in names {
        let Some(profile) = loaded.sandbox_profile(Some(name), env)? else {
            writeln!(out, "profile `{name}`: runs unconfined")?;
            continue;
        };
        // The egress probe's connection is recorded like any other.
        if profile.egress.is_some() && log.is_none() {
            log = Some(warden_audit::Log::open(
                &loaded.audit_path(),
                loaded.config.audit.durability,
            )?);
        }
        let _egress = match &log {
            Some(log) => start_egress(loaded, &profile, log, env)?,
            None => None,
        };
        let report =
            warden_sandbox::check::check(&profile, &helper, &candidates(loaded, env)).await;
        let verdict = if report.passed() {
            "enforced"
        } else {
            "NOT PROVED"
        };
        writeln!(out, "profile `{name}`: {verdict}")?;
        for f in &report.findings {
            let mark = if f.ok { "ok  " } else { "FAIL" };
            writeln!(out, "  {mark} {}: {}", f.check, f.detail)?;
        }
        all &= report.passed();
    }
    Ok(all)
}

/// Where the self-check may place its write canary.
fn candidates(loaded: &Loaded, env: &Env) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(parent) = absolute(&loaded.data_dir).parent() {
        candidates.push(parent.to_owned());
    }
    if let Some(home) = env.get("HOME") {
        candidates.push(PathBuf::from(home));
    }
    candidates.push(PathBuf::from("/var/tmp"));
    candidates
}

/// What the data path needs to know of the profile an upstream runs in (`None`: unconfined):
/// its name for the session's audit record, the egress check of URLs in arguments, and the
/// paths roots are narrowed to.
pub fn confine(
    settings: &mut warden_proxy::Settings,
    loaded: &Loaded,
    profile: Option<&Profile>,
) -> Result<()> {
    settings.sandbox = Some(profile.map_or(OFF, |p| p.name.as_str()).to_owned());
    settings.egress = egress_check(loaded, profile)?;
    settings.roots = roots(profile);
    Ok(())
}

/// The paths roots are narrowed to for an upstream in `profile` (`None` when it reads
/// everything, or runs unconfined).
fn roots(profile: Option<&Profile>) -> Option<Vec<PathBuf>> {
    let p = profile?;
    if p.read.iter().any(|r| r == Path::new("/")) {
        return None;
    }
    let mut paths: Vec<PathBuf> = p.read.iter().chain(&p.write).cloned().collect();
    paths.sort();
    paths.dedup();
    Some(paths)
}

/// The check of URLs in tool arguments for an upstream in `profile` (only with the egress
/// proxy: without it no URL is reachable, and with the host network none is checked).
fn egress_check(
    loaded: &Loaded,
    profile: Option<&Profile>,
) -> Result<Option<std::sync::Arc<warden_proxy::EgressCheck>>> {
    let Some(p) = profile.filter(|p| p.network == Network::EgressProxy) else {
        return Ok(None);
    };
    Ok(Some(std::sync::Arc::new(warden_proxy::EgressCheck {
        profile: p.name.clone(),
        rules: loaded.egress_rules(&p.name)?,
    })))
}

/// A running egress proxy; its socket goes away with it.
#[derive(Debug)]
pub struct EgressProxy {
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Loaded {
    /// Warden's configuration file, schema and policy files (or directories).
    fn rules_files(&self) -> Vec<PathBuf> {
        let policy = &self.config.policy;
        let mut out: Vec<PathBuf> = self
            .file
            .iter()
            .chain(policy.schema.iter())
            .chain(policy.files.iter().flatten())
            .map(|p| absolute(&self.resolve(p)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Where the egress proxies' sockets and the trust bundle live.
    fn egress_dir(&self) -> PathBuf {
        absolute(&self.data_dir.join("egress"))
    }

    /// The certificates sandboxes with secrets trust: the system's roots and this process's
    /// injection authority (written when an egress proxy with secrets starts).
    fn trust_bundle(&self) -> PathBuf {
        self.egress_dir()
            .join(format!("trust-{}.pem", std::process::id()))
    }

    /// The secrets of profile `name`, their values read now.
    fn secrets(&self, name: &str, env: &Env) -> Result<warden_egress::Secrets> {
        let Some(config) = self.config.sandbox.profiles.get(name) else {
            return Ok(warden_egress::Secrets::default());
        };
        let mut secrets = Vec::new();
        for (secret, c) in &config.secrets {
            let context = || format!("sandbox profile `{name}`: secret `{secret}`");
            let value = match (&c.env, &c.file) {
                (Some(var), _) => env
                    .get(var)
                    .with_context(|| format!("environment variable `{var}` is not set"))
                    .with_context(context)?
                    .to_owned(),
                (None, Some(file)) => {
                    let path = self.expand(file, env);
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read `{}`", path.display()))
                        .with_context(context)?
                }
                (None, None) => bail!("{}: no `env` or `file`", context()),
            };
            let hosts = warden_egress::Rules::parse(&c.hosts).with_context(context)?;
            secrets.push(warden_egress::Secret::new(secret, value, hosts).with_context(context)?);
        }
        Ok(warden_egress::Secrets::new(secrets))
    }

    /// The egress allow-list of profile `name` (empty when it has none).
    pub fn egress_rules(&self, name: &str) -> Result<warden_egress::Rules> {
        let entries = self
            .config
            .sandbox
            .profiles
            .get(name)
            .map(|p| p.egress.clone())
            .unwrap_or_default();
        warden_egress::Rules::parse(&entries).with_context(|| format!("sandbox profile `{name}`"))
    }
}

/// Starts the egress proxy of `profile` when it has one: listens on the profile's socket and
/// records every connection in `log` (a connection whose decision cannot be recorded is
/// refused).
pub fn start_egress(
    loaded: &Loaded,
    profile: &Profile,
    log: &warden_audit::Log,
    env: &Env,
) -> Result<Option<EgressProxy>> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let Some(socket) = &profile.egress else {
        return Ok(None);
    };
    if let Some(dir) = socket.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket)
        .with_context(|| format!("egress proxy: cannot listen on `{}`", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    let resolver = match loaded.config.sandbox.dns {
        Some(addr) => warden_egress::Resolver::server(addr)
            .map_err(|e| anyhow::anyhow!("[sandbox] dns = {addr}: {e}"))?,
        None => warden_egress::Resolver::System,
    };
    let log = log.clone();
    let report: warden_egress::Report = std::sync::Arc::new(move |e: warden_egress::Event| {
        let log = log.clone();
        Box::pin(async move {
            let event = match (&e.request, e.closed) {
                (Some(_), _) => "egress_request",
                (None, true) => "egress_closed",
                (None, false) => "egress",
            };
            let mut body = serde_json::json!({
                "event": event,
                "profile": e.profile,
                "method": e.method,
                "host": e.host,
                "port": e.port,
                "addr": e.addr.map(|a| a.to_string()),
                "allowed": e.refused.is_none(),
                "reason": e.refused,
                "sent": e.sent,
                "received": e.received,
            });
            if let (Some(r), Some(map)) = (&e.request, body.as_object_mut()) {
                map.insert(
                    "request".to_owned(),
                    serde_json::json!({
                        "method": r.method,
                        "target": r.target,
                        "injected": r.injected,
                    }),
                );
            }
            let event = warden_types::AuditEvent::new(warden_types::AuditKind::Lifecycle, body);
            if e.closed {
                log.append_detached(event).await.is_ok()
            } else {
                log.append(event).await.is_ok()
            }
        })
    });
    let injection = match &profile.trust {
        Some(bundle) => Some(injection(loaded, &profile.name, bundle, env)?),
        None => None,
    };
    let proxy = warden_egress::Proxy::injecting(
        &profile.name,
        loaded.egress_rules(&profile.name)?,
        resolver,
        report,
        injection,
    );
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(proxy.clone().handle(stream));
        }
    });
    Ok(Some(EgressProxy {
        socket: socket.clone(),
        task,
    }))
}

/// The injection authority of this process, made once.
fn authority() -> Result<std::sync::Arc<warden_egress::Authority>> {
    static AUTHORITY: std::sync::OnceLock<
        Result<std::sync::Arc<warden_egress::Authority>, String>,
    > = std::sync::OnceLock::new();
    AUTHORITY
        .get_or_init(|| {
            warden_egress::Authority::generate()
                .map(std::sync::Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("secret injection: {e}"))
}

/// Secret injection for profile `name`: its secrets, the authority, the destinations' roots;
/// writes the bundle the sandbox trusts.
fn injection(
    loaded: &Loaded,
    name: &str,
    bundle: &Path,
    env: &Env,
) -> Result<warden_egress::Injection> {
    use std::io::Write as _;
    let secrets = loaded.secrets(name, env)?;
    let authority = authority()?;
    let roots = warden_egress::tls::system_roots()
        .with_context(|| format!("sandbox profile `{name}`: secret injection"))?;
    let upstream = warden_egress::tls::client_config(&roots)?;
    let pem = warden_egress::tls::pem_bundle(roots.iter().chain([authority.der()]));
    // Written whole under another name, then renamed: a sandbox never copies half a bundle.
    let partial = bundle.with_extension("pem.partial");
    let mut f = std::fs::File::create(&partial)
        .with_context(|| format!("cannot write `{}`", partial.display()))?;
    f.write_all(pem.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&partial, bundle)
        .with_context(|| format!("cannot write `{}`", bundle.display()))?;
    Ok(warden_egress::Injection {
        secrets,
        authority,
        upstream,
    })
}

/// Runs the self-check for `profile`; an error carries the diagnostic naming each mechanism
/// that could not be proved.
pub async fn prove(loaded: &Loaded, profile: &Profile, helper: &Helper, env: &Env) -> Result<()> {
    let report = warden_sandbox::check::check(profile, helper, &candidates(loaded, env)).await;
    if report.passed() {
        tracing::debug!(profile = %profile.name, "sandbox self-check passed");
        Ok(())
    } else {
        bail!("{}", report.diagnostic())
    }
}

#[cfg(test)]
#[path = "sandbox_tests.rs"]
mod tests;
