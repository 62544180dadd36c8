//! A `CONNECT` tunnel Warden decrypts because secrets are to be injected into it: the
//! destination's certificate is verified against the system's roots before the sandbox gets
//! its `200`; the sandbox then talks TLS to a certificate for the same host signed by Warden's
//! authority, and every HTTP/1.1 request is rewritten (placeholders → values), recorded, and
//! sent on over the verified connection.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::proxy::{Event, Injection, Proxy, RequestSeen, respond};
use crate::secrets::{Secret, inject};

type Body = BoxBody<Bytes, hyper::Error>;

/// Serves a tunnel to `upstream` (already checked, connected and recorded) whose requests get
/// `secrets`; reports its end.
pub(crate) async fn serve<S>(
    proxy: &Arc<Proxy>,
    injection: &Injection,
    secrets: Vec<Arc<Secret>>,
    mut client: S,
    upstream: TcpStream,
    early: Vec<u8>,
    mut event: Event,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let counts = Arc::new(Counts::default());
    let host = event.host.clone();
    let outcome = async {
        if !early.is_empty() {
            return Err((
                400,
                "warden egress: send the TLS handshake after the CONNECT answer".to_owned(),
            ));
        }
        let name = crate::tls::server_name(&host).map_err(|e| (400, e.to_string()))?;
        let counted = Counted {
            inner: upstream,
            counts: counts.clone(),
        };
        let verified = tokio_rustls::TlsConnector::from(injection.upstream.clone())
            .connect(name, counted)
            .await
            .map_err(|e| {
                (
                    502,
                    format!("warden egress: `{host}` failed TLS verification: {e}"),
                )
            })?;
        let server = injection
            .authority
            .server_config(&host)
            .map_err(|e| (502, format!("warden egress: {e}")))?;
        Ok((verified, server))
    }
    .await;
    let (verified, server) = match outcome {
        Ok(v) => v,
        Err((status, why)) => {
            let _ = respond(&mut client, status, &why).await;
            event.refused = Some(why);
            finish(proxy, event, &counts).await;
            return;
        }
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        finish(proxy, event, &counts).await;
        return;
    }
    let Ok(decrypted) = tokio_rustls::TlsAcceptor::from(server).accept(client).await else {
        event.refused = Some("the sandbox did not complete TLS with Warden's authority".into());
        finish(proxy, event, &counts).await;
        return;
    };
    // Header names keep their case both ways: the proxy is not to be noticed.
    let Ok((sender, connection)) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake::<_, Incoming>(TokioIo::new(verified))
        .await
    else {
        finish(proxy, event, &counts).await;
        return;
    };
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let base = event.clone();
    let proxy_ = proxy.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (proxy, secrets, sender, base) = (
            proxy_.clone(),
            secrets.clone(),
            sender.clone(),
            base.clone(),
        );
        async move { Ok::<_, Infallible>(forward(&proxy, &secrets, &sender, base, request).await) }
    });
    let serving = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(decrypted), service);
    let (_, _) = tokio::join!(serving, connection);
    finish(proxy, event, &counts).await;
}

/// One request: rewritten, recorded (refused when it cannot be), sent on.
async fn forward(
    proxy: &Proxy,
    secrets: &[Arc<Secret>],
    sender: &tokio::sync::Mutex<SendRequest<Incoming>>,
    mut event: Event,
    request: Request<Incoming>,
) -> Response<Body> {
    let (mut parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let method = parts.method.to_string();
    let injected = match inject(&mut parts, secrets) {
        Ok(names) => names,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("warden egress: {e}")),
    };
    event.request = Some(RequestSeen {
        method,
        target,
        injected,
    });
    if !proxy.report(event).await {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "warden egress: the audit log cannot record this request",
        );
    }
    let mut sender = sender.lock().await;
    let sent = match sender.ready().await {
        Ok(()) => sender.send_request(Request::from_parts(parts, body)).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(response) => response.map(BodyExt::boxed),
        Err(e) => text(StatusCode::BAD_GATEWAY, &format!("warden egress: {e}")),
    }
}

fn text(status: StatusCode, why: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(format!("{why}\n")))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

async fn finish(proxy: &Proxy, mut event: Event, counts: &Counts) {
    event.sent = counts.sent.load(Ordering::Relaxed);
    event.received = counts.received.load(Ordering::Relaxed);
    event.closed = true;
    proxy.report(event).await;
}

/// Bytes written to and read from the destination.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    received: AtomicU64,
}

/// A stream that counts what passes.
struct Counted<T> {
    inner: T,
    counts: Arc<Counts>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before) as u64;
        self.counts.received.fetch_add(read, Ordering::Relaxed);
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.counts.sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "intercept_tests.rs"]
mod tests;
