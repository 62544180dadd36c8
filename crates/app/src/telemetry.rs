//! OpenTelemetry export: spans of governed calls sent over OTLP/HTTP with the JSON encoding
//! (`POST <endpoint>/v1/traces`), in batches, off the calls' path. A call encodes its span
//! (about a microsecond) and appends the bytes to a buffer: no wake-up of another thread per
//! call, and the span's memory is freed on the thread that allocated it (freeing it on the
//! exporter thread made the allocator fault in fresh pages on the calls' path). The exporter
//! thread takes the buffer every half second, or sooner when a batch is full, and wraps it in
//! the request envelope. A full buffer drops spans rather than slowing calls down.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use warden_proxy::trace::{SpanData, Spans};

use crate::config::Loaded;

/// Spans waiting to be sent before new ones are dropped.
const QUEUE: usize = 10_000;
/// Spans that wake the exporter before its next turn.
const BATCH: usize = 512;
/// Longest a span waits in the buffer.
const LINGER: Duration = Duration::from_millis(500);

/// Bytes of encoded spans a batch starts with room for.
const BATCH_BYTES: usize = BATCH * 640;

#[derive(Debug, Default)]
struct Buffer {
    /// Encoded spans, comma-separated.
    json: Vec<u8>,
    /// How many.
    count: usize,
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
    /// Closed when the exporter thread ends.
    done: tokio::sync::oneshot::Receiver<()>,
}

