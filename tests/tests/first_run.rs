//! A first run from files, as the compose layout does it: `init-secrets` writes the secrets
//! once (the admin key shown once), the control plane reads its key, admin key and a bootstrap
//! data-plane token from files, data planes read their token and keyring from files, and the
//! demo upstream runs as its own process; a server registered on it answers through the pods.

use std::time::Duration;

use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::db::TestDatabase;
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::process::{ChildProcess, binary, free_port, wait_for_http};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn init_secrets(dir: &std::path::Path) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(binary("mcpgw-control-plane"))
            .args(["init-secrets", "--dir"])
            .arg(dir)
            .output(),
    )
    .await
    .expect("init-secrets finishes")
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn a_first_run_from_generated_files_serves_through_two_data_planes() {
    let secrets = tempfile::tempdir().unwrap();
    let first = init_secrets(secrets.path()).await;
    let admin_key = std::fs::read_to_string(secrets.path().join("admin-key")).unwrap();
    assert!(
        first.contains(admin_key.trim()),
        "the admin key is shown on the first run"
    );
    let again = init_secrets(secrets.path()).await;
    assert!(!again.contains(admin_key.trim()), "and never again");
    assert_eq!(
        std::fs::read_to_string(secrets.path().join("admin-key")).unwrap(),
        admin_key,
        "a second run keeps the secrets"
    );
    for file in [
        "secret-key",
        "admin-key",
        "data-plane-token",
        "session-keys",
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(secrets.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is private to its owner");
    }
    let file = |name: &str| secrets.path().join(name).display().to_string();

    let nats = PrivateNats::start().await;
    let database = TestDatabase::postgres().await;
    let (admin_port, grpc_port) = (free_port(), free_port());
    let _control_plane = ChildProcess::spawn(
        "mcpgw-control-plane",
        &["serve"],
        &[
            ("MCPGW_DATABASE_URL", database.url().to_owned()),
            ("MCPGW_NATS_URL", nats.url()),
            ("MCPGW_ADMIN_ADDR", format!("127.0.0.1:{admin_port}")),
            ("MCPGW_GRPC_ADDR", format!("127.0.0.1:{grpc_port}")),
            ("MCPGW_SECRET_KEY_FILE", file("secret-key")),
            ("MCPGW_BOOTSTRAP_ADMIN_KEY_FILE", file("admin-key")),
            (
                "MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN_FILE",
                file("data-plane-token"),
            ),
        ],
    );
    let admin_url = format!("http://127.0.0.1:{admin_port}");
    wait_for_http(&format!("{admin_url}/healthz"), Duration::from_secs(30)).await;
    let upstream_port = free_port();
    let _upstream = ChildProcess::spawn(
        "mcpgw-control-plane",
        &[
            "demo-upstream",
            "--listen-addr",
            &format!("127.0.0.1:{upstream_port}"),
        ],
        &[],
    );
    wait_for_http(
        &format!("http://127.0.0.1:{upstream_port}/mcp"),
        Duration::from_secs(30),
    )
    .await;

    let http = reqwest::Client::new();
    let admin = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let http = http.clone();
        let url = format!("{admin_url}{path}");
        let key = admin_key.trim().to_owned();
        async move { mcpgw_e2e::admin_api::call(&http, &key, method, &url, body).await }
    };
    let (status, fleet) = admin(reqwest::Method::GET, "/v1/data-planes", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the admin key from the file works: {fleet}"
    );
    assert_eq!(fleet["data_planes"][0]["name"], "bootstrap", "{fleet}");
    let (_, workspace) = admin(
        reqwest::Method::POST,
        "/v1/workspaces",
        Some(json!({"name": "demo"})),
    )
    .await;
    let workspace = workspace["id"].as_str().unwrap().to_owned();
    admin(
        reqwest::Method::POST,
        "/v1/servers",
        Some(json!({"workspace_id": workspace, "slug": "demo", "name": "Demo",
                    "url": format!("http://127.0.0.1:{upstream_port}/mcp"), "auth": {"type": "none"}})),
    )
    .await;
    let (_, key) = admin(
        reqwest::Method::POST,
        "/v1/api-keys",
        Some(invoke_key_request(&workspace, "me")),
    )
    .await;
    let key = key["key"].as_str().unwrap().to_owned();

    let mut pods = Vec::new();
    for _ in 0..2 {
        let port = free_port();
        let data_dir = tempfile::tempdir().unwrap();
        let child = ChildProcess::spawn(
            "mcpgw-data-plane",
            &["serve"],
            &[
                (
                    "MCPGW_CONTROL_PLANE_URL",
                    format!("http://127.0.0.1:{grpc_port}"),
                ),
                ("MCPGW_NATS_URL", nats.url()),
                ("MCPGW_DATA_PLANE_TOKEN_FILE", file("data-plane-token")),
                ("MCPGW_SESSION_KEYS_FILE", file("session-keys")),
                ("MCPGW_LISTEN_ADDR", format!("127.0.0.1:{port}")),
                ("MCPGW_DATA_DIR", data_dir.path().display().to_string()),
                ("MCPGW_EGRESS_ALLOW", "127.0.0.0/8".to_owned()),
            ],
        );
        pods.push((child, port, data_dir));
    }
    let sessions: Vec<McpClient> = pods
        .iter()
        .map(|(_, port, _)| McpClient::new(format!("http://127.0.0.1:{port}/demo/mcp"), &key))
        .collect();
    for (_, port, _) in &pods {
        mcpgw_e2e::fleet::eventually(Duration::from_secs(20), "the pod is ready", || async {
            reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
    }
    // A session opened on one pod continues on the other: both read the same keyring file.
    let session = sessions[0].initialize().await;
    let listed = sessions[1].list_tools(&session).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert!(
        listed.body["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
}
