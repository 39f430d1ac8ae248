//! Standalone GET streams through the gateway: resumption, keep-alives, and the end at drain.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tokio::time::timeout;

use crate::testing::echo_upstream;
use crate::testing::harness::Harness;

const WAIT: Duration = Duration::from_secs(20);

async fn session(gw: &Harness, key: &str) -> String {
    session_with(gw, key, json!({})).await
}

async fn session_with(gw: &Harness, key: &str, capabilities: serde_json::Value) -> String {
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":capabilities,"clientInfo":{"name":"t","version":"1"}}});
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
    crate::testing::within(async {
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
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_get_streams_so_clients_reconnect_elsewhere() {
    crate::testing::within(async {
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
    })
    .await;
}

async fn initialized(gw: &Harness, key: &str, session: &str) -> reqwest::StatusCode {
    let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    let sent = reqwest::Client::new()
        .post(gw.url("echo"))
        .bearer_auth(key)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&note)
        .send();
    timeout(WAIT, sent).await.unwrap().unwrap().status()
}

/// Reads events until `count` complete ones arrived (keep-alives included).
async fn events(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    count: usize,
) -> Vec<String> {
    let mut text = String::new();
    while text.matches("\n\n").count() < count {
        text.push_str(&next_text(stream).await.expect("the stream stays open"));
    }
    text.split_terminator("\n\n").map(str::to_owned).collect()
}

#[tokio::test]
async fn a_request_the_upstream_sends_on_initialized_reaches_a_client_that_invites_it() {
    crate::testing::within(async {
        let upstream = echo_upstream::spawn().await;
        let mut gw = Harness::start_with(|s| s.sse_keep_alive = Duration::from_millis(200)).await;
        gw.add_server("echo", &upstream);
        let (key, _) = gw.add_invoke_key();
        let session = session_with(&gw, &key, json!({"roots": {"listChanged": true}})).await;
        assert_eq!(initialized(&gw, &key, &session).await, 202);
        // The client opens its GET only now, after the 202: the upstream must still not have seen
        // `initialized`, or its roots/list would already be lost.
        let mut stream = open(&gw, &key, &session, None).await.bytes_stream();
        let seen = events(&mut stream, 3).await;
        assert!(
            seen[0].starts_with("id: mcpgw-primed-") && !seen[0].contains("data: {"),
            "{seen:?}"
        );
        assert!(seen[1].contains(r#""resumed_after":"none""#), "{seen:?}");
        assert!(
            seen[2].contains(r#""method":"roots/list""#),
            "the server request arrives: {seen:?}"
        );

        // A reconnect naming the gateway's priming id reaches the upstream without it, and does
        // not deliver `initialized` a second time.
        let primed = seen[0]
            .trim_start_matches("id: ")
            .lines()
            .next()
            .unwrap()
            .to_owned();
        drop(stream);
        let mut again = open(&gw, &key, &session, Some(&primed))
            .await
            .bytes_stream();
        let seen = events(&mut again, 2).await;
        assert!(seen[0].contains(r#""resumed_after":"none""#), "{seen:?}");
        assert_eq!(seen[1], ": keep-alive", "no second roots/list: {seen:?}");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn without_holding_initialized_back_the_race_loses_the_request() {
    crate::testing::within(async {
        // The control: a client that declares no capability inviting server requests gets
        // `initialized` forwarded at once; the upstream reacts before the GET is attached and its
        // request is dropped — what the held-back delivery above prevents.
        let upstream = echo_upstream::spawn().await;
        let mut gw = Harness::start_with(|s| s.sse_keep_alive = Duration::from_millis(200)).await;
        gw.add_server("echo", &upstream);
        let (key, _) = gw.add_invoke_key();
        let session = session_with(&gw, &key, json!({})).await;
        assert_eq!(initialized(&gw, &key, &session).await, 202);
        let mut stream = open(&gw, &key, &session, None).await.bytes_stream();
        let seen = events(&mut stream, 2).await;
        assert!(seen[0].contains(r#""resumed_after":"none""#), "{seen:?}");
        assert_eq!(seen[1], ": keep-alive", "{seen:?}");
        gw.stop().await;
    })
    .await;
}
