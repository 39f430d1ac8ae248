//! Upstream faults against a data-plane process: an upstream that resets connections, stalls
//! mid-stream, sends malformed SSE or JSON, answers too slowly or sends a body that never ends.
//! Each gets a clear 502 or 504, or (once the answer stream has begun) a JSON-RPC error event
//! naming the server and the reason (but not when the upstream leaves a stream the client may
//! resume); the pod's memory stays bounded, and a healthy server on the same pod keeps its
//! latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::fault_upstream::{Fault, FaultUpstream};
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet};
use mcpgw_e2e::mcp_client::{Answer, McpClient};
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::process::resident_kib;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);
/// The pod's `MCPGW_UPSTREAM_TIMEOUT` and `MCPGW_UPSTREAM_IDLE_TIMEOUT`.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What the client must get for each fault: the HTTP status, the error's reason, and words of
/// its message.
fn expected(fault: Fault) -> (StatusCode, &'static str, &'static str) {
    match fault {
        Fault::LeavesResumable => unreachable!("no error: the client may resume"),
        Fault::Reset => (StatusCode::BAD_GATEWAY, "upstream_failed", "failed"),
        Fault::Slow => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "did not answer within 2s",
        ),
        Fault::MalformedJson => (StatusCode::BAD_GATEWAY, "upstream_failed", "not valid JSON"),
        Fault::EndlessJson => (StatusCode::BAD_GATEWAY, "upstream_failed", "exceeds"),
        // The answer stream has begun (200): the error comes as its last event.
        Fault::ResetMidStream => (StatusCode::OK, "upstream_failed", "event stream broke"),
        Fault::StallMidStream => (StatusCode::OK, "upstream_timeout", "within 2s"),
        Fault::MalformedEvent => (StatusCode::OK, "upstream_failed", "not a JSON-RPC message"),
        Fault::EndsWithoutAnswer => (StatusCode::OK, "upstream_failed", "without answering"),
        Fault::EndlessEvent => (StatusCode::OK, "upstream_failed", "exceeds"),
    }
}

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {"text": "hi"}}})
}

/// Checks the client's answer to a call of `fault`'s server.
fn check(fault: Fault, id: u64, answer: &Answer) {
    let slug = fault.name();
    let body = &answer.body;
    if fault == Fault::LeavesResumable {
        // The stream ends as the upstream left it, with no error of the gateway's.
        assert_eq!(answer.status, StatusCode::OK, "{slug}: {body}");
        assert_eq!(body["method"], "notifications/message", "{slug}: {body}");
        return;
    }
    let (status, reason, words) = expected(fault);
    assert_eq!(answer.status, status, "{slug}: {body}");
    assert_eq!(
        body["id"], id,
        "{slug}: the error answers the request: {body}"
    );
    assert_eq!(body["error"]["data"]["reason"], reason, "{slug}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("`{slug}`")),
        "{slug}: names the server: {body}"
    );
    assert!(message.contains(words), "{slug}: says why: {body}");
    assert!(
        !message.contains("127.0.0.1"),
        "{slug}: no upstream URL: {body}"
    );
    assert!(body["error"]["data"]["request_id"].is_string(), "{body}");
}

/// Latency percentiles of `samples`, in milliseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99), at(1.0))
}

/// Calls `echo` on the healthy server until `stop`; returns each call's latency.
async fn healthy_calls(client: McpClient, session: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut took = Vec::new();
    let mut id = 1000;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        let started = Instant::now();
        let answer = client.post(call(id, "echo"), Some(&session)).await;
        took.push(started.elapsed());
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["id"], id, "{}", answer.body);
        assert!(answer.body["result"].is_object(), "{}", answer.body);
    }
    took
}

