//! The fleet promise, with real processes: a control plane on PostgreSQL, two data planes, a
//! NATS server of the test's own. Changes are enforced on every pod at once, sessions move
//! between pods, and nothing breaks when NATS or the control plane goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::{invoke_key_request, revoke_path};
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet, eventually};
use mcpgw_e2e::mcp_client::{McpClient, StreamEvent};
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::tcp_proxy::CuttableProxy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(5);

struct Setup {
    nats: PrivateNats,
    fleet: Fleet,
    upstream: DemoUpstream,
    workspace: String,
    server_id: String,
    key_id: String,
    client: McpClient,
    pods: Vec<DataPlaneProcess>,
}

async fn setup(pods: usize, pod_env: &[(&'static str, String)]) -> Setup {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet
        .create("/v1/workspaces", json!({"name": "fleet"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "Demo", "url": upstream.url(), "auth": {"type": "none"}}),
        )
        .await;
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "client"))
        .await;
    let token = fleet.data_plane_token(None).await;
    let mut started = Vec::new();
    for _ in 0..pods {
        started.push(fleet.data_plane(&token, pod_env).await);
    }
    let seq = fleet.head().await;
    for pod in &started {
        pod.wait_applied(seq, Duration::from_secs(15)).await;
    }
    let url = started.first().map_or_else(
        || "http://127.0.0.1:9/demo/mcp".to_owned(),
        |pod| pod.mcp_url("demo"),
    );
    let client = McpClient::new(url, key["key"].as_str().unwrap());
    Setup {
        nats,
        fleet,
        upstream,
        workspace,
        server_id: server["id"].as_str().unwrap().to_owned(),
        key_id: key["id"].as_str().unwrap().to_owned(),
        client,
        pods: started,
    }
}

