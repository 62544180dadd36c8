//! The console's views of the audit log: live activity (server-sent events read from the
//! audit file, so `warden mcp` processes sharing it show up too), the audit browser with the
//! chain's status and export, and alerts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use warden_audit::{Reader, Record};
use warden_types::AuditKind;

use super::pages::{self, Chain, Tab};
use super::{data, me, page, problem};
use crate::core::Core;

/// How often live activity looks for new records.
const LIVE_POLL: Duration = Duration::from_millis(400);
/// Rows per audit page.
const PAGE: i64 = 50;
/// Records scanned for alerts.
const ALERT_WINDOW: i64 = 5000;
/// How long a chain verification result is reused.
const VERIFY_TTL: Duration = Duration::from_secs(5);

/// Opens the audit file read-only and runs `f` on it off the async threads.
async fn read_log<T: Send + 'static>(
    core: &Core,
    f: impl FnOnce(&Reader) -> warden_audit::Result<T> + Send + 'static,
) -> Result<T, String> {
    let reader = Reader::open(core.audit.path()).map_err(|e| e.to_string())?;
    match tokio::task::spawn_blocking(move || f(&reader)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("reading the audit log failed: {e}")),
    }
}

fn unavailable(e: &str) -> Response {
    problem(StatusCode::SERVICE_UNAVAILABLE, "Audit log unavailable", e)
}

