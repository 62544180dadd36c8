//! The self-check: runs Warden's probe inside a profile's sandbox and proves that each
//! mechanism really enforces (a write outside the allowed paths fails, a hidden file reads
//! empty, `/tmp` is private, a direct connection fails, ptrace and new namespaces are refused,
//! the limits are in place). A profile whose enforcement cannot be proved is not run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plan::{Command, Helper, transform};
use crate::probe::Outcome;
use crate::profile::{Network, Profile};
use crate::spawn::spawn;

/// The probe's subcommand.
pub const PROBE_COMMAND: &str = "sandbox-probe";

/// The file the probe reads by a relative path from the hidden directory it starts in.
const RELATIVE_CANARY: &str = "relative-secret";

/// How long a probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// One proved (or unproved) property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked.
    pub check: &'static str,
    /// Whether it held.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

/// The self-check of one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Profile name.
    pub profile: String,
    /// One finding per property.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Every property held.
    pub fn passed(&self) -> bool {
        !self.findings.is_empty() && self.findings.iter().all(|f| f.ok)
    }

    /// The failed properties, one per line, for an error message.
    pub fn diagnostic(&self) -> String {
        let mut out = format!(
            "sandbox profile `{}` cannot be proved to enforce:",
            self.profile
        );
        for f in self.findings.iter().filter(|f| !f.ok) {
            let _ = write!(out, "\n  - {}: {}", f.check, f.detail);
        }
        out
    }
}

/// Scratch files the check creates outside the sandbox and removes when dropped.
struct Scratch {
    dir: Option<PathBuf>,
    tmp_marker: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_file(&self.tmp_marker);
    }
}

/// A directory outside the sandbox's writable, hidden and private paths, where the check can
/// place a file the sandbox must not write next to (first of `candidates` that works).
fn canary_dir(profile: &Profile, candidates: &[PathBuf]) -> Option<PathBuf> {
    let tag = format!(".warden-sandbox-check-{}", std::process::id());
    candidates.iter().find_map(|base| {
        let covered = profile
            .write
            .iter()
            .chain(&profile.hide)
            .any(|p| base.starts_with(p))
            || crate::plan::PRIVATE.iter().any(|p| base.starts_with(p));
        if covered || !base.is_absolute() {
            return None;
        }
        let dir = base.join(&tag);
        std::fs::create_dir(&dir).ok()?;
        Some(dir)
    })
}

