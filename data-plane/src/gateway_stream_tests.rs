//! Standalone GET streams through the gateway: resumption, keep-alives, and the end at drain.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tokio::time::timeout;

use crate::testing::echo_upstream;
use crate::testing::harness::Harness;

const WAIT: Duration = Duration::from_secs(20);

async fn session(gw: &Harness, key: &str) -> String {
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let answer = reqwest::Client::new()
        .post(gw.url("echo"))
        .bearer_auth(key)
        .json(&init)
        .send()
        .await
        .unwrap();
    answer.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn open(
    gw: &Harness,
    key: &str,
    session: &str,
    last_event: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(gw.url("echo"))
        .bearer_auth(key)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(id) = last_event {
        request = request.header("last-event-id", id);
    }
    let response = timeout(WAIT, request.send()).await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

async fn next_text(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
) -> Option<String> {
    let chunk = timeout(WAIT, stream.next())
        .await
        .expect("a chunk in time")?;
    Some(String::from_utf8(chunk.unwrap().to_vec()).unwrap())
}

#[tokio::test]
async fn a_get_stream_relays_events_resumes_and_stays_alive_with_comments() {
    let upstream = echo_upstream::spawn().await;
    let mut gw = Harness::start_with(|s| s.sse_keep_alive = Duration::from_millis(100)).await;
    gw.add_server("echo", &upstream);
    let (key, _) = gw.add_invoke_key();
    let session = session(&gw, &key).await;

    let mut fresh = open(&gw, &key, &session, None).await.bytes_stream();
    let first = next_text(&mut fresh).await.unwrap();
    assert!(
        first.starts_with("id: g-1\n") && first.contains(r#""resumed_after":"none""#),
        "{first}"
    );
    assert_eq!(next_text(&mut fresh).await.unwrap(), ": keep-alive\n\n");

    let mut resumed = open(&gw, &key, &session, Some("g-1")).await.bytes_stream();
    let first = next_text(&mut resumed).await.unwrap();
    assert!(
        first.contains(r#""resumed_after":"g-1""#),
        "Last-Event-ID reaches the upstream: {first}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_ends_get_streams_so_clients_reconnect_elsewhere() {
    let upstream = echo_upstream::spawn().await;
    let mut gw = Harness::start().await;
    gw.add_server("echo", &upstream);
    let (key, _) = gw.add_invoke_key();
    let session = session(&gw, &key).await;
    let mut stream = open(&gw, &key, &session, None).await.bytes_stream();
    assert!(next_text(&mut stream).await.unwrap().contains("g-1"));
    gw.drain().begin(Duration::from_secs(30));
    assert_eq!(
        next_text(&mut stream).await,
        None,
        "the stream ends when draining begins"
    );
    gw.stop().await;
}