async fn recent_rows(
    core: &Core,
    filter: data::Filter,
    limit: usize,
) -> Result<Vec<data::Row>, String> {
    read_log(core, move |reader| {
        let mut out = Vec::new();
        let mut before = None;
        // Scan back in pages until enough rows pass the filter (or 20 pages were read).
        for _ in 0..20 {
            let recs = reader.newest(before, None, None, 500)?;
            let Some(last) = recs.last() else { break };
            before = Some(last.seq);
            out.extend(recs.iter().map(data::row).filter(|r| filter.passes(r)));
            if out.len() >= limit {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    })
    .await
}

pub(super) async fn activity(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(filter): Query<data::Filter>,
) -> Response {
    let here = format!("/console/activity?{}", filter.query());
    let me = match me(&core, &headers, &here) {
        Ok(m) => m,
        Err(r) => return r,
    };
    match recent_rows(&core, filter.clone(), 50).await {
        Ok(rows) => {
            let body = pages::activity(&filter, &rows);
            page(&core, &me, Tab::Activity, "Live activity", None, &body).await
        }
        Err(e) => unavailable(&e),
    }
}

/// Server-sent events: every new record that passes the filter, as JSON, with its sequence
/// number as the event id (a reconnecting browser resumes after `Last-Event-ID`).
pub(super) async fn activity_stream(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(filter): Query<data::Filter>,
) -> Response {
    if core.console.sessions.current(&headers).is_none() {
        return problem(StatusCode::UNAUTHORIZED, "Signed out", "Sign in again.");
    }
    let reader = match Reader::open(core.audit.path()) {
        Ok(r) => r,
        Err(e) => return unavailable(&e.to_string()),
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let start = match resume {
        Some(seq) => seq,
        None => reader.count().map(|(_, max)| max).unwrap_or(0),
    };
    let state = (Some(reader), start, Instant::now(), filter);
    let stream = futures_util::stream::unfold(state, |(reader, from, ping, filter)| async move {
        let mut reader = reader?;
        let mut from = from;
        let mut ping = ping;
        loop {
            tokio::time::sleep(LIVE_POLL).await;
            let after = from;
            let read = tokio::task::spawn_blocking(move || {
                let mut recs: Vec<Record> = Vec::new();
                let r = reader.each(after + 1, |rec| {
                    if recs.len() < 500 {
                        recs.push(rec);
                    }
                    Ok(())
                });
                (reader, r.map(|()| recs))
            })
            .await;
            let Ok((back, Ok(recs))) = read else {
                return None;
            };
            reader = back;
            let mut chunk = String::new();
            for rec in &recs {
                from = from.max(rec.seq);
                let row = data::row(rec);
                if filter.passes(&row) {
                    let json = serde_json::to_string(&row).unwrap_or_default();
                    chunk.push_str(&format!("id: {}\nevent: record\ndata: {json}\n\n", rec.seq));
                }
            }
            if chunk.is_empty() && ping.elapsed() >= Duration::from_secs(15) {
                chunk.push_str(": keep-alive\n\n");
            }
            if !chunk.is_empty() {
                ping = Instant::now();
                return Some((
                    Ok::<Bytes, std::convert::Infallible>(Bytes::from(chunk)),
                    (Some(reader), from, ping, filter),
                ));
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn chain(core: &Core) -> Chain {
    if let Some((at, c)) = core
        .console
        .chain
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        && at.elapsed() < VERIFY_TTL
    {
        return c;
    }
    let path = core.audit.path().to_owned();
    let checked = tokio::task::spawn_blocking(move || warden_audit::verify(&path, None)).await;
    let c = match checked {
        Ok(Ok(report)) => match &report.problem {
            None => Chain {
                ok: true,
                text: format!(
                    "{} records, each hashed with the one before{}.",
                    report.records,
                    report
                        .head
                        .as_ref()
                        .map(|(seq, hash)| format!(
                            "; head #{seq} {}",
                            hash.get(..16).unwrap_or(hash)
                        ))
                        .unwrap_or_default()
                ),
            },
            Some(p) => Chain {
                ok: false,
                text: format!("First bad record: #{}: {}", p.seq, p.what),
            },
        },
        Ok(Err(e)) => Chain {
            ok: false,
            text: format!("The log cannot be read: {e}"),
        },
        Err(e) => Chain {
            ok: false,
            text: format!("Verification failed: {e}"),
        },
    };
    *core
        .console
        .chain
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), c.clone()));
    c
}

#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    agent: String,
    before: Option<i64>,
}

pub(super) async fn audit(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let me = match me(&core, &headers, "/console/audit") {
        Ok(m) => m,
        Err(r) => return r,
    };
    let kind = AuditKind::parse(q.kind.trim());
    let agent = Some(q.agent.trim().to_owned()).filter(|a| !a.is_empty());
    let before = q.before;
    let read = read_log(&core, move |reader| {
        reader.newest(before, kind, agent.as_deref(), PAGE)
    })
    .await;
    let recs = match read {
        Ok(r) => r,
        Err(e) => return unavailable(&e),
    };
    let older = (recs.len() as i64 == PAGE)
        .then(|| recs.last().map(|r| r.seq))
        .flatten();
    let rows: Vec<data::Row> = recs.iter().map(data::row).collect();
    let chain = chain(&core).await;
    let body = pages::audit(
        &chain,
        &rows,
        kind.map_or("", AuditKind::as_str),
        q.agent.trim(),
        older,
    );
    page(&core, &me, Tab::Audit, "Audit log", None, &body).await
}

pub(super) async fn audit_export(State(core): State<Arc<Core>>, headers: HeaderMap) -> Response {
    if let Err(r) = me(&core, &headers, "/console/audit") {
        return r;
    }
    let out = read_log(&core, |reader| {
        let mut out = Vec::new();
        reader.each(1, |rec| {
            if let Ok(line) = serde_json::to_vec(&rec) {
                out.extend_from_slice(&line);
                out.push(b'\n');
            }
            Ok(())
        })?;
        Ok(out)
    })
    .await;
    match out {
        Ok(bytes) => {
            let mut resp = Response::new(Body::from(bytes));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"warden-audit.jsonl\""),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, "Export failed", &e),
    }
}

pub(super) async fn alerts(State(core): State<Arc<Core>>, headers: HeaderMap) -> Response {
    let me = match me(&core, &headers, "/console/alerts") {
        Ok(m) => m,
        Err(r) => return r,
    };
    let read = read_log(&core, |reader| {
        reader.newest(None, None, None, ALERT_WINDOW)
    })
    .await;
    // An unreadable log is said so, never shown as "no alerts".
    let found: Vec<data::Alert> = match read {
        Ok(recs) => recs.iter().filter_map(data::alert).take(200).collect(),
        Err(e) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Alerts unavailable",
                &format!("the audit log could not be read: {e}"),
            );
        }
    };
    let chain = chain(&core).await;
    let body = pages::alerts(&chain, &found);
    page(&core, &me, Tab::Alerts, "Alerts", None, &body).await
}
