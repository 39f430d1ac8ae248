//! Rate limits shared by a fleet, with real processes: a control plane, two data planes and a
//! NATS server of the test's own. A budget spent on both pods at once stays within the bound
//! the design states (`L + (N − 1) · ⌈L / N⌉`), and a call in flight on one pod counts against
//! a concurrency limit on the other.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet, eventually};
use mcpgw_e2e::nats::PrivateNats;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(15);

struct Setup {
    _nats: PrivateNats,
    fleet: Fleet,
    _upstream: DemoUpstream,
    workspace: String,
    server_id: String,
    key: String,
    pods: Vec<DataPlaneProcess>,
}

/// A server `limited` with `rate_limits` (given at registration), a key, and two pods that
/// know each other (they have heard each other's counts).
async fn setup(rate_limits: Value) -> Setup {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet.workspace("limits").await;
    let server = fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "limited", "name": "Limited",
                   "url": upstream.url(), "auth": {"type": "none"}, "rate_limits": rate_limits}),
        )
        .await;
    assert_eq!(server["rate_limits"], rate_limits, "{server}");
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "agent"))
        .await;
    let token = fleet.data_plane_token(None).await;
    let mut pods = Vec::new();
    for _ in 0..2 {
        pods.push(fleet.data_plane(&token, &[]).await);
    }
    let seq = fleet.head().await;
    for pod in &pods {
        pod.wait_applied(seq, SOON).await;
    }
    // Every pod reports at least once a second: after that, each counts the other.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Setup {
        _nats: nats,
        fleet,
        _upstream: upstream,
        workspace,
        server_id: server["id"].as_str().unwrap().to_owned(),
        key: key["key"].as_str().unwrap().to_owned(),
        pods,
    }
}

/// One answer: status, `Retry-After`, JSON-RPC body.
struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

/// A 2026-07-28 `tools/call` of `tool` on `pod`.
async fn call(http: &reqwest::Client, pod: &str, key: &str, tool: &str, args: Value) -> Answer {
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": args, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}}});
    let response = http
        .post(pod)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(&message)
        .timeout(SOON)
        .send()
        .await
        .expect("the pod answers");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let text = response.text().await.unwrap_or_default();
    let body = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .find_map(|d| serde_json::from_str(d.trim()).ok())
        .unwrap_or_else(|| serde_json::from_str(&text).unwrap_or(Value::String(text)));
    Answer {
        status,
        retry_after,
        body,
    }
}

/// Calls `echo` on `pod` as fast as it answers until the budget is spent (a refusal that
/// waits for the window), backing off briefly when only this pod's share of an interval is;
/// returns how many calls were admitted.
async fn spend(pod: String, key: String) -> u64 {
    let http = reqwest::Client::new();
    let mut admitted = 0;
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the budget never ran out"
        );
        let answer = call(&http, &pod, &key, "echo", json!({"message": "hi"})).await;
        match (answer.status, answer.retry_after) {
            (StatusCode::OK, _) => admitted += 1,
            (StatusCode::TOO_MANY_REQUESTS, Some(1)) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (StatusCode::TOO_MANY_REQUESTS, Some(_)) => {
                assert_eq!(answer.body["error"]["data"]["reason"], "rate_limited");
                return admitted;
            }
            (status, _) => panic!("{status}: {}", answer.body),
        }
    }
}

