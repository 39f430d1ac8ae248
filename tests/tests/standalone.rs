//! The README's "run it" command as a user runs it: `mcpgw-control-plane standalone` prints
//! keys and a client configuration; the demo server answers through the gateway to a plain HTTP
//! client and to the Python `mcp` SDK in both protocol eras; the admin API takes the printed key;
//! a restart keeps the data and the keys.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::peers;
use mcpgw_e2e::standalone::{Ports, Standalone};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn echo(client: &McpClient) -> Value {
    let session = client.initialize().await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hello through the gateway"}}});
    let answer = client.post(call, Some(&session)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body
}

#[tokio::test]
async fn standalone_serves_the_demo_server_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let ports = Ports::free();
    let first = Standalone::start(dir.path(), ports).await;
    let admin_key = first
        .printed_key("Admin key")
        .expect("an admin key on the first run");
    let invoke_key = first
        .printed_key("mcp.invoke key")
        .expect("an mcp.invoke key on the first run");
    let gateway = format!("http://127.0.0.1:{}/demo/mcp", ports.gateway);
    assert!(first.banner.contains(&gateway), "{}", first.banner);
    assert!(
        first.banner.contains("\"mcpServers\""),
        "a client configuration to paste"
    );

    let client = McpClient::new(gateway.clone(), &invoke_key);
    assert!(
        echo(&client)
            .await
            .to_string()
            .contains("hello through the gateway")
    );
    let servers: Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/servers", ports.admin))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(servers["servers"][0]["slug"], "demo");
    let mode = std::fs::metadata(dir.path().join(".mcpgw/secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the generated secret key is private");

    drop(first);
    let second = Standalone::start(dir.path(), ports).await;
    assert!(
        second.printed_key("Admin key").is_none(),
        "keys are shown once"
    );
    assert!(
        echo(&client)
            .await
            .to_string()
            .contains("hello through the gateway"),
        "the key still works, on the demo server's new port"
    );

    // A deleted database starts over, although the generated files remain.
    drop(second);
    for file in ["mcpgw.db", "mcpgw.db-wal", "mcpgw.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(".mcpgw").join(file));
    }
    let third = Standalone::start(dir.path(), ports).await;
    let new_key = third
        .printed_key("mcp.invoke key")
        .expect("a new mcp.invoke key");
    let client = McpClient::new(gateway, &new_key);
    assert!(
        echo(&client)
            .await
            .to_string()
            .contains("hello through the gateway")
    );
}

#[tokio::test]
async fn the_python_sdk_uses_standalone_in_both_protocol_eras() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let ports = Ports::free();
    let standalone = Standalone::start(dir.path(), ports).await;
    let key = standalone
        .printed_key("mcp.invoke key")
        .expect("an mcp.invoke key");
    let url = format!("http://127.0.0.1:{}/demo/mcp", ports.gateway);
    for (mode, version) in [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")] {
        let calls =
            json!([["add", {"a": 2, "b": 40}], ["countdown", {"steps": 2, "interval_ms": 10}]]);
        let seen =
            peers::python_client(&url, &key, mode, calls, &[], Duration::from_secs(90)).await;
        assert_eq!(seen["protocol_version"], version, "{seen}");
        assert_eq!(seen["calls"][0]["text"], json!(["42"]), "{seen}");
        assert_eq!(
            seen["calls"][1]["progress"],
            json!([1.0, 2.0]),
            "progress streamed: {seen}"
        );
    }
}
