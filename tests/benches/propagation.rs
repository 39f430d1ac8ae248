//! How fast a change made on the control plane is enforced on every pod: K data-plane
//! processes (1, 2, 4) on real PostgreSQL and NATS. For each change, the time from the admin
//! API call returning until every pod enforces it (a new key accepted; a revoked key refused
//! with 401), as p50/p99/max; then the same with NATS down, where pods poll the sync API.
//!
//! Run (release binaries first; PostgreSQL and NATS as `tests/run.sh` starts them):
//! `cargo build --release --bins && MCPGW_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!  cargo bench -p mcpgw-e2e --features bench --bench propagation`
//! `PROPAGATION_CHANGES` sets the number of changes per case (default 200).

use std::time::{Duration, Instant};

use mcpgw_e2e::admin_api::{invoke_key_request, revoke_path};
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet};
use mcpgw_e2e::nats::PrivateNats;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// One measured case.
struct Case {
    name: String,
    samples: Vec<Duration>,
}

impl Case {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }
}

/// A probe that passes authentication but never reaches the upstream: a malformed body is
/// refused with 400 after the key was accepted, and with 401 before.
async fn key_state(http: &reqwest::Client, url: &str, key: &str) -> StatusCode {
    http.post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{")
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::BAD_GATEWAY)
}

/// Waits until every pod answers the probe with something that satisfies `done`; returns the
/// time since `start` when the last pod did.
async fn until_every_pod(
    http: &reqwest::Client,
    pods: &[DataPlaneProcess],
    key: &str,
    start: Instant,
    done: fn(StatusCode) -> bool,
) -> Duration {
    let waits = pods.iter().map(|pod| {
        let url = pod.mcp_url("bench");
        async move {
            let deadline = start + Duration::from_secs(30);
            loop {
                if done(key_state(http, &url, key).await) {
                    return start.elapsed();
                }
                assert!(
                    Instant::now() < deadline,
                    "a pod did not enforce a change within 30 s"
                );
                // Leave the two cores to the gateway: a busy probe would slow what it measures.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    futures::future::join_all(waits)
        .await
        .into_iter()
        .max()
        .unwrap_or_default()
}

async fn measure(
    fleet: &Fleet,
    pods: &[DataPlaneProcess],
    workspace: &str,
    changes: usize,
    label: &str,
) -> (Case, Case) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut create = Case {
        name: format!("{label} create key -> usable"),
        samples: Vec::new(),
    };
    let mut revoke = Case {
        name: format!("{label} revoke -> 401"),
        samples: Vec::new(),
    };
    for n in 0..changes {
        let body = invoke_key_request(workspace, &format!("bench-{n}"));
        let (status, key) = fleet.admin(Method::POST, "/v1/api-keys", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED);
        let start = Instant::now();
        let secret = key["key"].as_str().unwrap().to_owned();
        create.samples.push(
            until_every_pod(&http, pods, &secret, start, |s| {
                s != StatusCode::UNAUTHORIZED
            })
            .await,
        );
        let path = revoke_path(key["id"].as_str().unwrap());
        let (status, _) = fleet.admin(Method::POST, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        let start = Instant::now();
        revoke.samples.push(
            until_every_pod(&http, pods, &secret, start, |s| {
                s == StatusCode::UNAUTHORIZED
            })
            .await,
        );
    }
    (create, revoke)
}

fn print(cases: &[Case], baseline: Duration) {
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>12}",
        "case", "p50 ms", "p99 ms", "max ms", "p99/1-pod"
    );
    for case in cases {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:<44} {:>9.2} {:>9.2} {:>9.2} {:>12.2}",
            case.name,
            ms(case.percentile(0.5)),
            ms(case.percentile(0.99)),
            ms(case.percentile(1.0)),
            case.percentile(0.99).as_secs_f64() / baseline.as_secs_f64().max(1e-9),
        );
    }
}

#[tokio::main]
async fn main() {
    let changes: usize = std::env::var("PROPAGATION_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let workspace = fleet
        .create("/v1/workspaces", json!({"name": "bench"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "bench", "name": "Bench", "url": "http://127.0.0.1:9/mcp", "auth": {"type": "none"}}),
        )
        .await;
    let token = fleet.data_plane_token(None).await;
    let mut pods: Vec<DataPlaneProcess> = Vec::new();
    let mut cases = Vec::new();
    for k in [1usize, 2, 4] {
        while pods.len() < k {
            pods.push(fleet.data_plane(&token, &[]).await);
        }
        let head = fleet.admin(Method::GET, "/v1/events?limit=1", None).await.1["head"]
            .as_i64()
            .unwrap();
        for pod in &pods {
            pod.wait_applied(head, Duration::from_secs(30)).await;
        }
        let (create, revoke) = measure(
            &fleet,
            &pods,
            &workspace,
            changes,
            &format!("{k} pod(s), NATS up:"),
        )
        .await;
        cases.push(create);
        cases.push(revoke);
    }
    nats.stop().await;
    // Let the pods notice the silence and switch to polling.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let polled = (changes / 10).max(10);
    let (create, revoke) = measure(
        &fleet,
        &pods,
        &workspace,
        polled,
        &format!("{} pods, NATS down:", pods.len()),
    )
    .await;
    cases.push(create);
    cases.push(revoke);
    let baseline = cases[1].percentile(0.99);
    println!(
        "\npropagation: {changes} changes per case ({polled} with NATS down); baseline = 1-pod revoke p99\n"
    );
    print(&cases, baseline);
}
