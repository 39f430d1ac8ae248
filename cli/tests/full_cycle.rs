//! `mcpgw` as an admin uses it, against a control-plane process on PostgreSQL and a data-plane
//! process: create a workspace, a server and a key, call through the data plane, revoke the
//! key; `apply --dry-run` reports a difference and changes nothing, `apply` makes it so; the
//! audit log tails live; completions print.

use std::time::Duration;

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::fleet::{Fleet, eventually};
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Runs `mcpgw args…` against `fleet`; returns stdout, failing the test on a non-zero exit.
async fn mcpgw(fleet: &Fleet, args: &[&str]) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_mcpgw"))
            .args(args)
            .env(
                "MCPGW_ADMIN_URL",
                format!("http://127.0.0.1:{}", fleet.grpc_port()),
            )
            .env("MCPGW_ADMIN_KEY", &fleet.admin_key)
            .output(),
    )
    .await
    .expect("mcpgw answers within 30 s")
    .expect("mcpgw runs");
    assert!(
        output.status.success(),
        "mcpgw {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn mcpgw_json(fleet: &Fleet, args: &[&str]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let text = mcpgw(fleet, &all).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("mcpgw {args:?} printed {text}: {e}"))
}

#[tokio::test]
async fn an_admin_drives_a_full_cycle_with_the_cli() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");

    let workspace = mcpgw_json(&fleet, &["workspaces", "create", "team"]).await;
    let workspace = workspace["id"].as_str().unwrap().to_owned();
    let url = upstream.url();
    let server = mcpgw_json(
        &fleet,
        &[
            "servers",
            "create",
            "--workspace",
            &workspace,
            "--slug",
            "demo",
            "--name",
            "Demo",
            "--url",
            &url,
        ],
    )
    .await;
    assert_eq!(server["slug"], "demo");
    let key = mcpgw_json(
        &fleet,
        &[
            "keys",
            "create",
            "--workspace",
            &workspace,
            "--name",
            "client",
        ],
    )
    .await;
    let (key_id, key) = (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    );
    let data_plane = mcpgw_json(&fleet, &["data-planes", "create", "--name", "edge"]).await;
    let pod = fleet
        .data_plane(data_plane["token"].as_str().unwrap(), &[])
        .await;
    let head = mcpgw_json(&fleet, &["data-planes", "list"]).await["head"]
        .as_i64()
        .unwrap();
    pod.wait_applied(head, Duration::from_secs(15)).await;

    let client = McpClient::new(pod.mcp_url("demo"), &key);
    client.initialize().await;

    let revoked = mcpgw_json(&fleet, &["keys", "revoke", &key_id]).await;
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    eventually(
        Duration::from_secs(5),
        "the revoked key is refused",
        || async {
            let answer = client
                .post(
                    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "cli-test", "version": "1"}}}),
                    None,
                )
                .await;
            answer.status == StatusCode::UNAUTHORIZED
        },
    )
    .await;

    // A declarative file: the demo server moves, a second one appears.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.yaml");
    std::fs::write(
        &file,
        format!(
            "servers:\n  - workspace: team\n    slug: demo\n    name: Demo\n    url: {url}?moved=1\n  - workspace: team\n    slug: second\n    name: Second\n    url: {url}\n"
        ),
    )
    .unwrap();
    let file = file.display().to_string();
    let dry = mcpgw(&fleet, &["apply", "-f", &file, "--dry-run"]).await;
    assert!(
        dry.contains("~ update demo") && dry.contains("url:"),
        "{dry}"
    );
    assert!(dry.contains("+ create second"), "{dry}");
    assert!(
        dry.contains("1 to create, 1 to update, 0 to delete (dry run: nothing changed)"),
        "{dry}"
    );
    let servers = mcpgw_json(&fleet, &["servers", "list"]).await;
    assert_eq!(
        servers["servers"].as_array().unwrap().len(),
        1,
        "a dry run changes nothing"
    );
    assert_eq!(servers["servers"][0]["url"], url.as_str());

    let applied = mcpgw(&fleet, &["apply", "-f", &file]).await;
    assert!(
        applied.contains("applied: 1 to create, 1 to update"),
        "{applied}"
    );
    let servers = mcpgw_json(&fleet, &["servers", "list"]).await;
    assert_eq!(servers["servers"].as_array().unwrap().len(), 2);
    let again = mcpgw(&fleet, &["apply", "-f", &file, "--dry-run"]).await;
    assert!(
        again.contains("0 to create, 0 to update, 0 to delete"),
        "{again}"
    );

    let table = mcpgw(&fleet, &["servers", "list"]).await;
    assert!(
        table.lines().next().unwrap().contains("SLUG") && table.contains("second"),
        "{table}"
    );

    // The audit log, live.
    let mut tail = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcpgw"))
        .args(["events", "tail"])
        .env(
            "MCPGW_ADMIN_URL",
            format!("http://127.0.0.1:{}", fleet.grpc_port()),
        )
        .env("MCPGW_ADMIN_KEY", &fleet.admin_key)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tail.stdout.take().unwrap();
    mcpgw(&fleet, &["workspaces", "create", "while-tailing"]).await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("ServerRegistered") || seen.matches("WorkspaceCreated").count() < 2 {
        let mut buffer = [0u8; 4096];
        let read = tokio::time::timeout_at(
            deadline,
            tokio::io::AsyncReadExt::read(&mut stdout, &mut buffer),
        )
        .await
        .unwrap_or_else(|_| panic!("the tail printed the history and the new event: {seen}"))
        .unwrap();
        assert!(read > 0, "the tail ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    tail.kill().await.unwrap();

    let completions = mcpgw(&fleet, &["completions", "bash"]).await;
    assert!(completions.contains("mcpgw") && completions.contains("data-planes"));
}

#[tokio::test]
async fn errors_name_the_reason_and_the_request_id() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcpgw"))
        .args(["workspaces", "create", ""])
        .env(
            "MCPGW_ADMIN_URL",
            format!("http://127.0.0.1:{}", fleet.grpc_port()),
        )
        .env("MCPGW_ADMIN_KEY", &fleet.admin_key)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid_field") && stderr.contains("request id"),
        "{stderr}"
    );
    let unreachable = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcpgw"))
        .args(["workspaces", "list"])
        .env("MCPGW_ADMIN_URL", "http://127.0.0.1:9")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("MCPGW_ADMIN_URL"));
}
