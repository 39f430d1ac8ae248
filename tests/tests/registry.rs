//! The MCP Registry API listing (`GET /v0.1/servers`) on a data-plane process: the servers the
//! caller's key may use, in the registry's `server.json` format (validated against the
//! published schema, pinned in `tests/fixtures/registry`), each with the gateway's URL.

use std::time::Duration;

use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::fleet::Fleet;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::peers::{python, run_to_end, script, tests_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_lists_what_the_key_may_use_in_the_published_format() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let mine = fleet.workspace("mine").await;
    let theirs = fleet.workspace("theirs").await;
    let server = |workspace: &str, slug: &str, enabled: bool, description: &str| {
        json!({"workspace_id": workspace, "slug": slug, "name": format!("The {slug} server"),
               "description": description, "url": "https://mcp.example.com/mcp",
               "auth": {"type": "none"}, "enabled": enabled})
    };
    fleet
        .create(
            "/v1/servers",
            server(&mine, "alpha", true, &"Reads files. ".repeat(20)),
        )
        .await;
    fleet
        .create("/v1/servers", server(&mine, "beta", false, ""))
        .await;
    fleet
        .create("/v1/servers", server(&theirs, "gamma", true, ""))
        .await;
    fleet
        .create("/v1/servers", server(&mine, "delta", true, ""))
        .await;
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&mine, "ide"))
        .await;
    let key = key["key"].as_str().unwrap();
    let token = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token, &[]).await;
    pod.wait_applied(fleet.head().await, SOON).await;

    let http = reqwest::Client::new();
    let url = format!("{}/v0.1/servers", pod.url());
    let answer = http.get(&url).bearer_auth(key).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let listing: Value = answer.json().await.unwrap();
    // Enabled servers of the key's workspace only, by slug.
    let names: Vec<&str> = listing["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["server"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["1.0.0.127/alpha", "1.0.0.127/delta"], "{listing:#}");
    assert_eq!(listing["metadata"]["count"], 2);
    let alpha = &listing["servers"][0];
    assert_eq!(
        alpha["server"]["remotes"][0],
        json!({"type": "streamable-http", "url": format!("{}/alpha/mcp", pod.url())})
    );
    assert_eq!(alpha["_meta"]["io.mcpgw/gateway"]["slug"], "alpha");
    assert!(
        !listing.to_string().contains("mcp.example.com"),
        "upstream URLs are not shown"
    );

    // Valid against the published schema (descriptions cut to its 100 characters).
    let schema = tests_dir().join("fixtures/registry/server.schema.json");
    let out = run_to_end(
        &python(),
        &[
            script("validate_server_json.py").to_str().unwrap(),
            schema.to_str().unwrap(),
            &listing.to_string(),
        ],
        &tests_dir(),
        SOON,
    )
    .await;
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.trim() == "ok", "{said}");

    // No key: refused like the MCP endpoint.
    let answer = http.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["data"]["reason"], "missing_credential");
}
