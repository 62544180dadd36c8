//! Secret injection's cost per request: HTTPS requests on one kept-alive connection to a
//! loopback server, directly (the client holds the secret) and through the egress proxy's
//! decrypted tunnel (the client sends the placeholder; the proxy verifies the server, rewrites
//! the request, records it in the audit log, acknowledged, and relays it). Blocks alternate.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use warden_egress::tls::client_config;
use warden_egress::{Authority, Injection, Proxy, Resolver, Rules, Secret, Secrets};

use crate::stats::Samples;

const BLOCKS: usize = 4;
const PER_BLOCK: usize = 500;
const SECRET: &str = "bench-secret-value-0123456789";

/// A keep-alive HTTPS server for `localhost` with a certificate from `ca`.
async fn server(ca: &Authority) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config("localhost")?);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut tls = BufReader::new(tls);
                loop {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if tls.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if tls.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

type Client = BufReader<tokio_rustls::client::TlsStream<TcpStream>>;

/// TLS to `localhost` over `tcp`, trusting `ca`.
async fn tls(tcp: TcpStream, ca: &Authority) -> Result<Client> {
    let name = rustls_name()?;
    let stream = tokio_rustls::TlsConnector::from(client_config(&[ca.der().clone()])?)
        .connect(name, tcp)
        .await?;
    Ok(BufReader::new(stream))
}

fn rustls_name() -> Result<tokio_rustls::rustls::pki_types::ServerName<'static>> {
    Ok(tokio_rustls::rustls::pki_types::ServerName::try_from(
        "localhost",
    )?)
}

/// One request with `token` in its header; waits for the whole answer.
async fn request(c: &mut Client, token: &str) -> Result<()> {
    let head = format!(
        "GET /v1/items HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    c.get_mut().write_all(head.as_bytes()).await?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        anyhow::ensure!(c.read_line(&mut line).await? > 0, "connection closed");
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.trim().parse()?;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    c.read_exact(&mut body).await?;
    Ok(())
}

pub fn run() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = warden_audit::Log::open(&dir.path().join("audit.db"), Default::default())?;
    let public = Arc::new(Authority::generate()?);
    let background = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (port, proxy_addr, authority) = background.block_on({
        let public = public.clone();
        async move {
            let port = server(&public).await?;
            let authority = Arc::new(Authority::generate()?);
            let only = |entries: &[String]| Rules::parse(entries);
            let injection = Injection {
                secrets: Secrets::new(vec![Secret::new(
                    "TOKEN",
                    SECRET.to_owned(),
                    only(&[format!("localhost:{port}")])?,
                )?]),
                authority: authority.clone(),
                upstream: client_config(&[public.der().clone()])?,
            };
            let proxy = Proxy::injecting(
                "bench",
                only(&[
                    format!("localhost:{port}"),
                    format!("127.0.0.1:{port}"),
                    format!("[::1]:{port}"),
                ])?,
                Resolver::System,
                crate::sandbox::audited(log),
                Some(injection),
            );
            let addr = crate::sandbox::listen(proxy).await?;
            anyhow::Ok((port, addr, authority))
        }
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (direct, injected) = rt.block_on(async {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let mut direct_client = tls(tcp, &public).await?;
        let mut tcp = TcpStream::connect(proxy_addr).await?;
        tcp.set_nodelay(true)?;
        tcp.write_all(format!("CONNECT localhost:{port} HTTP/1.1\r\n\r\n").as_bytes())
            .await?;
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\n") {
            answer.push(tcp.read_u8().await?);
        }
        anyhow::ensure!(answer.starts_with(b"HTTP/1.1 200"), "the proxy refused");
        let mut injected_client = tls(tcp, &authority).await?;
        let placeholder = warden_egress::secrets::placeholder("TOKEN");
        for _ in 0..100 {
            request(&mut direct_client, SECRET).await?;
            request(&mut injected_client, &placeholder).await?;
        }
        let (mut direct, mut injected) = (Vec::new(), Vec::new());
        for _ in 0..BLOCKS {
            for _ in 0..PER_BLOCK {
                let t = Instant::now();
                request(&mut direct_client, SECRET).await?;
                direct.push(t.elapsed());
            }
            for _ in 0..PER_BLOCK {
                let t = Instant::now();
                request(&mut injected_client, &placeholder)
                    .await
                    .context("through the injecting proxy")?;
                injected.push(t.elapsed());
            }
        }
        anyhow::Ok((direct, injected))
    })?;
    let (d, i) = (Samples::new(direct), Samples::new(injected));
    println!(
        "secret injection, {} HTTPS requests a side on one kept-alive connection ({BLOCKS} alternating blocks), each injected request recorded",
        BLOCKS * PER_BLOCK
    );
    println!("{}", crate::stats::added("direct", &d, "injected", &i));
    drop(rt);
    drop(background);
    Ok(())
}
