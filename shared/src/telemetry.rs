//! Logging and tracing set-up shared by both binaries.
//!
//! - Logs: `tracing` with `RUST_LOG` filtering, human-readable by default and JSON lines with
//!   `MCPGW_LOG_FORMAT=json` (each line carries the fields of the spans it is in: the request
//!   id, the trace id and the request's MCP fields).
//! - Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are exported over OTLP/gRPC through
//!   `tracing-opentelemetry`, sampled as `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` say
//!   (default: parent-based, always on), named by `OTEL_SERVICE_NAME` (default: the binary).
//!   W3C trace context is read from clients and written to upstreams ([`set_parent_from`],
//!   [`inject_into`]). Without the variable nothing of OpenTelemetry runs.

use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The variable that chooses the log format (`json`, else human-readable); read by both
/// binaries outside their flags, since logging starts before they are parsed.
pub const LOG_FORMAT_VAR: &str = "MCPGW_LOG_FORMAT";

/// The standard variable that turns trace export on.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Whether spans are exported: decides whether trace context is read and written at all.
static TRACING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported ([`OTLP_ENDPOINT_VAR`] was set at start-up).
pub fn tracing_enabled() -> bool {
    TRACING.load(Ordering::Relaxed)
}

/// Keeps the trace pipeline alive; dropping it flushes the spans not yet exported.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("exporting", &self.provider.is_some())
            .finish()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {error}");
        }
    }
}

/// Installs the global subscriber and, when [`OTLP_ENDPOINT_VAR`] is set, the OTLP trace
/// pipeline. Call once at start-up, inside the Tokio runtime (the gRPC exporter runs on it);
/// `service` names the process when `OTEL_SERVICE_NAME` does not.
pub fn init(service: &'static str) -> TelemetryGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var(LOG_FORMAT_VAR).is_ok_and(|f| f == "json");
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        fmt.boxed()
    };
    let provider = match std::env::var(OTLP_ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => match otlp_provider(service) {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("{OTLP_ENDPOINT_VAR}={endpoint}: traces will not be exported: {error}");
                None
            }
        },
        _ => None,
    };
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_tracked_inactivity(false)
    });
    // A subscriber may already be installed (tests); that is fine.
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        TRACING.store(true, Ordering::Relaxed);
    }
    TelemetryGuard { provider }
}

fn otlp_provider(
    service: &'static str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(name)
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

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
    if tracing_enabled() {
        span.context().span().update_name(name.to_owned());
    }
}

/// Writes `span`'s trace context into `headers` (replacing what a client sent), when spans are
/// exported; otherwise leaves `headers` as they are.
pub fn inject_into(span: &tracing::Span, headers: &mut HeaderMap) {
    if !tracing_enabled() {
        return;
    }
    let context = span.context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    }
}

/// The trace id of `span` when spans are exported, else the one a client sent in
/// `traceparent`: the id that finds the request in a tracing backend.
pub fn trace_id(span: &tracing::Span, headers: &HeaderMap) -> Option<String> {
    if tracing_enabled() {
        let context = span.context();
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            return Some(span_context.trace_id().to_string());
        }
    }
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(traceparent_trace_id)
        .map(str::to_owned)
}

/// The trace id of a W3C `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`), unless it is
/// malformed or all zeros.
pub fn traceparent_trace_id(value: &str) -> Option<&str> {
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
    valid.then_some(trace)
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

#[cfg(test)]
mod tests;
