//! `/metrics` on both planes: a `prometheus-client` registry rendered in the Prometheus text
//! format (0.0.4). Every label a plane uses takes values from a bounded set (configured server
//! slugs, known MCP methods, status codes, fixed reasons): never a key, a user or a URL.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use prometheus_client::encoding::prometheus_text::{self, CONTENT_TYPE};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The default buckets of latency histograms, in seconds: 0.5 ms to about 65 s.
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 18)
}

/// A latency histogram over [`latency_buckets`].
pub fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// Latency histograms by label set `L`.
pub type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// An empty [`LatencyFamily`].
pub fn latency_family<L: Clone + std::hash::Hash + Eq>() -> LatencyFamily<L> {
    Family::new_with_constructor(latency_histogram)
}

/// `registry` as a scrape response.
pub fn render(registry: &Registry) -> Response {
    let mut body = String::with_capacity(8 * 1024);
    match prometheus_text::encode(&mut body, registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be encoded",
        )
            .into_response(),
    }
}
