//! The gateway's own JSON-RPC requests to an upstream, as a client would send them in the
//! caller's era (the envelope and routing headers of 2026-07-28, or the session of the
//! session era), with the answer read whole, bounded in size and time, from a JSON body or the
//! SSE events of the answer. The read-only tool catalog, virtual servers' members and the
//! control plane's doctor use it.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method};
use mcpgw_shared::request_id::RequestId;
use serde_json::{Value, json};

use super::sse::{self, EventSplitter};
use super::upstream::{Upstream, own_post_headers};
use crate::admission::{MCP_SESSION_ID, Principal};
use crate::errors::GatewayError;
use crate::observe::Observation;
use crate::protocol::era::{self, Era};
use crate::snapshot::Route;

/// Largest answer read.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Who asks, and how: the caller, era, protocol version and upstream session.
pub struct Asker<'a> {
    /// The caller (`None`: the gateway asks on its own).
    pub caller: Option<&'a Principal>,
    /// The request's era.
    pub era: Era,
    /// The protocol version to ask in.
    pub protocol_version: &'a str,
    /// The upstream session to ask in (session era).
    pub upstream_session: Option<&'a str>,
    /// The request's id.
    pub request_id: &'a RequestId,
}

/// An upstream's answer to one request.
pub struct Answered {
    /// The session the upstream handed out (`Mcp-Session-Id`), if any.
    pub session: Option<String>,
    /// The JSON-RPC answer: a `result` or an `error`.
    pub message: Value,
}

/// Sends `method` with `params` to `route`'s upstream as `asker`, and reads the answer with id
/// `id`. `name` is the `Mcp-Name` of 2026-07-28 calls that need one.
pub async fn ask(
    upstream: &Upstream,
    route: &Route,
    asker: &Asker<'_>,
    id: &str,
    method: &str,
    mut params: Value,
    name: Option<&str>,
) -> Result<Answered, GatewayError> {
    let failed = |detail: String| GatewayError::UpstreamFailed {
        slug: route.slug().to_string(),
        detail,
    };
    let mut headers = own_post_headers(asker.protocol_version);
    if asker.era == Era::Stateless {
        if let Ok(value) = HeaderValue::from_str(method) {
            headers.insert(era::MCP_METHOD, value);
        }
        if let Some(value) = name.and_then(|n| HeaderValue::from_str(n).ok()) {
            headers.insert(era::MCP_NAME, value);
        }
        if !params.is_object() {
            params = json!({});
        }
        params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!(asker.protocol_version);
        params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({});
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let response = upstream
        .send(
            route,
            asker.caller,
            Method::POST,
            &headers,
            asker.upstream_session,
            asker.request_id,
            Some(Bytes::from(body.to_string())),
            &Observation::default(),
        )
        .await?;
    if !response.status().is_success() {
        return Err(failed(format!(
            "its {method} answered HTTP {}",
            response.status()
        )));
    }
    let (session, message) = read_answer(response, upstream.timeout()).await;
    let message = message
        .map_err(|detail| failed(format!("its {method} answer could not be read: {detail}")))?;
    Ok(Answered { session, message })
}

/// The session an upstream's response hands out (`Mcp-Session-Id`), and its JSON-RPC answer: a
/// JSON body read whole, or SSE events until one carries a `result` or an `error`; bounded to
/// [`MAX_ANSWER_BYTES`] and `within`.
pub async fn read_answer(
    response: reqwest::Response,
    within: Duration,
) -> (Option<String>, Result<Value, String>) {
    let session = response
        .headers()
        .get(MCP_SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_sse = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let answer = tokio::time::timeout(within, read(response, is_sse))
        .await
        .unwrap_or_else(|_| Err(format!("not read within {}s", within.as_secs())));
    (session, answer)
}

/// Whether `message` is a JSON-RPC answer.
fn is_answer(message: &Value) -> bool {
    message.get("result").is_some() || message.get("error").is_some()
}

async fn read(mut response: reqwest::Response, is_sse: bool) -> Result<Value, String> {
    let mut read = 0usize;
    let mut whole = Vec::new();
    let mut events = EventSplitter::default();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        read += chunk.len();
        if read > MAX_ANSWER_BYTES {
            return Err(format!("it exceeds {MAX_ANSWER_BYTES} bytes"));
        }
        if !is_sse {
            whole.extend_from_slice(&chunk);
            continue;
        }
        let split = events
            .push(&chunk)
            .map_err(|_| "its event stream is malformed".to_owned())?;
        for event in split {
            if let Some(data) = sse::data(&event)
                && let Ok(message) = serde_json::from_slice::<Value>(&data)
                && is_answer(&message)
            {
                return Ok(message);
            }
        }
    }
    if is_sse {
        return Err("its event stream ended without an answer".to_owned());
    }
    serde_json::from_slice::<Value>(&whole)
        .ok()
        .filter(is_answer)
        .ok_or_else(|| "it is not a JSON-RPC answer".to_owned())
}
