//! `GET /{slug}/mcp` (the standalone SSE stream, with `Last-Event-ID` resumption) and
//! `DELETE /{slug}/mcp` (ending a session) of the session era. Both relay to the upstream,
//! which answers 405 if it offers neither.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::Method;

use super::RelayState;
use super::admit::admit;
use super::errors::{Failure, GatewayError};
use super::post::open_session;
use super::request_id::RequestId;
use super::response::{self, Exchange, Mode};
use crate::drain::StreamKind;

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
    let answer = state
        .upstream
        .send(
            &admitted.server,
            method,
            &parts.headers,
            upstream_session,
            &rid,
            None,
        )
        .await
        .map_err(fail)?;
    let exchange = Exchange {
        state: &state,
        server: &admitted.server,
        carried_session: claims.is_some(),
        kind: StreamKind::Listen,
        key: &admitted.principal.key.id,
    };
    response::relay(answer, Mode::Plain, exchange)
        .await
        .map_err(fail)
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
