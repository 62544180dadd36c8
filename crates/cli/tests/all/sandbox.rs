//! The sandbox through the real helper (`warden sandbox-exec`): each escape attempt must fail,
//! each control (the same act inside the allowed paths) must succeed; and through the real
//! `warden mcp`: a profile Warden cannot prove is refused with a diagnostic, an opt-out is
//! logged.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use warden_sandbox::plan::{Helper, plan};
use warden_sandbox::probe::Outcome;
use warden_sandbox::{Limits, Network, Profile};

use crate::support::{Session, audit_records, warden, workspace};

/// A scratch directory outside `/tmp` (which is private inside the sandbox).
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn profile(read: &[&Path], write: &[&Path], network: Network) -> Profile {
    Profile {
        name: "test".to_owned(),
        read: read.iter().map(|p| p.to_path_buf()).collect(),
        write: write.iter().map(|p| p.to_path_buf()).collect(),
        hide: Vec::new(),
        readonly: Vec::new(),
        network,
        limits: Limits {
            memory_mb: Some(256),
            processes: Some(64),
            ..Limits::default()
        },
        egress: None,
        env: Vec::new(),
        trust: None,
    }
}

/// `warden sandbox-exec` running `program args` under `profile`.
fn sandboxed(profile: &Profile, program: &Path, args: &[String]) -> Command {
    let command = warden_sandbox::Command {
        program: program.display().to_string(),
        args: args.to_vec(),
        env: vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())],
        cwd: None,
    };
    let plan = plan(&command, program.to_owned(), profile, &Helper::default()).unwrap();
    let mut cmd = Command::new(warden());
    cmd.arg("sandbox-exec")
        .arg(serde_json::to_string(&plan).unwrap())
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    cmd
}

