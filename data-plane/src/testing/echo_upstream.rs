//! A raw upstream for relay tests: it answers every POST with what it received (the body as
//! text and the headers), so tests can see exactly what crossed the gateway. Methods
//! `fail/<status>` answer that status with the body `{"upstream":"<status>"}`, and
//! `sleep/<ms>` answer after that many milliseconds (at most 10 s); `initialize`
//! hands out the session `up-1` (and answers 404 to any other session id); `tools/list`
//! answers over SSE with a progress notification first (event `e1`, then the answer as `e2`),
//! and with its id respelled as a float when asked for the cursor `float-id`, as a careless
//! upstream might; GET opens a standalone stream, which replays the `tools/list` answer when
//! resumed after `e1`; DELETE answers 202, as rmcp does. Like many servers, it reacts to
//! `notifications/initialized` by sending a request (`roots/list`) on the standalone stream —
//! and drops it if no stream is attached at that moment.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use tokio::net::TcpListener;

/// The attached standalone stream, if any.
type Standalone = Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<Bytes>>>>;

async fn answer(State(standalone): State<Standalone>, headers: HeaderMap, body: Bytes) -> Response {
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let method = request["method"].as_str().unwrap_or("").to_owned();
    let id = request.get("id").cloned().unwrap_or_default();
    if let Some(status) = method.strip_prefix("fail/") {
        let status = StatusCode::from_bytes(status.as_bytes()).unwrap_or(StatusCode::IM_A_TEAPOT);
        let body = format!(r#"{{"upstream":"{}"}}"#, status.as_u16());
        return (status, [("content-type", "application/json")], body).into_response();
    }
    if let Some(ms) = method.strip_prefix("sleep/").and_then(|ms| ms.parse().ok()) {
        tokio::time::sleep(
            std::time::Duration::from_millis(ms).min(std::time::Duration::from_secs(10)),
        )
        .await;
    }
    let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok());
    if method != "initialize" && session.is_some_and(|s| s != "up-1") {
        return (StatusCode::NOT_FOUND, "Session not found").into_response();
    }
    let seen: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").into()))
        .collect();
    let result = if method == "initialize" {
        let version = request["params"]["protocolVersion"].clone();
        serde_json::json!({"protocolVersion": version, "capabilities": {}, "serverInfo": {"name": "echo", "version": "1"}})
    } else if method == "tools/list" {
        serde_json::json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}, {"name": "secret", "inputSchema": {"type": "object"}}, {"name": "peek", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}}], "x-kept": 1})
    } else {
        serde_json::json!({"body": String::from_utf8_lossy(&body), "headers": seen})
    };
    let mut message = serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
    if method == "tools/list" && request["params"]["cursor"] == "float-id" {
        message = message.replacen(&format!(r#""id":{id}"#), &format!(r#""id":{id}.0"#), 1);
    }
    if request.is_object() && request.get("id").is_none() {
        if method == "notifications/initialized" {
            let roots = "id: g-roots\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"roots/list\"}\n\n";
            if let Some(stream) = standalone.lock().expect("not poisoned").as_ref() {
                let _ = stream.send(Bytes::from_static(roots.as_bytes()));
            }
        }
        return StatusCode::ACCEPTED.into_response();
    }
    let mut response = if method == "tools/list" {
        let progress = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#;
        let sse =
            format!("id: e1\ndata: {progress}\n\nid: e2\nevent: message\ndata: {message}\n\n");
        ([("content-type", "text/event-stream")], sse).into_response()
    } else {
        ([("content-type", "application/json")], message).into_response()
    };
    if method == "initialize" {
        response
            .headers_mut()
            .insert("mcp-session-id", "up-1".parse().expect("a valid header"));
    }
    response
}

/// The `tools/list` answer (id 1) as a resumed stream replays it.
const TOOLS_LIST_REPLAY: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"secret"}]}}"#;

/// The standalone stream: one event naming the `Last-Event-ID` it was opened with, then
/// silence until the client leaves.
async fn listen(State(standalone): State<Standalone>, headers: HeaderMap) -> Response {
    if headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) != Some("up-1") {
        return (StatusCode::NOT_FOUND, "Session not found").into_response();
    }
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let mut first = format!(
        "id: g-1\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"resumed_after\":\"{last}\"}}}}\n\n"
    );
    if last == "e1" {
        // Resuming the tools/list stream: its answer is replayed.
        first = format!("id: e2\ndata: {TOOLS_LIST_REPLAY}\n\n{first}");
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    *standalone.lock().expect("not poisoned") = Some(tx);
    let events = futures::stream::once(async move { Bytes::from(first) })
        .chain(tokio_stream::wrappers::UnboundedReceiverStream::new(rx))
        .map(Ok::<_, std::convert::Infallible>);
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(events),
    )
        .into_response()
}

/// Starts the echo upstream on an ephemeral loopback port; returns its MCP URL.
pub async fn spawn() -> String {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("address");
    let app = Router::new()
        .route(
            "/mcp",
            post(answer)
                .get(listen)
                .delete(|| async { StatusCode::ACCEPTED }),
        )
        .with_state(Standalone::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp")
}
