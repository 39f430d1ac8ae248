//! A request id for every HTTP request, on both planes: made here (a client-sent
//! `x-request-id` is not trusted: it is logged and sent upstream), carried in the request's
//! extensions, returned in `x-request-id` on every response, errors included, and named by
//! every log line of the request.

use std::fmt;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument;

/// The header that carries the request id.
pub const X_REQUEST_ID: &str = "x-request-id";

/// The id of one HTTP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A new, unique id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string().into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id a request was given by [`assign`], or a new one where none was (a handler
    /// mounted without the middleware).
    pub fn of<B>(request: &http::Request<B>) -> Self {
        Self::from_extensions(request.extensions())
    }

    /// The id in `extensions`, or a new one.
    pub fn from_extensions(extensions: &http::Extensions) -> Self {
        extensions
            .get::<Self>()
            .cloned()
            .unwrap_or_else(Self::generate)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request's id as a handler argument.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::from_extensions(&parts.extensions))
    }
}

/// Middleware: assigns the id, runs the request in a span that carries it (so every log line
/// of the request names it), logs the outcome at debug level, and sets the header.
///
/// The span is the request's server span in a trace: a client's W3C trace context becomes its
/// parent, and it declares the fields the data plane fills in as it learns them (following the
/// OpenTelemetry semantic conventions for HTTP and MCP; `mcpgw.*` for the gateway's own).
pub async fn assign(request: Request, next: Next) -> Response {
    if !crate::telemetry::tracing_enabled() {
        return serve(request, next).await;
    }
    let parent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    let sampled = crate::telemetry::sampling::decide(parent);
    crate::telemetry::sampling::scope(sampled, serve(request, next)).await
}

/// [`assign`]'s work, inside the request's sampling decision.
async fn serve(mut request: Request, next: Next) -> Response {
    let id = RequestId::generate();
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        trace_id = tracing::field::Empty,
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        http.response.status_code = tracing::field::Empty,
        mcp.method.name = tracing::field::Empty,
        gen_ai.tool.name = tracing::field::Empty,
        gen_ai.prompt.name = tracing::field::Empty,
        mcp.resource.uri = tracing::field::Empty,
        mcpgw.server = tracing::field::Empty,
        mcpgw.workspace = tracing::field::Empty,
        mcpgw.key.id = tracing::field::Empty,
        enduser.id = tracing::field::Empty,
        mcpgw.upstream.status = tracing::field::Empty,
        mcpgw.upstream.latency_ms = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    crate::telemetry::set_parent_from(&span, request.headers());
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "answered"
        );
    });
    let value = HeaderValue::from_str(id.as_str()).expect("a simple uuid is a valid header value");
    response.headers_mut().insert(X_REQUEST_ID, value);
    response
}
