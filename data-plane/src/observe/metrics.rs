//! The data plane's metric families (see `/metrics`), registered once per gateway.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use mcpgw_shared::metrics::{LatencyFamily, latency_family, latency_histogram};

/// Labels of a request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// A configured slug, or `unknown`.
    pub server: String,
    /// A known MCP method, or one of the fixed stand-ins.
    pub method: &'static str,
    /// The HTTP status.
    pub status: u16,
}

/// Labels of a latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerMethodLabels {
    /// A configured slug, or `unknown`.
    pub server: String,
    /// A known MCP method, or one of the fixed stand-ins.
    pub method: &'static str,
}

/// Labels of an upstream failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    /// A configured slug.
    pub server: String,
    /// The gateway's reason, or `status_<code>` for an upstream 5xx relayed as is.
    pub reason: String,
}

/// Labels carrying a fixed reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The gateway's reason.
    pub reason: &'static str,
}

/// Every metric of a data plane. Cheap to clone (the families are shared).
#[derive(Clone)]
pub struct GatewayMetrics {
    registry: Arc<Registry>,
    /// Requests answered, by server, method and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Time to the response headers, by server and method.
    pub request_duration: LatencyFamily<ServerMethodLabels>,
    /// Time the upstream took to its response headers, by server and method.
    pub upstream_duration: LatencyFamily<ServerMethodLabels>,
    /// Upstream failures, by server and reason.
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    /// Refused credentials and access, by reason.
    pub auth_failures: Family<ReasonLabels, Counter>,
    /// Sessions started (a successful `initialize`).
    pub sessions_started: Counter,
    /// Sessions a client ended (`DELETE`).
    pub sessions_ended: Counter,
    /// Open response and listen streams (set at scrape time).
    pub streams_open: Gauge,
    /// The configuration sequence applied (set at scrape time).
    pub config_seq: Gauge,
    /// 1 while the configuration is too stale to serve (set at scrape time).
    pub config_stale: Gauge,
    /// Time from a change's commit on the control plane to its application here.
    pub propagation_lag: Histogram,
    /// Full snapshots taken after the first (gaps, invalid changes, reconnects).
    pub resyncs: Counter,
    /// Request-log records sent to the control plane.
    pub request_log_exported: Counter,
    /// Request-log records dropped (export off the pace, or failing).
    pub request_log_dropped: Counter,
}

impl std::fmt::Debug for GatewayMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayMetrics").finish_non_exhaustive()
    }
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayMetrics {
    /// A new set of metrics in a registry of its own, under the `mcpgw` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mcpgw");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration = latency_family();
        let upstream_duration = latency_family();
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        let sessions_started = Counter::default();
        let sessions_ended = Counter::default();
        let streams_open = Gauge::default();
        let config_seq = Gauge::default();
        let config_stale = Gauge::default();
        let propagation_lag = latency_histogram();
        let resyncs = Counter::default();
        let request_log_exported = Counter::default();
        let request_log_dropped = Counter::default();
        registry.register(
            "requests",
            "MCP requests answered, by server, method and HTTP status",
            requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time to the response headers, by server and method",
            Unit::Seconds,
            request_duration.clone(),
        );
        registry.register_with_unit(
            "upstream_duration",
            "Time the upstream took to its response headers, by server and method",
            Unit::Seconds,
            upstream_duration.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstream failures, by server and reason",
            upstream_errors.clone(),
        );
        registry.register(
            "auth_failures",
            "Refused credentials and access, by reason",
            auth_failures.clone(),
        );
        registry.register(
            "sessions_started",
            "Sessions started (successful initialize)",
            sessions_started.clone(),
        );
        registry.register(
            "sessions_ended",
            "Sessions ended by their client (DELETE)",
            sessions_ended.clone(),
        );
        registry.register(
            "streams_open",
            "Open SSE response and listen streams",
            streams_open.clone(),
        );
        registry.register(
            "config_seq",
            "The configuration sequence this data plane applied",
            config_seq.clone(),
        );
        registry.register(
            "config_stale",
            "1 while the configuration is older than MCPGW_MAX_STALENESS (requests get 503)",
            config_stale.clone(),
        );
        registry.register_with_unit(
            "config_propagation_lag",
            "Time from a change's commit on the control plane to its application here",
            Unit::Seconds,
            propagation_lag.clone(),
        );
        registry.register(
            "config_resyncs",
            "Full configuration snapshots taken after the first",
            resyncs.clone(),
        );
        registry.register(
            "request_log_exported",
            "Request-log records sent to the control plane",
            request_log_exported.clone(),
        );
        registry.register(
            "request_log_dropped",
            "Request-log records dropped (export off, behind or failing)",
            request_log_dropped.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            request_duration,
            upstream_duration,
            upstream_errors,
            auth_failures,
            sessions_started,
            sessions_ended,
            streams_open,
            config_seq,
            config_stale,
            propagation_lag,
            resyncs,
            request_log_exported,
            request_log_dropped,
        }
    }

    /// The registry, for rendering.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records one change's propagation lag.
    pub fn observe_propagation(&self, lag: Duration) {
        self.propagation_lag.observe(lag.as_secs_f64());
    }
}
