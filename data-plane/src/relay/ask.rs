//! The gateway's own JSON-RPC requests to an upstream, as a client would send them in the
//! caller's era (the envelope and routing headers of 2026-07-28, or the session of the
//! session era), with the answer read whole, bounded in size and time, from a JSON body or the
//! SSE events of the answer. The read-only tool catalog and virtual servers' members use it.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Method};
use mcpgw_shared::request_id::RequestId;
use serde_json::{Value, json};

use super::sse::{self, EventSplitter};
use super::upstream::{Upstream, own_post_headers};
use crate::admission::MCP_SESSION_ID;
use crate::errors::GatewayError;
use crate::observe::Observation;
use crate::protocol::era::{self, Era};
use crate::snapshot::Route;

/// Largest answer read.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Who asks, and how: the caller's user, era, protocol version and upstream session.
pub struct Asker<'a> {
    /// The user of the caller's key.
    pub user: Option<&'a str>,
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
            asker.user,
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
    let bytes = read(response, upstream.timeout())
        .await
        .map_err(|detail| failed(format!("its {method} answer could not be read: {detail}")))?;
    let message = if is_sse {
        answer_in_events(&bytes, id)
    } else {
        serde_json::from_slice::<Value>(&bytes).ok()
    }
    .filter(|m| m.get("result").is_some() || m.get("error").is_some())
    .ok_or_else(|| failed(format!("its {method} answer carried no JSON-RPC answer")))?;
    Ok(Answered { session, message })
}

/// The answer with id `id` among the SSE events of `body`.
fn answer_in_events(body: &[u8], id: &str) -> Option<Value> {
    let mut splitter = EventSplitter::default();
    let mut events = splitter.push(body).ok()?;
    events.extend(splitter.finish());
    let wanted = json!(id);
    events
        .iter()
        .filter_map(|e| sse::data(e))
        .filter_map(|data| serde_json::from_slice::<Value>(&data).ok())
        .find(|m| m["id"] == wanted)
}

/// The whole body, bounded in size and time.
async fn read(response: reqwest::Response, limit: Duration) -> Result<Bytes, String> {
    let read = async {
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| e.without_url().to_string())?;
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!("it exceeds {MAX_ANSWER_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| format!("not read within {}s", limit.as_secs()))?
}
