//! Sandbox start-up overhead and the egress proxy's cost, each against its baseline in the
//! same run. Start-up: a stdio server (`warden demo-server`) started directly and inside the
//! built-in `server` profile (namespaces, private mounts, hidden paths, limits, Landlock,
//! seccomp), timed to its answer to `initialize`; also `/bin/true` to its exit. Starts
//! alternate so machine noise hits both alike. Egress: HTTP requests to a loopback server
//! directly and through the proxy (with its allow-list, resolution and audit records), a new
//! connection per request, and bulk throughput through one tunnel. Secret injection's cost
//! per request is `inject.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use warden_sandbox::Profile;
use warden_sandbox::plan::{Helper, plan};

use crate::latency::Peer;
use crate::stats::Samples;

const STARTS: usize = 50;
const REQUESTS: usize = 2000;
const BULK_BYTES: usize = 256 * 1024 * 1024;

/// `warden sandbox-exec PLAN` for `program args` in the built-in profile (hiding the usual
/// home-directory secrets, as `warden mcp` does).
fn sandboxed(warden: &Path, program: &Path, args: &[&str]) -> Result<Command> {
    let mut profile = Profile::server_default("server");
    if let Some(home) = std::env::var_os("HOME") {
        for h in [
            ".ssh", ".gnupg", ".aws", ".kube", ".docker", ".npmrc", ".netrc",
        ] {
            profile.hide.push(PathBuf::from(&home).join(h));
        }
    }
    let command = warden_sandbox::Command {
        program: program.display().to_string(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())],
        cwd: None,
    };
    let plan = plan(&command, program.to_owned(), &profile, &Helper::default())?;
    let mut cmd = Command::new(warden);
    cmd.arg("sandbox-exec").arg(serde_json::to_string(&plan)?);
    Ok(cmd)
}

fn startup(warden: &Path) -> Result<()> {
    let mut direct = Vec::new();
    let mut confined = Vec::new();
    let mut true_direct = Vec::new();
    let mut true_confined = Vec::new();
    let bin_true = Path::new("/bin/true");
    for _ in 0..STARTS {
        let t = Instant::now();
        drop(Peer::start(Command::new(warden).arg("demo-server"))?);
        direct.push(t.elapsed());
        let t = Instant::now();
        drop(Peer::start(&mut sandboxed(
            warden,
            warden,
            &["demo-server"],
        )?)?);
        confined.push(t.elapsed());
        let t = Instant::now();
        Command::new(bin_true).status()?;
        true_direct.push(t.elapsed());
        let t = Instant::now();
        let ok = sandboxed(warden, bin_true, &[])?
            .stdout(Stdio::null())
            .status()?
            .success();
        anyhow::ensure!(ok, "the sandboxed /bin/true failed");
        true_confined.push(t.elapsed());
    }
    let (d, c) = (
        Samples::new(direct).pct(50.0),
        Samples::new(confined).pct(50.0),
    );
    let (td, tc) = (
        Samples::new(true_direct).pct(50.0),
        Samples::new(true_confined).pct(50.0),
    );
    println!("sandbox start-up, median of {STARTS} starts each (alternating)");
    println!(
        "  demo-server to its initialize answer: direct {:.2} ms, sandboxed {:.2} ms, overhead {:.2} ms ({:.2}x)",
        d / 1e3,
        c / 1e3,
        (c - d) / 1e3,
        c / d
    );
    println!(
        "  /bin/true to exit:                    direct {:.2} ms, sandboxed {:.2} ms, overhead {:.2} ms",
        td / 1e3,
        tc / 1e3,
        (tc - td) / 1e3
    );
    Ok(())
}

/// A loopback HTTP server: a small answer per request (one per connection), or `n` bytes for
/// `GET /bulk/n`.
fn http_server() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    Ok(addr)
}