/// Waits until the current hour has at least `needed` left, so one window holds the test.
async fn within_one_hour(needed: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let left = Duration::from_secs(3600 - now.as_secs() % 3600);
    if left < needed {
        tokio::time::sleep(left + Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pods_spending_one_budget_at_once_stay_within_the_stated_bound() {
    let budget: u64 = 40;
    let s = setup(json!([{"by": "key", "per_hour": budget}])).await;
    within_one_hour(Duration::from_secs(60)).await;
    let (a, b) = tokio::join!(
        spend(s.pods[0].mcp_url("limited"), s.key.clone()),
        spend(s.pods[1].mcp_url("limited"), s.key.clone()),
    );
    let pods = 2;
    let bound = budget + (pods - 1) * budget.div_ceil(pods);
    println!(
        "two pods admitted {} ({a} + {b}) of a budget of {budget} (bound {bound})",
        a + b
    );
    assert!(
        a > 0 && b > 0,
        "both pods spent the shared budget: {a} + {b}"
    );
    assert!(a + b >= budget, "the budget was not spent: {a} + {b}");
    assert!(a + b <= bound, "{a} + {b} admitted, over the bound {bound}");

    // Both pods now refuse until the hour ends, naming the limit.
    let http = reqwest::Client::new();
    for pod in &s.pods {
        let answer = call(
            &http,
            &pod.mcp_url("limited"),
            &s.key,
            "add",
            json!({"a": 1, "b": 2}),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            answer.body
        );
        assert!(answer.retry_after.is_some_and(|s| s > 1 && s <= 3600));
        let error = &answer.body["error"];
        assert_eq!(error["data"]["limit"], "rate_limits[0]", "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("40 per hour by key")
        );
    }

    // Raising the limit takes effect on every pod; a limit must bound something.
    let path = format!("/v1/servers/{}", s.server_id);
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"rate_limits": [{"by": "key"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("rate_limits[0]"), "{body}");
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"rate_limits": [{"by": "key", "per_hour": 1000}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for pod in &s.pods {
        let url = pod.mcp_url("limited");
        eventually(SOON, "the raised limit admits calls", || async {
            call(&http, &url, &s.key, "echo", json!({"message": "again"}))
                .await
                .status
                == StatusCode::OK
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_on_one_pod_counts_against_a_concurrency_limit_on_the_other() {
    let s = setup(json!([{"by": "server", "concurrent": 1}])).await;
    let (on_a, on_b) = (s.pods[0].mcp_url("limited"), s.pods[1].mcp_url("limited"));
    let key = s.key.clone();
    let slow = tokio::spawn(async move {
        let http = reqwest::Client::new();
        call(
            &http,
            &on_a,
            &key,
            "countdown",
            json!({"steps": 30, "interval_ms": 100}),
        )
        .await
    });
    let http = reqwest::Client::new();
    eventually(
        SOON,
        "the other pod refuses while the call runs",
        || async {
            let answer = call(&http, &on_b, &s.key, "current_time", json!({})).await;
            answer.status == StatusCode::TOO_MANY_REQUESTS
                && answer.retry_after == Some(1)
                && answer.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("1 concurrent by server"))
        },
    )
    .await;
    let finished = slow.await.unwrap();
    assert_eq!(finished.status, StatusCode::OK, "{}", finished.body);
    eventually(SOON, "the other pod admits once the call ended", || async {
        call(&http, &on_b, &s.key, "current_time", json!({}))
            .await
            .status
            == StatusCode::OK
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_quota_set_over_the_api_is_shared_by_the_pods() {
    let s = setup(json!([])).await;
    within_one_hour(Duration::from_secs(60)).await;
    let path = format!("/v1/workspaces/{}", s.workspace);
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"rate_limits": [{"by": "workspace", "per_day": 0}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("rate_limits[0].per_day"),
        "{body}"
    );
    let quota = json!([{"by": "workspace", "per_hour": 6}]);
    let (status, body) = s
        .fleet
        .admin(Method::PATCH, &path, Some(json!({"rate_limits": quota})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rate_limits"], quota, "{body}");
    let seq = s.fleet.head().await;
    for pod in &s.pods {
        pod.wait_applied(seq, SOON).await;
    }
    let (a, b) = tokio::join!(
        spend(s.pods[0].mcp_url("limited"), s.key.clone()),
        spend(s.pods[1].mcp_url("limited"), s.key.clone()),
    );
    println!(
        "two pods admitted {} ({a} + {b}) of a workspace quota of 6 (bound 9)",
        a + b
    );
    assert!((6..=9).contains(&(a + b)), "{a} + {b}");
}
