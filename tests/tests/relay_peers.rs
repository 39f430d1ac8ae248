//! The relay driven by real MCP clients — the Python `mcp` SDK in both protocol eras and the MCP
//! Inspector CLI — against the rmcp demo upstream and `@modelcontextprotocol/server-everything`.
//! The gateway runs in-process over a config store built from test data (no control plane).

use std::time::Duration;

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_data_plane::testing::harness::Harness;
use mcpgw_e2e::peers;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(90);

/// `@modelcontextprotocol/server-everything` over Streamable HTTP on a free port.
struct Everything {
    _child: tokio::process::Child,
    url: String,
}

async fn everything() -> Everything {
    let port = peers::free_port();
    let script = peers::tests_dir()
        .join(".peers/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let child = peers::spawn(
        &peers::node(),
        &[script.to_str().unwrap(), "streamableHttp"],
        &[("PORT", &port.to_string())],
    );
    peers::wait_for_port(port, Duration::from_secs(30)).await;
    Everything {
        _child: child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    }
}

async fn gateway_for(upstream: &str) -> (Harness, String) {
    let mut gw = Harness::start().await;
    gw.add_server("up", upstream);
    let (key, _) = gw.add_invoke_key();
    (gw, key)
}

async fn python(url: &str, key: &str, mode: &str, calls: Value) -> Value {
    peers::python_client(url, key, mode, calls, &[], LIMIT).await
}

#[tokio::test]
async fn python_sdk_session_era_through_the_gateway_to_the_rmcp_upstream() {
    mcpgw_data_plane::testing::within(async {
        let upstream = DemoUpstream::spawn().await.unwrap();
        let (gw, key) = gateway_for(&upstream.url()).await;
        let calls = json!([["echo", {"message": "from python"}], ["countdown", {"steps": 3, "interval_ms": 10}]]);
        let seen = python(&gw.url("up"), &key, "legacy", calls).await;
        assert_eq!(seen["protocol_version"], "2025-11-25", "{seen}");
        assert_eq!(
            seen["tools"],
            json!(["add", "countdown", "current_time", "echo"])
        );
        assert_eq!(seen["calls"][0]["text"], json!(["from python"]));
        assert_eq!(seen["calls"][1]["text"], json!(["counted down 3 steps"]));
        assert_eq!(
            seen["calls"][1]["progress"],
            json!([1.0, 2.0, 3.0]),
            "progress streamed through: {seen}"
        );
        gw.stop().await;
        upstream.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn python_sdk_stateless_era_through_the_gateway_to_the_rmcp_upstream() {
    mcpgw_data_plane::testing::within(async {
        let upstream = DemoUpstream::spawn().await.unwrap();
        let (gw, key) = gateway_for(&upstream.url()).await;
        for mode in ["2026-07-28", "auto"] {
            let calls =
                json!([["add", {"a": 20, "b": 22}], ["countdown", {"steps": 2, "interval_ms": 10}]]);
            let seen = python(&gw.url("up"), &key, mode, calls).await;
            assert_eq!(
                seen["protocol_version"], "2026-07-28",
                "mode {mode}: {seen}"
            );
            assert_eq!(seen["calls"][0]["text"], json!(["42"]));
            assert_eq!(
                seen["calls"][1]["progress"],
                json!([1.0, 2.0]),
                "mode {mode}: {seen}"
            );
        }
        gw.stop().await;
        upstream.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn python_sdk_falls_back_through_the_gateway_to_server_everything() {
    mcpgw_data_plane::testing::within(async {
        let upstream = everything().await;
        let (gw, key) = gateway_for(&upstream.url).await;
        let calls = json!([
            ["echo", {"message": "hi"}],
            ["get-sum", {"a": 2, "b": 3}],
            ["trigger-long-running-operation", {"duration": 1, "steps": 4}]
        ]);
        for mode in ["auto", "legacy"] {
            let seen = python(&gw.url("up"), &key, mode, calls.clone()).await;
            assert_eq!(
                seen["protocol_version"], "2025-11-25",
                "mode {mode}: {seen}"
            );
            assert!(seen["tools"].as_array().unwrap().len() > 10, "{seen}");
            assert!(
                seen["calls"][0]["text"][0].as_str().unwrap().contains("hi"),
                "{seen}"
            );
            assert!(
                seen["calls"][1]["text"][0].as_str().unwrap().contains('5'),
                "{seen}"
            );
            assert_eq!(
                seen["calls"][2]["progress"].as_array().unwrap().len(),
                4,
                "{seen}"
            );
        }
        gw.stop().await;
    })
    .await;
}

async fn inspector(url: &str, key: &str, args: &[&str]) -> Value {
    // Inspector CLI 1.0.3 finds its package.json by a path relative to the working directory
    // and to its module at once: only its own build directory satisfies both.
    let build = peers::tests_dir()
        .join(".peers/npm/node_modules/@modelcontextprotocol/inspector-cli/build");
    let cli = build.join("index.js");
    let auth = format!("Authorization: Bearer {key}");
    let mut all = vec![
        cli.to_str().unwrap(),
        url,
        "--transport",
        "http",
        "--header",
        &auth,
    ];
    all.extend_from_slice(args);
    let out = peers::run(&peers::node(), &all, &build, LIMIT).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in: {stdout}"));
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn inspector_cli_lists_and_calls_tools_through_the_gateway() {
    mcpgw_data_plane::testing::within(async {
        let demo = DemoUpstream::spawn().await.unwrap();
        let everything = everything().await;
        let mut gw = Harness::start().await;
        gw.add_server("demo", &demo.url());
        gw.add_server("everything", &everything.url);
        let (key, _) = gw.add_invoke_key();
        let listed = inspector(&gw.url("demo"), &key, &["--method", "tools/list"]).await;
        assert_eq!(listed["tools"].as_array().unwrap().len(), 4, "{listed}");
        let called = inspector(
            &gw.url("demo"),
            &key,
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "add",
                "--tool-arg",
                "a=1",
                "--tool-arg",
                "b=2",
            ],
        )
        .await;
        assert_eq!(called["content"][0]["text"], "3", "{called}");
        let echoed = inspector(
            &gw.url("everything"),
            &key,
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "echo",
                "--tool-arg",
                "message=inspected",
            ],
        )
        .await;
        assert!(
            echoed["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("inspected"),
            "{echoed}"
        );
        gw.stop().await;
        demo.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn server_everything_gets_the_roots_of_a_python_client_through_the_gateway() {
    mcpgw_data_plane::testing::within(async {
        // server-everything asks for roots on the standalone GET stream after it sees
        // `notifications/initialized`, which the gateway holds back (the client declares roots)
        // until the client's GET is attached upstream. This shows that delivery working with a
        // real client; server-everything waits 350 ms before asking, so the race itself is shown by
        // the data plane's echo-upstream test `a_request_the_upstream_sends_on_initialized_…`.
        let upstream = everything().await;
        let (gw, key) = gateway_for(&upstream.url).await;
        let root = "file:///srv/gateway-test-root";
        let calls = json!([["get-roots-list", {}]]);
        let seen = peers::python_client(&gw.url("up"), &key, "legacy", calls, &[root], LIMIT).await;
        assert_eq!(seen["roots_asked"], 1, "{seen}");
        let listed = seen["calls"][0]["text"].to_string();
        assert!(
            listed.contains(root),
            "the server got the client's roots: {seen}"
        );
        gw.stop().await;
    })
    .await;
}
