//! `POST /{slug}/mcp`: one JSON-RPC message (or, in 2025-03-26 sessions, a batch) to the
//! upstream, and its answer back.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use mcpgw_shared::model::UpstreamAuth;
use mcpgw_shared::request_id::RequestId;
use serde_json::value::RawValue;

use super::response::{self, Exchange, Mode};
use super::{RelayState, catalog, limit, sign_in, tools, virtual_server};
use crate::admission::{Routed, SessionHeader};
use crate::drain::StreamKind;
use crate::errors::{Failure, GatewayError};
use crate::observe::Observation;
use crate::protocol::era::{self, Era};
use crate::protocol::message::{self, Body as Shape, Kind, MessageError, RpcId};

/// The notification that ends the handshake.
pub(super) const INITIALIZED: &str = "notifications/initialized";

/// Reads the body, bounded in size and in time (a client that trickles it is cut off).
async fn read_body(state: &RelayState, body: Body) -> Result<Bytes, GatewayError> {
    let limits = &state.limits;
    let read = http_body_util::Limited::new(body, limits.max_body).collect();
    match tokio::time::timeout(limits.body_read_timeout, read).await {
        Err(_) => Err(GatewayError::BodyTimeout(limits.body_read_timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(GatewayError::BodyTooLarge(limits.max_body))
        }
        Ok(Err(_)) => Err(GatewayError::InvalidRequest(
            "the request body could not be read",
        )),
    }
}

/// The JSON-RPC id of a single request (what its answer must carry).
fn request_id_of(shape: &Shape) -> Option<&RpcId> {
    match shape {
        Shape::Single(m) if m.kind == Kind::Request => m.id.as_ref(),
        _ => None,
    }
}

/// The handler.
pub async fn handle(
    State(state): State<RelayState>,
    rid: RequestId,
    Routed {
        principal,
        route,
        tools,
        workspace_limits,
    }: Routed,
    session: SessionHeader,
    observation: Observation,
    request: Request,
) -> Result<Response, Failure> {
    let (parts, body) = request.into_parts();
    let fail = |e: GatewayError, id: Option<&RawValue>| e.into_failure(&rid, id);
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > state.limits.max_body) {
        return Err(fail(
            GatewayError::BodyTooLarge(state.limits.max_body),
            None,
        ));
    }
    let bytes = read_body(&state, body).await.map_err(|e| fail(e, None))?;
    let (era, _) = era::era(&parts.headers)
        .map_err(|e| fail(e.into(), message::peek_id(&bytes).as_deref()))?;
    let shape = message::inspect(&bytes, era).map_err(|e| match e {
        MessageError::InvalidParams { ref id, .. } => {
            let id = id.clone();
            fail(e.into(), id.as_deref())
        }
        e => fail(e.into(), None),
    })?;
    observation.body(&shape, &bytes);
    let first_id = match &shape {
        Shape::Single(m) => m.raw_id(),
        Shape::Batch(_) => None,
    };
    if let Some(scope) = principal.scopes.and_then(|s| s.lacks_for(&shape)) {
        return Err(fail(GatewayError::InsufficientScope(scope), first_id));
    }
    let is_initialize = matches!(&shape, Shape::Single(m) if m.is("initialize"));
    let claims = if era == Era::Sessions && !is_initialize {
        session
            .open(&state.sealer, &route, &principal)
            .map_err(|e| fail(e.into(), first_id))?
    } else {
        None
    };
    // Counts the request against the server's and the workspace's limits (a call of the
    // upstream's tool `tool`).
    let charge = |tool: Option<&str>| {
        limit::charge(
            &state.limiter,
            &route,
            &principal,
            workspace_limits.as_deref(),
            &shape,
            tool,
            &parts.headers,
        )
    };
    if let Some(members) = route.members() {
        let Shape::Single(message) = &shape else {
            return Err(fail(GatewayError::BatchNotAllowed, None));
        };
        if era == Era::Stateless {
            era::check_routing_headers(&parts.headers, message)
                .map_err(|e| fail(e.into(), first_id))?;
        }
        let _admitted = charge(None).map_err(|e| fail(e, first_id))?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let call = virtual_server::Call {
            state: &state,
            rid: &rid,
            principal: &principal,
            route: &route,
            members,
            tools: &tools,
            era,
            claims: claims.as_ref(),
            headers: &parts.headers,
            body: &body,
        };
        let user = principal.key.user.as_deref();
        return match virtual_server::post(call, message).await {
            Ok(response) => Ok(response),
            Err(error @ GatewayError::SignInRequired { .. }) => sign_in::answer(
                error,
                era,
                claims.as_ref(),
                Some(message),
                state.upstream.sign_in(),
                &route,
                user,
            )
            .map_err(|e| fail(e, first_id)),
            Err(error) => Err(fail(error, first_id)),
        };
    }
    let policy = &tools;
    // The upstream's name of a tool the client calls by the name the policy shows.
    let mut renamed_call: Option<String> = None;
    // The upstream's name of a tool called on a read-only server: its annotations decide.
    let mut read_only_call: Option<String> = None;
    if let Shape::Batch(items) = &shape {
        let batch_ok = claims
            .as_ref()
            .is_some_and(|c| c.protocol_version == era::BATCH_VERSION);
        if era == Era::Stateless || !batch_ok {
            return Err(fail(GatewayError::BatchNotAllowed, None));
        }
        let touches_tools = items
            .iter()
            .any(|m| m.is("tools/list") || m.is("tools/call"));
        if policy.filters_anything() && touches_tools {
            return Err(fail(
                GatewayError::InvalidRequest(
                    "tools/list and tools/call of a filtered server cannot be batched",
                ),
                None,
            ));
        }
    }
    let mode = match &shape {
        Shape::Batch(_) => Mode::Plain,
        Shape::Single(m) => {
            if era == Era::Stateless {
                era::check_routing_headers(&parts.headers, m)
                    .map_err(|e| fail(e.into(), m.raw_id()))?;
            }
            if m.kind == Kind::Notification
                && m.is(INITIALIZED)
                && claims.as_ref().is_some_and(|c| c.defer_initialized)
            {
                // Held back: the first GET delivers it once its stream is attached upstream.
                return Ok(StatusCode::ACCEPTED.into_response());
            }
            if m.is("tools/call") {
                let name = m.target.as_deref().unwrap_or_default();
                match policy.resolve(name) {
                    Err(hidden) => {
                        let body = tools::denied_tool_response(
                            m.raw_id(),
                            name,
                            route.slug().as_str(),
                            &hidden,
                            rid.as_str(),
                        );
                        return Ok(
                            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
                        );
                    }
                    Ok(upstream) => {
                        if policy.read_only() {
                            read_only_call = Some(upstream.to_owned());
                        }
                        if upstream != name {
                            renamed_call = Some(upstream.to_owned());
                        }
                    }
                }
            }
            if is_initialize && era == Era::Sessions {
                Mode::Initialize {
                    principal: principal.session_key(),
                    requested: m.protocol_version.clone(),
                    defer_initialized: m.invites_server_requests,
                    url_elicitation: m.url_elicitation,
                }
            } else if m.is("tools/list") && policy.filters_anything() {
                Mode::FilterTools(policy.clone())
            } else {
                Mode::Plain
            }
        }
    };
    state
        .streams
        .admit(&principal.key_id, state.limits.max_streams_per_key)
        .map_err(|e| fail(e, first_id))?;
    let upstream_session = claims.as_ref().and_then(|c| c.upstream_session.as_deref());
    let user = principal.key.user.as_deref();
    let single = match &shape {
        Shape::Single(m) => Some(m),
        Shape::Batch(_) => None,
    };
    let sign_in = state.upstream.sign_in();
    // Only a per-user OAuth server's callers carry the gateway's own `requestState`.
    let signs_in = matches!(route.server.auth, UpstreamAuth::Oauth2 { .. });
    let bytes = match (era, sign_in, user) {
        (Era::Stateless, Some(sign_in), Some(user)) if signs_in => {
            sign_in::strip_own_state(&bytes, sign_in, &route, user)
                .map_err(|e| fail(e, first_id))?
                .unwrap_or(bytes)
        }
        _ => bytes,
    };
    if let (Some(tool), Shape::Single(m)) = (&read_only_call, &shape) {
        let protocol_version = match (&claims, era) {
            (Some(claims), _) => claims.protocol_version.as_str(),
            (None, Era::Stateless) => era::MODERN,
            (None, Era::Sessions) => era::DEFAULT_LEGACY,
        };
        let asker = catalog::Asker {
            caller: Some(&principal),
            era,
            protocol_version,
            upstream_session,
            request_id: &rid,
        };
        let listing = match state.catalog.listing(&state.upstream, &route, &asker).await {
            Ok(listing) => listing,
            // Asking the upstream needs the user's sign-in too.
            Err(error @ GatewayError::SignInRequired { .. }) => {
                return sign_in::answer(error, era, claims.as_ref(), single, sign_in, &route, user)
                    .map_err(|e| fail(e, first_id));
            }
            Err(error) => return Err(fail(error, first_id)),
        };
        let annotations = listing.get(tool.as_str()).copied().unwrap_or_default();
        if let Err(hidden) = policy.admits(&annotations) {
            let shown = m.target.as_deref().unwrap_or_default();
            let body = tools::denied_tool_response(
                m.raw_id(),
                shown,
                route.slug().as_str(),
                &hidden,
                rid.as_str(),
            );
            return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
        }
    }
    let admitted = charge(renamed_call.as_deref().or(read_only_call.as_deref()))
        .map_err(|e| fail(e, first_id))?;
    let mut headers = std::borrow::Cow::Borrowed(&parts.headers);
    let bytes = match &renamed_call {
        Some(upstream) => {
            if let Ok(value) = http::HeaderValue::from_str(upstream)
                && headers.contains_key(era::MCP_NAME)
            {
                headers.to_mut().insert(era::MCP_NAME, value);
            }
            tools::call_named(&bytes, upstream).unwrap_or(bytes)
        }
        None => bytes,
    };
    let sent = state
        .upstream
        .send(
            &route,
            Some(&principal),
            Method::POST,
            &headers,
            upstream_session,
            &rid,
            Some(bytes),
            &observation,
        )
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(error @ GatewayError::SignInRequired { .. }) => {
            return sign_in::answer(error, era, claims.as_ref(), single, sign_in, &route, user)
                .map_err(|e| fail(e, first_id));
        }
        Err(error) => return Err(fail(error, first_id)),
    };
    let exchange = Exchange {
        state: &state,
        route: &route,
        carried_session: claims.is_some(),
        kind: StreamKind::Response,
        key: &principal.key_id,
        external: principal.external.then_some(&principal.key),
        grant: principal.grant,
        request_id: &rid,
        rpc_id: request_id_of(&shape),
    };
    let mut out = response::relay(answer, mode, exchange)
        .await
        .map_err(|e| fail(e, first_id))?;
    if out.status() == StatusCode::ACCEPTED {
        *out.body_mut() = Body::empty();
    }
    if route.limits.bounds_concurrency()
        || workspace_limits
            .as_ref()
            .is_some_and(|l| l.bounds_concurrency())
    {
        out = out.map(|body| limit::held_until_end(body, admitted));
    }
    Ok(out)
}
