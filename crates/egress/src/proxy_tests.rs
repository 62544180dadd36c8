use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use super::*;

/// A proxy with `rules`, and the events it reports.
fn proxy(rules: &[&str], resolver: Resolver) -> (Arc<Proxy>, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let report: Report = Arc::new(move |e| {
        sink.lock().unwrap().push(e);
        Box::pin(async { true })
    });
    (
        Proxy::new("p", Rules::parse(rules).unwrap(), resolver, report),
        events,
    )
}

/// A TCP server on loopback answering every connection with `reply` after reading a line.
async fn destination(reply: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = vec![0u8; 4096];
        let n = s.read(&mut got).await.unwrap();
        got.truncate(n);
        s.write_all(reply).await.unwrap();
        s.shutdown().await.unwrap();
        got
    });
    (addr, task)
}

/// Sends `request` through the proxy; returns everything the client got back.
async fn through(p: Arc<Proxy>, request: &[u8]) -> String {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let task = tokio::spawn(p.handle(server));
    client.write_all(request).await.unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    drop(client);
    task.await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn an_allowed_tunnel_carries_bytes_and_is_reported() {
    let (addr, dest) = destination(b"pong").await;
    let (p, events) = proxy(&[&format!("127.0.0.1:{}", addr.port())], Resolver::System);
    let out = through(
        p,
        format!("CONNECT {addr} HTTP/1.1\r\nHost: {addr}\r\n\r\nping").as_bytes(),
    )
    .await;
    assert_eq!(out, "HTTP/1.1 200 Connection Established\r\n\r\npong");
    assert_eq!(dest.await.unwrap(), b"ping");
    let e = events.lock().unwrap().clone();
    let opened = Event {
        profile: "p".to_owned(),
        method: "CONNECT".to_owned(),
        host: "127.0.0.1".to_owned(),
        port: addr.port(),
        addr: Some(addr.ip()),
        refused: None,
        sent: 0,
        received: 0,
        closed: false,
        request: None,
    };
    let closed = Event {
        sent: 4,
        received: 4,
        closed: true,
        ..opened.clone()
    };
    assert_eq!(e, vec![opened, closed]);
}

#[tokio::test]
async fn loopback_and_unlisted_destinations_are_refused_with_the_reason() {
    let (addr, _dest) = destination(b"never").await;
    let (p, events) = proxy(&["example.com"], Resolver::System);
    let out = through(
        p.clone(),
        format!("CONNECT {addr} HTTP/1.1\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{out}");
    assert!(
        out.ends_with(&format!(
            "warden egress: `127.0.0.1:{}` is not on the egress allow-list\n",
            addr.port()
        )),
        "{out}"
    );
    let out = through(
        p,
        b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{out}");
    let e = events.lock().unwrap().clone();
    assert_eq!(e.len(), 2);
    assert!(e.iter().all(|e| e.refused.is_some() && e.sent == 0));
}

#[tokio::test]
async fn a_connection_the_audit_log_cannot_record_is_refused() {
    let (addr, _dest) = destination(b"never").await;
    let report: Report = Arc::new(|_| Box::pin(async { false }));
    let p = Proxy::new(
        "p",
        Rules::parse(&[format!("127.0.0.1:{}", addr.port())]).unwrap(),
        Resolver::System,
        report,
    );
    let out = through(p, format!("CONNECT {addr} HTTP/1.1\r\n\r\n").as_bytes()).await;
    assert!(
        out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{out}"
    );
}

#[tokio::test]
async fn plain_http_is_forwarded_in_origin_form_one_request_per_connection() {
    let (addr, dest) = destination(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").await;
    let (p, _) = proxy(&[&format!("127.0.0.1:{}", addr.port())], Resolver::System);
    let out = through(
        p,
        format!("GET http://{addr}/a/b?c=d HTTP/1.1\r\nHost: {addr}\r\nProxy-Authorization: x\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(out.ends_with("\r\n\r\nhi"), "{out}");
    let sent = String::from_utf8(dest.await.unwrap()).unwrap();
    assert_eq!(
        sent,
        format!("GET /a/b?c=d HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let (p, _) = proxy(&["example.com"], Resolver::System);
    for (request, status) in [
        (b"NONSENSE\r\n\r\n".to_vec(), "400"),
        (b"CONNECT example.com HTTP/1.1\r\n\r\n".to_vec(), "400"),
        (b"GET /relative HTTP/1.1\r\n\r\n".to_vec(), "400"),
        (b"GET https://example.com/ HTTP/1.1\r\n\r\n".to_vec(), "400"),
        (
            [
                b"GET http://example.com/ HTTP/1.1\r\nX: ".to_vec(),
                vec![b'a'; 20_000],
                b"\r\n\r\n".to_vec(),
            ]
            .concat(),
            "431",
        ),
    ] {
        let out = through(p.clone(), &request).await;
        assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{out}");
    }
}

/// A DNS server on loopback answering every A question with `answer`.
async fn dns(answer: [u8; 4]) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let q = &buf[..n];
            // Header: same id, response + recursion available, one question, one answer.
            let mut r = vec![q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
            let end = 12 + q[12..].iter().position(|b| *b == 0).unwrap() + 5;
            r.extend_from_slice(&q[12..end]);
            let qtype = u16::from_be_bytes([q[end - 4], q[end - 3]]);
            if qtype == 1 {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]);
                r.extend_from_slice(&answer);
            }
            let _ = socket.send_to(&r, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn an_allowed_name_rebinding_to_loopback_is_refused() {
    let (dest, _task) = destination(b"secret").await;
    let server = dns([127, 0, 0, 1]).await;
    let (p, events) = proxy(
        &[&format!("rebind.test:{}", dest.port())],
        Resolver::server(server).unwrap(),
    );
    let out = through(
        p,
        format!("CONNECT rebind.test:{} HTTP/1.1\r\n\r\n", dest.port()).as_bytes(),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{out}");
    assert!(
        out.contains("`rebind.test` resolves to 127.0.0.1, a loopback address"),
        "{out}"
    );
    assert_eq!(
        events.lock().unwrap()[0].addr,
        Some("127.0.0.1".parse().unwrap())
    );
}
