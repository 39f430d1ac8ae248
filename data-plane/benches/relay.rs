//! Relay benchmark: the same fast upstream called directly and through the gateway, 1 KiB and
//! 16 KiB `tools/call`, both protocol eras; fixed-rate latency (p50/p99, open loop) and
//! saturation throughput, printed as ratios; the data plane's RSS idle and with 10k servers and
//! 100k keys loaded; the cold start from such a snapshot; session seal/open cost; and the cost
//! of tracing: throughput with no subscriber, with logs only (tracing off), and exporting OTLP
//! to a collector in this process at 1% and 100% sampling; and the cost of rate limits: a
//! server with three limits (every call counted, none refused) against one without, as the
//! gateway's CPU time per call, and the limiter's own time per call in this process.
//!
//! Run: `cargo bench -p mcpgw-data-plane --features test-util --bench relay` (`-- --quick` for
//! a short run). The gateway runs in a process of its own. Without `--pin` it shares the
//! machine's cores with the load generator and the upstream, so the machine does about twice
//! the work per call through it; `taskset -c 0 cargo bench … -- --pin` gives it CPU 1 to
//! itself, the usual way to measure a proxy. Traffic stays on loopback. Without `--bench` (as
//! `cargo test --all-targets` runs it) it only checks, with one call each way, that it works.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use mcpgw_data_plane::limits::{Caller, RateLimiter, ServerLimits};
use mcpgw_data_plane::session::SessionSealer;
use mcpgw_data_plane::testing::harness::Harness;
use mcpgw_shared::ServerId;
use mcpgw_shared::model::{LimitScope, RateLimit};
use mcpgw_shared::secret::{Keyring, generate_base64_key};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde_json::json;

/// The allocator of the `mcpgw-data-plane` binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A fast upstream: answers `initialize` with a session and `tools/call` with a text as long
/// as the request's `arguments.payload`, as JSON.
async fn fast_upstream() -> String {
    async fn answer(_headers: HeaderMap, body: Bytes) -> axum::response::Response {
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = request["id"].clone();
        if request["method"] == "initialize" {
            let result = json!({"protocolVersion": request["params"]["protocolVersion"], "capabilities": {"tools": {}}, "serverInfo": {"name": "fast", "version": "1"}});
            let mut response = (
                [("content-type", "application/json")],
                json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
            )
                .into_response();
            response
                .headers_mut()
                .insert("mcp-session-id", "fast-session".parse().unwrap());
            return response;
        }
        let size = request["params"]["arguments"]["payload"]
            .as_str()
            .map_or(0, str::len);
        let result = json!({"content": [{"type": "text", "text": "x".repeat(size)}]});
        (
            [("content-type", "application/json")],
            json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
        )
            .into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        async move { axum::serve(listener, Router::new().route("/mcp", post(answer))).await },
    );
    format!("http://{addr}/mcp")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Era {
    Sessions,
    Stateless,
}

/// One configured target: URL, headers for every call.
#[derive(Clone)]
struct Target {
    url: String,
    headers: reqwest::header::HeaderMap,
}

async fn target(client: &reqwest::Client, url: &str, key: Option<&str>, era: Era) -> Target {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "accept",
        "application/json, text/event-stream".parse().unwrap(),
    );
    headers.insert("content-type", "application/json".parse().unwrap());
    if let Some(key) = key {
        headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    match era {
        Era::Sessions => {
            let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}});
            let response = client
                .post(url)
                .headers(headers.clone())
                .body(init.to_string())
                .send()
                .await
                .unwrap();
            let session = response.headers()["mcp-session-id"].clone();
            let _ = response.bytes().await;
            headers.insert("mcp-session-id", session);
            headers.insert("mcp-protocol-version", "2025-11-25".parse().unwrap());
        }
        Era::Stateless => {
            headers.insert("mcp-protocol-version", "2026-07-28".parse().unwrap());
            headers.insert("mcp-method", "tools/call".parse().unwrap());
            headers.insert("mcp-name", "echo".parse().unwrap());
        }
    }
    Target {
        url: url.to_owned(),
        headers,
    }
}

fn call_body(size: usize) -> Bytes {
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"payload":"y".repeat(size)}}});
    Bytes::from(body.to_string())
}

async fn one(client: &reqwest::Client, t: &Target, body: &Bytes) {
    let response = client
        .post(&t.url)
        .headers(t.headers.clone())
        .body(body.clone())
        .send()
        .await
        .expect("a response");
    assert!(response.status().is_success(), "{}", response.status());
    let _ = response.bytes().await.expect("a body");
}