/// Runs the probe with `actions` under `profile`; one outcome per action.
fn probe(profile: &Profile, actions: &[String]) -> Vec<Outcome> {
    let mut args = vec!["sandbox-probe".to_owned()];
    args.extend(actions.iter().cloned());
    let out = sandboxed(profile, &warden(), &args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let outcomes: Vec<Outcome> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(outcomes.len(), actions.len());
    outcomes
}

fn refused(o: &Outcome) -> bool {
    !o.ok
}

#[test]
fn reading_outside_the_allowed_paths_fails_every_way() {
    let root = scratch();
    let allowed = root.path().join("allowed");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("secret");
    std::fs::write(&secret, "s3cret").unwrap();
    std::fs::write(allowed.join("ok"), "fine").unwrap();
    // A link placed inside the allowed tree beforehand still leads outside it.
    std::os::unix::fs::symlink(&secret, allowed.join("link")).unwrap();
    let p = profile(&[&allowed], &[&allowed], Network::None);
    let a = |s: &str| s.to_owned();
    let actions = [
        format!("read:{}", allowed.join("ok").display()),
        format!("read:{}", secret.display()),
        format!("read:{}", allowed.join("link").display()),
        format!("read:/proc/self/root{}", secret.display()),
        format!("read:{}/../outside/secret", allowed.display()),
        format!(
            "link:{}>{}",
            secret.display(),
            allowed.join("hard").display()
        ),
        a("read:/proc/1/environ"),
    ];
    let o = probe(&p, &actions);
    assert!(o[0].ok && o[0].detail == "fine", "control: {:?}", o[0]);
    for attempt in &o[1..6] {
        assert!(refused(attempt), "escaped: {attempt:?}");
        assert!(!attempt.detail.contains("s3cret"), "{attempt:?}");
    }
    assert!(!allowed.join("hard").exists());
}

#[test]
fn writing_outside_fails_and_tmp_is_private() {
    let root = scratch();
    let allowed = root.path().join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    let host_tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(host_tmp.path(), "host").unwrap();
    let p = profile(&[Path::new("/")], &[&allowed], Network::None);
    let o = probe(
        &p,
        &[
            format!("write:{}", allowed.join("made").display()),
            format!("write:{}", root.path().join("escaped").display()),
            "write:/etc/warden-escaped".to_owned(),
            format!("read:{}", host_tmp.path().display()),
            "write:/tmp/inside".to_owned(),
        ],
    );
    assert!(o[0].ok, "control: {:?}", o[0]);
    assert_eq!(
        std::fs::read_to_string(allowed.join("made")).unwrap(),
        "escaped"
    );
    assert!(
        refused(&o[1]) && !root.path().join("escaped").exists(),
        "{:?}",
        o[1]
    );
    assert!(refused(&o[2]), "{:?}", o[2]);
    assert!(refused(&o[3]), "the host's /tmp is visible: {:?}", o[3]);
    assert!(o[4].ok, "the private /tmp is writable: {:?}", o[4]);
    assert!(!Path::new("/tmp/inside").exists());
}

#[test]
fn a_hidden_or_private_working_directory_is_not_reached_by_relative_paths() {
    let root = scratch();
    let data = root.path().join(".warden");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("master.key"), "k3y").unwrap();
    let host_tmp = tempfile::tempdir_in("/tmp").unwrap();
    std::fs::write(host_tmp.path().join("note"), "host").unwrap();
    let mut p = profile(&[Path::new("/")], &[], Network::None);
    p.hide = vec![data.clone()];
    let run = |dir: &Path| {
        let out = sandboxed(
            &p,
            Path::new("/bin/sh"),
            &[
                "-c".to_owned(),
                "pwd; cat master.key note 2>/dev/null; true".to_owned(),
            ],
        )
        .current_dir(dir)
        .output()
        .unwrap();
        assert!(out.status.success(), "{out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Warden started inside its own hidden data directory: the command's directory is the
    // empty one the sandbox shows there, not the host's.
    let (stdout, _) = run(&data);
    assert_eq!(stdout.trim(), data.display().to_string(), "{stdout}");
    // Started in the host's /tmp: that directory does not exist in the private /tmp, so the
    // command starts in the empty private /tmp (not `/`), and says why.
    let (stdout, stderr) = run(host_tmp.path());
    assert_eq!(stdout.trim(), "/tmp", "{stdout}");
    assert!(
        stderr.contains("is not visible inside the sandbox"),
        "{stderr}"
    );
    // A visible directory is kept.
    let (stdout, _) = run(root.path());
    assert_eq!(stdout.trim(), root.path().display().to_string());
}

#[test]
fn wardens_own_files_cannot_be_changed_or_replaced_from_a_write_tree() {
    let root = scratch();
    let conf = root.path().join("proj/conf");
    let data = conf.join(".warden");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(conf.join("warden.toml"), "original").unwrap();
    std::fs::write(conf.join("policies.cedar"), "original").unwrap();
    std::fs::write(data.join("audit.db"), "state").unwrap();
    let mut p = profile(&[Path::new("/")], &[root.path()], Network::None);
    p.readonly = vec![conf.join("warden.toml"), conf.join("policies.cedar")];
    p.hide = vec![data.clone()];
    let script = format!(
        "cd {root}; \
         echo changed > proj/conf/warden.toml && echo wrote-config; \
         mv proj/conf/policies.cedar proj/conf/p2 && echo moved-policy; \
         rm -f proj/conf/warden.toml && echo removed-config; \
         mv proj/conf proj/conf2 && echo moved-dir; \
         mv proj proj2 && echo moved-parent; \
         rm -rf proj/conf/.warden && echo removed-state; \
         touch proj/conf/new && echo made-file; \
         cat proj/conf/warden.toml",
        root = root.path().display()
    );
    let out = sandboxed(&p, Path::new("/bin/sh"), &["-c".to_owned(), script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Readable, and the rest of the tree stays writable.
    assert!(
        stdout.contains("made-file") && stdout.ends_with("original"),
        "{stdout}"
    );
    for done in [
        "wrote-config",
        "moved-policy",
        "removed-config",
        "moved-dir",
        "moved-parent",
        "removed-state",
    ] {
        assert!(!stdout.contains(done), "{done}: {stdout}");
    }
    assert_eq!(
        std::fs::read_to_string(conf.join("warden.toml")).unwrap(),
        "original"
    );
    assert_eq!(
        std::fs::read_to_string(conf.join("policies.cedar")).unwrap(),
        "original"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("audit.db")).unwrap(),
        "state"
    );
}

#[test]
fn no_direct_or_raw_network_without_the_host_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let actions = [
        format!("connect:{addr}"),
        "raw-socket".to_owned(),
        "packet-socket".to_owned(),
        "vsock-socket".to_owned(),
    ];
    let o = probe(&profile(&[Path::new("/")], &[], Network::None), &actions);
    assert!(o.iter().all(refused), "{o:?}");
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "a connection arrived");
    // Control: the explicit opt-out reaches the host.
    let o = probe(
        &profile(&[Path::new("/")], &[], Network::Host),
        &actions[..1],
    );
    assert!(o[0].ok, "{:?}", o[0]);
}

#[test]
fn other_processes_cannot_be_traced_or_killed_and_nothing_is_mounted() {
    let mut outsider = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = outsider.id();
    let p = profile(&[Path::new("/")], &[], Network::None);
    let o = probe(
        &p,
        &[
            format!("kill:{pid}"),
            format!("ptrace:{pid}"),
            "ptrace:1".to_owned(),
            "unshare".to_owned(),
            "mount:/tmp".to_owned(),
        ],
    );
    assert!(o.iter().all(refused), "{o:?}");
    assert!(outsider.try_wait().unwrap().is_none(), "the outsider died");
    outsider.kill().unwrap();
    // A sibling inside the same sandbox cannot be traced either.
    let script = format!("sleep 5 & {} sandbox-probe ptrace:$!", warden().display());
    let out = sandboxed(&p, Path::new("/bin/sh"), &["-c".to_owned(), script])
        .output()
        .unwrap();
    let o: Outcome = serde_json::from_slice(&out.stdout).unwrap();
    assert!(refused(&o), "{o:?}");
}

#[test]
fn a_memory_hog_is_stopped_at_its_limit() {
    let p = profile(&[Path::new("/")], &[], Network::None);
    let o = probe(&p, &["alloc:16".to_owned(), "alloc:1024".to_owned()]);
    assert!(o[0].ok, "control: {:?}", o[0]);
    assert!(refused(&o[1]), "{:?}", o[1]);
}

/// Processes sharing the PID namespace of `pid`'s first child (the sandbox's init).
fn sandbox_processes(helper: u32) -> Option<usize> {
    let children =
        std::fs::read_to_string(format!("/proc/{helper}/task/{helper}/children")).ok()?;
    let init = children.split_whitespace().next()?;
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).ok()?;
    Some(
        std::fs::read_dir("/proc")
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| std::fs::read_link(e.path().join("ns/pid")).ok().as_ref() == Some(&ns))
            .count(),
    )
}

