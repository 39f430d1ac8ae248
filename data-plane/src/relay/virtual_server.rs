//! Virtual servers: one slug that answers as an MCP server itself, with the tools, prompts and
//! resources of its member servers. Listings fan out to every member at once and merge (names
//! prefixed as the virtual server's `prefix` says); a call goes to the member that listed the
//! name, by the member's own name. Each member is reached as the caller, with its own upstream
//! auth (per-user OAuth included) and its own tool policy, limited by the caller's workspace
//! and grants.
//!
//! A member that fails a listing fails the request when it is `on_failure: closed`; when it is
//! `open`, the others' answer stands, and the failing member is named in the log and in the
//! result's `_meta["io.mcpgw/failed_members"]`.
//!
//! In the session era the gateway holds the client's session itself (a sealed token with no
//! upstream session, so any pod serves it). Each pod opens its own session with each member on
//! first use, kept for the client's session: a changed member set is picked up on the next
//! request, and the session's GET stream (the gateway's own) hears `list_changed`. Members'
//! own notifications and requests to the client, and progress events of a call, are not
//! relayed: a call's answer is read whole.

mod listing;
mod members;
mod names;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use mcpgw_shared::model::VirtualServer;
use mcpgw_shared::request_id::RequestId;
use mcpgw_shared::version::VERSION;
use serde_json::{Value, json};

use super::RelayState;
use crate::admission::{MCP_SESSION_ID, Principal};
use crate::errors::GatewayError;
use crate::protocol::era::{self, Era};
use crate::protocol::message::{Kind, Message};
use crate::session::{SessionClaims, SessionSealer};
use crate::snapshot::{Route, ToolPolicy};
use listing::{Listing, Section};
pub use members::VirtualState;

/// The key in a result's `_meta` naming members that failed.
pub const FAILED_MEMBERS: &str = "io.mcpgw/failed_members";

/// One request to a virtual server, and who makes it.
pub(super) struct Call<'a> {
    pub state: &'a RelayState,
    pub rid: &'a RequestId,
    pub principal: &'a Principal,
    pub route: &'a Arc<Route>,
    pub members: &'a VirtualServer,
    /// The virtual server's own tool policy, limited by the caller's workspace and grants.
    pub tools: &'a ToolPolicy,
    pub era: Era,
    pub claims: Option<&'a SessionClaims>,
    pub headers: &'a HeaderMap,
    /// The request as JSON.
    pub body: &'a Value,
}

/// Whether a member's error is the caller's to act on (sign in, or wait for a limit), and so
/// is answered as it is rather than as the member's failure.
fn is_callers(error: &GatewayError) -> bool {
    matches!(
        error,
        GatewayError::SignInRequired { .. } | GatewayError::RateLimited { .. }
    )
}

/// The capabilities a virtual server declares.
fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": true},
        "prompts": {"listChanged": true},
        "resources": {"listChanged": true},
    })
}

fn server_info(route: &Route) -> Value {
    json!({"name": route.slug().as_str(), "title": route.server.name, "version": VERSION})
}

/// A JSON answer.
fn answer(message: Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        message.to_string(),
    )
        .into_response()
}

/// A result for `message`, marked complete in the 2026-07-28 era.
fn result(call: &Call<'_>, message: &Message, mut result: Value) -> Response {
    if call.era == Era::Stateless {
        result["resultType"] = json!("complete");
    }
    answer(json!({"jsonrpc": "2.0", "id": message.raw_id(), "result": result}))
}

