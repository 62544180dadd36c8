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

/// `N` random bytes (at most 16) as lowercase hex. Span ids need uniqueness, not secrecy: a
/// SplitMix64 sequence per thread, seeded once from the standard library's per-process random
/// keys.
fn random_hex<const N: usize>() -> String {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(now_nanos());
            h.finish()
        });
    }
    let next = || {
        STATE.with(|state| {
            let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            state.set(next);
            let mut z = next;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
    };
    let mut bytes = [0u8; N];
    for chunk in bytes.chunks_mut(8) {
        let x = next().to_be_bytes();
        chunk.copy_from_slice(x.get(..chunk.len()).unwrap_or(&x));
    }
    hex::encode(bytes)
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
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        out.push_str(&self.data.trace_id);
        out.push('-');
        out.push_str(&self.data.span_id);
        out.push_str("-01");
        out
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
        assert_eq!(
            parse_traceparent(&fresh.traceparent()),
            Some((fresh.data.trace_id.clone(), fresh.data.span_id.clone()))
        );
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| Open::start(None, "x".into()).data.span_id)
            .collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| {
            id.len() == 16
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }));
    }
}