/// Checks `profile`. `candidates` are directories to place the write canary in (the first one
/// outside every writable and hidden path is used).
pub async fn check(profile: &Profile, helper: &Helper, candidates: &[PathBuf]) -> Report {
    let mut findings = Vec::new();
    let pid = std::process::id();
    let scratch = Scratch {
        dir: canary_dir(profile, candidates),
        // The host's own /tmp (whatever TMPDIR says): that is the mount made private.
        tmp_marker: Path::new("/tmp").join(format!(".warden-sandbox-check-{pid}")),
    };
    let _ = std::fs::write(&scratch.tmp_marker, "outside");
    let reads_all = profile.read.iter().any(|p| p == Path::new("/"));
    let mut probe_profile = profile.clone();
    let mut actions = vec![
        "ids".to_owned(),
        format!("read:{}", scratch.tmp_marker.display()),
    ];
    let mut canary = None;
    // The probe starts in a hidden directory, as Warden may run in one: a relative path must
    // not reach the host's directory there.
    let mut start_in = None;
    if let Some(dir) = &scratch.dir {
        let secret = dir.join("secret");
        let hidden = dir.join("hidden");
        let hidden_dir = dir.join("hidden-dir");
        let _ = std::fs::write(&secret, "outside");
        let _ = std::fs::write(&hidden, "outside");
        if std::fs::create_dir(&hidden_dir).is_ok()
            && std::fs::write(hidden_dir.join(RELATIVE_CANARY), "outside").is_ok()
        {
            probe_profile.hide.push(hidden_dir.clone());
            actions.push(format!("read:{RELATIVE_CANARY}"));
            start_in = Some(hidden_dir);
        }
        probe_profile.hide.push(hidden.clone());
        actions.push(format!("write:{}", dir.join("written").display()));
        actions.push(format!("read:{}", hidden.display()));
        if !reads_all {
            actions.push(format!("read:{}", secret.display()));
        }
        canary = Some(dir.clone());
    }
    let listener = match profile.network {
        Network::Host => None,
        _ => std::net::TcpListener::bind("127.0.0.1:0").ok(),
    };
    if let Some(addr) = listener.as_ref().and_then(|l| l.local_addr().ok()) {
        actions.push(format!("connect:{addr}"));
    }
    if profile.network == Network::EgressProxy {
        actions.push("proxy:169.254.169.254:80".to_owned());
    }
    actions.extend([
        "seccomp-mode".to_owned(),
        "ptrace:1".to_owned(),
        "unshare".to_owned(),
        "limits".to_owned(),
    ]);
    let command = Command {
        program: helper.exe.display().to_string(),
        args: std::iter::once(PROBE_COMMAND.to_owned())
            .chain(actions.iter().cloned())
            .collect(),
        env: Vec::new(),
        cwd: None,
    };
    let outcomes = match probe(&command, &probe_profile, helper, start_in.as_deref()).await {
        Ok(o) => o,
        Err(e) => {
            findings.push(Finding {
                check: "sandbox starts",
                ok: false,
                detail: e,
            });
            return Report {
                profile: profile.name.clone(),
                findings,
            };
        }
    };
    let get = |prefix: &str| outcomes.iter().find(|o| o.action.starts_with(prefix));
    findings.push(judge(
        "PID namespace",
        get("ids"),
        &|o| o.detail.ends_with(" ppid=1"),
        "the command's parent must be the sandbox's own PID 1",
    ));
    findings.push(judge(
        "private /tmp",
        get(&format!("read:{}", scratch.tmp_marker.display())),
        &|o| !o.ok,
        "a file in the host's /tmp must not be visible",
    ));
    if let Some(dir) = &canary {
        findings.push(judge(
            "write outside the allowed paths",
            get("write:"),
            &|o| !o.ok && !dir.join("written").exists(),
            "writing outside the writable paths must fail",
        ));
        findings.push(judge(
            "hidden paths",
            get(&format!("read:{}", dir.join("hidden").display())),
            &|o| !o.ok || o.detail.is_empty(),
            "a hidden file must read as empty",
        ));
        if start_in.is_some() {
            findings.push(judge(
                "hidden working directory",
                get(&format!("read:{RELATIVE_CANARY}")),
                &|o| !o.ok || o.detail.is_empty(),
                "started in a hidden directory, a relative path must not reach its files",
            ));
        }
        if !reads_all {
            findings.push(judge(
                "read outside the allowed paths",
                get(&format!("read:{}", dir.join("secret").display())),
                &|o| !o.ok,
                "reading outside the readable paths must fail",
            ));
        }
    } else if !profile.write.iter().any(|p| p == Path::new("/")) {
        findings.push(Finding {
            check: "write outside the allowed paths",
            ok: false,
            detail: "no directory outside the profile's writable paths to test from".to_owned(),
        });
    }
    if let Some(l) = &listener {
        l.set_nonblocking(true).ok();
        let reached = l.accept().is_ok();
        findings.push(judge(
            "network",
            get("connect:"),
            &|o| !o.ok && !reached,
            "a direct connection to the host must fail",
        ));
    }
    if profile.network == Network::EgressProxy {
        findings.push(judge(
            "egress proxy",
            get("proxy:"),
            &|o| o.ok && o.detail.contains(" 403 "),
            "the egress proxy must refuse the cloud metadata address",
        ));
    }
    findings.push(judge(
        "seccomp",
        get("seccomp-mode"),
        &|o| o.ok && o.detail == "2",
        "the command must run under a seccomp filter (mode 2)",
    ));
    findings.push(judge(
        "ptrace",
        get("ptrace:"),
        &|o| !o.ok,
        "ptrace must be refused",
    ));
    findings.push(judge(
        "namespaces stay closed",
        get("unshare"),
        &|o| !o.ok,
        "creating namespaces must be refused",
    ));
    if let Some(mb) = profile.limits.memory_mb {
        let want = format!("data={}", mb * 1024 * 1024);
        findings.push(judge(
            "limits",
            get("limits"),
            &|o| o.ok && o.detail.split(' ').any(|kv| kv == want),
            &format!("memory must be limited to {mb} MiB"),
        ));
    }
    Report {
        profile: profile.name.clone(),
        findings,
    }
}

/// Whether `found` shows the property `check` held.
fn judge(
    check: &'static str,
    found: Option<&Outcome>,
    held: &dyn Fn(&Outcome) -> bool,
    why: &str,
) -> Finding {
    let (ok, detail) = match found {
        Some(o) if held(o) && o.ok => (true, why.to_owned()),
        Some(o) if held(o) => (true, format!("refused ({})", o.detail)),
        Some(o) if o.ok => (false, format!("{why}; it succeeded ({:?})", o.detail)),
        Some(o) => (false, format!("{why}; the probe got {}", o.detail)),
        None => (false, "the probe did not report".to_owned()),
    };
    Finding { check, ok, detail }
}

/// Runs the probe in the sandbox, the helper started in `start_in` when given, and parses its
/// lines; an error carries the helper's stderr.
async fn probe(
    command: &Command,
    profile: &Profile,
    helper: &Helper,
    start_in: Option<&Path>,
) -> Result<Vec<Outcome>, String> {
    let mut launch = transform(command, Some(profile), helper).map_err(|e| e.to_string())?;
    if let Some(dir) = start_in {
        launch.cwd = Some(dir.to_path_buf());
    }
    let child = spawn(&launch).map_err(|e| e.to_string())?;
    let output = tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("the probe did not finish in {PROBE_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{} ({})", stderr.trim(), output.status));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("unreadable probe output `{l}`: {e}")))
        .collect()
}