/// Samples the resident memory of process `pid` every 50 ms until `stop`; returns the
/// highest, in KiB.
async fn peak_memory(pid: u32, stop: Arc<AtomicBool>) -> u64 {
    let mut peak = 0;
    while !stop.load(Ordering::Relaxed) {
        peak = peak.max(resident_kib(pid).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    peak
}

fn rss(pod: &DataPlaneProcess) -> u64 {
    pod.pid()
        .and_then(resident_kib)
        .expect("the pod's resident memory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_faults_get_clear_errors_bounded_memory_and_leave_other_servers_alone() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let faulty = FaultUpstream::spawn().await;
    let healthy = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet.workspace("faults").await;
    for fault in Fault::ALL {
        fleet
            .create(
                "/v1/servers",
                json!({"workspace_id": workspace, "slug": fault.name(), "name": fault.name(),
                       "url": faulty.url(fault), "auth": {"type": "none"}}),
            )
            .await;
    }
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "demo",
                   "url": healthy.url(), "auth": {"type": "none"}}),
        )
        .await;
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "client"))
        .await;
    let key = key["key"].as_str().unwrap();
    let token = fleet.data_plane_token(None).await;
    let secs = format!("{}s", TIMEOUT.as_secs());
    let pod = fleet
        .data_plane(
            &token,
            &[
                ("MCPGW_UPSTREAM_TIMEOUT", secs.clone()),
                ("MCPGW_UPSTREAM_IDLE_TIMEOUT", secs),
            ],
        )
        .await;
    pod.wait_applied(fleet.head().await, SOON).await;

    let demo = McpClient::new(pod.mcp_url("demo"), key);
    let demo_session = demo.initialize().await;
    let mut sessions = Vec::new();
    for fault in Fault::ALL {
        let client = McpClient::new(pod.mcp_url(fault.name()), key);
        let session = client.initialize().await;
        sessions.push((fault, client, session));
    }

    // Each fault once, alone: the answer names the server and the reason.
    for (fault, client, session) in &sessions {
        let answer = client.post(call(7, "work"), Some(session)).await;
        check(*fault, 7, &answer);
    }

    // The healthy server's latency alone, then while every fault runs four at a time, three
    // rounds over; the pod's memory sampled throughout.
    let mut alone = {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = tokio::spawn(healthy_calls(
            demo.clone(),
            demo_session.clone(),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::Relaxed);
        calls.await.unwrap()
    };
    let before = rss(&pod);
    let stop = Arc::new(AtomicBool::new(false));
    let calls = tokio::spawn(healthy_calls(
        demo.clone(),
        demo_session.clone(),
        stop.clone(),
    ));
    let pid = pod.pid().expect("the pod runs");
    let sampler = tokio::spawn(peak_memory(pid, stop.clone()));
    let mut faults = tokio::task::JoinSet::new();
    for (fault, client, session) in sessions.iter().cloned() {
        for copy in 0..4u64 {
            let (client, session) = (client.clone(), session.clone());
            faults.spawn(async move {
                for round in 0..3u64 {
                    let id = 100 + copy * 10 + round;
                    let answer = client.post(call(id, "work"), Some(&session)).await;
                    check(fault, id, &answer);
                }
            });
        }
    }
    let fault_calls = faults.len() * 3;
    while let Some(done) = faults.join_next().await {
        done.expect("a fault call");
    }
    stop.store(true, Ordering::Relaxed);
    let mut during = calls.await.unwrap();
    let peak = sampler.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(&pod);

    let (a50, a99, amax) = percentiles(&mut alone);
    let (d50, d99, dmax) = percentiles(&mut during);
    println!(
        "healthy server alone: {} calls, p50 {a50:.2} ms, p99 {a99:.2} ms, max {amax:.2} ms",
        alone.len()
    );
    println!(
        "healthy server during {fault_calls} fault calls: {} calls, p50 {d50:.2} ms, p99 {d99:.2} ms, max {dmax:.2} ms",
        during.len()
    );
    println!(
        "pod memory: {} MiB before, {} MiB peak, {} MiB after",
        before / 1024,
        peak / 1024,
        after / 1024
    );
    // Of the 36 calls at once, the 8 endless ones may each hold one message of up to 16 MiB
    // (and up to twice that while its buffer grows); everything else is small.
    assert!(
        peak < before + 8 * 32 * 1024 + 64 * 1024,
        "memory beyond the per-message bound: {peak} KiB vs {before} KiB"
    );
    assert!(
        d99 < a99 + 1000.0,
        "the healthy server slowed down: p99 {d99:.2} ms against {a99:.2} ms alone"
    );
    // The pod logged each mid-stream failure with the request and the server.
    let logs = pod.logs().join("\n");
    assert!(
        logs.contains("upstream stream failed before its answer"),
        "{logs}"
    );
}
