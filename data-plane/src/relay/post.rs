//! `POST /{slug}/mcp`: one JSON-RPC message (or, in 2025-03-26 sessions, a batch) to the
//! upstream, and its answer back.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;

use super::admit::{Admitted, admit};
use super::era::{self, Era};
use super::errors::{Failure, GatewayError};
use super::message::{self, Body as Shape, Kind};
use super::response::{self, Exchange, Mode};
use super::session::SessionClaims;
use super::upstream::MCP_SESSION_ID;
use super::{RelayState, tools};
use crate::drain::StreamKind;
use mcpgw_shared::request_id::RequestId;

/// The notification that ends the handshake.
pub(super) const INITIALIZED: &str = "notifications/initialized";

async fn read_body(body: Body, limit: usize) -> Result<Bytes, GatewayError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(GatewayError::BodyTooLarge(limit))
        }
        Err(_) => Err(GatewayError::InvalidRequest(
            "the request body could not be read",
        )),
    }
}

/// Opens the client's session id, if it sent one, for this server and caller.
pub(super) fn open_session(
    state: &RelayState,
    headers: &http::HeaderMap,
    admitted: &Admitted,
) -> Result<Option<SessionClaims>, GatewayError> {
    let Some(token) = headers.get(MCP_SESSION_ID) else {
        return Ok(None);
    };
    let token = token
        .to_str()
        .map_err(|_| super::session::SessionError::Malformed)?;
    let claims = state.sealer.open(
        token,
        &admitted.server.id,
        admitted.server.connection_version,
        &admitted.principal.session_key(),
    )?;
    Ok(Some(claims))
}

/// The handler.
pub async fn handle(
    State(state): State<RelayState>,
    Path(slug): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    let (parts, body) = request.into_parts();
    let rid = parts
        .extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let fail = |e: GatewayError, id: Option<&serde_json::value::RawValue>| e.into_failure(&rid, id);
    let admitted = admit(&state, &parts, &slug).map_err(|e| fail(e, None))?;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > state.max_body) {
        return Err(fail(GatewayError::BodyTooLarge(state.max_body), None));
    }
    let bytes = read_body(body, state.max_body)
        .await
        .map_err(|e| fail(e, None))?;
    let shape = message::inspect(&bytes).map_err(|e| fail(e, None))?;
    let first_id = match &shape {
        Shape::Single(m) => m.id.clone(),
        Shape::Batch(_) => None,
    };
    let (era, _) = era::era(&parts.headers).map_err(|e| fail(e, first_id.as_deref()))?;
    let is_initialize = matches!(&shape, Shape::Single(m) if m.is("initialize"));
    let claims = if era == Era::Sessions && !is_initialize {
        open_session(&state, &parts.headers, &admitted).map_err(|e| fail(e, first_id.as_deref()))?
    } else {
        None
    };
    let filter = &admitted.server.tools;
    let mode = match &shape {
        Shape::Batch(items) => {
            let batch_ok = claims
                .as_ref()
                .is_some_and(|c| c.protocol_version == era::BATCH_VERSION);
            if era == Era::Stateless || !batch_ok {
                return Err(fail(GatewayError::BatchNotAllowed, None));
            }
            let touches_tools = items
                .iter()
                .any(|m| m.is("tools/list") || m.is("tools/call"));
            if tools::filters_anything(filter) && touches_tools {
                return Err(fail(
                    GatewayError::InvalidRequest(
                        "tools/list and tools/call of a filtered server cannot be batched",
                    ),
                    None,
                ));
            }
            Mode::Plain
        }
        Shape::Single(m) => {
            if era == Era::Stateless {
                era::check_routing_headers(&parts.headers, m)
                    .map_err(|e| fail(e, m.id.as_deref()))?;
            }
            if m.kind == Kind::Notification
                && m.is(INITIALIZED)
                && claims.as_ref().is_some_and(|c| c.defer_initialized)
            {
                // Held back: the first GET delivers it once its stream is attached upstream.
                return Ok(StatusCode::ACCEPTED.into_response());
            }
            if m.kind == Kind::Request && m.is("tools/call") {
                let name = m.target.as_deref().unwrap_or("");
                if !filter.permits(name) {
                    let body = tools::unknown_tool_response(m.id.as_deref(), name);
                    return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
                }
            }
            if is_initialize && era == Era::Sessions {
                Mode::Initialize {
                    principal: admitted.principal.session_key(),
                    requested: m.protocol_version.clone(),
                    defer_initialized: m.invites_server_requests,
                }
            } else if m.kind == Kind::Request
                && m.is("tools/list")
                && tools::filters_anything(filter)
            {
                Mode::ToolsList {
                    id: m.id.clone().expect("a request has an id"),
                    filter: filter.clone(),
                }
            } else {
                Mode::Plain
            }
        }
    };
    let upstream_session = claims.as_ref().and_then(|c| c.upstream_session.as_deref());
    let answer = state
        .upstream
        .send(
            &admitted.server,
            Method::POST,
            &parts.headers,
            upstream_session,
            &rid,
            Some(bytes),
        )
        .await
        .map_err(|e| fail(e, first_id.as_deref()))?;
    let exchange = Exchange {
        state: &state,
        server: &admitted.server,
        carried_session: claims.is_some(),
        kind: StreamKind::Response,
        key: &admitted.principal.key.id,
    };
    let mut out = response::relay(answer, mode, exchange)
        .await
        .map_err(|e| fail(e, first_id.as_deref()))?;
    if out.status() == StatusCode::ACCEPTED {
        *out.body_mut() = Body::empty();
    }
    Ok(out)
}
