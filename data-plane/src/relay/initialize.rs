//! The answer to `initialize`, the one answer the gateway reads before relaying it: it needs
//! the negotiated protocol version to seal into the session token, and the token must be in the
//! response headers, so the upstream's answer is read up to its `InitializeResult` (JSON whole;
//! SSE event by event, the events read ahead then relayed first) before the headers go out. The
//! read-ahead is bounded in events, bytes and time.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use super::response::{Exchange, MAX_READ, build, read_bounded};
use super::sse;
use super::stream::SseRelay;
use super::upstream::MCP_SESSION_ID;
use crate::errors::GatewayError;
use crate::protocol::era;
use crate::session::{MAX_UPSTREAM_SESSION_LEN, SessionSealer};

/// Most events read ahead looking for the `InitializeResult` (server requests and notifications
/// may precede it).
const MAX_READ_AHEAD_EVENTS: usize = 64;
/// Most bytes read ahead looking for it.
const MAX_READ_AHEAD_BYTES: usize = 1024 * 1024;

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
    /// Whether the client declared URL elicitation.
    pub url_elicitation: bool,
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
        let mut relay = exchange.sse_relay(response);
        let version =
            tokio::time::timeout(state.upstream.timeout(), read_ahead(&mut relay, &exchange))
                .await
                .map_err(|_| GatewayError::UpstreamTimeout {
                    slug: exchange.route.slug().to_string(),
                    secs: state.upstream.timeout().as_secs(),
                })??;
        (version, exchange.sse_body(relay, None))
    } else {
        let bytes = read_bounded(response, MAX_READ, &exchange).await?;
        (negotiated(&bytes).flatten(), Body::from(bytes))
    };
    if let Some(upstream_session) = session.upstream {
        if upstream_session.len() > MAX_UPSTREAM_SESSION_LEN {
            return Err(exchange.failed(format!(
                "its session id is longer than {MAX_UPSTREAM_SESSION_LEN} bytes"
            )));
        }
        let version = version
            .or(session.requested)
            .unwrap_or_else(|| era::DEFAULT_LEGACY.to_owned());
        let mut claims = SessionSealer::claims(
            exchange.route.connection_version(),
            &version,
            &session.principal,
            Some(&upstream_session),
        );
        claims.defer_initialized = session.defer_initialized;
        claims.url_elicitation = session.url_elicitation;
        let token = state.sealer.seal(&exchange.route.id(), &claims);
        headers.insert(
            MCP_SESSION_ID,
            HeaderValue::from_str(&token).expect("session tokens are visible ASCII"),
        );
    }
    Ok(build(status, headers, body))
}

/// Reads SSE events until the `InitializeResult` (its negotiated version, if it names one) and
/// puts them back in front of the stream; at most [`MAX_READ_AHEAD_EVENTS`] events and
/// [`MAX_READ_AHEAD_BYTES`] bytes.
async fn read_ahead(
    relay: &mut SseRelay,
    exchange: &Exchange<'_>,
) -> Result<Option<String>, GatewayError> {
    let mut read = Vec::new();
    let mut bytes = 0;
    let mut version = None;
    while let Some(event) = relay.next_event().await {
        bytes += event.len();
        let found = sse::data(&event).and_then(|d| negotiated(&d));
        read.push(event);
        if let Some(v) = found {
            version = v;
            break;
        }
        if read.len() >= MAX_READ_AHEAD_EVENTS || bytes >= MAX_READ_AHEAD_BYTES {
            return Err(exchange.failed(format!(
                "no initialize result in its first {} events ({bytes} bytes)",
                read.len()
            )));
        }
    }
    relay.unread(read);
    Ok(version)
}
