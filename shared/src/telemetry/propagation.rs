//! W3C trace context: read from a client's headers, written to an upstream's.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::tracing_enabled;

/// Makes the W3C trace context in `headers` (`traceparent`, `tracestate`) the parent of
/// `span`, when spans are exported. Call before the span has children.
pub fn set_parent_from(span: &tracing::Span, headers: &HeaderMap) {
    if !tracing_enabled() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Names `span` `name` in traces (the `otel.name` field, and the exported span itself when it
/// was already started: a field recorded then no longer renames it).
pub fn rename(span: &tracing::Span, name: &str) {
    span.record("otel.name", name);
    if tracing_enabled() && !span.is_disabled() {
        span.context().span().update_name(name.to_owned());
    }
}

/// Writes `span`'s trace context into `headers` (replacing what a client sent), when spans are
/// exported; otherwise leaves `headers` as they are.
pub fn inject_into(span: &tracing::Span, headers: &mut HeaderMap) {
    if !tracing_enabled() || span.is_disabled() {
        return;
    }
    let context = span.context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    }
}

/// Where a request is in a trace: the trace id of `span` and its own id when it is exported,
/// else the trace id a client sent in `traceparent` (the id that finds the request in a
/// tracing backend) and no span id.
pub fn trace_position(
    span: &tracing::Span,
    headers: &HeaderMap,
) -> (Option<String>, Option<String>) {
    if tracing_enabled() && !span.is_disabled() {
        let context = span.context();
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            return (
                Some(span_context.trace_id().to_string()),
                Some(span_context.span_id().to_string()),
            );
        }
    }
    let client = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(traceparent)
        .map(|parent| parent.trace_id.to_owned());
    (client, None)
}

/// Makes the exported span `span_id` of trace `trace_id` (hex, as [`trace_position`] gives
/// them) the parent of `span`, when spans are exported and the ids are valid.
pub fn set_remote_parent(span: &tracing::Span, trace_id: &str, span_id: &str) {
    if !tracing_enabled() {
        return;
    }
    let (Ok(trace), Ok(parent)) = (TraceId::from_hex(trace_id), SpanId::from_hex(span_id)) else {
        return;
    };
    let remote = SpanContext::new(
        trace,
        parent,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    if remote.is_valid() {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
}

/// The parts of a W3C `traceparent` the gateway reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent<'a> {
    /// The trace id, 32 lowercase hex digits.
    pub trace_id: &'a str,
    /// Whether the caller sampled the trace.
    pub sampled: bool,
}

/// A W3C `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`), unless it is malformed or its
/// trace id is all zeros.
pub fn traceparent(value: &str) -> Option<TraceParent<'_>> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && hex(flags, 2)
        && (version != "00" || parts.next().is_none());
    let sampled = u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1);
    valid.then_some(TraceParent {
        trace_id: trace,
        sampled,
    })
}

/// Reads propagation fields from HTTP headers. (The `opentelemetry-http` crate has the same
/// two adapters, but would bring another HTTP client stack for a few lines.)
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes propagation fields into HTTP headers.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}
