//! `GET /{slug}/mcp` (the standalone SSE stream, with `Last-Event-ID` resumption) and
//! `DELETE /{slug}/mcp` (ending a session) of the session era. Both relay to the upstream,
//! which answers 405 if it offers neither; they read `MCP-Protocol-Version` by the same rules as
//! a POST. A successful DELETE answers 200, whatever success status the upstream used.
//!
//! In sessions whose client invites server requests (roots, sampling, elicitation), the client's
//! `notifications/initialized` is held back (see `post`) and delivered here: the first GET
//! opens the upstream's standalone stream, and only once the upstream has answered it does the
//! gateway send `initialized` upstream, so whatever the upstream sends in reaction finds the
//! stream attached instead of being dropped. That stream starts with a priming event whose id
//! is the gateway's own: a reconnect that names it needs no second `initialized`, and the id is
//! not passed upstream, which never issued it. Any pod can do this — the session token says
//! whether `initialized` is held back.
//!
//! On a server whose tool policy hides tools, every listing on a GET stream is filtered too:
//! a stream resumed with `Last-Event-ID` replays a POST stream's messages, answers included.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use mcpgw_shared::request_id::RequestId;

use super::RelayState;
use super::response::{self, Exchange, Mode};
use crate::admission::{Principal, Routed, SessionHeader};
use crate::drain::StreamKind;
use crate::errors::{Failure, GatewayError};
use crate::observe::Observation;
use crate::protocol::era::{self, Era};
use crate::session::SessionClaims;
use crate::snapshot::Route;

/// Prefix of the event ids the gateway gives its own priming events.
const PRIMING_PREFIX: &str = "mcpgw-primed-";
/// Largest answer to the held-back `initialized` that is read (and dropped).
const MAX_INITIALIZED_ANSWER: usize = 64 * 1024;

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

/// Sends the held-back `notifications/initialized` upstream and reads its (small) answer within
/// the upstream timeout. Its failure is logged, not reported: the client's GET is what is being
/// answered.
async fn deliver_initialized(
    state: &RelayState,
    route: &Route,
    caller: &Principal,
    claims: &SessionClaims,
    rid: &RequestId,
) {
    let headers = super::upstream::own_post_headers(&claims.protocol_version);
    let body = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let sent = state
        .upstream
        .send(
            route,
            Some(caller),
            Method::POST,
            &headers,
            claims.upstream_session.as_deref(),
            rid,
            Some(body),
            &Observation::default(),
        )
        .await;
    match sent {
        Ok(answer) if answer.status().is_success() => {
            let drained = tokio::time::timeout(state.upstream.timeout(), async {
                let mut answer = answer;
                let mut read = 0;
                while let Ok(Some(chunk)) = answer.chunk().await {
                    read += chunk.len();
                    if read > MAX_INITIALIZED_ANSWER {
                        break;
                    }
                }
            })
            .await;
            if drained.is_err() {
                tracing::warn!(request_id = %rid, "the answer to the held-back notifications/initialized did not end in time");
            }
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
    rid: RequestId,
    routed: Routed,
    session: SessionHeader,
    request: Request,
    method: Method,
) -> Result<Response, Failure> {
    let Routed {
        principal,
        route,
        tools,
        ..
    } = routed;
    let (parts, _) = request.into_parts();
    let observation = Observation::of(&parts.extensions);
    let fail = |e: GatewayError| e.into_failure(&rid, None);
    let (era, _) = era::era(&parts.headers).map_err(|e| fail(e.into()))?;
    let claims = match era {
        Era::Stateless => None,
        Era::Sessions => session
            .open(&state.sealer, &route, &principal)
            .map_err(|e| fail(e.into()))?,
    };
    if route.members().is_some() {
        return match (era, method) {
            (Era::Sessions, Method::GET) => {
                super::virtual_server::listen(&state, &principal, &route).map_err(fail)
            }
            (Era::Sessions, _) => Ok(StatusCode::OK.into_response()),
            (Era::Stateless, _) => Ok(StatusCode::METHOD_NOT_ALLOWED.into_response()),
        };
    }
    let upstream_session = claims.as_ref().and_then(|c| c.upstream_session.as_deref());
    let priming = priming(&method, &parts.headers, claims.as_ref());
    let mut headers = parts.headers.clone();
    if matches!(priming, Priming::Reconnect) {
        headers.remove("last-event-id");
    }
    if method == Method::GET {
        state
            .streams
            .admit(&principal.key_id, state.limits.max_streams_per_key)
            .map_err(fail)?;
    }
    let answer = state
        .upstream
        .send(
            &route,
            Some(&principal),
            method.clone(),
            &headers,
            upstream_session,
            &rid,
            None,
            &observation,
        )
        .await
        .map_err(fail)?;
    let tools = tools.filters_anything().then_some(tools);
    let mode = match (&priming, &claims) {
        (Priming::First, Some(claims)) => {
            let status = answer.status();
            // Attached (2xx), or no standalone stream at all (405): either way it is time.
            if status.is_success() || status == StatusCode::METHOD_NOT_ALLOWED {
                deliver_initialized(&state, &route, &principal, claims, &rid).await;
            }
            let id = format!("{PRIMING_PREFIX}{}", uuid::Uuid::new_v4().simple());
            Mode::Primed {
                event: Bytes::from(format!("id: {id}\ndata:\n\n")),
                tools,
            }
        }
        _ => tools.map_or(Mode::Plain, Mode::FilterTools),
    };
    let exchange = Exchange {
        state: &state,
        route: &route,
        carried_session: claims.is_some(),
        kind: StreamKind::Listen,
        key: &principal.key_id,
        external: principal.external.then_some(&principal.key),
        grant: principal.grant,
        request_id: &rid,
        rpc_id: None,
    };
    let mut out = response::relay(answer, mode, exchange)
        .await
        .map_err(fail)?;
    if method == Method::DELETE && out.status().is_success() {
        *out.status_mut() = StatusCode::OK;
    }
    Ok(out)
}

/// The GET handler.
pub async fn get(
    State(state): State<RelayState>,
    rid: RequestId,
    routed: Routed,
    session: SessionHeader,
    request: Request,
) -> Result<Response, Failure> {
    forward(state, rid, routed, session, request, Method::GET).await
}

/// The DELETE handler.
pub async fn delete(
    State(state): State<RelayState>,
    rid: RequestId,
    routed: Routed,
    session: SessionHeader,
    request: Request,
) -> Result<Response, Failure> {
    forward(state, rid, routed, session, request, Method::DELETE).await
}
