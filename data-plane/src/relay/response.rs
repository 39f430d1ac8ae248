//! From the upstream's response to the client's: status and the headers that may cross, the
//! gateway's own mappings (upstream auth failures, server errors, "unknown session"), and the
//! body streamed — JSON as bytes, SSE as whole events with keep-alives — except for the two
//! answers the gateway must read: `initialize` (to seal the session; see `initialize`) and a
//! filtered `tools/list`.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, StatusCode, header};
use mcpgw_shared::model::{ServerConfig, ToolFilter};
use serde_json::value::RawValue;

use super::errors::GatewayError;
use super::stream::{Rewrite, SseRelay};
use super::upstream::MCP_SESSION_ID;
use super::{RelayState, sse, tools};
use crate::drain::StreamKind;
use crate::enforce::StreamGuard;
use mcpgw_shared::ApiKeyId;

/// Largest upstream body the gateway reads whole (initialize, filtered tools/list, errors).
pub(super) const MAX_READ: usize = 8 * 1024 * 1024;
/// Largest JSON answer read whole before it is sent on (see the plain JSON case of `relay`).
const SMALL_ANSWER: usize = 64 * 1024;
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
    },
    /// The answer to `initialize`: seal the upstream's session id for `principal`.
    Initialize {
        /// The session key of the caller.
        principal: String,
        /// The version the client asked for, used when the answer names none.
        requested: Option<String>,
        /// Whether the session holds `notifications/initialized` back until the first GET.
        defer_initialized: bool,
    },
    /// The answer to `tools/list` with id `id`: hide what `filter` hides.
    ToolsList {
        /// The request's id.
        id: Box<RawValue>,
        /// The server's filter.
        filter: ToolFilter,
    },
}

/// The request the answer belongs to.
pub struct Exchange<'a> {
    /// Shared relay state.
    pub state: &'a RelayState,
    /// The server.
    pub server: &'a Arc<ServerConfig>,
    /// Whether the request carried a session (so 404, or a 400 about the session, means the
    /// upstream forgot it).
    pub carried_session: bool,
    /// POST answer or standalone GET stream.
    pub kind: StreamKind,
    /// The key of the caller, whose withdrawal closes the stream.
    pub key: &'a ApiKeyId,
}

impl Exchange<'_> {
    /// Registers the SSE stream about to be relayed, so enforcement can close it (or, for a
    /// GET stream, announce tool-list changes on it).
    pub(super) fn register_stream(&self) -> StreamGuard {
        self.state.streams.register(
            self.key,
            &self.server.id,
            self.server.connection_version,
            self.kind == StreamKind::Listen,
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

pub(super) async fn read_bounded(
    response: reqwest::Response,
    limit: usize,
    exchange: &Exchange<'_>,
) -> Result<Bytes, GatewayError> {
    let upstream = exchange.server.url.clone();
    let read = async {
        let mut stream = response.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| GatewayError::UpstreamFailed {
                upstream: upstream.clone(),
                detail: e.to_string(),
            })?;
            if buf.len() + chunk.len() > limit {
                return Err(GatewayError::UpstreamFailed {
                    upstream: upstream.clone(),
                    detail: format!("its answer exceeds the {limit} bytes the gateway reads whole"),
                });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    let timeout = exchange.state.upstream.timeout();
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| GatewayError::UpstreamTimeout {
            upstream: upstream.clone(),
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

/// Turns the upstream's answer into the client's.
pub async fn relay(
    response: reqwest::Response,
    mode: Mode,
    exchange: Exchange<'_>,
) -> Result<Response, GatewayError> {
    let status = response.status();
    let upstream = exchange.server.url.clone();
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        return Err(GatewayError::UpstreamAuth {
            upstream,
            status: status.as_u16(),
        });
    }
    if status.is_server_error() {
        return Err(GatewayError::UpstreamFailed {
            upstream,
            detail: format!("it answered HTTP {status}"),
        });
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
    let state = exchange.state;
    match (mode, is_sse && status.is_success()) {
        (
            Mode::Initialize {
                principal,
                requested,
                defer_initialized,
            },
            sse_body,
        ) if status.is_success() => {
            let session = super::initialize::Session {
                upstream: upstream_session,
                principal,
                requested,
                defer_initialized,
            };
            super::initialize::answer(response, status, headers, sse_body, session, exchange).await
        }
        (Mode::ToolsList { id, filter }, true) => {
            let rewrite: Rewrite = Box::new(move |event: Bytes| {
                sse::data(&event)
                    .and_then(|d| tools::filter_list_response(&d, &id, &filter))
                    .map_or(event.clone(), |new| sse::with_data(&event, &new))
            });
            let body = SseRelay::new(response).into_body(
                Some(rewrite),
                state.keep_alive,
                state.drain.clone(),
                exchange.kind,
                exchange.register_stream(),
            );
            Ok(build(status, headers, body))
        }
        (Mode::ToolsList { id, filter }, false) if status.is_success() => {
            let bytes = read_bounded(response, MAX_READ, &exchange).await?;
            let body = tools::filter_list_response(&bytes, &id, &filter).map_or(bytes, Bytes::from);
            headers.remove(header::CONTENT_LENGTH);
            Ok(build(status, headers, Body::from(body)))
        }
        (mode, true) => {
            let mut relay = SseRelay::new(response);
            if let Mode::Primed { event } = mode {
                relay.unread(vec![event]);
            }
            let body = relay.into_body(
                None,
                state.keep_alive,
                state.drain.clone(),
                exchange.kind,
                exchange.register_stream(),
            );
            Ok(build(status, headers, body))
        }
        (_, false) => {
            // Relayed unchanged, so the upstream's length holds. A small answer is read whole
            // first (it is one JSON-RPC message, usually already in the socket buffer), so
            // headers and body leave in one write instead of two; larger ones stream.
            let length = response.headers().get(header::CONTENT_LENGTH).cloned();
            let small = length
                .as_ref()
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .filter(|len| *len <= SMALL_ANSWER);
            if let Some(length) = length {
                headers.insert(header::CONTENT_LENGTH, length);
            }
            let body = match small {
                Some(len) => Body::from(read_bounded(response, len, &exchange).await?),
                None => Body::from_stream(response.bytes_stream()),
            };
            Ok(build(status, headers, body))
        }
    }
}