/// Open-loop fixed rate: p50 and p99 in microseconds. Calls start on schedule whether or not
/// earlier ones finished; each is timed from when it actually starts (tokio's timer has 1 ms
/// granularity, so timing from the scheduled instant would add up to 1 ms of timer slack).
async fn fixed_rate(
    client: &reqwest::Client,
    t: &Target,
    body: &Bytes,
    rps: u64,
    secs: u64,
) -> (f64, f64) {
    let total = rps * secs;
    let interval = Duration::from_nanos(1_000_000_000 / rps);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, t, body) = (client.clone(), t.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let began = Instant::now();
            one(&client, &t, &body).await;
            began.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await.unwrap().as_secs_f64() * 1e6);
    }
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (pick(0.50), pick(0.99))
}

/// Closed loop with `workers` in flight: completed calls per second.
async fn saturation(
    client: &reqwest::Client,
    t: &Target,
    body: &Bytes,
    workers: usize,
    secs: u64,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, t, body, done) = (client.clone(), t.clone(), body.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    one(&client, &t, &body).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

/// In a child process: a gateway's RSS idle, then with 10k servers and 100k keys, applied in
/// batches as the sync loop applies changes (so the figure is the held config, not a transient
/// copy of one huge snapshot message).
async fn rss_child() {
    let mut gw = Harness::start().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = rss_kib();
    let mut seq = 10;
    for batch in 0..10 {
        let states: Vec<_> = (0..1_000)
            .map(|i| {
                seq += 1;
                let slug = format!("server-{batch}-{i}");
                let server = mcpgw_data_plane::testing::server(
                    &slug,
                    gw.workspace,
                    "http://127.0.0.1:9/mcp",
                );
                mcpgw_data_plane::testing::server_state(seq, &server)
            })
            .collect();
        gw.updater.apply(states, seq).unwrap();
    }
    for _ in 0..20 {
        let states: Vec<_> = (0..5_000)
            .map(|_| {
                seq += 1;
                mcpgw_data_plane::testing::key_state(
                    seq,
                    &mcpgw_data_plane::testing::invoke_key(gw.workspace).1,
                )
            })
            .collect();
        gw.updater.apply(states, seq).unwrap();
    }
    let config = gw.store.load();
    assert_eq!(
        (config.routes().count(), config.api_keys().count()),
        (10_000, 100_000)
    );
    drop(config);
    // Steady state: what the allocator keeps once it has returned what the updates freed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = rss_kib();
    println!("{idle} {loaded}");
}

/// In a child process: the time from a snapshot's bytes (10k servers, 100k keys) to a ready
/// configuration, as a pod's cold start takes it (decode, then build routes and key records).
fn cold_start_child() {
    use prost::Message;
    let workspace = mcpgw_shared::WorkspaceId::new();
    let servers: Vec<_> = (0..10_000)
        .map(|i| {
            mcpgw_data_plane::testing::server(
                &format!("server-{i}"),
                workspace,
                "http://127.0.0.1:9/mcp",
            )
        })
        .collect();
    let keys: Vec<_> = (0..100_000)
        .map(|_| mcpgw_data_plane::testing::invoke_key(workspace).1)
        .collect();
    let snapshot = mcpgw_data_plane::testing::snapshot(
        1,
        &[workspace],
        &servers.iter().collect::<Vec<_>>(),
        &keys.iter().collect::<Vec<_>>(),
    );
    let bytes = snapshot.encode_to_vec();
    drop((servers, keys, snapshot));
    let started = Instant::now();
    let decoded = mcpgw_shared::proto::Snapshot::decode(bytes.as_slice()).unwrap();
    let (store, mut updater) = mcpgw_data_plane::ConfigStore::new();
    updater.replace(decoded).unwrap();
    let took = started.elapsed();
    assert!(store.load().is_ready());
    println!("{} {}", took.as_secs_f64() * 1000.0, bytes.len());
}

fn seal_open_cost() -> (f64, f64) {
    let sealer = SessionSealer::new(
        Keyring::parse(&format!("k1:{}", generate_base64_key())).unwrap(),
        Duration::from_secs(3600),
    );
    let server = ServerId::new();
    let claims = SessionSealer::claims(
        1,
        "2025-11-25",
        "k:abcdefghijkl",
        Some("0123456789abcdef0123456789abcdef"),
    );
    let n = 100_000;
    let start = Instant::now();
    let mut token = String::new();
    for _ in 0..n {
        token = sealer.seal(&server, &claims);
    }
    let seal = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    let start = Instant::now();
    for _ in 0..n {
        sealer.open(&token, &server, 1, "k:abcdefghijkl").unwrap();
    }
    let open = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    (seal, open)
}

/// In a child process: a gateway for `upstream`; prints `<url> <key>`, serves until stdin closes.
/// With `telemetry`, it installs the binaries' logging and tracing set-up first (which exports
/// OTLP when the environment says so).
async fn gateway_child(upstream: &str, telemetry: bool) {
    let _telemetry = telemetry.then(|| mcpgw_shared::telemetry::init("mcpgw-data-plane"));
    let mut gw = Harness::start().await;
    gw.add_server("fast", upstream);
    let mut limited = gw.add_server("limited", upstream);
    limited.rate_limits = bench_limits();
    limited.version += 1;
    gw.put_server(&limited);
    let (key, _) = gw.add_invoke_key();
    println!("{} {key}", gw.url("fast"));
    let mut sink = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut sink).await;
    gw.stop().await;
}

