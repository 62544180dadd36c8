//! OpenTelemetry export: spans of governed calls sent over OTLP/HTTP with the JSON encoding
//! (`POST <endpoint>/v1/traces`), in batches, off the calls' path. A call only appends its span
//! to a buffer (no wake-up of another thread per call); the exporter thread takes the buffer
//! every half second, or sooner when a batch is full. A full buffer drops spans rather than
//! slowing calls down.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use warden_proxy::trace::{SpanData, Spans};

use crate::config::Loaded;

/// Spans waiting to be sent before new ones are dropped.
const QUEUE: usize = 10_000;
/// Spans that wake the exporter before its next turn.
const BATCH: usize = 512;
/// Longest a span waits in the buffer.
const LINGER: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
struct Buffer {
    spans: Vec<SpanData>,
    closed: bool,
}

type Shared = Arc<(Mutex<Buffer>, Condvar)>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Buffer> {
    shared
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The span sink and the thread that exports.
pub struct Exporter {
    pub spans: Spans,
    shared: Shared,
    thread: std::thread::JoinHandle<()>,
}

impl Exporter {
    /// Sends what is buffered and stops the exporter (waiting up to `wait`).
    pub async fn finish(self, wait: Duration) {
        lock(&self.shared).closed = true;
        self.shared.1.notify_one();
        let thread = self.thread;
        let _ =
            tokio::time::timeout(wait, tokio::task::spawn_blocking(move || thread.join())).await;
    }
}

impl Loaded {
    /// The OTLP exporter when `[telemetry] otlp_endpoint` is set.
    pub fn exporter(&self) -> Result<Option<Exporter>> {
        let Some(endpoint) = &self.config.telemetry.otlp_endpoint else {
            return Ok(None);
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            bail!("[telemetry] otlp_endpoint `{endpoint}` must be http:// or https://");
        }
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let service = self
            .config
            .telemetry
            .service_name
            .clone()
            .unwrap_or_else(|| "warden".to_owned());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("OTLP HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("OTLP exporter runtime")?;
        let shared: Shared = Arc::new((Mutex::new(Buffer::default()), Condvar::new()));
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("warden-otlp".to_owned())
            .spawn(move || export(&for_thread, &runtime, &client, &url, &service))
            .context("OTLP exporter thread")?;
        let sink = shared.clone();
        let spans = Spans(Arc::new(move |span| {
            let mut buf = lock(&sink);
            if buf.spans.len() < QUEUE {
                buf.spans.push(span);
                if buf.spans.len() == BATCH {
                    sink.1.notify_one();
                }
            }
        }));
        Ok(Some(Exporter {
            spans,
            shared,
            thread,
        }))
    }
}

fn export(
    shared: &Shared,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    service: &str,
) {
    loop {
        let (batch, closed) = {
            let mut buf = lock(shared);
            if buf.spans.len() < BATCH && !buf.closed {
                buf = shared
                    .1
                    .wait_timeout(buf, LINGER)
                    .map(|(b, _)| b)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            (std::mem::take(&mut buf.spans), buf.closed)
        };
        for chunk in batch.chunks(BATCH) {
            let body = request(chunk, service).to_string();
            // Built inside the runtime: reqwest arms its timeout when the request is made.
            let sent = runtime.block_on(async {
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
            });
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!("OTLP export to {url}: HTTP {}", r.status()),
                Err(e) => tracing::warn!("OTLP export to {url}: {e}"),
            }
        }
        if closed {
            return;
        }
    }
}

fn attribute(key: &str, value: &Value) -> Value {
    let v = match value {
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        Value::String(s) => json!({"stringValue": s}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": v})
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding (ids as hex, 64-bit numbers as
/// strings).
fn request(spans: &[SpanData], service: &str) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut span = json!({
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "name": s.name,
                "kind": 2,
                "startTimeUnixNano": s.start_unix_nanos.to_string(),
                "endTimeUnixNano": s.end_unix_nanos.to_string(),
                "attributes": s.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
                "status": {"code": if s.error { 2 } else { 1 }},
            });
            if let (Some(parent), Some(obj)) = (&s.parent_span_id, span.as_object_mut()) {
                obj.insert("parentSpanId".to_owned(), Value::String(parent.clone()));
            }
            span
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", &Value::String(service.to_owned()))]},
        "scopeSpans": [{
            "scope": {"name": "warden", "version": env!("CARGO_PKG_VERSION")},
            "spans": spans,
        }],
    }]})
}
