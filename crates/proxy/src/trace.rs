//! One span per governed call, for OpenTelemetry. The trace continues the caller's W3C trace
//! context when the request carries one in `_meta.traceparent`, and the forwarded request
//! carries Warden's span as its `traceparent`, so an upstream that traces joins the same trace.
//! Exporting (OTLP) is the app's job: spans are handed to a [`Spans`] sink.

use serde_json::{Map, Value};

/// A finished span.
#[derive(Debug, Clone)]
pub struct SpanData {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The caller's span, when the request carried a `traceparent`.
    pub parent_span_id: Option<String>,
    /// `tools/call demo/refund`.
    pub name: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    /// `warden.agent`, `warden.server`, `warden.tool`, `warden.decision`, `warden.policies`...
    pub attributes: Vec<(&'static str, Value)>,
    /// The call failed or was refused.
    pub error: bool,
}

/// Where finished spans go.
#[derive(Clone)]
pub struct Spans(pub std::sync::Arc<dyn Fn(SpanData) + Send + Sync>);

impl std::fmt::Debug for Spans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spans")
    }
}

/// A span being timed.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    pub data: SpanData,
}

fn now_nanos() -> u64 {
    u64::try_from(warden_types::now_unix_micros()).unwrap_or(0) * 1000
}

fn random_hex<const N: usize>() -> String {
    // Span ids need uniqueness, not secrecy: a fast hash of time, a counter and the address of
    // a stack value is enough.
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut out = String::with_capacity(N * 2);
    let state = std::collections::hash_map::RandomState::new();
    while out.len() < N * 2 {
        let mut h = state.build_hasher();
        h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        h.write_u64(now_nanos());
        let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{:016x}", h.finish()));
    }
    out.truncate(N * 2);
    out
}

/// Parses a W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`).
pub(crate) fn parse_traceparent(text: &str) -> Option<(String, String)> {
    let mut parts = text.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if version == "ff"
        || !hex(version, 2)
        || !hex(trace, 32)
        || !hex(parent, 16)
        || !hex(flags, 2)
        || trace.bytes().all(|b| b == b'0')
        || parent.bytes().all(|b| b == b'0')
    {
        return None;
    }
    Some((trace.to_ascii_lowercase(), parent.to_ascii_lowercase()))
}

impl Open {
    /// Starts a span for a request, continuing its `_meta.traceparent` if valid.
    pub fn start(meta: Option<&Map<String, Value>>, name: String) -> Self {
        let parent = meta
            .and_then(|m| m.get("traceparent"))
            .and_then(Value::as_str)
            .and_then(parse_traceparent);
        let (trace_id, parent_span_id) = match parent {
            Some((t, p)) => (t, Some(p)),
            None => (random_hex::<16>(), None),
        };
        Self {
            data: SpanData {
                trace_id,
                span_id: random_hex::<8>(),
                parent_span_id,
                name,
                start_unix_nanos: now_nanos(),
                end_unix_nanos: 0,
                attributes: Vec::with_capacity(8),
                error: false,
            },
        }
    }

    /// This span as the `traceparent` of the forwarded request.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.data.trace_id, self.data.span_id)
    }

    /// Adds an attribute.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        self.data.attributes.push((key, value.into()));
    }

    /// Ends the span and hands it to the sink.
    pub fn finish(mut self, sink: &Spans, error: bool) {
        self.data.end_unix_nanos = now_nanos().max(self.data.start_unix_nanos);
        self.data.error = error;
        (sink.0)(self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_checked_and_continued() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(good),
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
                "00f067aa0ba902b7".to_owned()
            ))
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        let mut meta = Map::new();
        meta.insert("traceparent".into(), Value::String(good.into()));
        let span = Open::start(Some(&meta), "tools/call x".into());
        assert_eq!(span.data.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            span.data.parent_span_id.as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(span.data.span_id.len(), 16);
        assert!(
            span.traceparent()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        let fresh = Open::start(None, "x".into());
        assert_eq!(fresh.data.trace_id.len(), 32);
        assert!(fresh.data.parent_span_id.is_none());
    }
}