fn rss_of(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// One call per era, direct and through an in-process gateway.
async fn smoke() {
    let upstream = fast_upstream().await;
    let mut gw = Harness::start().await;
    gw.add_server("fast", &upstream);
    let (key, _) = gw.add_invoke_key();
    let client = reqwest::Client::new();
    for era in [Era::Sessions, Era::Stateless] {
        let body = call_body(1024);
        one(&client, &target(&client, &upstream, None, era).await, &body).await;
        one(
            &client,
            &target(&client, &gw.url("fast"), Some(&key), era).await,
            &body,
        )
        .await;
    }
    gw.stop().await;
    println!("relay bench: smoke run passed (run `cargo bench` for numbers)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.iter().any(|a| a == "--rss-child") {
        runtime.block_on(rss_child());
        return;
    }
    if args.iter().any(|a| a == "--cold-start-child") {
        cold_start_child();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--gateway-child") {
        let telemetry = args.iter().any(|a| a == "--telemetry");
        runtime.block_on(gateway_child(&args[i + 1], telemetry));
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench targets too (without `--bench`): check that the
        // benchmark works, with one call each way per era, instead of loading the machine.
        runtime.block_on(smoke());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let pin = args.iter().any(|a| a == "--pin");
    let secs = if quick { 2 } else { 5 };
    let (seal, open) = seal_open_cost();
    println!("session token: seal {seal:.2} µs, open {open:.2} µs");
    let rss = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--rss-child")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rss.stdout);
    let mut parts = text
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0) / 1024.0);
    let (idle, loaded) = (parts.next().unwrap_or(0.0), parts.next().unwrap_or(0.0));
    println!("data-plane RSS: idle {idle:.1} MiB, with 10k servers + 100k keys {loaded:.1} MiB");
    let cold = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--cold-start-child")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cold.stdout);
    let mut parts = text.split_whitespace();
    let (millis, bytes) = (parts.next().unwrap_or("?"), parts.next().unwrap_or("0"));
    let mib = bytes.parse::<f64>().unwrap_or(0.0) / (1024.0 * 1024.0);
    println!(
        "cold start: a snapshot of 10k servers + 100k keys ({mib:.1} MiB) decoded and applied in {millis} ms"
    );
    runtime.block_on(async {
        let upstream = fast_upstream().await;
        let child = spawn_gateway(&upstream, pin, &[]).await;
        let (gw_url, key) = (child.url.as_str(), child.key.as_str());
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).tcp_nodelay(true).build().unwrap();
        println!(
            "\n{:<10} {:>6} | {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>6}",
            "era", "size", "p50 dir", "p50 gw", "p99 dir", "p99 gw", "+p99 ms", "rps dir", "rps gw", "ratio"
        );
        for era in [Era::Sessions, Era::Stateless] {
            let direct = target(&client, &upstream, None, era).await;
            let through = target(&client, gw_url, Some(key), era).await;
            for size in [1024, 16 * 1024] {
                let body = call_body(size);
                for _ in 0..200 {
                    one(&client, &direct, &body).await;
                    one(&client, &through, &body).await;
                }
                let (d50, d99) = fixed_rate(&client, &direct, &body, 1000, secs).await;
                let (g50, g99) = fixed_rate(&client, &through, &body, 1000, secs).await;
                let d_rps = saturation(&client, &direct, &body, 32, secs).await;
                let g_rps = saturation(&client, &through, &body, 32, secs).await;
                println!(
                    "{:<10} {:>5}K | {:>7.0}µs {:>7.0}µs {:>7.0}µs {:>7.0}µs {:>9.3} | {:>9.0} {:>9.0} {:>5.2}x",
                    format!("{era:?}"), size / 1024, d50, g50, d99, g99, (g99 - d99) / 1000.0, d_rps, g_rps, g_rps / d_rps
                );
            }
        }
        let gateway_rss = child.process.id().map_or(0.0, rss_of);
        println!("\n(fixed rate: 1000 calls/s for {secs}s, open loop; saturation: 32 callers for {secs}s)");
        println!(
            "gateway process RSS after the load: {gateway_rss:.1} MiB; gateway {}",
            if pin { "pinned to CPU 1" } else { "sharing the CPUs with the load generator and upstream" }
        );
        child.stop().await;
        tracing_cost(&client, &upstream, pin, secs).await;
        rate_limit_cost(&client, &upstream, pin, secs).await;
    });
}

