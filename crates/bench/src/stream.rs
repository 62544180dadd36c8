//! Streamed answers through `warden serve` (`warden-bench stream --warden W [--against OLD]`):
//! a tool call whose stdio upstream reports progress five times before answering reaches an
//! agent that accepts SSE as six events, written one after another on its connection; the same
//! call without a progress token comes back as one JSON body. Both are timed whole, from the
//! request's first byte to the answer's last, in alternating rounds on one session per build;
//! with `--against`, both builds' gateways run the newer build's demo server.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::gateway::{Kill, Setup, Target, open_session, post};
use crate::http1::Conn;
use crate::stats::Samples;

/// Calls of each kind per round.
const CALLS: usize = 40;
/// Rounds per build.
const ROUNDS: usize = 5;
/// Progress notifications the upstream sends before each streamed answer.
const STEPS: u64 = 5;

/// One build's gateway in front of the demo server over stdio, and an initialized session.
struct Side {
    _setup: Setup,
    _gateway: Kill,
    conn: Conn,
    auth: String,
    session: String,
    streamed: Vec<Duration>,
    whole: Vec<Duration>,
}

impl Side {
    /// `warden`'s gateway in front of `demo`'s demo server.
    async fn start(warden: &Path, demo: &Path) -> Result<Self> {
        let setup = Setup::stdio(warden, demo)?;
        let (gateway, Target { url, token, .. }) = setup.through(warden, false)?;
        let auth = format!("Bearer {}", token.context("a token")?);
        let mut conn = Conn::connect(&url).await?;
        let session = open_session(&mut conn, &auth).await?;
        Ok(Self {
            _setup: setup,
            _gateway: gateway,
            conn,
            auth,
            session,
            streamed: Vec::new(),
            whole: Vec::new(),
        })
    }

    /// One call; with `progress`, the upstream reports progress first and the answer streams.
    async fn call(&mut self, id: usize, progress: bool) -> Result<Duration> {
        let arguments = json!({"text": "streamed", "progress": STEPS});
        let params = if progress {
            json!({"name": "demo__echo", "arguments": arguments, "_meta": {"progressToken": id}})
        } else {
            json!({"name": "demo__echo", "arguments": arguments})
        };
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let started = Instant::now();
        let answer = post(
            &mut self.conn,
            Some(&self.auth),
            Some(&self.session),
            &body.to_string(),
            None,
        )
        .await?;
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&answer.body);
        let events = text.matches("notifications/progress").count() as u64;
        anyhow::ensure!(
            answer.status == 200
                && text.contains("streamed")
                && events == if progress { STEPS } else { 0 },
            "unexpected answer ({}): {text}",
            answer.status
        );
        Ok(took)
    }

    async fn round(&mut self, first_id: usize) -> Result<()> {
        for i in 0..CALLS {
            let id = first_id + 2 * i;
            let streamed = self.call(id, true).await?;
            self.streamed.push(streamed);
            let whole = self.call(id + 1, false).await?;
            self.whole.push(whole);
        }
        Ok(())
    }
}

pub fn run(warden: &Path, against: Option<&Path>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Both builds in front of the newer build's demo server.
        let mut sides = vec![(warden, Side::start(warden, warden).await?)];
        if let Some(old) = against {
            sides.push((old, Side::start(old, warden).await?));
        }
        for round in 0..ROUNDS {
            for (_, side) in &mut sides {
                side.round(1 + round * 2 * CALLS).await?;
            }
        }
        println!(
            "tools/call through `warden serve` to a stdio upstream, one session per build, {ROUNDS} alternating rounds of {CALLS} calls of each kind"
        );
        println!(
            "| build | streamed ({STEPS} progress events, then the answer) p50 | p99 | one JSON answer p50 | p99 |"
        );
        println!("|---|---|---|---|---|");
        for (binary, side) in sides {
            let streamed = Samples::new(side.streamed);
            let whole = Samples::new(side.whole);
            println!(
                "| {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs |",
                binary.display(),
                streamed.pct(50.0),
                streamed.pct(99.0),
                whole.pct(50.0),
                whole.pct(99.0)
            );
        }
        Ok(())
    })
}
