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
/// real port before serving).
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
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    // Streams (SSE, held calls) never finish by themselves: after the signal, requests in
    // flight get a grace period, then the server stops anyway.
    let deadline = async move {
        if stopping.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = server.into_future() => r.map_err(|e| format!("the HTTP server failed: {e}")),
        () = deadline => Ok(()),
    }
}

/// How long requests in flight may finish after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