fn tool_names(answer: &Value) -> Vec<String> {
    answer["result"]["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moves_between_pods_and_a_revoked_key_is_cut_off_everywhere() {
    let s = setup(2, &[]).await;
    let on_a = s.client.clone();
    let on_b = s.client.with_url(s.pods[1].mcp_url("demo"));
    let session = on_a.initialize().await;
    let listed = on_b.list_tools(&session).await;
    assert_eq!(
        listed.status,
        StatusCode::OK,
        "the session sealed on pod A works on pod B: {:?}",
        listed.body
    );
    assert!(tool_names(&listed.body).contains(&"echo".to_owned()));

    let mut stream = on_b.open_stream(&session).await;
    let (status, _) = s
        .fleet
        .admin(Method::POST, &revoke_path(&s.key_id), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for client in [&on_a, &on_b] {
        eventually(SOON, "401 after revocation", || async {
            client.list_tools(&session).await.status == StatusCode::UNAUTHORIZED
        })
        .await;
    }
    assert_eq!(
        stream.next(SOON).await,
        StreamEvent::Closed,
        "the revoked key's open stream is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_moved_to_a_new_upstream_invalidates_old_sessions_on_every_pod() {
    let s = setup(2, &[]).await;
    let session = s.client.initialize().await;
    let replacement = DemoUpstream::spawn().await.unwrap();
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{}", s.server_id),
            Some(json!({"url": replacement.url()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The old upstream is gone: only the new one can answer.
    s.upstream.shutdown().await;
    let seq = s.fleet.head().await;
    for pod in &s.pods {
        pod.wait_applied(seq, SOON).await;
        let client = s.client.with_url(pod.mcp_url("demo"));
        let stale = client.list_tools(&session).await;
        assert_eq!(
            stale.status,
            StatusCode::NOT_FOUND,
            "a session of the old config is gone: {:?}",
            stale.body
        );
        let fresh = client.initialize().await;
        let listed = client.list_tools(&fresh).await;
        assert_eq!(
            listed.status,
            StatusCode::OK,
            "the new upstream answers: {:?}",
            listed.body
        );
    }
    replacement.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_filter_change_is_announced_on_open_streams_and_enforced() {
    let s = setup(2, &[]).await;
    let session = s.client.initialize().await;
    let on_b = s.client.with_url(s.pods[1].mcp_url("demo"));
    let mut stream = on_b.open_stream(&session).await;
    let (status, _) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{}", s.server_id),
            Some(json!({"tools": {"deny": ["echo"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    match stream.next(SOON).await {
        StreamEvent::Message(message) => {
            assert_eq!(message["method"], "notifications/tools/list_changed")
        }
        StreamEvent::Closed => panic!("the stream closed instead of announcing list_changed"),
    }
    let listed = on_b.list_tools(&session).await;
    assert!(
        !tool_names(&listed.body).contains(&"echo".to_owned()),
        "echo is hidden now"
    );
    let call = on_b
        .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hi"}}}), Some(&session))
        .await;
    assert!(
        call.body.get("error").is_some(),
        "a denied tool looks unknown: {:?}",
        call.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_tool_policy_limits_every_server_its_keys_reach_on_every_pod() {
    let s = setup(2, &[]).await;
    let session = s.client.initialize().await;
    let on_b = s.client.with_url(s.pods[1].mcp_url("demo"));
    let mut stream = on_b.open_stream(&session).await;
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/workspaces/{}", s.workspace),
            Some(json!({"tools": {"deny": ["ech?"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tools"]["deny"], json!(["ech?"]), "{body}");
    match stream.next(SOON).await {
        StreamEvent::Message(message) => {
            assert_eq!(message["method"], "notifications/tools/list_changed")
        }
        StreamEvent::Closed => panic!("the stream closed instead of announcing list_changed"),
    }
    for client in [&s.client, &on_b] {
        eventually(SOON, "echo is hidden on every pod", || async {
            let listed = client.list_tools(&session).await;
            !tool_names(&listed.body).is_empty()
                && !tool_names(&listed.body).contains(&"echo".to_owned())
        })
        .await;
        let call = client
            .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hi"}}}), Some(&session))
            .await;
        let error = &call.body["error"];
        assert_eq!(error["data"]["rule"], "workspace:deny:ech?", "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("your workspace's tool policy"),
            "{error}"
        );
    }
    // Names and descriptions belong to a server's policy.
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/workspaces/{}", s.workspace),
            Some(json!({"tools": {"overrides": {"echo": {"name": "say"}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("tools.overrides"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_grants_limit_its_tools_and_servers_on_every_pod() {
    let s = setup(2, &[]).await;
    let session = s.client.initialize().await;
    let on_b = s.client.with_url(s.pods[1].mcp_url("demo"));
    let mut stream = on_b.open_stream(&session).await;
    let subject = format!("key:{}", s.key_id);
    let path = format!("/v1/workspaces/{}", s.workspace);
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grants": {subject.clone(): {"tools": {"deny": ["add"]}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["grants"][&subject]["tools"]["deny"],
        json!(["add"]),
        "{body}"
    );
    match stream.next(SOON).await {
        StreamEvent::Message(message) => {
            assert_eq!(message["method"], "notifications/tools/list_changed")
        }
        StreamEvent::Closed => panic!("the stream closed instead of announcing list_changed"),
    }
    for client in [&s.client, &on_b] {
        eventually(SOON, "add is hidden from the key on every pod", || async {
            let listed = client.list_tools(&session).await;
            let names = tool_names(&listed.body);
            names.contains(&"echo".to_owned()) && !names.contains(&"add".to_owned())
        })
        .await;
        let call = client
            .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}), Some(&session))
            .await;
        assert_eq!(
            call.body["error"]["data"]["rule"], "key:deny:add",
            "{:?}",
            call.body
        );
    }

    // Granting only another server takes this one away: its stream closes, requests get 403.
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grants": {subject.clone(): {"servers": ["elsewhere"]}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    loop {
        match stream.next(SOON).await {
            StreamEvent::Closed => break,
            StreamEvent::Message(_) => continue,
        }
    }
    for client in [&s.client, &on_b] {
        eventually(
            SOON,
            "the key is refused the server on every pod",
            || async {
                let answer = client.list_tools(&session).await;
                answer.status == StatusCode::FORBIDDEN
                    && answer.body["error"]["data"]["reason"] == "not_granted"
            },
        )
        .await;
    }

    // Grants name keys of the workspace; a null removes one.
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grants": {"key:nosuchkey0001": {}}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"grants": {subject.clone(): null}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grants"], json!({}), "{body}");
    eventually(SOON, "the key may use the server again", || async {
        s.client.list_tools(&session).await.status == StatusCode::OK
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_enforce_by_polling_while_nats_is_down_and_converge_after() {
    let mut s = setup(2, &[]).await;
    s.nats.stop().await;
    let new_key = s
        .fleet
        .create(
            "/v1/api-keys",
            invoke_key_request(&s.workspace, "during outage"),
        )
        .await;
    let (status, _) = s
        .fleet
        .admin(Method::POST, &revoke_path(&s.key_id), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for pod in &s.pods {
        let fresh = McpClient::new(pod.mcp_url("demo"), new_key["key"].as_str().unwrap());
        eventually(SOON, "the new key works without NATS", || async {
            fresh
                .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}), None)
                .await
                .status
                != StatusCode::UNAUTHORIZED
        })
        .await;
        let revoked = s.client.with_url(pod.mcp_url("demo"));
        eventually(SOON, "the revoked key is refused without NATS", || async {
            revoked
                .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}), None)
                .await
                .status
                == StatusCode::UNAUTHORIZED
        })
        .await;
    }
    s.nats.restart().await;
    let (status, _) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{}", s.server_id),
            Some(json!({"name": "after the outage"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let seq = s.fleet.head().await;
    for pod in &s.pods {
        pod.wait_applied(seq, Duration::from_secs(10)).await;
    }
    let (_, fleet) = s.fleet.admin(Method::GET, "/v1/data-planes", None).await;
    eventually(SOON, "both instances report", || async {
        let (_, fleet) = s.fleet.admin(Method::GET, "/v1/data-planes", None).await;
        fleet["data_planes"][0]["instances"]
            .as_array()
            .is_some_and(|i| i.len() == 2)
    })
    .await;
    assert!(fleet["head"].as_i64().unwrap() >= seq);
}

/// What a pod's debug log says it applied: batches of changes (their sequences) and snapshots
/// (the sequence they stand for), in order.
#[derive(Debug, PartialEq)]
enum Applied {
    Changes(Vec<i64>),
    Snapshot(i64),
}

fn applied_in(logs: &[String]) -> Vec<Applied> {
    let changes = regex::Regex::new(r"\[(\d+(?:, \d+)*)\]").unwrap();
    let snapshot = regex::Regex::new(r"seq\D{0,12}?(\d+)").unwrap();
    logs.iter()
        .filter_map(|line| {
            if line.contains("applied changes") {
                let list = changes.captures(line)?;
                let seqs = list[1].split(", ").map(|n| n.parse().unwrap()).collect();
                Some(Applied::Changes(seqs))
            } else if line.contains("applied a configuration snapshot") {
                Some(Applied::Snapshot(
                    snapshot.captures(line)?[1].parse().unwrap(),
                ))
            } else {
                None
            }
        })
        .collect()
}

/// NATS stopped in the middle of a burst of changes and started again before its end: both
/// pods keep serving, converge within one bus-silence period plus one poll of the sync API,
/// and apply every change once and in order (their debug logs list what they applied).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_across_a_nats_restart_is_applied_once_and_in_order_by_every_pod() {
    const BURST: usize = 120;
    let log = ("RUST_LOG", "warn,mcpgw_data_plane=debug".to_owned());
    let mut s = setup(2, &[log]).await;
    let before = s.fleet.head().await;

    // Both pods serve a session throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for pod in &s.pods {
        let client = s.client.with_url(pod.mcp_url("demo"));
        let session = client.initialize().await;
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                answered.push(client.list_tools(&session).await.status);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answered
        }));
    }

    let mut keys = Vec::new();
    for change in 0..BURST {
        if change == BURST / 3 {
            s.nats.stop().await;
        }
        if change == 2 * BURST / 3 {
            s.nats.restart().await;
        }
        if (BURST / 3..2 * BURST / 3).contains(&change) {
            // Long enough an outage for the pods to notice the bus is gone (3.5 s of silence).
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        if change % 2 == 0 {
            let key = s
                .fleet
                .create(
                    "/v1/api-keys",
                    invoke_key_request(&s.workspace, &format!("burst {change}")),
                )
                .await;
            keys.push(key["key"].as_str().unwrap().to_owned());
        } else {
            let (status, body) = s
                .fleet
                .admin(
                    Method::PATCH,
                    &format!("/v1/servers/{}", s.server_id),
                    Some(json!({"name": format!("burst {change}")})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    let last_change = Instant::now();
    let head = s.fleet.head().await;
    let mut converged = Vec::new();
    for pod in &s.pods {
        pod.wait_applied(head, Duration::from_secs(15)).await;
        converged.push(last_change.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    println!(
        "{BURST} changes across a NATS restart: pods converged {converged:?} after the last one"
    );
    // The bus counts as gone after 3.5 s of silence; the sync API is then polled every second.
    for took in &converged {
        assert!(*took < Duration::from_secs(8), "converged after {took:?}");
    }
    for answered in load {
        let answered = answered.await.unwrap();
        assert!(answered.len() > 10, "too few requests: {}", answered.len());
        assert!(
            answered.iter().all(|s| *s == StatusCode::OK),
            "{answered:?}"
        );
    }

    // Once and in order: every applied sequence is above all before it, and every key
    // created in the burst was applied by its own sequence (or within a later snapshot).
    let (_, events) = s
        .fleet
        .admin(
            Method::GET,
            &format!("/v1/events?after={before}&limit=1000"),
            None,
        )
        .await;
    let created: Vec<i64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "ApiKeyIssued")
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(created.len(), BURST / 2);
    for (number, pod) in s.pods.iter().enumerate() {
        let applied = applied_in(&pod.logs());
        let mut highest = 0;
        let mut singles = Vec::new();
        let mut snapshots = Vec::new();
        for entry in &applied {
            match entry {
                Applied::Changes(seqs) => {
                    for seq in seqs {
                        assert!(
                            *seq > highest,
                            "pod {number} applied {seq} after {highest}: {applied:?}"
                        );
                        highest = *seq;
                        singles.push(*seq);
                    }
                }
                Applied::Snapshot(seq) => {
                    assert!(*seq >= highest, "pod {number} went back to snapshot {seq}");
                    highest = *seq;
                    snapshots.push(*seq);
                }
            }
        }
        for seq in &created {
            let by_snapshot = snapshots.iter().skip(1).any(|snap| snap >= seq);
            assert!(
                singles.contains(seq) || by_snapshot,
                "pod {number} never applied key creation {seq}: {applied:?}"
            );
        }
        println!(
            "pod {number}: {} changes applied one by one, {} snapshots",
            singles.len(),
            snapshots.len()
        );
    }
    // And the result is the control plane's: every key made in the burst works on both pods.
    for pod in &s.pods {
        for key in [keys.first().unwrap(), keys.last().unwrap()] {
            McpClient::new(pod.mcp_url("demo"), key).initialize().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_keep_serving_without_the_control_plane_and_reboot_from_their_file() {
    let mut s = setup(2, &[]).await;
    let session = s.client.initialize().await;
    // A key no request has used yet: pods hold every key of their workspaces.
    let unused = s
        .fleet
        .create(
            "/v1/api-keys",
            invoke_key_request(&s.workspace, "never used"),
        )
        .await;
    let seq = s.fleet.head().await;
    for pod in &s.pods {
        pod.wait_applied(seq, Duration::from_secs(10)).await;
    }
    // Let the pods write their last-known-good files.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.fleet.stop_control_plane().await;
    for pod in &s.pods {
        let client = s.client.with_url(pod.mcp_url("demo"));
        assert_eq!(client.list_tools(&session).await.status, StatusCode::OK);
        let first_use = McpClient::new(pod.mcp_url("demo"), unused["key"].as_str().unwrap());
        first_use.initialize().await;
    }
    s.pods[1].restart().await;
    eventually(
        Duration::from_secs(10),
        "the restarted pod is ready from its file",
        || async { s.pods[1].readyz().await.0 == StatusCode::OK },
    )
    .await;
    let client = s.client.with_url(s.pods[1].mcp_url("demo"));
    let listed = client.list_tools(&session).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    s.fleet.start_control_plane().await;

    // The fleet view: a pod that stops reporting shows as stale until it is back.
    s.pods[0].stop().await;
    let instances = |fleet: Value| -> Vec<Value> {
        fleet["data_planes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["instances"].as_array().cloned().unwrap_or_default())
            .collect()
    };
    eventually(
        Duration::from_secs(20),
        "the stopped pod shows as stale",
        || async {
            let (_, fleet) = s.fleet.admin(Method::GET, "/v1/data-planes", None).await;
            let all = instances(fleet);
            // Only the other pod's current process still reports (earlier ones are stale).
            all.iter().filter(|i| i["stale"] == false).count() == 1
                && all.iter().any(|i| i["stale"] == true)
        },
    )
    .await;
    s.pods[0].restart().await;
    eventually(
        Duration::from_secs(10),
        "the restarted pod reports again",
        || async {
            let (_, fleet) = s.fleet.admin(Method::GET, "/v1/data-planes", None).await;
            instances(fleet)
                .iter()
                .filter(|i| i["stale"] == false && i["healthy"] == true)
                .count()
                == 2
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_cut_off_longer_than_max_staleness_answers_503() {
    let mut s = setup(1, &[("MCPGW_MAX_STALENESS", "2s".to_owned())]).await;
    let session = s.client.initialize().await;
    s.fleet.stop_control_plane().await;
    s.nats.stop().await;
    assert_eq!(
        s.client.list_tools(&session).await.status,
        StatusCode::OK,
        "still within the bound"
    );
    eventually(Duration::from_secs(8), "503 once stale", || async {
        s.client.list_tools(&session).await.status == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    s.nats.restart().await;
    s.fleet.start_control_plane().await;
    eventually(
        Duration::from_secs(10),
        "serving again once reachable",
        || async { s.client.list_tools(&session).await.status == StatusCode::OK },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_scoped_to_one_workspace_cannot_reach_another_workspaces_servers() {
    let s = setup(0, &[]).await;
    let other = s
        .fleet
        .create("/v1/workspaces", json!({"name": "other"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": other, "slug": "other-demo", "name": "Other", "url": s.upstream.url(), "auth": {"type": "headers", "headers": {"X-Secret": "only-for-other"}}}),
        )
        .await;
    let other_key = s
        .fleet
        .create("/v1/api-keys", invoke_key_request(&other, "k"))
        .await;
    let token = s
        .fleet
        .data_plane_token(Some(vec![s.workspace.clone()]))
        .await;
    let pod = s.fleet.data_plane(&token, &[]).await;
    pod.wait_applied(0, Duration::from_secs(15)).await;
    let theirs = McpClient::new(
        pod.mcp_url("other-demo"),
        other_key["key"].as_str().unwrap(),
    );
    let answer = theirs
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}), None)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "workspace B's key is unknown to A's pod"
    );
    let ours = s.client.with_url(pod.mcp_url("other-demo"));
    let answer = ours
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}), None)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "workspace B's server is unknown to A's pod"
    );
    let file = std::fs::read(pod.data_dir.path().join("last-known-good.bin")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&file).contains("only-for-other"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_cut_off_nats_alone_converges_by_polling_and_keeps_serving() {
    let s = setup(1, &[]).await;
    let nats_addr = s.nats.url().trim_start_matches("nats://").parse().unwrap();
    let proxy = CuttableProxy::start(nats_addr).await;
    let token = s.fleet.data_plane_token(None).await;
    let partitioned = s
        .fleet
        .data_plane(&token, &[("MCPGW_NATS_URL", proxy.nats_url())])
        .await;
    partitioned
        .wait_applied(s.fleet.head().await, Duration::from_secs(15))
        .await;
    let client = s.client.with_url(partitioned.mcp_url("demo"));
    let session = client.initialize().await;

    proxy.cut();
    let new_key = s
        .fleet
        .create(
            "/v1/api-keys",
            invoke_key_request(&s.workspace, "during the partition"),
        )
        .await;
    let changed_at = tokio::time::Instant::now();
    let seq = s.fleet.head().await;
    s.pods[0].wait_applied(seq, SOON).await;
    let connected_took = changed_at.elapsed();
    // The partitioned pod keeps serving and never goes back: its applied sequence only grows.
    let mut last = 0;
    let deadline = changed_at + Duration::from_secs(10);
    loop {
        let (status, ready) = partitioned.readyz().await;
        assert_eq!(status, StatusCode::OK, "still serving: {ready}");
        let applied = ready["applied_seq"].as_i64().unwrap();
        assert!(applied >= last, "applied {applied} after {last}");
        last = applied;
        if applied >= seq {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no convergence without NATS: {ready}"
        );
        assert_eq!(client.list_tools(&session).await.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let partitioned_took = changed_at.elapsed();
    eprintln!(
        "a change reached the connected pod in {connected_took:?} and the pod cut off NATS in {partitioned_took:?}"
    );
    // One heartbeat's silence (3.5 s) plus one poll (1 s), with slack for a loaded machine.
    assert!(
        partitioned_took < Duration::from_secs(8),
        "{partitioned_took:?}"
    );
    let fresh = McpClient::new(
        partitioned.mcp_url("demo"),
        new_key["key"].as_str().unwrap(),
    );
    assert_ne!(
        fresh
            .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "the key made during the partition works on the partitioned pod"
    );

    proxy.restore();
    // Back on the bus, changes arrive by event again (no need to wait for a poll).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, _) = s
        .fleet
        .admin(
            Method::POST,
            &revoke_path(new_key["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    partitioned.wait_applied(s.fleet.head().await, SOON).await;
}
