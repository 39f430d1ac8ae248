//! Following one request from arrival to response headers: what admission and the relay learn
//! goes into an [`Observation`] (and into the request's span at once, so every log line after
//! it carries it); when the response leaves, [`track`] turns it into metrics, the span's last
//! fields and a request-log record.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use http::request::Parts;
use mcpgw_shared::model::RequestLogging;
use mcpgw_shared::request_id::RequestId;
use mcpgw_shared::request_log::{RequestRecord, cap, without_query};
use mcpgw_shared::telemetry;
use mcpgw_shared::{ServerId, WorkspaceId};

use super::Observer;
use super::capture::ResultCapture;
use super::labels::{self, BodyShape};
use super::metrics::{
    GatewayMetrics, ReasonLabels, RequestLabels, ServerMethodLabels, UpstreamErrorLabels,
};
use crate::admission::Principal;
use crate::errors::FailureReason;
use crate::protocol::message::{Body, Message};
use crate::snapshot::Route;

/// What is known so far about one request; shared by the middleware and the handler. What it
/// learns also goes into the request's span (the one [`track`] runs in), whichever span is
/// current when it learns it.
#[derive(Clone, Default, Debug)]
pub struct Observation(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    span: tracing::Span,
    observed: Mutex<Observed>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            span: tracing::Span::none(),
            observed: Mutex::default(),
        }
    }
}

#[derive(Default, Debug)]
struct Observed {
    key_id: Option<String>,
    key_workspace: Option<WorkspaceId>,
    user: Option<String>,
    server: Option<ServerSeen>,
    method: Option<String>,
    target: Option<String>,
    shape: BodyShape,
    upstream_status: Option<u16>,
    upstream_latency: Option<Duration>,
    arguments: Option<String>,
}

#[derive(Debug)]
struct ServerSeen {
    id: ServerId,
    workspace: WorkspaceId,
    slug: String,
    version: i64,
    logging: RequestLogging,
}

impl Observation {
    /// The observation in `extensions`, or a detached one.
    pub fn of(extensions: &http::Extensions) -> Self {
        extensions.get::<Self>().cloned().unwrap_or_default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Observed) -> R) -> R {
        f(&mut self
            .0
            .observed
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// The caller was authenticated.
    pub fn principal(&self, principal: &Principal) {
        let span = &self.0.span;
        let key_id = principal.key_id.to_string();
        span.record("mcpgw.key.id", key_id.as_str());
        if let Some(user) = &principal.key.user {
            span.record("enduser.id", &**user);
        }
        if let Some(workspace) = &principal.key.workspace {
            span.record("mcpgw.workspace", tracing::field::display(workspace));
        }
        self.with(|o| {
            o.key_id = Some(key_id);
            o.key_workspace = principal.key.workspace;
            o.user = principal.key.user.as_deref().map(str::to_owned);
        });
    }

    /// The request addresses `route`'s server.
    pub fn route(&self, route: &Route) {
        let server = &route.server;
        let span = &self.0.span;
        span.record("mcpgw.server", server.slug.as_str());
        self.with(|o| {
            o.server = Some(ServerSeen {
                id: server.id,
                workspace: server.workspace_id,
                slug: server.slug.to_string(),
                version: server.version,
                logging: server.request_logging,
            });
        });
    }

    /// The POST body was read: `body` as inspected, `bytes` as sent (the `arguments` of a
    /// `tools/call` or `prompts/get` are kept when the server's policy says so).
    pub fn body(&self, body: &Body, bytes: &[u8]) {
        match body {
            Body::Single(message) => {
                self.message(message);
                let keeps_arguments = matches!(
                    message.method.as_deref(),
                    Some("tools/call" | "prompts/get")
                ) && self
                    .with(|o| o.server.as_ref().is_some_and(|s| s.logging.arguments));
                if keeps_arguments {
                    let arguments = arguments_of(bytes);
                    self.with(|o| {
                        let max = o
                            .server
                            .as_ref()
                            .map_or(0, |s| s.logging.max_bytes as usize);
                        o.arguments = arguments.map(|mut text| {
                            cap(&mut text, max);
                            text
                        });
                    });
                }
            }
            Body::Batch(_) => self.with(|o| o.shape = BodyShape::Batch),
        }
    }

    fn message(&self, message: &Message) {
        let Some(method) = message.method.as_deref() else {
            self.with(|o| o.shape = BodyShape::Response);
            return;
        };
        let span = &self.0.span;
        span.record("mcp.method.name", method);
        let target = message.target.as_deref().map(|t| match method {
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => without_query(t),
            _ => t,
        });
        match (method, target) {
            ("tools/call", Some(name)) => span.record("gen_ai.tool.name", name),
            ("prompts/get", Some(name)) => span.record("gen_ai.prompt.name", name),
            (_, Some(uri)) => span.record("mcp.resource.uri", uri),
            (_, None) => span,
        };
        match target {
            Some(target) => telemetry::rename(span, &format!("{method} {target}")),
            None => telemetry::rename(span, method),
        }
        self.with(|o| {
            o.method = Some(method.to_owned());
            o.target = target.map(str::to_owned);
        });
    }

    /// The upstream answered with `status` after `took` (or failed after `took`: `None`).
    pub fn upstream(&self, status: Option<u16>, took: Duration) {
        let span = &self.0.span;
        if let Some(status) = status {
            span.record("mcpgw.upstream.status", status);
        }
        span.record("mcpgw.upstream.latency_ms", took.as_secs_f64() * 1000.0);
        self.with(|o| {
            o.upstream_status = status;
            o.upstream_latency = Some(took);
        });
    }
}

/// Handlers take the request's observation as an argument; outside [`track`] (unit tests of
/// a bare router) they get one nobody reads.
impl<S: Send + Sync> FromRequestParts<S> for Observation {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.extensions))
    }
}

