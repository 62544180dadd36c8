use std::sync::Mutex;

use base64::Engine as _;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;

use super::*;
use crate::resolve::Resolver;
use crate::rules::Rules;
use crate::secrets::Secrets;
use crate::tls::{Authority, client_config};

/// An HTTPS server on loopback whose certificate `ca` signed for `localhost`; it answers each
/// request with its head, and returns the heads it saw when its client leaves.
async fn destination(ca: &Authority) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config("localhost").unwrap());
    let task = tokio::spawn(async move {
        let mut heads = Vec::new();
        let Ok((tcp, _)) = listener.accept().await else {
            return heads;
        };
        let Ok(tls) = acceptor.accept(tcp).await else {
            return heads;
        };
        let mut tls = BufReader::new(tls);
        loop {
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if tls.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return heads;
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{head}",
                head.len()
            );
            tls.get_mut().write_all(reply.as_bytes()).await.unwrap();
            heads.push(head);
        }
    });
    (port, task)
}

struct Setup {
    proxy: Arc<Proxy>,
    events: Arc<Mutex<Vec<Event>>>,
    authority: Arc<Authority>,
}

/// A proxy allowing `localhost:port`, injecting `TOKEN` there (and `OTHER` elsewhere),
/// trusting `roots` for destinations; `record` answers for request events.
fn setup(port: u16, roots: &[&Authority], record: bool) -> Setup {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let report: crate::Report = Arc::new(move |e: Event| {
        let ok = e.request.is_none() || record;
        sink.lock().unwrap().push(e);
        Box::pin(async move { ok })
    });
    let rules = Rules::parse(&[
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ])
    .unwrap();
    let secrets = Secrets::new(vec![
        crate::Secret::new(
            "TOKEN",
            "s3cr3t-value".to_owned(),
            Rules::parse(&[format!("localhost:{port}")]).unwrap(),
        )
        .unwrap(),
        crate::Secret::new(
            "OTHER",
            "other-value".to_owned(),
            Rules::parse(&["elsewhere.test"]).unwrap(),
        )
        .unwrap(),
    ]);
    let authority = Arc::new(Authority::generate().unwrap());
    let roots: Vec<_> = roots.iter().map(|a| a.der().clone()).collect();
    let injection = Injection {
        secrets,
        authority: authority.clone(),
        upstream: client_config(&roots).unwrap(),
    };
    Setup {
        proxy: Proxy::injecting("p", rules, Resolver::System, report, Some(injection)),
        events,
        authority,
    }
}

/// Opens `CONNECT localhost:port` through the proxy; the proxy's answer and the stream.
async fn connect(p: &Arc<Proxy>, port: u16) -> (String, tokio::io::DuplexStream) {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(p.clone().handle(server));
    client
        .write_all(
            format!("CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if client.read(&mut b).await.unwrap() == 0 {
            break;
        }
        answer.push(b[0]);
    }
    (String::from_utf8(answer).unwrap(), client)
}

/// Sends `requests` over TLS trusting `trust`; the bodies of the answers, in order.
async fn exchange(
    stream: tokio::io::DuplexStream,
    trust: &Authority,
    requests: &[String],
) -> Vec<String> {
    let config = client_config(&[trust.der().clone()]).unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .unwrap();
    let mut tls = BufReader::new(tls);
    let mut bodies = Vec::new();
    for r in requests {
        tls.get_mut().write_all(r.as_bytes()).await.unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            tls.read_line(&mut line).await.unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        tls.read_exact(&mut body).await.unwrap();
        bodies.push(String::from_utf8(body).unwrap());
    }
    bodies
}

