//! The control plane's metrics (`GET /metrics` on the admin listener, unauthenticated like a
//! health check; it shows counts, never names of keys or users).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use mcpgw_shared::metrics::{LatencyFamily, latency_family};

use crate::store::Database;

/// Labels of an admin API request: the route template (such as `/v1/servers/{id}`), never the
/// path a client sent.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The matched route, or `unmatched`.
    pub route: String,
    /// The HTTP method (`other` for any but the standard ones).
    pub method: &'static str,
    /// The HTTP status.
    pub status: u16,
}

/// Labels of a call of a data planes' gRPC API (sync or authorization).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    /// The call (`snapshot`, `changes`, `entity`, `status`).
    pub call: &'static str,
    /// `ok`, or the gRPC code's name.
    pub outcome: &'static str,
}

/// Every metric of a control plane; cheap to clone.
#[derive(Clone)]
pub struct ControlPlaneMetrics {
    registry: Arc<Registry>,
    /// Admin API requests, by route, method and status.
    pub admin_requests: Family<RouteLabels, Counter>,
    /// Admin API latency, by route, method and status.
    pub admin_duration: LatencyFamily<RouteLabels>,
    /// Sync API calls from data planes, by call and outcome.
    pub sync_calls: Family<SyncLabels, Counter>,
    /// Authorization API calls from data planes, by call and outcome.
    pub authorization_calls: Family<SyncLabels, Counter>,
    /// Events published to the bus by this replica's outbox relay.
    pub outbox_published: Counter,
    /// Committed events not yet published (set at scrape time).
    pub outbox_backlog: Gauge,
    /// The head of the event log (set at scrape time).
    pub head_seq: Gauge,
    /// Request-log records stored.
    pub request_log_stored: Counter,
    /// Request-log batches refused (unreadable, oversized, or not stored).
    pub request_log_rejected: Counter,
}

impl std::fmt::Debug for ControlPlaneMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlaneMetrics")
            .finish_non_exhaustive()
    }
}

impl Default for ControlPlaneMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ControlPlaneMetrics {
    /// A new set in a registry of its own, under the `mcpgw` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mcpgw");
        let admin_requests = Family::<RouteLabels, Counter>::default();
        let admin_duration = latency_family();
        let sync_calls = Family::<SyncLabels, Counter>::default();
        let authorization_calls = Family::<SyncLabels, Counter>::default();
        let outbox_published = Counter::default();
        let outbox_backlog = Gauge::default();
        let head_seq = Gauge::default();
        let request_log_stored = Counter::default();
        let request_log_rejected = Counter::default();
        registry.register(
            "admin_requests",
            "Admin API requests, by route, method and status",
            admin_requests.clone(),
        );
        registry.register_with_unit(
            "admin_request_duration",
            "Admin API latency, by route, method and status",
            Unit::Seconds,
            admin_duration.clone(),
        );
        registry.register(
            "sync_calls",
            "Sync API calls from data planes, by call and outcome",
            sync_calls.clone(),
        );
        registry.register(
            "authorization_calls",
            "Authorization API calls from data planes (OAuth clients, codes, tokens, keys), by call and outcome",
            authorization_calls.clone(),
        );
        registry.register(
            "outbox_published",
            "Events this replica published to the bus",
            outbox_published.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Committed events not yet published to the bus",
            outbox_backlog.clone(),
        );
        registry.register(
            "event_log_head_seq",
            "The sequence of the last committed event",
            head_seq.clone(),
        );
        registry.register(
            "request_log_stored",
            "Request-log records stored",
            request_log_stored.clone(),
        );
        registry.register(
            "request_log_rejected",
            "Request-log batches refused (unreadable, oversized or not stored)",
            request_log_rejected.clone(),
        );
        Self {
            registry: Arc::new(registry),
            admin_requests,
            admin_duration,
            sync_calls,
            authorization_calls,
            outbox_published,
            outbox_backlog,
            head_seq,
            request_log_stored,
            request_log_rejected,
        }
    }

    /// Counts a sync call.
    pub fn sync_call(&self, call: &'static str, result: Result<(), tonic::Code>) {
        count_call(&self.sync_calls, call, result);
    }

    /// Counts an authorization call.
    pub fn authorization_call(&self, call: &'static str, result: Result<(), tonic::Code>) {
        count_call(&self.authorization_calls, call, result);
    }
}

fn count_call(
    family: &Family<SyncLabels, Counter>,
    call: &'static str,
    result: Result<(), tonic::Code>,
) {
    let outcome = match result {
        Ok(()) => "ok",
        Err(code) => code_name(code),
    };
    family.get_or_create(&SyncLabels { call, outcome }).inc();
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "ok",
        Unauthenticated => "unauthenticated",
        PermissionDenied => "permission_denied",
        FailedPrecondition => "failed_precondition",
        InvalidArgument => "invalid_argument",
        NotFound => "not_found",
        Unavailable => "unavailable",
        _ => "error",
    }
}

/// What `/metrics` reads.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// The metrics.
    pub metrics: ControlPlaneMetrics,
    /// The database (for the head and the outbox backlog).
    pub db: Database,
}

/// `GET /metrics`.
pub async fn scrape(State(scrape): State<Scrape>) -> Response {
    let metrics = &scrape.metrics;
    if let (Ok(head), Ok(published)) = (scrape.db.head().await, scrape.db.published_seq().await) {
        metrics.head_seq.set(head);
        metrics.outbox_backlog.set((head - published).max(0));
    }
    mcpgw_shared::metrics::render(&metrics.registry)
}

/// Middleware (a route layer, so the matched route is known): counts admin API requests by
/// route template.
pub async fn count_admin(
    State(metrics): State<ControlPlaneMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = match *request.method() {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        _ => "other",
    };
    let response = next.run(request).await;
    let labels = RouteLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    metrics.admin_requests.get_or_create(&labels).inc();
    metrics
        .admin_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}
