//! A plain HTTP MCP client for tests that look at statuses, headers and raw SSE events: the
//! session era's initialize, requests with a session, and the standalone GET stream.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The protocol version the tests speak.
pub const VERSION: &str = "2025-11-25";
/// The stateless era's version.
pub const STATELESS_VERSION: &str = "2026-07-28";

/// A client of one gateway endpoint with one API key.
#[derive(Clone)]
pub struct McpClient {
    http: reqwest::Client,
    /// `http://<gateway>/<slug>/mcp`.
    pub url: String,
    key: String,
}

/// One answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// The session id header, if any.
    pub session: Option<String>,
    /// The JSON-RPC message (from a JSON body, or the last `data:` of an SSE body).
    pub body: Value,
    /// The response's headers.
    pub headers: reqwest::header::HeaderMap,
}

impl McpClient {
    /// A client of `url` presenting `key`.
    pub fn new(url: String, key: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("HTTP client"),
            url,
            key: key.to_owned(),
        }
    }

    /// The same endpoint on another gateway (same slug).
    pub fn with_url(&self, url: String) -> Self {
        Self {
            url,
            ..self.clone()
        }
    }

    /// The same client presenting another key.
    pub fn with_key(&self, key: &str) -> Self {
        Self {
            key: key.to_owned(),
            ..self.clone()
        }
    }

    /// POSTs one JSON-RPC message, with a session when given.
    pub async fn post(&self, message: Value, session: Option<&str>) -> Answer {
        let mut request = self.request(&message, VERSION);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        self.send(request).await
    }

    /// POSTs one JSON-RPC request in the stateless era (2026-07-28): no session, the
    /// protocol envelope in `params._meta`, the routing headers `Mcp-Method` and (for
    /// `tools/call`, `prompts/get`, `resources/read`) `Mcp-Name`.
    pub async fn post_stateless(&self, mut message: Value) -> Answer {
        // Each request carries its own protocol envelope.
        let meta = &mut message["params"]["_meta"];
        meta["io.modelcontextprotocol/protocolVersion"] = json!(STATELESS_VERSION);
        meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
        let mut request = self
            .request(&message, STATELESS_VERSION)
            .header("mcp-method", message["method"].as_str().unwrap_or_default());
        let params = &message["params"];
        if let Some(name) = params["name"].as_str().or(params["uri"].as_str()) {
            request = request.header("mcp-name", name);
        }
        self.send(request).await
    }

    /// The message of the 401 `invalid_token` that a `tools/list` with this client's bearer
    /// token gets (asserting that it gets one).
    pub async fn token_refusal(&self) -> String {
        let answer = self
            .post_stateless(
                json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        assert_eq!(
            answer.body["error"]["data"]["reason"], "invalid_token",
            "{}",
            answer.body
        );
        answer.body["error"]["message"]
            .as_str()
            .expect("an error message")
            .to_owned()
    }

    fn request(&self, message: &Value, version: &str) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .bearer_auth(&self.key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .json(message)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let headers = response.headers().clone();
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let sse = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let text = response.text().await.unwrap_or_default();
        let body = if sse {
            text.lines()
                .rev()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .find_map(|d| serde_json::from_str(d).ok())
                .unwrap_or(Value::Null)
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            session,
            body,
            headers,
        }
    }

    /// Initializes a session; returns its id.
    pub async fn initialize(&self) -> String {
        let answer = self
            .post(
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": VERSION, "capabilities": {},
                    "clientInfo": {"name": "mcpgw-tests", "version": "1"}}}),
                None,
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "initialize: {:?}",
            answer.body
        );
        let session = answer.session.expect("initialize returns a session id");
        let initialized = self
            .post(
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                Some(&session),
            )
            .await;
        assert_eq!(initialized.status, StatusCode::ACCEPTED);
        session
    }

    /// `tools/list` in a session.
    pub async fn list_tools(&self, session: &str) -> Answer {
        self.post(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            Some(session),
        )
        .await
    }

    /// Opens the standalone GET stream of a session.
    pub async fn open_stream(&self, session: &str) -> EventStream {
        let response = self
            .http
            .get(&self.url)
            .bearer_auth(&self.key)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", VERSION)
            .header("mcp-session-id", session)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .expect("the gateway answers the GET");
        assert_eq!(response.status(), StatusCode::OK, "GET stream");
        EventStream {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }
}

/// A client's view of an SSE stream.
pub struct EventStream {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

/// What reading a stream found.
#[derive(Debug, PartialEq)]
pub enum StreamEvent {
    /// A JSON-RPC message.
    Message(Value),
    /// The stream ended.
    Closed,
}

impl EventStream {
    /// The next JSON-RPC message or the end of the stream, skipping comments and priming
    /// events; panics after `within`.
    pub async fn next(&mut self, within: Duration) -> StreamEvent {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let event: String = self.buffer.drain(..end + 2).collect();
                    let data: String = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(str::trim_start)
                        .collect();
                    if let Ok(message) = serde_json::from_str(&data) {
                        return StreamEvent::Message(message);
                    }
                    continue;
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self
                        .buffer
                        .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
                    Some(Err(_)) | None => return StreamEvent::Closed,
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("nothing on the stream within {within:?}"))
    }
}
