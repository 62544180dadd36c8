//! The egress proxy: HTTP/1.1 `CONNECT host:port` tunnels (HTTPS and anything else over TCP)
//! and absolute-form plain-HTTP requests. Each connection is checked against the profile's
//! [`Rules`] twice (the name and port; then every address Warden resolved it to), connected to
//! exactly the address checked, and reported once with its outcome and byte counts.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::resolve::Resolver;
use crate::rules::{Refusal, Rules};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to the destination may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection through the proxy, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The profile whose rules applied.
    pub profile: String,
    /// `CONNECT`, or the plain-HTTP method.
    pub method: String,
    /// Destination host as asked.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// The address connected to (or refused).
    pub addr: Option<IpAddr>,
    /// `None` when allowed; the reason when refused or failed.
    pub refused: Option<String>,
    /// Bytes from the sandbox to the destination.
    pub sent: u64,
    /// Bytes from the destination to the sandbox.
    pub received: u64,
    /// `false` for the decision (reported before any byte flows), `true` for the end of an
    /// allowed connection.
    pub closed: bool,
    /// For a request in a tunnel Warden decrypts to inject secrets: what it asked for
    /// (reported, and recorded, before the request goes on).
    pub request: Option<RequestSeen>,
}

/// A request in a decrypted tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSeen {
    /// Its method.
    pub method: String,
    /// Its target as the sandbox sent it (placeholders, never values).
    pub target: String,
    /// Names of the secrets put in place of their placeholders.
    pub injected: Vec<String>,
}

/// Secret injection for one profile: the secrets, the authority whose certificates the
/// sandbox trusts, and how the real destinations are verified.
#[derive(Debug)]
pub struct Injection {
    /// The secrets and where each may go.
    pub secrets: crate::secrets::Secrets,
    /// Signs the certificates the sandbox sees.
    pub authority: Arc<crate::tls::Authority>,
    /// Verifies the destinations.
    pub upstream: Arc<rustls::ClientConfig>,
}

/// Where events go (the audit log). The answer to a decision event says whether it was
/// recorded; an allowed connection whose decision could not be recorded is refused.
pub type Report = Arc<
    dyn Fn(Event) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
        + Send
        + Sync,
>;

/// One profile's proxy.
pub struct Proxy {
    profile: String,
    rules: Rules,
    resolver: Resolver,
    report: Report,
    injection: Option<Injection>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("profile", &self.profile)
            .finish()
    }
}

/// What the client asked for.
struct Ask {
    method: String,
    host: String,
    port: u16,
    /// For plain HTTP: the request head to send on, in origin form.
    forward: Option<Vec<u8>>,
}

impl Proxy {
    /// A proxy for `profile` with `rules`, resolving with `resolver`, reporting to `report`.
    pub fn new(profile: &str, rules: Rules, resolver: Resolver, report: Report) -> Arc<Self> {
        Self::injecting(profile, rules, resolver, report, None)
    }

    /// [`Self::new`], injecting secrets into the requests to their hosts.
    pub fn injecting(
        profile: &str,
        rules: Rules,
        resolver: Resolver,
        report: Report,
        injection: Option<Injection>,
    ) -> Arc<Self> {
        Arc::new(Self {
            profile: profile.to_owned(),
            rules,
            resolver,
            report,
            injection: injection.filter(|i| !i.secrets.is_empty()),
        })
    }

    /// Reports `event`; whether it was recorded.
    pub(crate) async fn report(&self, event: Event) -> bool {
        (self.report)(event).await
    }