/// Limits that count every call three ways (a key's minute, a user's hour, the server's calls
/// in flight) and never refuse one.
fn bench_limits() -> Vec<RateLimit> {
    let limit = |by, per_minute, per_hour, concurrent| RateLimit {
        by,
        tools: vec![],
        per_minute,
        per_hour,
        per_day: None,
        concurrent,
    };
    vec![
        limit(LimitScope::Key, Some(u32::MAX), None, None),
        limit(LimitScope::User, None, Some(u32::MAX), None),
        limit(LimitScope::Server, None, None, Some(u32::MAX)),
    ]
}

/// The limiter alone: nanoseconds per admitted call with [`bench_limits`].
fn limiter_cost() -> f64 {
    let limits = ServerLimits::compile(ServerId::new(), &bench_limits()).unwrap();
    let limiter = RateLimiter::new();
    let caller = Caller {
        key: "0193a4b5-0000-7000-8000-000000000001",
        user: Some("alice@example.com"),
        workspace: Some("0193a4b5-0000-7000-8000-000000000002"),
        server: "0193a4b5-0000-7000-8000-000000000003",
    };
    let n = 200_000;
    let start = Instant::now();
    for _ in 0..n {
        drop(limiter.admit(&[&limits], caller, Some("echo")).unwrap());
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
}

/// What rate limits add to a call: one gateway process serving the same upstream as `fast`
/// (no limits) and `limited` ([`bench_limits`]); 1 KiB session-era calls at saturation, the
/// gateway's CPU time per call, best of [`ROUNDS`] interleaved rounds each.
async fn rate_limit_cost(client: &reqwest::Client, upstream: &str, pin: bool, secs: u64) {
    let gateway = spawn_gateway(upstream, pin, &[]).await;
    let pid = gateway.process.id().unwrap_or(0);
    let body = call_body(1024);
    let secs = secs.max(4);
    let urls = [
        gateway.url.clone(),
        gateway.url.replace("/fast/mcp", "/limited/mcp"),
    ];
    let mut targets = Vec::new();
    for url in &urls {
        let through = target(client, url, Some(&gateway.key), Era::Sessions).await;
        for _ in 0..200 {
            one(client, &through, &body).await;
        }
        targets.push(through);
    }
    let mut best_rps = [0.0f64; 2];
    let mut best_cpu = [f64::MAX; 2];
    for _round in 0..ROUNDS {
        for (i, through) in targets.iter().enumerate() {
            let cpu_before = cpu_seconds(pid);
            let rps = saturation(client, through, &body, 32, secs).await;
            let cpu = cpu_seconds(pid) - cpu_before;
            best_rps[i] = best_rps[i].max(rps);
            best_cpu[i] = best_cpu[i].min(cpu * 1e6 / (rps * secs as f64));
        }
    }
    gateway.stop().await;
    println!(
        "
rate-limit cost (1 KiB tools/call, sessions, 32 callers, best of {ROUNDS} rounds of {secs}s):"
    );
    println!(
        "  {:<26} {:>10} {:>9} {:>13}",
        "server", "calls/s", "ratio", "CPU µs/call"
    );
    for (i, label) in ["no limits", "3 limits, every call counted"]
        .iter()
        .enumerate()
    {
        println!(
            "  {label:<26} {:>10.0} {:>8.3}x {:>13.1}",
            best_rps[i],
            best_rps[i] / best_rps[0],
            best_cpu[i]
        );
    }
    println!(
        "  added CPU per call: {:+.2} µs (target ≤ 5 µs); the limiter alone: {:.0} ns per call",
        best_cpu[1] - best_cpu[0],
        limiter_cost()
    );
}

/// A gateway in a process of its own.
struct GatewayProcess {
    process: tokio::process::Child,
    url: String,
    key: String,
}

impl GatewayProcess {
    async fn stop(mut self) {
        drop(self.process.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.process.wait()).await;
    }
}

/// Starts a gateway process for `upstream` (on CPU 1 with `pin`); `telemetry` is the
/// environment of the binaries' telemetry set-up, empty to install none.
async fn spawn_gateway(upstream: &str, pin: bool, telemetry: &[(&str, String)]) -> GatewayProcess {
    // The gateway runs in its own process; with --pin, on CPU 1 (run the bench itself under
    // `taskset -c 0` so the load generator and the upstream stay off that CPU).
    let exe = std::env::current_exe().unwrap();
    let mut command = if pin {
        let mut c = tokio::process::Command::new("taskset");
        c.arg("-c").arg("1").arg(&exe);
        c
    } else {
        tokio::process::Command::new(&exe)
    };
    command.arg("--gateway-child").arg(upstream);
    if !telemetry.is_empty() {
        command.arg("--telemetry");
    }
    let mut process = command
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .envs(telemetry.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the gateway process");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
        process.stdout.take().unwrap(),
    ));
    let first = lines
        .next_line()
        .await
        .unwrap()
        .expect("the gateway prints its URL and key");
    let (url, key) = first.split_once(' ').unwrap();
    GatewayProcess {
        process,
        url: url.to_owned(),
        key: key.to_owned(),
    }
}