/// Middleware around the relay's routes (inside the request-id layer, whose span it fills).
pub async fn track(State(observer): State<Observer>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = tracing::Span::current();
    let observation = Observation(Arc::new(Shared {
        span: span.clone(),
        observed: Mutex::default(),
    }));
    request.extensions_mut().insert(observation.clone());
    let (trace_id, span_id) = telemetry::trace_position(&span, request.headers());
    if let Some(trace_id) = &trace_id {
        span.record("trace_id", trace_id.as_str());
    }
    let arrival = Arrival {
        time: Utc::now(),
        request_id: RequestId::of(&request),
        http_method: request.method().clone(),
        slug_in_path: request
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .map(str::to_owned),
        trace_id,
        span_id,
    };
    let response = next.run(request).await;
    let outcome = Outcome {
        status: response.status().as_u16(),
        reason: response.extensions().get::<FailureReason>().map(|r| r.0),
        latency: started.elapsed(),
    };
    outcome.mark(&span);
    let observed = observation.with(std::mem::take);
    count(&observer.metrics, &arrival.http_method, &observed, &outcome);
    if !observer.log.is_enabled() {
        return response;
    }
    // Answers to POSTs only: a GET stream may stay open for hours.
    let keeps_result = observed
        .server
        .as_ref()
        .filter(|s| s.logging.results && arrival.http_method == http::Method::POST)
        .map(|s| s.logging.max_bytes as usize);
    let record = record(arrival, observed, &outcome, observer.store.load().seq());
    match keeps_result {
        // The record leaves when the answer's body has (or is dropped).
        Some(max) => response.map(|body| {
            axum::body::Body::new(ResultCapture::new(body, max, record, observer.log.clone()))
        }),
        None => {
            observer.log.record(record.bounded());
            response
        }
    }
}

/// What is known of a request when it arrives.
struct Arrival {
    time: chrono::DateTime<Utc>,
    request_id: RequestId,
    http_method: http::Method,
    slug_in_path: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
}

/// How a request ended, as far as its response headers tell.
struct Outcome {
    status: u16,
    reason: Option<&'static str>,
    latency: Duration,
}

impl Outcome {
    /// The span's last fields.
    fn mark(&self, span: &tracing::Span) {
        span.record("http.response.status_code", self.status);
        if let Some(reason) = self.reason {
            span.record("error.type", reason);
        }
        if self.status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// Counts the request in the metrics.
fn count(
    metrics: &GatewayMetrics,
    http_method: &http::Method,
    observed: &Observed,
    outcome: &Outcome,
) {
    let server = labels::server(observed.server.as_ref().map(|s| s.slug.as_str())).to_owned();
    let method = labels::method(http_method, observed.method.as_deref(), observed.shape);
    metrics
        .requests
        .get_or_create(&RequestLabels {
            server: server.clone(),
            method,
            status: outcome.status,
        })
        .inc();
    let by_method = ServerMethodLabels {
        server: server.clone(),
        method,
    };
    metrics
        .request_duration
        .get_or_create(&by_method)
        .observe(outcome.latency.as_secs_f64());
    if let Some(took) = observed.upstream_latency {
        metrics
            .upstream_duration
            .get_or_create(&by_method)
            .observe(took.as_secs_f64());
    }
    let upstream_reason = match (outcome.reason, observed.upstream_status) {
        (Some(reason), _) if labels::is_auth_failure(reason) => {
            metrics
                .auth_failures
                .get_or_create(&ReasonLabels { reason })
                .inc();
            None
        }
        (Some(reason), _) if labels::is_upstream_failure(reason) => Some(reason.to_owned()),
        (None, Some(upstream)) if upstream >= 500 => Some(format!("status_{upstream}")),
        _ => None,
    };
    if let Some(reason) = upstream_reason {
        metrics
            .upstream_errors
            .get_or_create(&UpstreamErrorLabels { server, reason })
            .inc();
    }
    if (200..300).contains(&outcome.status) {
        if method == "initialize" {
            metrics.sessions_started.inc();
        } else if method == "delete" {
            metrics.sessions_ended.inc();
        }
    }
}

/// The request-log record of a request.
fn record(
    arrival: Arrival,
    observed: Observed,
    outcome: &Outcome,
    config_seq: i64,
) -> RequestRecord {
    let server = observed.server;
    RequestRecord {
        time: arrival.time,
        request_id: arrival.request_id.to_string(),
        trace_id: arrival.trace_id,
        span_id: arrival.span_id,
        workspace_id: observed
            .key_workspace
            .or(server.as_ref().map(|s| s.workspace)),
        server_id: server.as_ref().map(|s| s.id),
        server_version: server.as_ref().map(|s| s.version),
        server: server.map(|s| s.slug).or(arrival.slug_in_path),
        key_id: observed.key_id,
        user: observed.user,
        http_method: arrival.http_method.to_string(),
        method: observed.method,
        target: observed.target,
        status: outcome.status,
        reason: outcome.reason.map(str::to_owned),
        latency_us: micros(outcome.latency),
        upstream_status: observed.upstream_status,
        upstream_latency_us: observed.upstream_latency.map(micros),
        config_seq,
        arguments: observed.arguments,
        result: None,
    }
}

/// The raw `params.arguments` of a JSON-RPC request.
fn arguments_of(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        arguments: Option<&'a serde_json::value::RawValue>,
    }
    let envelope: Envelope<'_> = serde_json::from_slice(bytes).ok()?;
    Some(envelope.params?.arguments?.get().to_owned())
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
