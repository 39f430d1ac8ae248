//! What the data plane tells operators about each request: its span (fields following the
//! OpenTelemetry semantic conventions for MCP where they exist), the metrics on `/metrics`, and
//! one request-log record sent to the control plane.

mod capture;
mod export;
pub mod labels;
mod metrics;
mod track;

use axum::extract::State;
use axum::response::Response;

pub use export::{Exporter, RequestLog};
pub use metrics::GatewayMetrics;
pub use track::{Observation, track};

use crate::enforce::StreamRegistry;
use crate::snapshot::ConfigStore;

/// What [`track`] and `/metrics` share.
#[derive(Clone, Debug)]
pub struct Observer {
    /// The metrics.
    pub metrics: GatewayMetrics,
    /// Where records go.
    pub log: RequestLog,
    /// The configuration (its sequence goes into each record and into `/metrics`).
    pub store: ConfigStore,
    /// Open streams (counted at scrape time).
    pub streams: StreamRegistry,
}

/// `GET /metrics`: the data plane's metrics in the Prometheus text format.
pub async fn scrape(State(observer): State<Observer>) -> Response {
    let metrics = &observer.metrics;
    let config = observer.store.load();
    metrics.config_seq.set(config.seq());
    metrics.config_stale.set(i64::from(config.is_stale()));
    metrics
        .streams_open
        .set(i64::try_from(observer.streams.len()).unwrap_or(i64::MAX));
    mcpgw_shared::metrics::render(metrics.registry())
}
