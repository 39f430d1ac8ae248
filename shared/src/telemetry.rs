//! Logging and tracing set-up shared by both binaries.
//!
//! - Logs: `tracing` with `RUST_LOG` filtering, human-readable by default and JSON lines with
//!   `MCPGW_LOG_FORMAT=json` (each line carries the fields of the spans it is in: the request
//!   id, the trace id and the request's MCP fields).
//! - Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are exported over OTLP/gRPC through
//!   `tracing-opentelemetry`, sampled as `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` say
//!   (default: parent-based, always on), named by `OTEL_SERVICE_NAME` (default: the binary).
//!   W3C trace context is read from clients and written to upstreams ([`set_parent_from`],
//!   [`inject_into`]). Sampling is decided at the edge of each request ([`sampling`]), so a
//!   request that is not sampled costs the tracing layer nothing. Without the variable nothing
//!   of OpenTelemetry runs.

mod propagation;
pub mod sampling;

pub use propagation::{
    TraceParent, inject_into, rename, set_parent_from, set_remote_parent, trace_position,
    traceparent,
};

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
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
    // `RUST_LOG` chooses what is logged, not what is traced: it filters this layer only.
    let fmt = if json {
        fmt.json()
            .with_current_span(true)
            .with_span_list(true)
            .with_filter(filter)
            .boxed()
    } else {
        fmt.with_filter(filter).boxed()
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
            .with_filter(sampling::SampledOnly)
    });
    // A subscriber may already be installed (tests); that is fine.
    // With traces, a gate in front decides which spans exist at all (see `sampling::Gate`).
    let gate = otel.is_some().then(|| {
        sampling::Gate::new(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
    });
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(gate)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        sampling::configure(sampling::Policy::from_env());
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
    // Every span that reaches the SDK was sampled at its request's edge (see `sampling`).
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .with_sampler(Sampler::AlwaysOn)
        .build())
}

#[cfg(test)]
mod tests;