fn serve(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = [0u8; 4096];
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let bulk: usize = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.strip_prefix("/bulk/"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let body_len = if bulk > 0 { bulk } else { 2 };
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
    );
    if bulk == 0 {
        let _ = s.write_all(b"ok");
    } else {
        let chunk = vec![b'x'; 1024 * 1024];
        let mut left = bulk;
        while left > 0 {
            let n = left.min(chunk.len());
            if s.write_all(chunk.get(..n).unwrap_or_default()).is_err() {
                return;
            }
            left -= n;
        }
    }
}

/// One request on a new connection; through `proxy` with CONNECT when given. Returns the
/// body length read.
fn request(server: SocketAddr, proxy: Option<SocketAddr>, path: &str) -> Result<usize> {
    let mut s = TcpStream::connect(proxy.unwrap_or(server))?;
    s.set_nodelay(true)?;
    if proxy.is_some() {
        write!(s, "CONNECT {server} HTTP/1.1\r\nHost: {server}\r\n\r\n")?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            anyhow::ensure!(s.read(&mut byte)? == 1, "proxy closed");
            head.push(byte[0]);
        }
        anyhow::ensure!(head.starts_with(b"HTTP/1.1 200"), "proxy refused");
    }
    write!(s, "GET {path} HTTP/1.1\r\nHost: {server}\r\n\r\n")?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out.len())
}

/// Records each connection in `log` as Warden does: the decision acknowledged before the
/// tunnel opens, its end queued.
pub(crate) fn audited(log: warden_audit::Log) -> warden_egress::Report {
    Arc::new(move |e: warden_egress::Event| {
        let log = log.clone();
        Box::pin(async move {
            let event = warden_types::AuditEvent::new(
                warden_types::AuditKind::Lifecycle,
                serde_json::json!({"event": "egress", "host": e.host, "port": e.port, "closed": e.closed}),
            );
            if e.closed {
                log.append_detached(event).await.is_ok()
            } else {
                log.append(event).await.is_ok()
            }
        })
    })
}

/// Serves `proxy` on a loopback TCP port (in the current runtime); its address.
pub(crate) async fn listen(proxy: Arc<warden_egress::Proxy>) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(proxy.clone().handle(s));
        }
    });
    Ok(addr)
}

fn egress() -> Result<()> {
    let server = http_server()?;
    let dir = tempfile::tempdir()?;
    let log = warden_audit::Log::open(&dir.path().join("audit.db"), Default::default())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let proxy_addr = rt.block_on(async {
        let report = audited(log);
        let proxy = warden_egress::Proxy::new(
            "bench",
            warden_egress::Rules::parse(&[format!("127.0.0.1:{}", server.port())])?,
            warden_egress::Resolver::System,
            report,
        );
        listen(proxy).await
    })?;
    for _ in 0..200 {
        request(server, None, "/")?;
        request(server, Some(proxy_addr), "/")?;
    }
    let mut direct = Vec::new();
    let mut proxied = Vec::new();
    for _ in 0..REQUESTS {
        let t = Instant::now();
        request(server, None, "/")?;
        direct.push(t.elapsed());
        let t = Instant::now();
        request(server, Some(proxy_addr), "/")?;
        proxied.push(t.elapsed());
    }
    let (d, p) = (Samples::new(direct), Samples::new(proxied));
    println!(
        "egress proxy, {REQUESTS} HTTP requests each on a new connection (alternating), with audit records"
    );
    println!("{}", crate::stats::added("direct", &d, "proxied", &p));
    let path = format!("/bulk/{BULK_BYTES}");
    let mut rates = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        let n = request(server, None, &path)?;
        rates.0.push(n as f64 / t.elapsed().as_secs_f64() / 1e6);
        let t = Instant::now();
        let n = request(server, Some(proxy_addr), &path).context("bulk through the proxy")?;
        rates.1.push(n as f64 / t.elapsed().as_secs_f64() / 1e6);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (rd, rp) = (median(&mut rates.0), median(&mut rates.1));
    println!(
        "  throughput, {} MiB in one response (median of 3): direct {rd:.0} MB/s, proxied {rp:.0} MB/s ({:.2}x)",
        BULK_BYTES / (1024 * 1024),
        rp / rd
    );
    drop(rt);
    Ok(())
}

