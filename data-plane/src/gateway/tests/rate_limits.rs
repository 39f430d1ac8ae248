//! Rate limits through the gateway: what counts (not the protocol's overhead), the 429 with
//! `Retry-After` and a JSON-RPC error in both eras (an SSE event for a client that takes only
//! events), and concurrency limits held until an answer is complete.

use std::time::Duration;

use serde_json::{Value, json};

use super::http::{call, initialize, post, send, setup_with_server};
use crate::testing::harness::{Harness, WorkspacePolicies};

async fn limited(limits: Value) -> (Harness, String) {
    setup_with_server(|server| {
        server.rate_limits = serde_json::from_value(limits).expect("rate limits");
    })
    .await
}

#[tokio::test]
async fn overhead_does_not_count_and_an_exceeded_limit_answers_429_in_both_eras() {
    crate::testing::within(async {
        let (mut gw, key) = limited(json!([{"by": "key", "per_day": 2}])).await;
        let url = gw.url("echo");
        let session = initialize(&gw, &key, "2025-11-25").await;
        let in_session = |body: Value| {
            post(&url, &key, body)
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-11-25")
        };
        let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        assert_eq!(send(in_session(initialized)).await.status, 202);
        for id in 1..=5 {
            let ping = json!({"jsonrpc":"2.0","id":id,"method":"ping"});
            assert_eq!(send(in_session(ping)).await.status, 200, "pings are free");
        }
        let list = json!({"jsonrpc":"2.0","id":6,"method":"tools/list"});
        assert_eq!(send(in_session(list)).await.status, 200);
        assert_eq!(send(in_session(call(7, "echo"))).await.status, 200);

        let refused = send(in_session(call(8, "echo"))).await;
        let error = refused.assert_error(429, "rate_limited");
        assert_eq!(error["id"], 8, "{error}");
        assert_eq!(error["error"]["data"]["limit"], "rate_limits[0]", "{error}");
        let retry_after: u64 = refused.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=86_400).contains(&retry_after), "{retry_after}");
        assert_eq!(error["error"]["data"]["retry_after"], retry_after);
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("2 per day by key"),
            "{error}"
        );

        // The 2026-07-28 era counts against the same key's budget.
        let stateless = post(&url, &key, call(9, "echo"))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo");
        send(stateless).await.assert_error(429, "rate_limited");

        // A client that takes only events gets the error as one.
        let events_only = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&key)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list")
            .json(&json!({"jsonrpc":"2.0","id":10,"method":"tools/list"}));
        let answer = send(events_only).await;
        assert_eq!(answer.status, 429, "{}", answer.text);
        assert_eq!(answer.headers["content-type"], "text/event-stream");
        assert!(answer.headers.contains_key("retry-after"));
        let data = answer
            .text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("one event");
        let event: Value = serde_json::from_str(data).unwrap();
        assert_eq!(event["id"], 10, "{event}");
        assert_eq!(event["error"]["data"]["reason"], "rate_limited", "{event}");

        // Another key has its own budget.
        let (other, _) = gw.add_invoke_key();
        let stateless = post(&url, &other, call(11, "echo"))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo");
        assert_eq!(send(stateless).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn a_concurrency_limit_holds_a_place_until_the_answer_is_complete() {
    crate::testing::within(async {
        let (gw, key) = limited(json!([{"by": "server", "concurrent": 1}])).await;
        let url = gw.url("echo");
        let stateless = |id: i64, method: &str| {
            post(&url, &key, json!({"jsonrpc":"2.0","id":id,"method":method}))
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", method)
        };
        let slow = tokio::spawn(send(stateless(1, "sleep/1500")));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let refused = send(stateless(2, "tools/list")).await;
        let error = refused.assert_error(429, "rate_limited");
        assert_eq!(refused.headers["retry-after"], "1", "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1 concurrent by server"),
            "{error}"
        );
        assert_eq!(slow.await.unwrap().status, 200);
        assert_eq!(send(stateless(3, "tools/list")).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn a_workspace_quota_counts_its_keys_calls_to_every_server() {
    crate::testing::within(async {
        let (mut gw, key) = limited(json!([])).await;
        let upstream = gw
            .store
            .load()
            .route_by_slug("echo")
            .unwrap()
            .server
            .url
            .clone();
        gw.add_server("other", &upstream);
        let quota = serde_json::from_value::<Vec<mcpgw_shared::model::RateLimit>>(
            json!([{"by": "workspace", "per_day": 2}]),
        )
        .unwrap();
        gw.put_workspace(&WorkspacePolicies {
            rate_limits: quota,
            ..WorkspacePolicies::default()
        });
        let stateless = |slug: &str, id: i64| {
            post(&gw.url(slug), &key, call(id, "echo"))
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "echo")
        };
        assert_eq!(send(stateless("echo", 1)).await.status, 200);
        assert_eq!(send(stateless("other", 2)).await.status, 200);
        let refused = send(stateless("other", 3)).await;
        let error = refused.assert_error(429, "rate_limited");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message
                .contains("your workspace's rate limit `rate_limits[0]` (2 per day by workspace)"),
            "{error}"
        );
        assert!(
            error["error"]["data"]["hint"]
                .as_str()
                .unwrap()
                .contains("the workspace's `rate_limits[0]`"),
            "{error}"
        );
    })
    .await;
}
