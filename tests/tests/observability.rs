//! Observability, with real processes (a control plane on PostgreSQL, data planes, a NATS
//! server of the test's own): `/metrics` on both planes parsed by the Prometheus parser, the
//! request log from data plane to `GET /v1/requests` (filters, cursor, live tail, export
//! switched off), the diagnosis of a request id, OTLP traces with trace context from client to
//! upstream, JSON logs carrying the span's fields, and a scan of every log line, span, metric,
//! bus message and request record for planted secrets.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::{invoke_key_request, revoke_path};
use mcpgw_e2e::credential_proxy;
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet, eventually};
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::telemetry::{OtlpCollector, Sample, parse_prometheus, sum};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(10);

async fn scrape(url: &str) -> (String, Vec<Sample>) {
    let response = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("/metrics answers");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let samples = parse_prometheus(&text).await;
    (text, samples)
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
}

async fn requests(fleet: &Fleet, query: &str) -> Value {
    let (status, body) = fleet
        .admin(Method::GET, &format!("/v1/requests?{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

struct Setup {
    _nats: PrivateNats,
    fleet: Fleet,
    _upstream: DemoUpstream,
    workspace: String,
    server_id: String,
    key: Value,
    pod: DataPlaneProcess,
}

/// A fleet of one data plane, with a workspace, a `demo` server and a client key.
async fn setup() -> Setup {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet.workspace("observed").await;
    let server = fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "Demo",
                   "url": upstream.url(), "auth": {"type": "none"}}),
        )
        .await;
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "client"))
        .await;
    let token = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token, &[]).await;
    pod.wait_applied(fleet.head().await, SOON).await;
    Setup {
        _nats: nats,
        fleet,
        _upstream: upstream,
        workspace,
        server_id: server["id"].as_str().unwrap().to_owned(),
        key,
        pod,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_request_log_and_diagnosis() {
    let s = setup().await;
    let key = s.key["key"].as_str().unwrap();
    let key_id = s.key["id"].as_str().unwrap();
    let client = McpClient::new(s.pod.mcp_url("demo"), key);
    let session = client.initialize().await;
    assert_eq!(client.list_tools(&session).await.status, StatusCode::OK);
    let echoed = client
        .post(call(3, "echo", json!({"message": "hi"})), Some(&session))
        .await;
    assert_eq!(echoed.status, StatusCode::OK, "{:?}", echoed.body);
    let unknown = McpClient::new(s.pod.mcp_url("no-such-server"), key)
        .post(call(4, "echo", json!({})), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // A revoked key: the client's error names a request id; the admin pastes it in.
    let revoker = s
        .fleet
        .create(
            "/v1/api-keys",
            invoke_key_request(&s.workspace, "soon revoked"),
        )
        .await;
    let revoked_id = revoker["id"].as_str().unwrap();
    s.fleet.create(&revoke_path(revoked_id), json!({})).await;
    s.pod.wait_applied(s.fleet.head().await, SOON).await;
    let refused = McpClient::new(s.pod.mcp_url("demo"), revoker["key"].as_str().unwrap())
        .post(call(5, "echo", json!({"message": "x"})), None)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let refused_id = refused.body["error"]["data"]["request_id"]
        .as_str()
        .expect("the error names its request id")
        .to_owned();

    // The data plane's metrics, read by the Prometheus parser, with bounded labels.
    let (text, samples) = scrape(&s.pod.url()).await;
    let calls = sum(
        &samples,
        "mcpgw_requests_total",
        &[
            ("server", "demo"),
            ("method", "tools/call"),
            ("status", "200"),
        ],
    );
    assert_eq!(calls, 1.0, "{text}");
    assert!(
        sum(
            &samples,
            "mcpgw_requests_total",
            &[("server", "unknown"), ("status", "404")]
        ) >= 1.0
    );
    assert_eq!(
        sum(
            &samples,
            "mcpgw_auth_failures_total",
            &[("reason", "key_revoked")]
        ),
        1.0
    );
    assert_eq!(sum(&samples, "mcpgw_sessions_started_total", &[]), 1.0);
    assert!(
        sum(
            &samples,
            "mcpgw_request_duration_seconds_count",
            &[("server", "demo"), ("method", "tools/call")]
        ) >= 1.0
    );
    assert!(
        sum(
            &samples,
            "mcpgw_upstream_duration_seconds_count",
            &[("server", "demo")]
        ) >= 3.0
    );
    assert!(sum(&samples, "mcpgw_config_seq", &[]) >= s.fleet.head().await as f64);
    let servers: BTreeSet<&str> = samples
        .iter()
        .filter_map(|s| s.labels.get("server").map(String::as_str))
        .collect();
    assert_eq!(
        servers,
        BTreeSet::from(["demo", "unknown"]),
        "no slug a client typed becomes a label"
    );
    assert!(
        !text.contains(key_id) && !text.contains("no-such-server"),
        "{text}"
    );

    // The control plane's metrics.
    let (text, samples) = scrape(&s.fleet.admin_url()).await;
    assert!(
        sum(
            &samples,
            "mcpgw_admin_requests_total",
            &[("route", "/v1/api-keys"), ("method", "POST")]
        ) >= 2.0,
        "{text}"
    );
    assert!(
        sum(
            &samples,
            "mcpgw_sync_calls_total",
            &[("call", "GetSnapshot"), ("outcome", "ok")]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(sum(&samples, "mcpgw_outbox_backlog", &[]), 0.0, "{text}");
    assert!(sum(&samples, "mcpgw_event_log_head_seq", &[]) >= 1.0);

    // The request log: each request, findable by its filters.
    eventually(
        SOON,
        "the tools/call record reaches the control plane",
        || async {
            requests(&s.fleet, "server=demo&tool=echo").await["requests"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        },
    )
    .await;
    let found = requests(&s.fleet, "server=demo&tool=echo").await;
    let record = &found["requests"][0];
    assert!(
        record.get("arguments").is_none() && record.get("result").is_none(),
        "arguments and results stay out unless the server's policy keeps them: {record}"
    );
    assert_eq!(record["method"], "tools/call");
    assert_eq!(record["target"], "echo");
    assert_eq!(record["status"], 200);
    assert_eq!(record["upstream_status"], 200);
    assert_eq!(record["key_id"], key_id);
    assert_eq!(record["server_id"], s.server_id.as_str());
    assert_eq!(record["workspace_id"], s.workspace.as_str());
    assert!(
        record["latency_us"].as_u64().unwrap() >= record["upstream_latency_us"].as_u64().unwrap()
    );
    eventually(SOON, "the refused request's record", || {
        let fleet = &s.fleet;
        let refused_id = refused_id.clone();
        async move {
            requests(fleet, "status=4xx&reason=key_revoked").await["requests"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["request_id"] == refused_id.as_str()))
        }
    })
    .await;
    let by_id = requests(&s.fleet, &format!("server={}&limit=1000", s.server_id)).await;
    assert_eq!(
        by_id["requests"].as_array().unwrap().len(),
        4,
        "initialize, initialized, tools/list and tools/call (the refused call was refused before its server was looked up): {by_id}"
    );
    let by_slug = requests(&s.fleet, "server=demo&limit=1000").await;
    assert_eq!(
        by_slug["requests"].as_array().unwrap().len(),
        5,
        "{by_slug}"
    );
    assert!(
        requests(&s.fleet, "status=5xx").await["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Cursor paging: pages of two, newest first, no record twice, all of them in the end.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("server=demo&limit=2&cursor={c}"),
            None => "server=demo&limit=2".to_owned(),
        };
        let page = requests(&s.fleet, &query).await;
        for r in page["requests"].as_array().unwrap() {
            seen.push(r["request_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "pages are newest first without repeats");
    assert_eq!(seen.len(), 5);

    // Bad filters are told apart from empty results.
    let (status, body) = s
        .fleet
        .admin(Method::GET, "/v1/requests?status=9xx", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = s
        .fleet
        .admin(Method::GET, "/v1/requests?colour=red", None)
        .await;
    assert!(status.is_client_error());

    // The diagnosis of the refused request.
    let (status, diagnosis) = s
        .fleet
        .admin(Method::GET, &format!("/v1/requests/{refused_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{diagnosis}");
    assert_eq!(diagnosis["request"]["reason"], "key_revoked");
    assert_eq!(diagnosis["diagnosis"]["outcome"], "refused");
    let cause = diagnosis["diagnosis"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(revoked_id) && cause.contains("revoked at"),
        "{cause}"
    );
    assert!(
        diagnosis["diagnosis"]["fix"]
            .as_str()
            .unwrap()
            .contains("/v1/api-keys")
    );
    assert!(diagnosis["config"]["applied_seq"].as_i64().unwrap() >= 1);
    assert!(
        diagnosis["config"]["head_seq"].as_i64().unwrap()
            >= diagnosis["config"]["applied_seq"].as_i64().unwrap()
    );
    let (status, body) = s
        .fleet
        .admin(Method::GET, "/v1/requests/0190000000000000", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // A change to the server after a request shows in that request's diagnosis.
    let (status, _) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{}", s.server_id),
            Some(json!({"enabled": false})),
        )
        .await;
    assert!(status.is_success());
    s.pod.wait_applied(s.fleet.head().await, SOON).await;
    let disabled = client
        .post(call(6, "echo", json!({"message": "y"})), Some(&session))
        .await;
    assert_eq!(disabled.status, StatusCode::FORBIDDEN);
    let disabled_id = disabled.body["error"]["data"]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record_id = record["request_id"].as_str().unwrap().to_owned();
    let (_, earlier) = s
        .fleet
        .admin(Method::GET, &format!("/v1/requests/{record_id}"), None)
        .await;
    assert_eq!(earlier["diagnosis"]["outcome"], "ok");
    let changes = earlier["config"]["server_changes_since"]
        .as_array()
        .unwrap();
    assert_eq!(changes.len(), 1, "{earlier}");
    assert_eq!(changes[0]["fields"], json!(["enabled"]));
    eventually(SOON, "the disabled server's record", || {
        let fleet = &s.fleet;
        let disabled_id = disabled_id.clone();
        async move {
            fleet
                .admin(Method::GET, &format!("/v1/requests/{disabled_id}"), None)
                .await
                .0
                == StatusCode::OK
        }
    })
    .await;
    let (_, diagnosis) = s
        .fleet
        .admin(Method::GET, &format!("/v1/requests/{disabled_id}"), None)
        .await;
    assert!(
        diagnosis["diagnosis"]["cause"]
            .as_str()
            .unwrap()
            .contains("is disabled"),
        "{diagnosis}"
    );
    assert!(
        diagnosis["diagnosis"]["fix"]
            .as_str()
            .unwrap()
            .contains("PATCH /v1/servers/")
    );

    // A workspace admin sees its workspace's records only.
    let other = s
        .fleet
        .create("/v1/workspaces", json!({"name": "elsewhere"}))
        .await;
    let other_admin = s
        .fleet
        .create(
            "/v1/api-keys",
            json!({"workspace_id": other["id"], "name": "other admin", "type": "service", "permissions": ["admin"]}),
        )
        .await;
    let http = reqwest::Client::new();
    let (status, body) = mcpgw_e2e::admin_api::call(
        &http,
        other_admin["key"].as_str().unwrap(),
        Method::GET,
        &format!("{}/v1/requests", s.fleet.admin_url()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["requests"], json!([]), "{body}");
    let (status, _) = mcpgw_e2e::admin_api::call(
        &http,
        other_admin["key"].as_str().unwrap(),
        Method::GET,
        &format!("{}/v1/requests/{record_id}", s.fleet.admin_url()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tail_and_export_switched_off() {
    let s = setup().await;
    let key = s.key["key"].as_str().unwrap();
    // A second data plane (its own registration) that keeps its records to itself.
    let quiet_token = s.fleet.data_plane_token(None).await;
    let quiet = s
        .fleet
        .data_plane(
            &quiet_token,
            &[("MCPGW_REQUEST_LOG_EXPORT", "false".to_owned())],
        )
        .await;
    quiet.wait_applied(s.fleet.head().await, SOON).await;

    let tail = reqwest::Client::new()
        .get(format!(
            "{}/v1/requests/tail?server=demo&tool=echo",
            s.fleet.admin_url()
        ))
        .bearer_auth(&s.fleet.admin_key)
        .send()
        .await
        .expect("the tail opens");
    assert_eq!(tail.status(), StatusCode::OK);
    assert!(
        tail.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut events = tail.bytes_stream();

    let quiet_client = McpClient::new(quiet.mcp_url("demo"), key);
    let quiet_session = quiet_client.initialize().await;
    let answer = quiet_client
        .post(
            call(1, "echo", json!({"message": "from the quiet pod"})),
            Some(&quiet_session),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let client = McpClient::new(s.pod.mcp_url("demo"), key);
    let session = client.initialize().await;
    let answer = client
        .post(
            call(2, "echo", json!({"message": "tailed"})),
            Some(&session),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let answer = client
        .post(call(3, "add", json!({"a": 1, "b": 2})), Some(&session))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);

    let mut text = String::new();
    let event = tokio::time::timeout(SOON, async {
        while let Some(chunk) = events.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.expect("tail data")));
            if let Some(data) = text
                .split("\n\n")
                .filter(|e| e.contains("event: request"))
                .find_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            {
                return serde_json::from_str::<Value>(data).expect("a JSON record");
            }
        }
        panic!("the tail ended: {text}");
    })
    .await
    .expect("a tailed record within the deadline");
    assert_eq!(event["target"], "echo");
    assert_eq!(event["status"], 200);

    // The quiet pod's request was made first; the exporting pod's arrived: give the quiet one
    // two more batch windows, then it must still be absent.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = requests(&s.fleet, "server=demo&limit=1000").await;
    let records = all["requests"].as_array().unwrap();
    let pods: BTreeSet<&str> = records
        .iter()
        .map(|r| r["data_plane_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        pods.len(),
        1,
        "only the exporting data plane's records: {all}"
    );
    assert_eq!(
        records.len(),
        4,
        "initialize, initialized and two calls: {all}"
    );
    let (_, samples) = scrape(&quiet.url()).await;
    assert_eq!(sum(&samples, "mcpgw_request_log_exported_total", &[]), 0.0);
    assert_eq!(
        sum(&samples, "mcpgw_requests_total", &[("server", "demo")]),
        3.0
    );
    let (_, samples) = scrape(&s.pod.url()).await;
    assert_eq!(sum(&samples, "mcpgw_request_log_exported_total", &[]), 4.0);
    assert_eq!(sum(&samples, "mcpgw_request_log_dropped_total", &[]), 0.0);

    // A server whose policy keeps arguments and results, each cut at 64 bytes.
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{}", s.server_id),
            Some(json!({"request_logging": {"arguments": true, "results": true, "max_bytes": 64}})),
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(body["request_logging"]["max_bytes"], 64);
    let (status, body) = s
        .fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{}", s.server_id),
            Some(json!({"request_logging": {"arguments": true, "max_bytes": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    s.pod.wait_applied(s.fleet.head().await, SOON).await;
    let long = "z".repeat(200);
    let answer = client
        .post(call(4, "echo", json!({"message": long})), Some(&session))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let mut logged = Value::Null;
    for _ in 0..500 {
        let page = requests(&s.fleet, "server=demo&tool=echo&limit=1").await;
        if page["requests"][0].get("arguments").is_some() {
            logged = page["requests"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arguments = logged["arguments"].as_str().expect("arguments kept");
    assert!(arguments.starts_with("{\"message\":\"zzz"), "{arguments}");
    assert!(
        arguments.len() <= 64 && arguments.ends_with('…'),
        "{arguments}"
    );
    let result = logged["result"].as_str().expect("the result kept");
    assert!(result.len() <= 64 && result.ends_with('…'), "{result}");
    assert!(
        result.contains("jsonrpc") || result.contains("data"),
        "{result}"
    );
}

/// Random text that must never show up where it does not belong.
fn planted(label: &str) -> String {
    format!("{label}{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_logs_and_no_secret_anywhere() {
    let collector = OtlpCollector::start().await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let (proxy, seen_upstream) =
        credential_proxy::spawn_recording(&upstream.url().replace("/mcp", "")).await;
    let upstream_secret = planted("upstreamsecret");
    let url_secret = planted("urlsecret");
    let query_secret = planted("querysecret");
    let resource_secret = planted("resourcesecret");
    let telemetry = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("MCPGW_LOG_FORMAT", "json".to_owned()),
        (
            "RUST_LOG",
            "info,mcpgw_data_plane=debug,mcpgw_control_plane=debug,mcpgw_shared=debug".to_owned(),
        ),
    ];
    let nats = PrivateNats::start().await;
    let bus = async_nats::connect(nats.url())
        .await
        .expect("connect to NATS");
    let mut everything = bus
        .subscribe(">")
        .await
        .expect("subscribe to every subject");
    let fleet = Fleet::start_with(&nats.url(), telemetry.clone()).await;
    let workspace = fleet.workspace("traced").await;
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "Demo",
                   "url": format!("http://{proxy}/mcp?sig={url_secret}"),
                   "auth": {"type": "headers", "headers": {"X-Upstream-Key": upstream_secret}}}),
        )
        .await;
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "traced"))
        .await;
    let client_key = key["key"].as_str().unwrap().to_owned();
    let token = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token, &telemetry).await;
    pod.wait_applied(fleet.head().await, SOON).await;

    // A client with its own trace.
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(format!("{}?api_key={query_secret}", pod.mcp_url("demo")))
            .bearer_auth(&client_key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header(
                "traceparent",
                format!("00-{client_trace}-00f067aa0ba902b7-01"),
            )
            .json(&body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(init.status(), StatusCode::OK);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = init.text().await;
    let initialized = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(session.clone()),
    )
    .await
    .unwrap();
    assert_eq!(initialized.status(), StatusCode::ACCEPTED);
    let called = post(
        call(2, "echo", json!({"message": "traced"})),
        Some(session.clone()),
    )
    .await
    .unwrap();
    assert_eq!(called.status(), StatusCode::OK);
    let request_id = called.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = called.text().await;
    let read = post(
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": format!("file:///notes.txt?token={resource_secret}")}}),
        Some(session.clone()),
    )
    .await
    .unwrap();
    let _ = read.text().await;

    // The server span: the client's trace, the MCP fields, the gateway's fields.
    let server_span = collector
        .wait_for(SOON, "`tools/call echo` from the data plane", |s| {
            s.service == "mcpgw-data-plane" && s.name == "tools/call echo"
        })
        .await;
    assert_eq!(
        server_span.trace_id, client_trace,
        "the client's trace continues"
    );
    assert_eq!(server_span.parent_span_id, "00f067aa0ba902b7");
    let attributes = &server_span.attributes;
    assert_eq!(attributes["mcp.method.name"], "tools/call");
    assert_eq!(attributes["gen_ai.tool.name"], "echo");
    assert_eq!(attributes["mcpgw.server"], "demo");
    assert_eq!(attributes["mcpgw.workspace"], workspace);
    assert_eq!(attributes["mcpgw.key.id"], key["id"].as_str().unwrap());
    assert_eq!(attributes["http.response.status_code"], "200");
    assert_eq!(attributes["mcpgw.upstream.status"], "200");
    assert!(
        attributes["mcpgw.upstream.latency_ms"]
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    assert_eq!(attributes["request_id"], request_id);
    // Its children: admission, and the upstream call, whose context went upstream.
    collector
        .wait_for(SOON, "the auth span", |s| {
            s.name == "auth" && s.parent_span_id == server_span.span_id
        })
        .await;
    let upstream_span = collector
        .wait_for(SOON, "the upstream call", |s| {
            s.name == "upstream POST" && s.parent_span_id == server_span.span_id
        })
        .await;
    assert_eq!(upstream_span.trace_id, client_trace);
    assert_eq!(upstream_span.attributes["http.response.status_code"], "200");
    let expected = format!("00-{client_trace}-{}-01", upstream_span.span_id);
    assert!(
        seen_upstream
            .all()
            .iter()
            .any(|h| h.get("traceparent").is_some_and(|v| v == expected.as_str())),
        "the upstream got the gateway's span as parent"
    );
    // A client that did not sample its trace: no span of that request is exported, the
    // upstream gets the client's context as it was, and the record still names the trace.
    let unsampled_trace = "0af7651916cd43dd8448eb211c80319c";
    let unsampled_parent = format!("00-{unsampled_trace}-b7ad6b7169203331-00");
    let unsampled = http
        .post(pod.mcp_url("demo"))
        .bearer_auth(&client_key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", session.clone())
        .header("traceparent", unsampled_parent.clone())
        .json(&call(9, "echo", json!({"message": "not sampled"})))
        .send()
        .await
        .unwrap();
    assert_eq!(unsampled.status(), StatusCode::OK);
    let unsampled_id = unsampled.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = unsampled.text().await;
    let mut record = Value::Null;
    for _ in 0..500 {
        let (status, body) = fleet
            .admin(Method::GET, &format!("/v1/requests/{unsampled_id}"), None)
            .await;
        if status == StatusCode::OK {
            record = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(record["request"]["trace_id"], unsampled_trace, "{record}");
    assert!(
        seen_upstream.all().iter().any(|h| h
            .get("traceparent")
            .is_some_and(|v| v == unsampled_parent.as_str())),
        "an unsampled context goes upstream unchanged"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !collector
            .spans()
            .iter()
            .any(|s| s.trace_id == unsampled_trace),
        "no span of an unsampled request is exported"
    );
    let resource_span = collector
        .wait_for(SOON, "resources/read", |s| {
            s.attributes
                .get("mcp.method.name")
                .is_some_and(|m| m == "resources/read")
        })
        .await;
    assert_eq!(
        resource_span.attributes["mcp.resource.uri"],
        "file:///notes.txt"
    );
    // The record reaching the control plane is in the same trace, under the request's span.
    let stored = collector
        .wait_for(SOON, "the control plane's span for the record", |s| {
            s.service == "mcpgw-control-plane"
                && s.name == "request log stored"
                && s.parent_span_id == server_span.span_id
        })
        .await;
    assert_eq!(
        stored.trace_id, client_trace,
        "one trace across both planes"
    );
    assert_eq!(stored.attributes["request_id"], request_id);
    // The control plane's own spans: commands and sync calls.
    let command = collector
        .wait_for(SOON, "a command span", |s| {
            s.service == "mcpgw-control-plane" && s.name == "command"
        })
        .await;
    assert!(!command.attributes["stream"].is_empty(), "{command:?}");
    collector
        .wait_for(SOON, "a sync call span", |s| {
            s.name == "mcpgw.v1.ConfigSync/GetSnapshot"
        })
        .await;
    collector
        .wait_for(SOON, "an outbox publish span", |s| {
            s.name == "outbox publish"
        })
        .await;

    // JSON log lines carry the request id, the trace id and the span's fields.
    eventually(SOON, "a JSON log line of the traced call", || {
        let lines = pod.logs();
        let request_id = request_id.clone();
        async move {
            lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|line| {
                    let span = &line["span"];
                    span["request_id"] == request_id.as_str()
                        && span["trace_id"] == client_trace
                        && span["mcp.method.name"] == "tools/call"
                })
        }
    })
    .await;

    // Wait for the request log, then scan everything for the planted secrets.
    eventually(SOON, "the traced call's record", || {
        let fleet = &fleet;
        let request_id = request_id.clone();
        async move {
            fleet
                .admin(Method::GET, &format!("/v1/requests/{request_id}"), None)
                .await
                .0
                == StatusCode::OK
        }
    })
    .await;
    let mut haystacks: Vec<(String, String)> = Vec::new();
    for line in pod.logs() {
        haystacks.push(("data-plane log".into(), line));
    }
    for line in fleet.control_plane_logs() {
        haystacks.push(("control-plane log".into(), line));
    }
    for span in collector.spans() {
        haystacks.push((
            format!("span {}", span.name),
            format!("{} {:?}", span.name, span.attributes),
        ));
    }
    for url in [pod.url(), fleet.admin_url()] {
        let text = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        haystacks.push((format!("metrics of {url}"), text));
    }
    let (_, log) = fleet
        .admin(Method::GET, "/v1/requests?limit=1000", None)
        .await;
    haystacks.push(("request log".into(), log.to_string()));
    let (_, record) = fleet
        .admin(Method::GET, &format!("/v1/requests/{request_id}"), None)
        .await;
    haystacks.push(("request diagnosis".into(), record.to_string()));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, everything.next()).await {
        haystacks.push((
            format!("NATS {}", message.subject),
            format!(
                "{:?} {}",
                message.headers,
                String::from_utf8_lossy(&message.payload)
            ),
        ));
    }
    assert!(
        haystacks
            .iter()
            .any(|(what, _)| what.starts_with("NATS mcpgw.default.logs.")),
        "request-log batches were scanned"
    );
    let client_secret = client_key.rsplit('_').next().unwrap().to_owned();
    let admin_secret = fleet.admin_key.rsplit('_').next().unwrap().to_owned();
    let token_secret = token.rsplit('_').next().unwrap().to_owned();
    let secrets = [
        ("the upstream credential", upstream_secret.as_str()),
        ("a secret in the upstream URL", url_secret.as_str()),
        (
            "a secret in the request's query string",
            query_secret.as_str(),
        ),
        (
            "a secret in a resource URI's query",
            resource_secret.as_str(),
        ),
        ("the client's API key secret", client_secret.as_str()),
        ("the admin key secret", admin_secret.as_str()),
        ("the data-plane token secret", token_secret.as_str()),
        ("the session id", session.as_str()),
    ];
    for (what, secret) in secrets {
        for (place, text) in &haystacks {
            assert!(!text.contains(secret), "{what} leaked into {place}: {text}");
        }
    }
    assert!(
        haystacks.len() > 50,
        "the scan covered {} items",
        haystacks.len()
    );
}
