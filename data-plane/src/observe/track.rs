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
use super::metrics::{ReasonLabels, RequestLabels, ServerMethodLabels, UpstreamErrorLabels};
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
    let time = Utc::now();
    let observation = Observation(Arc::new(Shared {
        span: tracing::Span::current(),
        observed: Mutex::default(),
    }));
    request.extensions_mut().insert(observation.clone());
    let request_id = RequestId::of(&request);
    let http_method = request.method().clone();
    let span = tracing::Span::current();
    let (trace_id, span_id) = telemetry::trace_position(&span, request.headers());
    if let Some(trace_id) = &trace_id {
        span.record("trace_id", trace_id.as_str());
    }
    let slug_in_path = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .map(str::to_owned);
    let response = next.run(request).await;
    let latency = started.elapsed();
    let status = response.status();
    let reason = response.extensions().get::<FailureReason>().map(|r| r.0);
    span.record("http.response.status_code", status.as_u16());
    if let Some(reason) = reason {
        span.record("error.type", reason);
    }
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    let observed = observation.with(std::mem::take);
    let slug = observed.server.as_ref().map(|s| s.slug.as_str());
    let server_label = labels::server(slug).to_owned();
    let method = labels::method(&http_method, observed.method.as_deref(), observed.shape);
    let metrics = &observer.metrics;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            server: server_label.clone(),
            method,
            status: status.as_u16(),
        })
        .inc();
    metrics
        .request_duration
        .get_or_create(&ServerMethodLabels {
            server: server_label.clone(),
            method,
        })
        .observe(latency.as_secs_f64());
    if let Some(took) = observed.upstream_latency {
        metrics
            .upstream_duration
            .get_or_create(&ServerMethodLabels {
                server: server_label.clone(),
                method,
            })
            .observe(took.as_secs_f64());
    }
    match (reason, observed.upstream_status) {
        (Some(reason), _) if labels::is_auth_failure(reason) => {
            metrics
                .auth_failures
                .get_or_create(&ReasonLabels { reason })
                .inc();
        }
        (Some(reason), _) if labels::is_upstream_failure(reason) => {
            metrics
                .upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    server: server_label,
                    reason: reason.to_owned(),
                })
                .inc();
        }
        (None, Some(upstream)) if upstream >= 500 => {
            metrics
                .upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    server: server_label,
                    reason: format!("status_{upstream}"),
                })
                .inc();
        }
        _ => {}
    }
    if status.is_success() {
        if method == "initialize" {
            metrics.sessions_started.inc();
        } else if method == "delete" {
            metrics.sessions_ended.inc();
        }
    }
    if observer.log.is_enabled() {
        let record = RequestRecord {
            time,
            request_id: request_id.to_string(),
            trace_id,
            span_id,
            workspace_id: observed
                .key_workspace
                .or(observed.server.as_ref().map(|s| s.workspace)),
            server_id: observed.server.as_ref().map(|s| s.id),
            server: observed
                .server
                .as_ref()
                .map(|s| s.slug.clone())
                .or(slug_in_path),
            key_id: observed.key_id,
            user: observed.user,
            http_method: http_method.to_string(),
            method: observed.method,
            target: observed.target,
            status: status.as_u16(),
            reason: reason.map(str::to_owned),
            latency_us: micros(latency),
            upstream_status: observed.upstream_status,
            upstream_latency_us: observed.upstream_latency.map(micros),
            config_seq: observer.store.load().seq(),
            server_version: observed.server.as_ref().map(|s| s.version),
            arguments: observed.arguments,
            result: None,
        };
        // Answers to POSTs only: a GET stream may stay open for hours.
        let keeps_result = observed
            .server
            .as_ref()
            .filter(|s| s.logging.results && http_method == http::Method::POST)
            .map(|s| s.logging.max_bytes as usize);
        return match keeps_result {
            // The record leaves when the answer's body has (or is dropped).
            Some(max) => response.map(|body| {
                axum::body::Body::new(ResultCapture::new(body, max, record, observer.log.clone()))
            }),
            None => {
                observer.log.record(record.bounded());
                response
            }
        };
    }
    response
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