/// An OTLP/gRPC collector that counts the spans it receives.
#[derive(Clone, Default)]
struct SpanSink(Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceService for SpanSink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn span_sink() -> (String, SpanSink) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = SpanSink::default();
    let service = TraceServiceServer::new(sink.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    (format!("http://{addr}"), sink)
}

/// Rounds of the tracing-cost comparison.
const ROUNDS: usize = 3;

/// CPU time (user and system) process `pid` has used, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The cost of each telemetry set-up in a gateway process at saturation (1 KiB session-era
/// calls): its throughput, and the gateway's CPU time per call, which the machine's noise
/// moves less. Best of [`ROUNDS`] interleaved rounds each.
async fn tracing_cost(client: &reqwest::Client, upstream: &str, pin: bool, secs: u64) {
    let (endpoint, sink) = span_sink().await;
    // Warnings only: the set-up logs nothing per request below debug, and the bench's output
    // stays readable (traces do not depend on RUST_LOG).
    let otlp = |ratio: &str| {
        vec![
            ("RUST_LOG", "warn".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ("OTEL_TRACES_SAMPLER", "traceidratio".to_owned()),
            ("OTEL_TRACES_SAMPLER_ARG", ratio.to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
        ]
    };
    let modes: [(&str, Vec<(&str, String)>); 5] = [
        ("no subscriber", vec![]),
        ("logs, tracing off", vec![("RUST_LOG", "warn".to_owned())]),
        ("OTLP, 0% sampled", otlp("0")),
        ("OTLP, 1% sampled", otlp("0.01")),
        ("OTLP, 100% sampled", otlp("1.0")),
    ];
    let body = call_body(1024);
    // Longer windows than the relay table's: the differences sought are a few percent.
    let secs = secs.max(4);
    let mut best_rps = [0.0f64; 5];
    let mut best_cpu = [f64::MAX; 5];
    let mut spans = [0u64; 5];
    for _round in 0..ROUNDS {
        for (i, (_, env)) in modes.iter().enumerate() {
            let gateway = spawn_gateway(upstream, pin, env).await;
            let pid = gateway.process.id().unwrap_or(0);
            let through = target(client, &gateway.url, Some(&gateway.key), Era::Sessions).await;
            for _ in 0..200 {
                one(client, &through, &body).await;
            }
            let spans_before = sink.0.load(Ordering::Relaxed);
            let cpu_before = cpu_seconds(pid);
            let rps = saturation(client, &through, &body, 32, secs).await;
            let cpu = cpu_seconds(pid) - cpu_before;
            gateway.stop().await;
            spans[i] += sink.0.load(Ordering::Relaxed) - spans_before;
            best_rps[i] = best_rps[i].max(rps);
            best_cpu[i] = best_cpu[i].min(cpu * 1e6 / (rps * secs as f64));
        }
    }
    println!(
        "\ntracing cost (1 KiB tools/call, sessions, 32 callers, best of {ROUNDS} rounds of {secs}s):"
    );
    println!(
        "  {:<20} {:>10} {:>9} {:>13} {:>9}  spans exported",
        "set-up", "calls/s", "ratio", "CPU µs/call", "ratio"
    );
    for (i, (label, _)) in modes.iter().enumerate() {
        println!(
            "  {label:<20} {:>10.0} {:>8.3}x {:>13.1} {:>8.3}x  {}",
            best_rps[i],
            best_rps[i] / best_rps[1],
            best_cpu[i],
            best_cpu[i] / best_cpu[1],
            spans[i]
        );
    }
    println!("  (ratios against \"logs, tracing off\", the default set-up)");
}