#[test]
fn a_fork_bomb_is_bounded_and_dies_with_the_sandbox() {
    let p = profile(&[Path::new("/")], &[], Network::None);
    let mut bomb = sandboxed(
        &p,
        Path::new("/bin/sh"),
        &[
            "-c".to_owned(),
            // Re-lit forever: a bomb that burns out between two samples on a loaded machine
            // would look like one that never went off.
            "b() { b | b; }; while :; do b; done & exec sleep 30".to_owned(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let helper = bomb.id();
    let mut most = 0;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        most = most.max(sandbox_processes(helper).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(most > 10, "the bomb did not go off ({most})");
    // 64 processes, plus the PIDs the kernel reserves before it wraps (see linux/mod.rs).
    assert!(most <= 64 + 301, "{most} processes: the bound did not hold");
    // Killing the helper (even with SIGKILL) takes every process in the sandbox with it.
    let init: u32 = std::fs::read_to_string(format!("/proc/{helper}/task/{helper}/children"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).unwrap();
    bomb.kill().unwrap();
    bomb.wait().unwrap();
    let gone = Instant::now() + Duration::from_secs(5);
    let left = loop {
        let left = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| std::fs::read_link(e.path().join("ns/pid")).ok().as_ref() == Some(&ns))
            .count();
        if left == 0 || Instant::now() > gone {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(left, 0, "processes outlived the sandbox");
}

/// The workspace's config with `[sandbox]` as given (replacing the tests' default).
fn with_sandbox(dir: &Path, section: &str) -> PathBuf {
    let path = dir.join("warden.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(crate::support::SANDBOX, section);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_profile_that_cannot_be_proved_is_refused_with_a_diagnostic() {
    let dir = workspace();
    let record = dir.path().join("received.jsonl");
    let out = Command::new(warden())
        .args(["mcp", "--config"])
        .arg(dir.path().join("warden.toml"))
        .arg("--")
        .arg(warden())
        .args(["demo-server", "--record"])
        .arg(&record)
        .env("WARDEN_SANDBOX_UNAVAILABLE", "landlock")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sandbox profile `workspace` cannot be proved to enforce")
            && stderr.contains("landlock: not available")
            && stderr.contains("or set `sandbox = \"off\"`"),
        "{stderr}"
    );
    assert!(!record.exists(), "the upstream ran");
    // `warden sandbox check` says the same, and passes when nothing is missing.
    let check = |missing: &str| {
        Command::new(warden())
            .args(["sandbox", "check", "--config"])
            .arg(dir.path().join("warden.toml"))
            .env("WARDEN_SANDBOX_UNAVAILABLE", missing)
            .output()
            .unwrap()
    };
    let bad = check("seccomp");
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(3), "{text}");
    assert!(
        text.contains("NOT PROVED") && text.contains("seccomp: not available"),
        "{text}"
    );
    let good = check("");
    let text = String::from_utf8_lossy(&good.stdout);
    assert_eq!(good.status.code(), Some(0), "{text}");
    for line in [
        "profile `workspace`: enforced",
        "ok   write outside the allowed paths",
        "ok   network",
        "ok   seccomp",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

#[test]
fn upstreams_run_confined_and_an_opt_out_is_logged() {
    let dir = workspace();
    let mut s = Session::start(dir.path());
    s.initialize();
    let r = s.call("echo", json!({"text": "hi"}));
    assert!(r["result"].is_object(), "{r}");
    drop(s.finish());
    with_sandbox(dir.path(), "\n[sandbox]\ndefault = \"off\"\n");
    let mut s = Session::start(dir.path());
    s.initialize();
    let (_, stderr) = s.finish();
    assert!(stderr.contains("runs unconfined"), "{stderr}");
    let starts: Vec<_> = audit_records(dir.path())
        .into_iter()
        .filter(|r| r["body"]["event"] == "session_start")
        .map(|r| r["body"]["sandbox"].clone())
        .collect();
    assert_eq!(starts, vec![json!("workspace"), json!("off")]);
}

#[test]
fn the_exec_tool_runs_commands_confined_with_limits_and_under_policy() {
    let dir = workspace();
    let config = dir.path().join("warden.toml");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[upstream]\n",
        "[upstream]\nname = \"shell\"\nexec = { timeout_ms = 1500, max_output_bytes = 100 }\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let policies = dir.path().join("policies.cedar");
    let mut text = std::fs::read_to_string(&policies).unwrap();
    text.push_str(
        "\n@id(\"exec-no-rm\")\npermit (principal, action == Action::\"call_tool\", resource == Tool::\"shell/exec\")\nwhen { context.args has command && !(context.args.command like \"rm *\") };\n",
    );
    std::fs::write(&policies, text).unwrap();
    let mut s = Session::start_with(dir.path(), &[], dir.path().join("unused.jsonl"));
    s.initialize();
    let tools = s.request("tools/list", json!({}));
    assert_eq!(tools["result"]["tools"][0]["name"], "exec", "{tools}");
    let run = |s: &mut Session, line: &str| s.call("exec", json!({ "command": line }));
    // Output, status and both streams come back.
    let r = run(&mut s, "echo hi; echo oops >&2; exit 3");
    let result = &r["result"];
    assert_eq!(result["isError"], true, "{r}");
    assert_eq!(result["structuredContent"]["exit_code"], 3, "{r}");
    assert_eq!(result["structuredContent"]["stdout"], "hi\n", "{r}");
    assert_eq!(result["structuredContent"]["stderr"], "oops\n", "{r}");
    // Confined: the workspace is writable, the rest is not, and there is no network.
    let target = dir.path().join("made-by-exec");
    let r = run(&mut s, &format!("echo x > {}", target.display()));
    assert_eq!(r["result"]["structuredContent"]["exit_code"], 0, "{r}");
    assert!(target.exists());
    let r = run(&mut s, "echo x > /etc/warden-exec-escape");
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(!Path::new("/etc/warden-exec-escape").exists());
    // Output is cut at the limit; a command past its time is killed with its sandbox.
    let r = run(&mut s, "yes | head -c 100000");
    assert_eq!(
        r["result"]["structuredContent"]["stdout"]
            .as_str()
            .unwrap()
            .len(),
        100,
        "{r}"
    );
    assert_eq!(r["result"]["structuredContent"]["truncated"], true, "{r}");
    let started = Instant::now();
    let r = run(&mut s, "sleep 30 & sleep 30");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r["result"]["structuredContent"]["timed_out"], true, "{r}");
    assert!(
        r["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("killed after 1500 ms"),
        "{r}"
    );
    // Policy sees the arguments.
    let r = run(&mut s, "rm -rf /tmp/x");
    assert!(
        r["error"].is_object() || r["result"]["isError"] == true,
        "{r}"
    );
    assert!(r.to_string().contains("no policy permits"), "{r}");
    let (_, stderr) = s.finish();
    assert!(!stderr.contains("runs unconfined"), "{stderr}");
    let starts: Vec<_> = audit_records(dir.path())
        .into_iter()
        .filter(|r| r["body"]["event"] == "session_start")
        .map(|r| r["body"]["sandbox"].clone())
        .collect();
    assert_eq!(starts, vec![json!("workspace")]);
}

#[test]
fn the_gateway_serves_the_exec_tool_in_its_profile() {
    use crate::gateway::POLICIES;
    use crate::support::gateway::{Gateway, add_agent, configure, rt, token};
    let dir = workspace();
    configure(
        dir.path(),
        "[upstreams.shell]\nexec = { timeout_ms = 5000 }\n",
        POLICIES,
    );
    add_agent(dir.path(), "bob", &["team=finance"]);
    let gw = Gateway::start(dir.path());
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let s = gw.initialize(&bob).await;
        assert_eq!(gw.tools(&bob, &s).await, ["shell__exec"]);
        let (_, _, r) = gw
            .call(
                &bob,
                &s,
                "shell__exec",
                json!({"command": "echo $((6*7)); hostname"}),
            )
            .await;
        assert_eq!(r["result"]["isError"], false, "{r}");
        assert_eq!(
            r["result"]["structuredContent"]["stdout"], "42\nwarden-sandbox\n",
            "{r}"
        );
    });
    drop(gw);
    let starts: Vec<_> = crate::support::audit_records_at(&dir.path().join("audit.db"))
        .into_iter()
        .filter(|r| r["body"]["event"] == "session_start")
        .map(|r| r["body"]["sandbox"].clone())
        .collect();
    assert_eq!(starts, vec![json!("workspace")]);
}

/// An HTTPS server on loopback with a certificate for `name` from `ca`: answers each request
/// with its head and keeps the heads it saw.
fn https_server(
    ca: &warden_egress::Authority,
    name: &str,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config(name).unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut tls = tokio::io::BufReader::new(tls);
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if tls.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                        head.len()
                    );
                    let _ = tls.get_mut().write_all(reply.as_bytes()).await;
                    let _ = tls.get_mut().shutdown().await;
                    seen.lock().unwrap().push(head);
                });
            }
        });
    });
    (port, heads)
}