/// `warden-bench egress-client SERVER N PROXY|-`: N requests on new connections (through the
/// proxy at PROXY when given), one duration in microseconds per line. Run inside a sandbox by
/// [`bridged`].
pub fn client(args: &[String]) -> Result<()> {
    let server: SocketAddr = args.get(1).context("server")?.parse()?;
    let n: usize = args.get(2).context("count")?.parse()?;
    let proxy: Option<SocketAddr> = match args.get(3).map(String::as_str) {
        Some("-") | None => None,
        Some(p) => Some(p.parse()?),
    };
    let mut out = std::io::stdout().lock();
    for _ in 0..n {
        let t = Instant::now();
        request(server, proxy, "/")?;
        writeln!(out, "{}", t.elapsed().as_nanos())?;
    }
    Ok(())
}

/// The whole path a sandboxed server's request takes: inside the sandbox to 127.0.0.1:3128,
/// init's relay to the proxy's Unix socket, the proxy (with audit records), the server; against
/// the same client outside the sandbox connecting directly. Blocks alternate.
fn bridged(warden: &Path) -> Result<()> {
    let server = http_server()?;
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("egress.sock");
    let log = warden_audit::Log::open(&dir.path().join("audit.db"), Default::default())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let report = audited(log);
        let proxy = warden_egress::Proxy::new(
            "bench",
            warden_egress::Rules::parse(&[format!("127.0.0.1:{}", server.port())])?,
            warden_egress::Resolver::System,
            report,
        );
        let listener = tokio::net::UnixListener::bind(&socket)?;
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(proxy.clone().handle(s));
            }
        });
        anyhow::Ok(())
    })?;
    let me = std::env::current_exe()?;
    let mut profile = Profile::server_default("bench");
    profile.network = warden_sandbox::Network::EgressProxy;
    profile.egress = Some(socket.clone());
    let n = (REQUESTS / 4).to_string();
    let inside_proxy = format!("127.0.0.1:{}", warden_sandbox::plan::BRIDGE_PORT);
    let times = |out: std::process::Output| -> Result<Vec<Duration>> {
        anyhow::ensure!(
            out.status.success(),
            "client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?
            .lines()
            .filter_map(|l| l.parse::<u64>().ok())
            .map(Duration::from_nanos)
            .collect())
    };
    let mut direct = Vec::new();
    let mut inside = Vec::new();
    for _ in 0..4 {
        let out = Command::new(&me)
            .args(["egress-client", &server.to_string(), &n, "-"])
            .output()?;
        direct.extend(times(out)?);
        let command = warden_sandbox::Command {
            program: me.display().to_string(),
            args: vec![
                "egress-client".into(),
                server.to_string(),
                n.clone(),
                inside_proxy.clone(),
            ],
            env: Vec::new(),
            cwd: None,
        };
        let plan = plan(&command, me.clone(), &profile, &Helper::default())?;
        let out = Command::new(warden)
            .arg("sandbox-exec")
            .arg(serde_json::to_string(&plan)?)
            .output()?;
        inside.extend(times(out)?);
    }
    let (d, i) = (Samples::new(direct), Samples::new(inside));
    println!(
        "egress from inside a sandbox (relay + proxy + audit), {} requests each on a new connection",
        REQUESTS
    );
    println!(
        "{}",
        crate::stats::added("direct outside", &d, "from the sandbox", &i)
    );
    drop(rt);
    Ok(())
}

pub fn run(warden: &Path) -> Result<()> {
    startup(warden)?;
    egress()?;
    bridged(warden)?;
    crate::inject::run()
}