    /// The rules this proxy applies.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Serves one client connection to its end.
    pub async fn handle<S>(self: Arc<Self>, mut client: S)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (head, rest) = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await {
            Ok(Ok(h)) => h,
            Ok(Err(status)) => {
                let _ = respond(&mut client, status, "unreadable request").await;
                return;
            }
            Err(_) => return,
        };
        let ask = match parse(&head) {
            Ok(a) => a,
            Err(why) => {
                let _ = respond(&mut client, 400, why).await;
                return;
            }
        };
        let mut event = Event {
            profile: self.profile.clone(),
            method: ask.method.clone(),
            host: ask.host.clone(),
            port: ask.port,
            addr: None,
            refused: None,
            sent: 0,
            received: 0,
            closed: false,
            request: None,
        };
        let opened = self.open(&ask, &mut event).await;
        if let Err((_, why)) = &opened {
            event.refused = Some(why.clone());
        }
        let recorded = self.report(event.clone()).await;
        let mut upstream = match opened {
            Ok(s) if recorded => s,
            Ok(_) => {
                let why = "warden egress: the audit log cannot record this connection";
                let _ = respond(&mut client, 503, why).await;
                return;
            }
            Err((status, why)) => {
                let _ = respond(&mut client, status, &why).await;
                return;
            }
        };
        if let (None, Some(injection)) = (&ask.forward, &self.injection) {
            let secrets = injection.secrets.for_destination(&ask.host, ask.port);
            if !secrets.is_empty() {
                crate::intercept::serve(&self, injection, secrets, client, upstream, rest, event)
                    .await;
                return;
            }
        }
        let started = match &ask.forward {
            None => client
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .is_ok(),
            Some(head) => upstream.write_all(head).await.is_ok(),
        };
        if started && (rest.is_empty() || upstream.write_all(&rest).await.is_ok()) {
            let pre = rest.len() as u64 + ask.forward.as_ref().map_or(0, |h| h.len() as u64);
            if let Ok((up, down)) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
            {
                event.sent = up + pre;
                event.received = down;
            }
        }
        event.closed = true;
        self.report(event).await;
    }

    /// Checks `ask` and connects to the first allowed address.
    async fn open(&self, ask: &Ask, event: &mut Event) -> Result<TcpStream, (u16, String)> {
        let refused = |r: Refusal| (403, format!("warden egress: {r}"));
        self.rules
            .allows_name(&ask.host, ask.port)
            .map_err(refused)?;
        // Resolve the name as it was checked (punycode, lower case), not as it was spelled.
        let name = crate::rules::normalize(&ask.host).unwrap_or_else(|| ask.host.clone());
        let addrs = self.resolver.lookup(&name).await.map_err(|why| {
            refused(Refusal::Unresolved {
                host: ask.host.clone(),
                why,
            })
        })?;
        // Every answer must pass: an answer that mixes a public and a private address is a
        // rebinding attempt, not a choice.
        for addr in &addrs {
            if let Err(r) = self.rules.allows_addr(&ask.host, *addr, ask.port) {
                event.addr = Some(*addr);
                return Err(refused(r));
            }
        }
        let mut last = String::from("no address");
        for addr in addrs {
            event.addr = Some(addr);
            match tokio::time::timeout(
                CONNECT_TIMEOUT,
                TcpStream::connect(SocketAddr::new(addr, ask.port)),
            )
            .await
            {
                Ok(Ok(s)) => {
                    // What the client wrote goes on as it came: the client's own stack already
                    // decided how to coalesce it, and Nagle here would hold each small write
                    // after the first for the server's delayed acknowledgement.
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "timed out".to_owned(),
            }
        }
        Err((
            502,
            format!(
                "warden egress: cannot connect to `{}:{}`: {last}",
                ask.host, ask.port
            ),
        ))
    }
}

/// Reads up to the end of the request head; returns the head and whatever followed it.
async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> Result<(Vec<u8>, Vec<u8>), u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        match buf.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) if end + 4 <= MAX_HEAD => {
                let rest = buf.split_off(end + 4);
                return Ok((buf, rest));
            }
            Some(_) => return Err(431),
            None if buf.len() > MAX_HEAD => return Err(431),
            None => {}
        }
        let n = s.read(&mut chunk).await.map_err(|_| 400u16)?;
        if n == 0 {
            return Err(400);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// What a request head asks for: method, host and port (for fuzzing and diagnostics).
pub fn destination(head: &[u8]) -> Result<(String, String, u16), &'static str> {
    parse(head).map(|a| (a.method, a.host, a.port))
}

/// Understands a request head.
fn parse(head: &[u8]) -> Result<Ask, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("malformed request"),
    }
    let method = req.method.ok_or("malformed request")?.to_owned();
    let target = req.path.ok_or("malformed request")?;
    if method == "CONNECT" {
        let (host, port) = target.rsplit_once(':').ok_or("CONNECT needs host:port")?;
        let port: u16 = port.parse().map_err(|_| "CONNECT needs host:port")?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        return Ok(Ask {
            method,
            host: host.to_owned(),
            port,
            forward: None,
        });
    }
    let url =
        url::Url::parse(target).map_err(|_| "a proxy request needs an absolute http:// URL")?;
    if url.scheme() != "http" {
        return Err("only http:// is proxied as a request; use CONNECT for https");
    }
    let host = url.host_str().ok_or("no host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().ok_or("no port")?;
    let mut path = url.path().to_owned();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    let mut forward = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if name.starts_with("proxy-") || name == "connection" || name == "keep-alive" {
            continue;
        }
        forward.extend_from_slice(h.name.as_bytes());
        forward.extend_from_slice(b": ");
        forward.extend_from_slice(h.value);
        forward.extend_from_slice(b"\r\n");
    }
    // One request per connection: a second one could name another host.
    forward.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok(Ask {
        method,
        host,
        port,
        forward: Some(forward),
    })
}

pub(crate) async fn respond<S: AsyncWrite + Unpin>(
    s: &mut S,
    status: u16,
    why: &str,
) -> std::io::Result<()> {
    let reason = match status {
        403 => "Forbidden",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        502 => "Bad Gateway",
        _ => "Bad Request",
    };
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}\n",
        why.len() + 1
    );
    s.write_all(text.as_bytes()).await?;
    s.shutdown().await
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
