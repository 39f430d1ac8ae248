//! The relay driven by rmcp clients, both protocol eras, against the demo upstream.

mod errors;
mod hostile;
mod http;
mod identity_forwarding;
mod rate_limits;
mod streams;
mod tool_policy;
mod virtual_server;

use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientConfig, ClientRequest, ProgressNotificationParam, ProtocolVersion,
    Request,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::demo_upstream::DemoUpstream;
use crate::testing::harness::Harness;

const WAIT: Duration = Duration::from_secs(20);

fn transport(url: String, key: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(key),
    )
}

fn args(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_value(value).expect("an object")
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    result.content[0]
        .as_text()
        .expect("text content")
        .text
        .clone()
}

/// A client that reports progress notifications on a channel.
#[derive(Clone)]
struct ProgressClient(mpsc::UnboundedSender<ProgressNotificationParam>);

impl ClientHandler for ProgressClient {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}

async fn legacy_client(url: String, key: &str) -> RunningService<RoleClient, ClientConfig> {
    timeout(WAIT, ClientConfig::default().serve(transport(url, key)))
        .await
        .expect("initialize in time")
        .expect("initialize through the gateway")
}

#[tokio::test]
async fn a_session_era_client_initializes_lists_and_calls_tools_through_the_gateway() {
    crate::testing::within(async {
        let upstream = DemoUpstream::spawn().await.unwrap();
        let mut gw = Harness::start().await;
        gw.add_server("demo", &upstream.url());
        let (key, _) = gw.add_invoke_key();
        let client = legacy_client(gw.url("demo"), &key).await;
        let info = client.peer_info().expect("the server's info");
        assert!(
            info.protocol_version.has_initialize(),
            "{:?}",
            info.protocol_version
        );
        let tools = timeout(WAIT, client.list_all_tools())
            .await
            .unwrap()
            .unwrap();
        let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        for expected in ["echo", "add", "current_time", "countdown"] {
            assert!(names.contains(&expected.to_owned()), "{names:?}");
        }
        let echo = client
            .call_tool(
                CallToolRequestParams::new("echo")
                    .with_arguments(args(serde_json::json!({"message": "héllo"}))),
            )
            .await
            .unwrap();
        assert_eq!(text(&echo), "héllo");
        let sum = client
            .call_tool(
                CallToolRequestParams::new("add")
                    .with_arguments(args(serde_json::json!({"a": 2, "b": 40}))),
            )
            .await
            .unwrap();
        assert_eq!(text(&sum), "42");
        client.cancel().await.unwrap();
        gw.stop().await;
        upstream.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn progress_notifications_stream_through_before_the_answer() {
    crate::testing::within(async {
        let upstream = DemoUpstream::spawn().await.unwrap();
        let mut gw = Harness::start().await;
        gw.add_server("demo", &upstream.url());
        let (key, _) = gw.add_invoke_key();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let client = timeout(
            WAIT,
            ProgressClient(tx).serve(transport(gw.url("demo"), &key)),
        )
        .await
        .unwrap()
        .unwrap();
        let call = CallToolRequestParams::new("countdown")
            .with_arguments(args(serde_json::json!({"steps": 5, "interval_ms": 20})));
        let handle = client
            .send_cancellable_request(
                ClientRequest::CallToolRequest(Request::new(call)),
                PeerRequestOptions::no_options(),
            )
            .await
            .unwrap();
        let response = timeout(WAIT, handle.await_response())
            .await
            .unwrap()
            .unwrap();
        assert!(
            format!("{response:?}").contains("counted down 5 steps"),
            "{response:?}"
        );
        let mut seen = Vec::new();
        while let Ok(p) = rx.try_recv() {
            seen.push(p.progress);
        }
        assert_eq!(
            seen,
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
            "every progress notification, in order"
        );
        client.cancel().await.unwrap();
        gw.stop().await;
        upstream.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_stateless_era_client_discovers_and_calls_through_the_gateway() {
    crate::testing::within(async {
        let upstream = DemoUpstream::spawn().await.unwrap();
        let mut gw = Harness::start().await;
        gw.add_server("demo", &upstream.url());
        let (key, _) = gw.add_invoke_key();
        let client = timeout(
            WAIT,
            ClientConfig::default().serve_with_lifecycle(
                transport(gw.url("demo"), &key),
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            ),
        )
        .await
        .unwrap()
        .expect("discover through the gateway");
        let sum = client
            .call_tool(
                CallToolRequestParams::new("add")
                    .with_arguments(args(serde_json::json!({"a": 1.5, "b": 1}))),
            )
            .await
            .unwrap();
        assert_eq!(text(&sum), "2.5");
        let tools = client.list_all_tools().await.unwrap();
        assert!(tools.iter().any(|t| t.name == "countdown"));
        client.cancel().await.unwrap();
        gw.stop().await;
        upstream.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn denied_tools_are_hidden_and_calling_them_looks_like_an_unknown_tool() {
    crate::testing::within(async {
        let upstream = DemoUpstream::spawn().await.unwrap();
        let mut gw = Harness::start().await;
        let mut server = gw.add_server("demo", &upstream.url());
        server.tools.deny = vec!["add".into()];
        server.version += 1;
        gw.put_server(&server);
        let (key, _) = gw.add_invoke_key();
        for lifecycle in [
            ClientLifecycleMode::Initialize,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        ] {
            let client = timeout(
                WAIT,
                ClientConfig::default()
                    .serve_with_lifecycle(transport(gw.url("demo"), &key), lifecycle),
            )
            .await
            .unwrap()
            .unwrap();
            let names: Vec<String> = client
                .list_all_tools()
                .await
                .unwrap()
                .iter()
                .map(|t| t.name.to_string())
                .collect();
            assert!(!names.contains(&"add".to_owned()), "{names:?}");
            assert!(names.contains(&"echo".to_owned()), "{names:?}");
            let err = client
                .call_tool(
                    CallToolRequestParams::new("add")
                        .with_arguments(args(serde_json::json!({"a": 1, "b": 1}))),
                )
                .await
                .unwrap_err();
            assert!(err.to_string().contains("Unknown tool: add"), "{err}");
            client.cancel().await.unwrap();
        }
        gw.stop().await;
        upstream.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_session_started_on_one_pod_continues_on_another() {
    crate::testing::within(async {
        let upstream = DemoUpstream::spawn().await.unwrap();
        let mut first = Harness::start().await;
        let server = first.add_server("demo", &upstream.url());
        let (key, record) = first.add_invoke_key();
        let mut second = Harness::start_with_keys(first.session_keys.clone(), |_| {}).await;
        second.put_server(&server);
        second.put_key(&record);
        let http = reqwest::Client::new();
        let init = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
        let response = http
            .post(first.url("demo"))
            .bearer_auth(&key)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let session = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(session.starts_with("s1.test."), "{session}");
        let _ = response.bytes().await.unwrap();
        let call = serde_json::json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"pod two"}}});
        for (i, gw) in [&first, &second].into_iter().enumerate() {
            let note = serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"});
            if i == 0 {
                let sent = http
                    .post(gw.url("demo"))
                    .bearer_auth(&key)
                    .header("mcp-session-id", &session)
                    .header("mcp-protocol-version", "2025-06-18")
                    .header("accept", "application/json, text/event-stream")
                    .json(&note)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(sent.status(), 202);
            }
            let answer = http
                .post(gw.url("demo"))
                .bearer_auth(&key)
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-06-18")
                .header("accept", "application/json, text/event-stream")
                .json(&call)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "pod {i}");
            let body = answer.text().await.unwrap();
            assert!(body.contains("pod two"), "pod {i}: {body}");
        }
        first.stop().await;
        second.stop().await;
        upstream.shutdown().await;
    })
    .await;
}