#[tokio::test]
async fn secrets_are_injected_into_requests_to_their_host_and_recorded_by_name() {
    let public = Authority::generate().unwrap();
    let (port, dest) = destination(&public).await;
    let s = setup(port, &[&public], true);
    let (answer, stream) = connect(&s.proxy, port).await;
    assert_eq!(answer, "HTTP/1.1 200 Connection Established\r\n\r\n");
    let basic = base64::engine::general_purpose::STANDARD.encode("me:warden-secret-TOKEN");
    let bodies = exchange(
        stream,
        &s.authority,
        &[
            "GET /a?key=warden-secret-TOKEN HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer warden-secret-TOKEN\r\nX-Other: warden-secret-OTHER\r\n\r\n".to_owned(),
            format!("POST /b HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {basic}\r\nContent-Length: 20\r\n\r\nwarden-secret-TOKEN!"),
        ],
    )
    .await;
    let first = bodies.first().unwrap().to_ascii_lowercase();
    assert!(
        first.starts_with("get /a?key=s3cr3t-value http/1.1\r\n"),
        "{first}"
    );
    assert!(
        first.contains("authorization: bearer s3cr3t-value\r\n"),
        "{first}"
    );
    // A secret for another host stays a placeholder.
    assert!(
        first.contains("x-other: warden-secret-other\r\n"),
        "{first}"
    );
    let expected = base64::engine::general_purpose::STANDARD.encode("me:s3cr3t-value");
    assert!(
        bodies[1].contains(&format!("Basic {expected}")),
        "{}",
        bodies[1]
    );
    drop(s.proxy);
    let heads = tokio::time::timeout(std::time::Duration::from_secs(10), dest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heads.len(), 2);
    // Wait for the tunnel's end to be reported.
    for _ in 0..200 {
        if s.events.lock().unwrap().iter().any(|e| e.closed) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let events = s.events.lock().unwrap().clone();
    let seen: Vec<_> = events.iter().filter_map(|e| e.request.clone()).collect();
    assert_eq!(
        seen,
        vec![
            RequestSeen {
                method: "GET".into(),
                target: "/a?key=warden-secret-TOKEN".into(),
                injected: vec!["TOKEN".into()],
            },
            RequestSeen {
                method: "POST".into(),
                target: "/b".into(),
                injected: vec!["TOKEN".into()],
            },
        ]
    );
    let closed = events.iter().find(|e| e.closed).unwrap();
    assert!(closed.refused.is_none() && closed.sent > 0 && closed.received > 0);
    // The body is not rewritten; no record holds the value.
    assert!(!format!("{events:?}").contains("s3cr3t-value"));
}

#[tokio::test]
async fn a_destination_that_fails_verification_gets_no_secret() {
    let public = Authority::generate().unwrap();
    let impostor = Authority::generate().unwrap();
    let (port, dest) = destination(&impostor).await;
    let s = setup(port, &[&public], true);
    let (answer, _stream) = connect(&s.proxy, port).await;
    assert!(
        answer.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
        "{answer}"
    );
    assert!(dest.await.unwrap().is_empty());
    let events = s.events.lock().unwrap().clone();
    let closed = events.iter().find(|e| e.closed).unwrap();
    assert!(
        closed
            .refused
            .as_deref()
            .unwrap()
            .contains("failed TLS verification"),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_request_the_audit_log_cannot_record_is_not_sent() {
    let public = Authority::generate().unwrap();
    let (port, dest) = destination(&public).await;
    let s = setup(port, &[&public], false);
    let (_, stream) = connect(&s.proxy, port).await;
    let bodies = exchange(
        stream,
        &s.authority,
        &[
            "GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization: warden-secret-TOKEN\r\n\r\n"
                .to_owned(),
        ],
    )
    .await;
    assert!(
        bodies[0].contains("cannot record this request"),
        "{bodies:?}"
    );
    drop(s);
    assert!(dest.await.unwrap().is_empty());
}

#[tokio::test]
async fn hosts_without_secrets_are_tunnelled_untouched() {
    let public = Authority::generate().unwrap();
    let (port, dest) = destination(&public).await;
    let mut s = setup(port, &[&public], true);
    // The same proxy with secrets only for another host.
    let rules = Rules::parse(&[
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ])
    .unwrap();
    let injection = Injection {
        secrets: Secrets::new(vec![
            crate::Secret::new(
                "OTHER",
                "v".into(),
                Rules::parse(&["elsewhere.test"]).unwrap(),
            )
            .unwrap(),
        ]),
        authority: s.authority.clone(),
        upstream: client_config(&[public.der().clone()]).unwrap(),
    };
    let report: crate::Report = Arc::new(|_| Box::pin(async { true }));
    s.proxy = Proxy::injecting("p", rules, Resolver::System, report, Some(injection));
    let (_, stream) = connect(&s.proxy, port).await;
    // The sandbox sees the destination's own certificate.
    let bodies = exchange(
        stream,
        &public,
        &[
            "GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization: warden-secret-OTHER\r\n\r\n"
                .to_owned(),
        ],
    )
    .await;
    assert!(
        bodies[0].contains("Authorization: warden-secret-OTHER"),
        "{bodies:?}"
    );
    drop(s);
    drop(dest);
}
