//! From the upstream's response to the client's: status and the headers that may cross, the
//! gateway's own mappings (upstream auth failures, server errors, "unknown session"), and the
//! body streamed — JSON as bytes, SSE as whole events with keep-alives — except for the answers
//! the gateway must read: `initialize` (to seal the session; see `initialize`), and listings of
//! tools on a server whose policy hides some (see `tools`).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, StatusCode, header};
use mcpgw_shared::request_id::RequestId;
use mcpgw_shared::{ApiKeyId, OAuthGrantId};
use serde::de::IgnoredAny;

use super::stream::{Owed, Rewrite, SseRelay};
use super::tools::{self, Filtered};
use super::upstream::MCP_SESSION_ID;
use super::{RelayState, sse};
use crate::drain::StreamKind;
use crate::enforce::StreamGuard;
use crate::errors::GatewayError;
use crate::protocol::message::RpcId;
use crate::snapshot::{KeyRecord, Route, ToolPolicy};

/// Largest upstream body the gateway reads whole: one JSON-RPC message, as large as the
/// largest SSE event it relays.
pub(super) const MAX_READ: usize = sse::MAX_EVENT_BYTES;
/// Largest 400 body read to tell "unknown session" from other client errors.
const MAX_ERROR_READ: usize = 64 * 1024;

/// What the gateway must do with the answer besides relaying it.
pub enum Mode {
    /// Relay as is.
    Plain,
    /// A standalone stream the gateway opened before delivering a held-back
    /// `notifications/initialized`: it starts with this priming event of the gateway's own.
    Primed {
        /// The event (an `id` and no data).
        event: Bytes,
        /// The server's tool policy, when it hides tools (replays are filtered too).
        tools: Option<Arc<ToolPolicy>>,
    },
    /// The answer to `initialize`: seal the upstream's session id for `principal`.
    Initialize {
        /// The session key of the caller.
        principal: String,
        /// The version the client asked for, used when the answer names none.
        requested: Option<String>,
        /// Whether the session holds `notifications/initialized` back until the first GET.
        defer_initialized: bool,
        /// Whether the client declared URL elicitation.
        url_elicitation: bool,
    },
    /// An answer that may list tools (`tools/list`, a standalone stream's replays) on a server
    /// whose policy hides some: every listing in it is filtered.
    FilterTools(Arc<ToolPolicy>),
}

/// The request the answer belongs to.
pub struct Exchange<'a> {
    /// Shared relay state.
    pub state: &'a RelayState,
    /// The server.
    pub route: &'a Arc<Route>,
    /// Whether the request carried a session (so 404, or a 400 about the session, means the
    /// upstream forgot it).
    pub carried_session: bool,
    /// POST answer or standalone GET stream.
    pub kind: StreamKind,
    /// The key of the caller, whose withdrawal closes the stream.
    pub key: &'a ApiKeyId,
    /// The caller's record when an external JWT named them.
    pub external: Option<&'a KeyRecord>,
    /// The grant of the gateway's access token the caller presented.
    pub grant: Option<OAuthGrantId>,
    /// The gateway's id of the HTTP request.
    pub request_id: &'a RequestId,
    /// The JSON-RPC id of the request a POST answers (none for notifications and GET streams):
    /// its answer is owed even when the upstream fails mid-stream.
    pub rpc_id: Option<&'a RpcId>,
}

impl Exchange<'_> {
    /// Registers the SSE stream about to be relayed, so enforcement can close it (or, for a
    /// GET stream, announce tool-list changes on it).
    pub(super) fn register_stream(&self) -> StreamGuard {
        self.state.streams.register_for(
            self.key,
            self.external.cloned(),
            self.grant,
            &self.route.id(),
            self.route.connection_version(),
            self.kind == StreamKind::Listen,
        )
    }

    /// An upstream failure of this exchange's server.
    pub(super) fn failed(&self, detail: impl Into<String>) -> GatewayError {
        GatewayError::UpstreamFailed {
            slug: self.route.slug().to_string(),
            detail: detail.into(),
        }
    }

    /// Starts relaying the SSE body of `response`, owing the answer to a POST's request.
    pub(super) fn sse_relay(&self, response: reqwest::Response) -> SseRelay {
        let owed = match (self.kind, self.rpc_id) {
            (StreamKind::Response, Some(rpc_id)) => Some(Owed {
                rpc_id: rpc_id.clone(),
                request_id: self.request_id.clone(),
                slug: self.route.slug().to_string(),
                idle: self.state.upstream_idle,
            }),
            _ => None,
        };
        SseRelay::new(response).owing(owed)
    }

    /// The SSE body of `relay`, rewritten by `rewrite`, registered for enforcement.
    pub(super) fn sse_body(&self, relay: SseRelay, rewrite: Option<Rewrite>) -> Body {
        relay.into_body(
            rewrite,
            self.state.keep_alive,
            self.state.drain.clone(),
            self.kind,
            self.register_stream(),
        )
    }
}

