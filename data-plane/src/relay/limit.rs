//! The relay's side of rate limits: which messages of a POST count, the caller they count
//! for, and a response body that holds a call's place in a concurrency limit until the answer
//! is complete.

use axum::body::Body;
use http::{HeaderMap, header};
use http_body_util::BodyExt;

use crate::admission::Principal;
use crate::errors::GatewayError;
use crate::limits::{Admitted, Caller, RateLimiter, ServerLimits};
use crate::protocol::message::{Body as Shape, Kind, Message};
use crate::snapshot::Route;

/// Methods that are protocol overhead, never counted.
const OVERHEAD: [&str; 2] = ["initialize", "ping"];

/// Counts the requests of `shape` against the server's limits and the caller's workspace's.
/// `upstream_tool` is the upstream's name of the tool a single `tools/call` calls. Requests
/// counted before one that is refused stay counted.
pub(super) fn charge(
    limiter: &RateLimiter,
    route: &Route,
    principal: &Principal,
    workspace_limits: Option<&ServerLimits>,
    shape: &Shape,
    upstream_tool: Option<&str>,
    headers: &HeaderMap,
) -> Result<Vec<Admitted>, GatewayError> {
    if route.limits.is_empty() && workspace_limits.is_none() {
        return Ok(Vec::new());
    }
    let counted = |m: &&Message| m.kind == Kind::Request && !OVERHEAD.iter().any(|o| m.is(o));
    // A batch's calls are never renamed (filtered servers refuse them).
    let (messages, renamed): (Vec<&Message>, _) = match shape {
        Shape::Single(m) => (vec![m], upstream_tool),
        Shape::Batch(items) => (items.iter().collect(), None),
    };
    messages
        .into_iter()
        .filter(counted)
        .map(|message| {
            let tool = message
                .is("tools/call")
                .then(|| renamed.or(message.target.as_deref()).unwrap_or_default());
            let as_event = takes_only_events(headers);
            charge_one(limiter, route, principal, workspace_limits, tool, as_event)
        })
        .collect()
}

/// Counts one request of `principal` to `route` (and against `workspace_limits`): a call of
/// `tool` (its upstream name), or another request. `as_event`: the refusal is answered as an
/// SSE event.
pub(super) fn charge_one(
    limiter: &RateLimiter,
    route: &Route,
    principal: &Principal,
    workspace_limits: Option<&ServerLimits>,
    tool: Option<&str>,
    as_event: bool,
) -> Result<Admitted, GatewayError> {
    let key = principal.key_id.to_string();
    let workspace = principal.key.workspace.map(|w| w.to_string());
    let server = route.id().to_string();
    let caller = Caller {
        key: &key,
        user: principal.key.user.as_deref(),
        workspace: workspace.as_deref(),
        server: &server,
    };
    let mut sets = vec![&*route.limits];
    sets.extend(workspace_limits);
    limiter
        .admit(&sets, caller, tool)
        .map_err(|limited| GatewayError::RateLimited {
            slug: route.slug().to_string(),
            limited,
            as_event,
        })
}

/// Whether the client's `Accept` takes `text/event-stream` and not JSON.
fn takes_only_events(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .collect::<Vec<_>>();
    accept.iter().any(|t| t == "text/event-stream")
        && !accept
            .iter()
            .any(|t| t == "application/json" || t == "application/*" || t == "*/*")
}

/// `body`, holding `admitted` until it is complete or dropped: the call stays in flight for
/// concurrency limits as long as its answer streams.
pub(super) fn held_until_end(body: Body, admitted: Vec<Admitted>) -> Body {
    Body::new(body.map_frame(move |frame| {
        let _in_flight = &admitted;
        frame
    }))
}
