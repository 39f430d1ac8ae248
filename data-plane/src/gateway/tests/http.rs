//! HTTP helpers of the gateway's tests: requests as a client sends them, answers as it reads
//! them, a gateway in front of the echo upstream.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use tokio::time::timeout;

use crate::testing::echo_upstream;
use crate::testing::harness::Harness;

pub(super) const WAIT: Duration = Duration::from_secs(20);

pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: http::HeaderMap,
    pub(super) text: String,
}

impl Answer {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// Checks a gateway error: status, reason, request id in body and header.
    pub(super) fn assert_error(&self, status: u16, reason: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let json = self.json();
        assert_eq!(json["error"]["data"]["reason"], reason, "{json}");
        let rid = self.headers["x-request-id"].to_str().unwrap();
        assert_eq!(json["error"]["data"]["request_id"], rid);
        assert!(!json["error"]["data"]["hint"].as_str().unwrap().is_empty());
        json
    }
}

pub(super) async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = timeout(WAIT, request.send())
        .await
        .expect("an answer in time")
        .expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let text = timeout(WAIT, response.text()).await.unwrap().unwrap();
    Answer {
        status,
        headers,
        text,
    }
}

pub(super) fn post(url: &str, key: &str, body: Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .json(&body)
}

pub(super) fn call(id: i64, tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{}}})
}

pub(super) async fn setup() -> (Harness, String, String) {
    let upstream = echo_upstream::spawn().await;
    let mut gw = Harness::start_with(|s| s.max_body_bytes = 4096).await;
    gw.add_server("echo", &upstream);
    let (key, _) = gw.add_invoke_key();
    (gw, upstream, key)
}

pub(super) async fn initialize(gw: &Harness, key: &str, version: &str) -> String {
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":version,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let answer = send(post(&gw.url("echo"), key, init)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.headers["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A GET of the standalone stream of `session` on `url`, in the 2025-11-25 era.
pub(super) fn listen(url: &str, key: &str, session: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(key)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
}

/// A gateway in front of the echo upstream whose server has the tool policy `tools` (JSON).
pub(super) async fn setup_with_tools(tools: Value) -> (Harness, String) {
    setup_with_server(|server| {
        server.tools = serde_json::from_value(tools).expect("a tool policy");
    })
    .await
}

/// A gateway in front of the echo upstream whose server `adjust` changed.
pub(super) async fn setup_with_server(
    adjust: impl FnOnce(&mut mcpgw_shared::model::ServerConfig),
) -> (Harness, String) {
    let (mut gw, _, key) = setup().await;
    let mut server = gw
        .store
        .load()
        .route_by_slug("echo")
        .unwrap()
        .server
        .clone();
    adjust(&mut server);
    server.version += 1;
    gw.put_server(&server);
    (gw, key)
}