/// Response headers that cross from upstream to client.
fn relayed_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        let keep = matches!(
            n,
            "content-type" | "cache-control" | "retry-after" | "allow"
        ) || (n.starts_with("mcp-") && n != MCP_SESSION_ID);
        if keep {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Reads a whole upstream body of at most `limit` bytes, within the upstream timeout.
pub(super) async fn read_bounded(
    response: reqwest::Response,
    limit: usize,
    exchange: &Exchange<'_>,
) -> Result<Bytes, GatewayError> {
    let read = async {
        let mut stream = response.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| exchange.failed(crate::errors::error_chain(&e.without_url())))?;
            if buf.len() + chunk.len() > limit {
                return Err(exchange.failed(format!(
                    "its answer exceeds the {limit} bytes the gateway reads whole"
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    let timeout = exchange.state.upstream.timeout();
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| GatewayError::UpstreamTimeout {
            slug: exchange.route.slug().to_string(),
            secs: timeout.as_secs(),
        })?
}

pub(super) fn build(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn mentions_session(body: &[u8]) -> bool {
    String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains("session")
}

/// The rewrite of SSE events that filters tool listings in their data.
fn tools_rewrite(policy: Arc<ToolPolicy>) -> Rewrite {
    Box::new(move |event: Bytes| match sse::data(&event) {
        Some(data) => match tools::filter(&data, &policy) {
            Filtered::Unchanged => event,
            Filtered::Rewritten(new) => sse::with_data(&event, &new),
        },
        None => event,
    })
}

/// Turns the upstream's answer into the client's.
pub async fn relay(
    response: reqwest::Response,
    mode: Mode,
    exchange: Exchange<'_>,
) -> Result<Response, GatewayError> {
    let status = response.status();
    let slug = || exchange.route.slug().to_string();
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return Err(GatewayError::UpstreamAuth {
            slug: slug(),
            status: status.as_u16(),
        });
    }
    if status.is_server_error() {
        return Err(exchange.failed(format!("it answered HTTP {status}")));
    }
    if exchange.carried_session && status == StatusCode::NOT_FOUND {
        return Err(GatewayError::UpstreamSessionGone);
    }
    let mut headers = relayed_headers(response.headers());
    let upstream_session = response
        .headers()
        .get(MCP_SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_sse = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
    if exchange.carried_session && status == StatusCode::BAD_REQUEST {
        let body = read_bounded(response, MAX_ERROR_READ, &exchange).await?;
        if mentions_session(&body) {
            return Err(GatewayError::UpstreamSessionGone);
        }
        return Ok(build(status, headers, Body::from(body)));
    }
    let sse_body = is_sse && status.is_success();
    match mode {
        Mode::Initialize {
            principal,
            requested,
            defer_initialized,
            url_elicitation,
        } if status.is_success() => {
            let session = super::initialize::Session {
                upstream: upstream_session,
                principal,
                requested,
                defer_initialized,
                url_elicitation,
            };
            super::initialize::answer(response, status, headers, sse_body, session, exchange).await
        }
        Mode::FilterTools(policy) if sse_body => {
            let body = exchange.sse_body(exchange.sse_relay(response), Some(tools_rewrite(policy)));
            Ok(build(status, headers, body))
        }
        Mode::FilterTools(policy) if status.is_success() => {
            let bytes = read_bounded(response, MAX_READ, &exchange).await?;
            let body = match tools::filter(&bytes, &policy) {
                Filtered::Unchanged => bytes,
                Filtered::Rewritten(new) => Bytes::from(new),
            };
            headers.remove(header::CONTENT_LENGTH);
            Ok(build(status, headers, Body::from(body)))
        }
        Mode::Primed { event, tools } if sse_body => {
            let mut relay = exchange.sse_relay(response);
            relay.unread(vec![event]);
            let body = exchange.sse_body(relay, tools.map(tools_rewrite));
            Ok(build(status, headers, body))
        }
        _ if sse_body => Ok(build(
            status,
            headers,
            exchange.sse_body(exchange.sse_relay(response), None),
        )),
        _ => {
            // A JSON answer is one message: read whole (bounded in size and time), so a broken,
            // endless or malformed one becomes a clear 502 or 504 instead of a cut body.
            let body = read_bounded(response, MAX_READ, &exchange).await?;
            // Only a request's answer must be a JSON-RPC message (a DELETE's may be empty).
            let answers =
                exchange.rpc_id.is_some() && status.is_success() && status != StatusCode::ACCEPTED;
            if answers && serde_json::from_slice::<IgnoredAny>(&body).is_err() {
                return Err(exchange.failed("its answer is not valid JSON"));
            }
            headers.insert(header::CONTENT_LENGTH, body.len().into());
            Ok(build(status, headers, Body::from(body)))
        }
    }
}
