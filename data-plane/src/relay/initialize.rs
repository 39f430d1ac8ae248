//! The answer to `initialize`, the one answer the gateway reads before relaying it: it needs
//! the negotiated protocol version to seal into the session token, and the token must be in the
//! response headers, so the upstream's answer is read up to its `InitializeResult` (JSON whole;
//! SSE event by event, the events read ahead then relayed first) before the headers go out.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use super::errors::GatewayError;
use super::response::{Exchange, MAX_READ, build, read_bounded};
use super::session::{MAX_UPSTREAM_SESSION_LEN, SessionSealer};
use super::stream::SseRelay;
use super::upstream::MCP_SESSION_ID;
use super::{era, sse};

/// What goes into the session token besides the server's connection version.
pub struct Session {
    /// The upstream's `Mcp-Session-Id`, if it gave one (else no session is made).
    pub upstream: Option<String>,
    /// The caller's session key.
    pub principal: String,
    /// The version the client asked for, used when the answer names none.
    pub requested: Option<String>,
    /// Whether `notifications/initialized` waits for the first GET.
    pub defer_initialized: bool,
}

#[derive(Deserialize)]
struct InitAnswer {
    result: Option<InitResult>,
}

#[derive(Deserialize)]
struct InitResult {
    #[serde(rename = "protocolVersion")]
    protocol_version: Option<String>,
}

/// The negotiated version in an `InitializeResult` message; `None` if it is not one.
fn negotiated(message: &[u8]) -> Option<Option<String>> {
    let answer: InitAnswer = serde_json::from_slice(message).ok()?;
    answer.result.map(|r| r.protocol_version)
}

/// Relays a successful `initialize` answer with a sealed session id in place of the upstream's.
pub async fn answer(
    response: reqwest::Response,
    status: StatusCode,
    mut headers: HeaderMap,
    sse_body: bool,
    session: Session,
    exchange: Exchange<'_>,
) -> Result<Response, GatewayError> {
    let state = exchange.state;
    let (version, body) = if sse_body {
        let mut relay = SseRelay::new(response);
        let mut read = Vec::new();
        let mut version = None;
        while let Some(event) = relay.next_event().await {
            let found = sse::data(&event).and_then(|d| negotiated(&d));
            read.push(event);
            if let Some(v) = found {
                version = v;
                break;
            }
        }
        relay.unread(read);
        let body = relay.into_body(
            None,
            state.keep_alive,
            state.drain.clone(),
            exchange.kind,
            exchange.register_stream(),
        );
        (version, body)
    } else {
        let bytes = read_bounded(response, MAX_READ, &exchange).await?;
        (negotiated(&bytes).flatten(), Body::from(bytes))
    };
    if let Some(upstream_session) = session.upstream {
        if upstream_session.len() > MAX_UPSTREAM_SESSION_LEN {
            return Err(GatewayError::UpstreamFailed {
                upstream: exchange.server.url.clone(),
                detail: format!("its session id is longer than {MAX_UPSTREAM_SESSION_LEN} bytes"),
            });
        }
        let version = version
            .or(session.requested)
            .unwrap_or_else(|| era::DEFAULT_LEGACY.to_owned());
        let mut claims = SessionSealer::claims(
            exchange.server.connection_version,
            &version,
            &session.principal,
            Some(&upstream_session),
        );
        claims.defer_initialized = session.defer_initialized;
        let token = state.sealer.seal(&exchange.server.id, &claims);
        headers.insert(
            MCP_SESSION_ID,
            HeaderValue::from_str(&token).expect("session tokens are visible ASCII"),
        );
    }
    Ok(build(status, headers, body))
}