/// A JSON-RPC error for `message` (HTTP 404 for an unknown method in the 2026-07-28 era).
fn rpc_error(call: &Call<'_>, message: &Message, code: i64, text: String) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": message.raw_id(), "error": {"code": code, "message": text, "data": {"request_id": call.rid.as_str()}}});
    let status = if call.era == Era::Stateless && code == -32601 {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Answers one POSTed message to a virtual server.
pub(super) async fn post(call: Call<'_>, message: &Message) -> Result<Response, GatewayError> {
    if message.kind != Kind::Request {
        // Notifications and answers are the gateway's own business with the client.
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let method = message.method.as_deref().unwrap_or_default();
    match method {
        "initialize" if call.era == Era::Sessions => Ok(initialize(&call, message)),
        "server/discover" if call.era == Era::Stateless => Ok(result(
            &call,
            message,
            json!({
                "supportedVersions": era::STATELESS_VERSIONS,
                "capabilities": capabilities(),
                "cacheScope": "private",
                "ttlMs": 0,
                "_meta": {"io.modelcontextprotocol/serverInfo": server_info(call.route)},
            }),
        )),
        "ping" => Ok(result(&call, message, json!({}))),
        _ => match Section::of(method) {
            Some(kind) => {
                let listing = call.fresh_listing(kind).await?;
                let mut listed = json!({ kind.field(): listing.items.clone() });
                if call.era == Era::Stateless {
                    listed["cacheScope"] = json!("private");
                    listed["ttlMs"] = json!(0);
                }
                if !listing.failed.is_empty() {
                    listed["_meta"] = json!({ FAILED_MEMBERS: listing.failed.clone() });
                }
                Ok(result(&call, message, listed))
            }
            None => forward(&call, message, method).await,
        },
    }
}

/// `tools/call`, `prompts/get` and `resources/read`: to the member that listed the name.
async fn forward(
    call: &Call<'_>,
    message: &Message,
    method: &str,
) -> Result<Response, GatewayError> {
    let kind = match method {
        "tools/call" => Section::Tools,
        "prompts/get" => Section::Prompts,
        "resources/read" => Section::Resources,
        other => {
            return Ok(rpc_error(
                call,
                message,
                -32601,
                format!(
                    "Method not found: {other} (virtual server `{}` offers tools, prompts and resources)",
                    call.route.slug()
                ),
            ));
        }
    };
    let params = match call.body.get("params") {
        Some(params @ Value::Object(_)) => params.clone(),
        _ => json!({}),
    };
    let wanted = params
        .get(kind.key())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // The member that listed the name, as the caller reaches it now.
    let reachable = |listing: &Listing| {
        let (exposed, id) = listing.origin(&wanted)?;
        let reached = call
            .members()
            .into_iter()
            .flatten()
            .find(|m| m.route.id() == id)?;
        Some((exposed.clone(), reached))
    };
    // A name the kept listing lacks may be new: the members are asked again.
    let found = match call.kept_listing(kind).await.and_then(|l| reachable(&l)) {
        Some(found) => Some(found),
        None => reachable(&*call.fresh_listing(kind).await?),
    };
    let Some((exposed, reached)) = found else {
        let what = match kind {
            Section::Tools => "Unknown tool",
            Section::Prompts => "Unknown prompt",
            _ => "Unknown resource",
        };
        return Ok(rpc_error(
            call,
            message,
            -32602,
            format!(
                "{what}: {wanted} (no member of virtual server `{}` offers it)",
                call.route.slug()
            ),
        ));
    };
    // The member's own name for it, through its policy's overrides.
    let own = match kind {
        Section::Tools => reached
            .tools
            .resolve(&exposed.original)
            .map(str::to_owned)
            .unwrap_or_else(|_| exposed.original.clone()),
        _ => exposed.original.clone(),
    };
    let mut params = params;
    params[kind.key()] = json!(own);
    if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/"));
    }
    let name = (call.era == Era::Stateless).then_some(own.as_str());
    let answered = call
        .ask_member(&reached.route, "mcpgw-virtual-call", method, params, name)
        .await
        .map_err(|error| match error {
            error if is_callers(&error) => error,
            error => GatewayError::MemberFailed {
                slug: call.route.slug().to_string(),
                member: reached.route.slug().to_string(),
                error: Box::new(error),
            },
        })?;
    let mut reply = answered;
    reply["id"] = serde_json::to_value(message.raw_id()).unwrap_or(Value::Null);
    Ok(answer(reply))
}

/// `initialize` (session era): the gateway's own session, sealed, with no upstream session.
fn initialize(call: &Call<'_>, message: &Message) -> Response {
    let requested = message.protocol_version.as_deref().unwrap_or_default();
    let version = if era::SESSION_VERSIONS.contains(&requested) {
        requested
    } else {
        era::SESSION_VERSIONS[era::SESSION_VERSIONS.len() - 1]
    };
    let mut claims = SessionSealer::claims(
        call.route.connection_version(),
        version,
        &call.principal.session_key(),
        None,
    );
    // A member's sign-in is then asked for as a URL elicitation.
    claims.url_elicitation = message.url_elicitation;
    let token = call.state.sealer.seal(&call.route.id(), &claims);
    let mut response = result(
        call,
        message,
        json!({
            "protocolVersion": version,
            "capabilities": capabilities(),
            "serverInfo": server_info(call.route),
            "instructions": call.route.server.description,
        }),
    );
    if let Ok(value) = http::HeaderValue::from_str(&token) {
        response.headers_mut().insert(MCP_SESSION_ID, value);
    }
    response
}

/// The session's GET stream (session era): the gateway's own, carrying `list_changed` when the
/// members or their tools change, and keep-alive comments; it ends when enforcement closes it
/// or the pod drains.
pub(super) fn listen(
    state: &RelayState,
    principal: &Principal,
    route: &Route,
) -> Result<Response, GatewayError> {
    state
        .streams
        .admit(&principal.key_id, state.limits.max_streams_per_key)?;
    let guard = state.streams.register_for(
        &principal.key_id,
        principal.external.then(|| principal.key.clone()),
        principal.grant,
        &route.id(),
        route.connection_version(),
        true,
    );
    let (keep_alive, drain) = (state.keep_alive, state.drain.clone());
    let events = futures::stream::unfold((guard, drain), move |(mut guard, drain)| async move {
        let closed = guard.closed();
        let event = tokio::select! {
            event = guard.injected() => event,
            () = tokio::time::sleep(keep_alive) => bytes::Bytes::from_static(super::sse::KEEP_ALIVE),
            () = closed => return None,
            () = drain.ended(crate::drain::StreamKind::Listen) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(event), (guard, drain)))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(events),
    )
        .into_response())
}