impl Exporter {
    /// Sends what is buffered and stops the exporter, waiting up to `wait` for it. A collector
    /// that does not answer does not hold the caller back longer: the thread is left to end
    /// with the process (joining it, even from a blocking task, would make the runtime's
    /// shutdown wait for its request's own timeout).
    pub async fn finish(self, wait: Duration) {
        lock(&self.shared).closed = true;
        self.shared.1.notify_one();
        let _ = tokio::time::timeout(wait, self.done).await;
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
        let (ended, done) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("warden-otlp".to_owned())
            .spawn(move || {
                export(&for_thread, &runtime, &client, &url, &service);
                drop(ended);
            })
            .context("OTLP exporter thread")?;
        let sink = shared.clone();
        let spans = Spans(Arc::new(move |span: SpanData| {
            let mut encoded = Vec::with_capacity(640);
            if serde_json::to_writer(&mut encoded, &Span::of(&span)).is_err() {
                return;
            }
            let mut buf = lock(&sink);
            if buf.count < QUEUE {
                if buf.count > 0 {
                    buf.json.push(b',');
                }
                buf.json.extend_from_slice(&encoded);
                buf.count += 1;
                if buf.count == BATCH {
                    sink.1.notify_one();
                }
            }
        }));
        Ok(Some(Exporter {
            spans,
            shared,
            done,
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
        let (batch, count, closed) = {
            let mut buf = lock(shared);
            if buf.count < BATCH && !buf.closed {
                buf = shared
                    .1
                    .wait_timeout(buf, LINGER)
                    .map(|(b, _)| b)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            let count = std::mem::take(&mut buf.count);
            (
                std::mem::replace(&mut buf.json, Vec::with_capacity(BATCH_BYTES)),
                count,
                buf.closed,
            )
        };
        if count > 0 {
            let body = envelope(&batch, service);
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

/// An `ExportTraceServiceRequest` around already encoded spans.
fn envelope(spans: &[u8], service: &str) -> Vec<u8> {
    let service = Value::String(service.to_owned());
    let head = format!(
        "{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{}]}},\"scopeSpans\":[{{\"scope\":{{\"name\":\"warden\",\"version\":\"{}\"}},\"spans\":[",
        serde_json::to_string(&attribute("service.name", &service)).unwrap_or_default(),
        env!("CARGO_PKG_VERSION")
    );
    let mut body = Vec::with_capacity(head.len() + spans.len() + 8);
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(spans);
    body.extend_from_slice(b"]}]}]}");
    body
}

/// OTLP's `AnyValue`, as its JSON encoding spells it (64-bit integers as strings).
#[derive(Serialize)]
enum AnyValue<'a> {
    #[serde(rename = "boolValue")]
    Bool(bool),
    #[serde(rename = "intValue")]
    Int(Quoted),
    #[serde(rename = "doubleValue")]
    Double(f64),
    #[serde(rename = "stringValue")]
    Str(&'a str),
    #[serde(rename = "stringValue")]
    Text(String),
}

/// A 64-bit integer as OTLP's JSON encoding spells it: a decimal string. The digits are
/// `serde_json`'s own (itoa), written to a stack buffer: each span has a few of them, encoded
/// on the call's thread, and `to_string` would allocate and go through `fmt`.
struct Quoted(i128);

impl Serialize for Quoted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 40];
        let left = {
            let mut rest: &mut [u8] = &mut buf;
            serde_json::to_writer(&mut rest, &self.0).map_err(serde::ser::Error::custom)?;
            rest.len()
        };
        let digits = buf
            .get(..buf.len() - left)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("0");
        s.serialize_str(digits)
    }
}

#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'a str,
    value: AnyValue<'a>,
}

fn attribute<'a>(key: &'a str, value: &'a Value) -> KeyValue<'a> {
    let value = match value {
        Value::Bool(b) => AnyValue::Bool(*b),
        Value::Number(n) if let Some(i) = n.as_i64() => AnyValue::Int(Quoted(i.into())),
        Value::Number(n) if let Some(u) = n.as_u64() => AnyValue::Int(Quoted(u.into())),
        Value::Number(n) => AnyValue::Double(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => AnyValue::Str(s),
        other => AnyValue::Text(other.to_string()),
    };
    KeyValue { key, value }
}

#[derive(Serialize)]
struct Status {
    code: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Span<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<&'a str>,
    name: &'a str,
    kind: u8,
    start_time_unix_nano: Quoted,
    end_time_unix_nano: Quoted,
    attributes: Vec<KeyValue<'a>>,
    status: Status,
}

impl<'a> Span<'a> {
    /// A span in OTLP's JSON encoding (ids as hex, 64-bit numbers as strings).
    fn of(s: &'a SpanData) -> Self {
        Span {
            trace_id: &s.trace_id,
            span_id: &s.span_id,
            parent_span_id: s.parent_span_id.as_deref(),
            name: &s.name,
            kind: 2,
            start_time_unix_nano: Quoted(s.start_unix_nanos.into()),
            end_time_unix_nano: Quoted(s.end_unix_nanos.into()),
            attributes: s.attributes.iter().map(|(k, v)| attribute(k, v)).collect(),
            status: Status {
                code: if s.error { 2 } else { 1 },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_an_otlp_json_request() {
        let span = SpanData {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            parent_span_id: None,
            name: "tools/call demo/echo".into(),
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            attributes: vec![("warden.audit_seq", Value::from(7))],
            error: false,
        };
        let one = serde_json::to_vec(&Span::of(&span)).unwrap();
        let mut two = one.clone();
        two.push(b',');
        two.extend_from_slice(&one);
        let body: Value = serde_json::from_slice(&envelope(&two, "svc")).unwrap();
        let spans = &body["resourceSpans"][0]["scopeSpans"][0]["spans"];
        assert_eq!(spans.as_array().unwrap().len(), 2);
        assert_eq!(spans[0]["attributes"][0]["value"]["intValue"], "7");
        assert_eq!(spans[0]["startTimeUnixNano"], "1");
        for (n, text) in [
            (Value::from(0), "0"),
            (Value::from(-42), "-42"),
            (Value::from(i64::MIN), "-9223372036854775808"),
            (Value::from(u64::MAX), "18446744073709551615"),
        ] {
            let encoded = serde_json::to_value(attribute("k", &n)).unwrap();
            assert_eq!(encoded["value"]["intValue"], text);
        }
        assert_eq!(
            body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