#[test]
fn secrets_are_injected_at_the_egress_proxy_and_the_sandbox_sees_placeholders() {
    let public = warden_egress::Authority::generate().unwrap();
    let (port, heads) = https_server(&public, "localhost");
    let (other, other_heads) = https_server(&public, "127.0.0.1");
    let dir = workspace();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, public.pem()).unwrap();
    let config = dir.path().join("warden.toml");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[upstream]\n",
        "[upstream]\nname = \"shell\"\nexec = { profile = \"api\", timeout_ms = 20000 }\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    with_sandbox(
        dir.path(),
        &format!(
            "\n[sandbox.profiles.api]\nwrite = [\".\"]\nnetwork = \"egress-proxy\"\negress = [\"localhost:{port}\", \"127.0.0.1:{port}\", \"[::1]:{port}\", \"127.0.0.1:{other}\"]\n\n[sandbox.profiles.api.secrets.API_TOKEN]\nhosts = [\"localhost:{port}\"]\nenv = \"TEST_API_TOKEN\"\n"
        ),
    );
    let policies = dir.path().join("policies.cedar");
    let mut text = std::fs::read_to_string(&policies).unwrap();
    text.push_str("\npermit (principal, action == Action::\"call_tool\", resource == Tool::\"shell/exec\");\n");
    std::fs::write(&policies, text).unwrap();
    let mut s = Session::start_env(
        dir.path(),
        &[],
        dir.path().join("unused.jsonl"),
        &[
            ("TEST_API_TOKEN", "tok-3c1b7f"),
            // Warden verifies destinations against these roots (the test's own authority).
            ("SSL_CERT_FILE", roots.to_str().unwrap()),
        ],
    );
    s.initialize();
    let fetch = format!(
        "python3 -c 'import os, urllib.request as u; print(u.urlopen(u.Request(\"https://localhost:{port}/v1?k=\" + os.environ[\"API_TOKEN\"], headers={{\"Authorization\": \"Bearer \" + os.environ[\"API_TOKEN\"]}})).read().decode())'"
    );
    let r = s.call(
        "exec",
        json!({ "command": format!("echo \"$API_TOKEN\"; {fetch}") }),
    );
    let out = r["result"]["structuredContent"]["stdout"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(r["result"]["structuredContent"]["exit_code"], 0, "{r}");
    // Inside, only the placeholder; the destination got the value, in the header and query.
    assert!(out.starts_with("warden-secret-API_TOKEN\n"), "{out}");
    let head = heads.lock().unwrap().first().cloned().unwrap_or_default();
    assert!(
        head.starts_with("GET /v1?k=tok-3c1b7f HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Authorization: Bearer tok-3c1b7f\r\n"),
        "{head}"
    );
    // The destination's echo came back to the agent through Warden's output redaction.
    assert!(
        out.contains("Authorization: Bearer [HTTP_BEARER_TOKEN"),
        "{out}"
    );
    // A destination the secret is not for: tunnelled untouched, the placeholder arrives as is.
    let r = s.call(
        "exec",
        json!({ "command": format!("python3 -c 'import os, urllib.request as u; print(u.urlopen(u.Request(\"https://127.0.0.1:{other}/\", headers={{\"X-Key\": os.environ[\"API_TOKEN\"]}})).read().decode())'") }),
    );
    assert_eq!(r["result"]["structuredContent"]["exit_code"], 0, "{r}");
    let head = other_heads
        .lock()
        .unwrap()
        .first()
        .cloned()
        .unwrap_or_default();
    assert!(
        head.contains("X-Key: warden-secret-API_TOKEN\r\n"),
        "{head}"
    );
    drop(s.finish());
    let records = audit_records(dir.path());
    let requests: Vec<_> = records
        .iter()
        .filter(|r| r["body"]["event"] == "egress_request")
        .map(|r| r["body"]["request"].clone())
        .collect();
    assert_eq!(
        requests,
        vec![
            json!({"method": "GET", "target": "/v1?k=warden-secret-API_TOKEN", "injected": ["API_TOKEN"]})
        ]
    );
    let log = std::fs::read_to_string(dir.path().join("unused.jsonl")).unwrap_or_default();
    let all = format!("{records:?}{log}");
    assert!(!all.contains("tok-3c1b7f"), "the value reached a record");
}
