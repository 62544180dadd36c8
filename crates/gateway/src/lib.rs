//! `warden serve`: one Streamable HTTP endpoint for many agents and many upstream servers.
//!
//! - [`http`]: the HTTP face and the order of checks every request passes;
//! - [`session`]: agent contexts, namespacing, fan-out and routing across upstreams;
//! - [`link`]: one upstream inside a context, driven through Warden's governed proxy;
//! - [`upstream_http`]: remote Streamable HTTP upstreams behind a pipe;
//! - [`streams`]: SSE streams with event ids and resumption;
//! - [`auth`]: bearer tokens (Warden's own and external providers') and challenges;
//! - [`api`]: OAuth metadata, token exchange, `/v1/decide`, `/v1/scan`;
//! - [`console`]: the web console for approvers (`/console`).

#![allow(
    clippy::result_large_err,
    reason = "refusals are axum responses returned by value on a cold path; boxing them buys nothing"
)]

mod api;
pub mod auth;
mod console;
mod core;
mod http;
mod link;
mod names;
mod openapi;
mod session;
mod settings;
mod streams;
mod upstream_http;

use std::future::IntoFuture;
use std::sync::Arc;

pub use auth::ExternalIssuer;
pub use http::MCP_PATH;
pub use settings::{NAME_SEPARATOR, Settings, Transport, UpstreamSettings, valid_upstream_name};

/// Serves until `shutdown` resolves. The listener is bound by the caller (so it can print the
/// real port before serving). Best on a single-threaded runtime: see `serve_per_thread`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: Settings,
    engine: Arc<warden_policy::Engine>,
    audit: warden_audit::Log,
    store: Arc<warden_identity::Store>,
    external: Vec<ExternalIssuer>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let core = core::Core::new(settings, engine, audit, store, external)?;
    let app = http::router(core);
    serve_per_thread(listener, app, shutdown).await
}

/// How long requests in flight may finish after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Connections handed to one serving thread.
struct Handed {
    connections: tokio::sync::mpsc::UnboundedReceiver<std::net::TcpStream>,
    addr: std::net::SocketAddr,
}

impl axum::serve::Listener for Handed {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some(stream) = self.connections.recv().await else {
                return std::future::pending().await;
            };
            let peer = stream.peer_addr();
            match (tokio::net::TcpStream::from_std(stream), peer) {
                (Ok(io), Ok(peer)) => return (io, peer),
                (Err(e), _) | (_, Err(e)) => tracing::warn!("cannot take a connection: {e}"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

/// An accepted connection made ready to hand to a serving thread. Nagle's algorithm is
/// turned off: an answer streamed as several events (progress, then the result) is written
/// piece by piece, and with it on every piece after the first waited for the agent's delayed
/// acknowledgement, 40 ms on Linux.
fn taken(stream: tokio::net::TcpStream) -> std::io::Result<std::net::TcpStream> {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("cannot turn Nagle's algorithm off on a connection: {e}");
    }
    stream.into_std()
}

/// Serves with one thread per CPU, each a single-threaded runtime serving the connections
/// handed to it in turn; the caller's thread only accepts (and runs what was started before
/// serving: reapers, watches, egress proxies). A legacy session's calls, on the connection
/// that opened it, then keep their hops between tasks (HTTP handler, session, proxy, upstream
/// client, and back) on one thread, as do the pooled upstream connections they use
/// ([`core::Core::upstream_client`]); on a shared multi-threaded runtime each hop could wake
/// the other thread. A context's links run on the thread that first used them, so a modern
/// agent's calls arriving on other threads' connections cross over to it and back.
///
/// After `shutdown`, no connection is accepted and requests in flight get [`SHUTDOWN_GRACE`];
/// streams (SSE, held calls) never finish by themselves, so the server then stops anyway.
/// Every thread keeps its runtime (and the links on it, which other threads' calls may be
/// using) until all have stopped serving or the grace is over; then every thread stops
/// serving (closing what is still open), shuts its runtime down and is waited for.
async fn serve_per_thread(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let addr = listener
        .local_addr()
        .map_err(|e| format!("the listener has no address: {e}"))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (release, released) = tokio::sync::watch::channel(false);
    let mut hand = Vec::new();
    let mut finished = Vec::new();
    let mut exits = Vec::new();
    for i in 0..threads {
        let (to, from) = tokio::sync::mpsc::unbounded_channel();
        let (done, finish) = tokio::sync::oneshot::channel();
        let (exited, exit) = tokio::sync::oneshot::channel();
        let (app, mut stopped, mut released) = (app.clone(), stopped.clone(), released.clone());
        std::thread::Builder::new()
            .name(format!("warden-serve-{i}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let why = format!("serving thread {i} has no runtime: {e}");
                        tracing::error!("{why}");
                        let _ = done.send(Err(why));
                        let _ = exited.send(());
                        return;
                    }
                };
                rt.block_on(async move {
                    let serving = axum::serve(
                        Handed {
                            connections: from,
                            addr,
                        },
                        app,
                    )
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .into_future();
                    // Released before it is done (a stream still open when the grace is
                    // over): stops anyway.
                    let served = tokio::select! {
                        r = serving => r.map_err(|e| format!("the HTTP server failed: {e}")),
                        _ = released.wait_for(|r| *r) => Ok(()),
                    };
                    if let Err(e) = &served {
                        tracing::error!("serving thread {i}: {e}");
                    }
                    let _ = done.send(served);
                    let _ = released.wait_for(|r| *r).await;
                });
                rt.shutdown_timeout(SHUTDOWN_GRACE);
                let _ = exited.send(());
            })
            .map_err(|e| format!("cannot start a serving thread: {e}"))?;
        hand.push(to);
        finished.push(finish);
        exits.push(exit);
    }
    let mut accepting = stopped.clone();
    let accept = async move {
        let mut next = 0usize;
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = accepting.wait_for(|s| *s) => break,
            };
            match accepted {
                Ok((stream, _)) => {
                    let Ok(mut stream) = taken(stream) else {
                        continue;
                    };
                    // A thread that stopped (its runtime failed) passes its turn on.
                    for to in hand.iter().cycle().skip(next % hand.len()).take(hand.len()) {
                        match to.send(stream) {
                            Ok(()) => break,
                            Err(back) => stream = back.0,
                        }
                    }
                    next = next.wrapping_add(1);
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
        // New connections are refused from here on.
        drop(listener);
        std::future::pending::<()>().await;
    };
    let all = async move {
        let mut result = Ok(());
        for finish in finished {
            let theirs = finish
                .await
                .unwrap_or_else(|_| Err("a serving thread stopped".to_owned()));
            result = result.and(theirs);
        }
        result
    };
    let deadline = async move {
        shutdown.await;
        let _ = stop.send(true);
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let result = tokio::select! {
        r = all => r,
        () = accept => Ok(()),
        () = deadline => Ok(()),
    };
    let _ = release.send(true);
    let exited = async move {
        for exit in exits {
            let _ = exit.await;
        }
    };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE * 2, exited).await;
    result
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn accepted_connections_do_not_wait_to_coalesce_writes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(!accepted.nodelay().unwrap(), "Nagle is on by default");
        let taken = super::taken(accepted).unwrap();
        assert!(taken.nodelay().unwrap());
        drop(client);
    }
}
