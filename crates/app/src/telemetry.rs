//! OpenTelemetry export: spans of governed calls sent over OTLP/HTTP with the JSON encoding
//! (`POST <endpoint>/v1/traces`), in batches, off the calls' path. A full queue drops spans
//! rather than slowing calls down.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use warden_proxy::trace::{SpanData, Spans};

use crate::config::Loaded;

/// Spans waiting to be sent before new ones are dropped.
const QUEUE: usize = 10_000;
/// Most spans in one export.
const BATCH: usize = 512;
/// Longest a span waits for its batch.
const LINGER: Duration = Duration::from_millis(500);

/// The span sink and the task that exports; awaiting the task after every sink is dropped
/// sends what is left.
pub struct Exporter {
    pub spans: Spans,
    pub task: tokio::task::JoinHandle<()>,
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
        let (tx, rx) = mpsc::channel::<SpanData>(QUEUE);
        let task = tokio::spawn(export(rx, client, url, service));
        let spans = Spans(Arc::new(move |span| {
            if tx.try_send(span).is_err() {
                tracing::debug!("span queue full: span dropped");
            }
        }));
        Ok(Some(Exporter { spans, task }))
    }
}

async fn export(
    mut rx: mpsc::Receiver<SpanData>,
    client: reqwest::Client,
    url: String,
    service: String,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        let body = request(&batch, &service);
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!("OTLP export to {url}: HTTP {}", r.status()),
            Err(e) => tracing::warn!("OTLP export to {url}: {e}"),
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
