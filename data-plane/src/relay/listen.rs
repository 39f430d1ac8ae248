//! `GET /{slug}/mcp` (the standalone SSE stream, with `Last-Event-ID` resumption) and
//! `DELETE /{slug}/mcp` (ending a session) of the session era. Both relay to the upstream,
//! which answers 405 if it offers neither.
//!
//! In sessions whose client invites server requests (roots, sampling, elicitation), the client's
//! `notifications/initialized` is held back (see `post`) and delivered here: the first GET
//! opens the upstream's standalone stream, and only once the upstream has answered it does the
//! gateway send `initialized` upstream, so whatever the upstream sends in reaction finds the
//! stream attached instead of being dropped. That stream starts with a priming event whose id
//! is the gateway's own: a reconnect that names it needs no second `initialized`, and the id is
//! not passed upstream, which never issued it. Any pod can do this — the session token says
//! whether `initialized` is held back.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};

use super::RelayState;
use super::admit::admit;
use super::errors::{Failure, GatewayError};
use super::post::open_session;
use super::response::{self, Exchange, Mode};
use super::session::SessionClaims;
use crate::drain::StreamKind;
use mcpgw_shared::request_id::RequestId;

/// Prefix of the event ids the gateway gives its own priming events.
const PRIMING_PREFIX: &str = "mcpgw-primed-";

/// How a GET relates to a held-back `notifications/initialized`.
enum Priming {
    /// Nothing held back, or the client resumes an upstream event id: relay as is.
    None,
    /// The first GET of the session: deliver `initialized` once the stream is attached.
    First,
    /// A reconnect after the gateway's priming event: drop that id, send nothing again.
    Reconnect,
}

fn priming(method: &Method, headers: &HeaderMap, claims: Option<&SessionClaims>) -> Priming {
    if method != Method::GET || !claims.is_some_and(|c| c.defer_initialized) {
        return Priming::None;
    }
    match headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Priming::First,
        Some(id) if id.starts_with(PRIMING_PREFIX) => Priming::Reconnect,
        Some(_) => Priming::None,
    }
}

/// Sends the held-back `notifications/initialized` upstream. Its failure is logged, not
/// reported: the client's GET is what is being answered.
async fn deliver_initialized(
    state: &RelayState,
    admitted: &super::admit::Admitted,
    claims: &SessionClaims,
    rid: &RequestId,
) {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    if let Ok(version) = HeaderValue::from_str(&claims.protocol_version) {
        headers.insert(super::era::PROTOCOL_VERSION, version);
    }
    let body = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let sent = state
        .upstream
        .send(
            &admitted.server,
            Method::POST,
            &headers,
            claims.upstream_session.as_deref(),
            rid,
            Some(body),
        )
        .await;
    match sent {
        Ok(answer) if answer.status().is_success() => {
            let _ = answer.bytes().await;
        }
        Ok(answer) => {
            tracing::warn!(request_id = %rid, status = %answer.status(), "the upstream refused the held-back notifications/initialized")
        }
        Err(e) => {
            tracing::warn!(request_id = %rid, error = %e, "could not deliver the held-back notifications/initialized")
        }
    }
}

async fn forward(
    state: RelayState,
    slug: String,
    request: Request,
    method: Method,
) -> Result<Response, Failure> {
    let (parts, _) = request.into_parts();
    let rid = parts
        .extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let fail = |e: GatewayError| e.into_failure(&rid, None);
    let admitted = admit(&state, &parts, &slug).map_err(fail)?;
    let stateless = parts
        .headers
        .get(super::era::PROTOCOL_VERSION)
        .is_some_and(|v| v.as_bytes() == super::era::MODERN.as_bytes());
    let claims = if stateless {
        None
    } else {
        open_session(&state, &parts.headers, &admitted).map_err(fail)?
    };
    let upstream_session = claims.as_ref().and_then(|c| c.upstream_session.as_deref());
    let priming = priming(&method, &parts.headers, claims.as_ref());
    let mut headers = parts.headers.clone();
    if matches!(priming, Priming::Reconnect) {
        headers.remove("last-event-id");
    }
    let answer = state
        .upstream
        .send(
            &admitted.server,
            method,
            &headers,
            upstream_session,
            &rid,
            None,
        )
        .await
        .map_err(fail)?;
    let mut mode = Mode::Plain;
    if let (Priming::First, Some(claims)) = (&priming, &claims) {
        let status = answer.status();
        // Attached (2xx), or no standalone stream at all (405): either way it is time.
        if status.is_success() || status == http::StatusCode::METHOD_NOT_ALLOWED {
            deliver_initialized(&state, &admitted, claims, &rid).await;
        }
        let id = format!("{PRIMING_PREFIX}{}", uuid::Uuid::new_v4().simple());
        mode = Mode::Primed {
            event: Bytes::from(format!("id: {id}\ndata:\n\n")),
        };
    }
    let exchange = Exchange {
        state: &state,
        server: &admitted.server,
        carried_session: claims.is_some(),
        kind: StreamKind::Listen,
        key: &admitted.principal.key.id,
    };
    response::relay(answer, mode, exchange).await.map_err(fail)
}

/// The GET handler.
pub async fn get(
    State(state): State<RelayState>,
    Path(slug): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    forward(state, slug, request, Method::GET).await
}

/// The DELETE handler.
pub async fn delete(
    State(state): State<RelayState>,
    Path(slug): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    forward(state, slug, request, Method::DELETE).await
}
