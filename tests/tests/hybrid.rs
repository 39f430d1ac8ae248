//! The hybrid layout as processes on loopback: a NATS hub with the control plane (PostgreSQL,
//! TLS config sync), a NATS leaf node that connects out to the hub, and two data planes on the
//! leaf, each with its own NATS user whose permissions the control plane renders. A change
//! reaches both; a data plane can neither publish a config event nor forge a heartbeat; a
//! revoked token stops that pod's sync; a clear-text sync URL is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet};
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::pki::TestPki;
use mcpgw_e2e::process::{binary, free_port};
use mcpgw_shared::nats::new_user;
use reqwest::StatusCode;
use serde_json::{Value, json};

const LEAF_USER: &str = "edge-vpc";
const LEAF_PASSWORD: &str = "leaf-secret";

/// The hub: the control plane's nkey user in an account of its own that exports only config
/// events and heartbeats; leaf-node connections from `LEAF_USER` land in an account that
/// imports those and nothing else, so whatever a leaf publishes never reaches the control
/// plane's account (plain-config leaf users take no permissions of their own).
fn hub_config(
    dir: &std::path::Path,
    control_plane_user: &str,
    leaf_port: u16,
) -> std::path::PathBuf {
    let path = dir.join("hub.conf");
    std::fs::write(
        &path,
        format!(
            "accounts {{
               CONTROL: {{
                 users = [ {{ nkey: \"{control_plane_user}\" }} ]
                 exports = [ {{ stream: \"mcpgw.default.config.>\" }}, {{ stream: \"mcpgw.default.heartbeat\" }} ]
               }}
               EDGE: {{
                 imports = [
                   {{ stream: {{ account: CONTROL, subject: \"mcpgw.default.config.>\" }} }}
                   {{ stream: {{ account: CONTROL, subject: \"mcpgw.default.heartbeat\" }} }}
                 ]
               }}
             }}
             leafnodes {{
  listen: \"127.0.0.1:{leaf_port}\"
  authorization {{ users = [ {{ user: \"{LEAF_USER}\", password: \"{LEAF_PASSWORD}\", account: EDGE }} ] }}
}}
"
        ),
    )
    .unwrap();
    path
}

/// The leaf node: connects out to the hub; its clients are the data planes, authorized by
/// the block the control plane rendered.
fn leaf_config(dir: &std::path::Path, leaf_port: u16, authorization: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("data-planes.conf"), authorization).unwrap();
    let path = dir.join("leaf.conf");
    std::fs::write(
        &path,
        format!(
            "leafnodes {{ remotes = [ {{ url: \"nats-leaf://{LEAF_USER}:{LEAF_PASSWORD}@127.0.0.1:{leaf_port}\" }} ] }}\n\
             include \"data-planes.conf\"\n"
        ),
    )
    .unwrap();
    path
}

async fn applied_seq(pod: &DataPlaneProcess) -> i64 {
    pod.readyz().await.1["applied_seq"].as_i64().unwrap_or(0)
}

#[tokio::test]
async fn the_hybrid_layout_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate();
    let (cp_seed, cp_user) = new_user();
    let leaf_port = free_port();
    let hub = PrivateNats::start_configured(
        free_port(),
        Some(hub_config(dir.path(), &cp_user, leaf_port)),
    )
    .await;
    let (cert, key) = pki.server();
    let fleet = Fleet::start_with(
        &hub.url(),
        vec![
            ("MCPGW_NATS_NKEY_SEED", cp_seed.expose().clone()),
            ("MCPGW_GRPC_TLS_CERT", cert.display().to_string()),
            ("MCPGW_GRPC_TLS_KEY", key.display().to_string()),
        ],
    )
    .await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet
        .create("/v1/workspaces", json!({"name": "hybrid"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "client"))
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let register = |name: &'static str| {
        let fleet = &fleet;
        let workspace = workspace.clone();
        async move {
            fleet
                .create(
                    "/v1/data-planes",
                    json!({"name": name, "workspaces": [workspace]}),
                )
                .await
        }
    };
    let (a, b) = (register("edge-a").await, register("edge-b").await);
    let authorization = reqwest::Client::new()
        .get(format!("{}/v1/nats/authorization", fleet.admin_url()))
        .bearer_auth(&fleet.admin_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(authorization.contains(a["nats_user"].as_str().unwrap()));
    let leaf = PrivateNats::start_configured(
        free_port(),
        Some(leaf_config(dir.path(), leaf_port, &authorization)),
    )
    .await;

    let pod = |registered: &Value| {
        let env = vec![
            ("MCPGW_NATS_URL", leaf.url()),
            (
                "MCPGW_NATS_NKEY_SEED",
                registered["nats_seed"].as_str().unwrap().to_owned(),
            ),
            (
                "MCPGW_CONTROL_PLANE_URL",
                format!("https://localhost:{}", fleet.grpc_port()),
            ),
            ("MCPGW_CONTROL_PLANE_CA", pki.ca().display().to_string()),
        ];
        let token = registered["token"].as_str().unwrap().to_owned();
        let fleet = &fleet;
        async move { fleet.data_plane(&token, &env).await }
    };
    let (pod_a, pod_b) = (pod(&a).await, pod(&b).await);
    let seq = fleet.head().await;
    pod_a.wait_applied(seq, Duration::from_secs(20)).await;
    pod_b.wait_applied(seq, Duration::from_secs(20)).await;

    // A change reaches both data planes, through the hub and the leaf.
    let started = tokio::time::Instant::now();
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "Demo",
                   "url": upstream.url(), "auth": {"type": "none"}}),
        )
        .await;
    let seq = fleet.head().await;
    pod_a.wait_applied(seq, Duration::from_secs(10)).await;
    pod_b.wait_applied(seq, Duration::from_secs(10)).await;
    eprintln!(
        "a new server reached both leaf data planes in {} ms",
        started.elapsed().as_millis()
    );
    for pod in [&pod_a, &pod_b] {
        McpClient::new(pod.mcp_url("demo"), &api_key)
            .initialize()
            .await;
    }

    // A data plane's NATS user can neither publish a config event nor forge a heartbeat.
    let hub_observer = async_nats::ConnectOptions::with_nkey(cp_seed.expose().clone())
        .connect(hub.url())
        .await
        .unwrap();
    let mut observed = hub_observer.subscribe("mcpgw.>").await.unwrap();
    hub_observer.flush().await.unwrap();
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = violations.clone();
    let forger = async_nats::ConnectOptions::with_nkey(a["nats_seed"].as_str().unwrap().to_owned())
        .event_callback(move |event| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(event.to_string());
            }
        })
        .connect(leaf.url())
        .await
        .unwrap();
    let forged = b"{\"v\":1,\"head\":999999999,\"workspaces\":{},\"at\":\"2026-01-01T00:00:00Z\",\"forged\":true}";
    forger
        .publish("mcpgw.default.heartbeat", forged.as_slice().into())
        .await
        .unwrap();
    forger
        .publish(
            format!("mcpgw.default.config.{workspace}.server"),
            forged.as_slice().into(),
        )
        .await
        .unwrap();
    forger.flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, observed.next()).await {
        assert!(
            !String::from_utf8_lossy(&message.payload).contains("forged"),
            "a forged message reached the hub on {}",
            message.subject
        );
    }
    let violations = violations.lock().unwrap().clone();
    assert!(
        violations
            .iter()
            .filter(|v| v.contains("ermissions"))
            .count()
            >= 2,
        "NATS refused both publishes: {violations:?}"
    );

    // A revoked token stops that pod's sync; the other pod carries on.
    let token_a = a["tokens"][0]["id"].as_str().unwrap();
    fleet
        .create(
            &format!("/v1/data-planes/{}/revoke", a["id"].as_str().unwrap()),
            json!({"token_id": token_a}),
        )
        .await;
    let before = applied_seq(&pod_a).await;
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "after-revoke", "name": "After",
                   "url": upstream.url(), "auth": {"type": "none"}}),
        )
        .await;
    let seq = fleet.head().await;
    pod_b.wait_applied(seq, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        applied_seq(&pod_a).await,
        before,
        "the revoked pod applies nothing more"
    );
    let (status, _) = pod_a.readyz().await;
    assert_eq!(
        status,
        StatusCode::OK,
        "without MCPGW_MAX_STALENESS it keeps serving"
    );

    // A clear-text sync URL beyond loopback is refused before anything starts.
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(binary("mcpgw-data-plane"))
            .arg("serve")
            .env(
                "MCPGW_CONTROL_PLANE_URL",
                "http://control-plane.internal:50051",
            )
            .env("MCPGW_DATA_PLANE_TOKEN", b["token"].as_str().unwrap())
            .env("MCPGW_NATS_URL", leaf.url())
            .env(
                "MCPGW_SESSION_KEYS",
                format!("k1:{}", mcpgw_shared::secret::generate_base64_key()),
            )
            .output(),
    )
    .await
    .expect("the refused data plane exits at once")
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MCPGW_INSECURE_SYNC"), "{stderr}");
}
