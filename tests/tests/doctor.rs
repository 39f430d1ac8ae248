//! `doctor` (`POST /v1/servers/{id}/diagnose` and `mcpgw doctor`) against real processes: a
//! healthy server passes every step; a revoked key, a disabled server, an upstream that is
//! down, an address the egress policy refuses and OAuth metadata naming another resource each
//! fail at their step with a fix.

use axum::Router;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::{invoke_key_request, revoke_path};
use mcpgw_e2e::fleet::Fleet;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::process::free_port;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn diagnose(fleet: &Fleet, server: &str, body: Value) -> Value {
    let (status, report) = fleet
        .admin(
            Method::POST,
            &format!("/v1/servers/{server}/diagnose"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {report:#}"))
}

async fn register(fleet: &Fleet, workspace: &str, slug: &str, url: &str, auth: Value) -> String {
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": slug, "name": slug, "url": url, "auth": auth}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The step `name` of `report`, which must have failed.
fn failed<'a>(report: &'a Value, name: &str) -> &'a Value {
    let found = step(report, name);
    assert_eq!(found["status"], "fail", "{name}: {report:#}");
    found
}

/// An MCP server whose protected resource metadata names another resource (a common
/// misregistration: the server was registered without its `/mcp` path).
async fn misregistered_oauth_upstream() -> String {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let prm_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let challenge = format!("Bearer resource_metadata=\"{prm_url}\"");
    let resource = format!("{base}/mcp");
    let issuer = base.clone();
    let app = Router::new()
        .route(
            "/mcp/v2",
            post(move |_: HeaderMap| {
                let challenge = challenge.clone();
                async move {
                    (AxumStatus::UNAUTHORIZED, [("www-authenticate", challenge)]).into_response()
                }
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || {
                let body = json!({"resource": resource, "authorization_servers": [issuer]});
                async move { axum::Json(body) }
            }),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let body = json!({
                    "issuer": format!("http://127.0.0.1:{port}"),
                    "authorization_endpoint": format!("http://127.0.0.1:{port}/authorize"),
                    "token_endpoint": format!("http://127.0.0.1:{port}/token"),
                    "registration_endpoint": format!("http://127.0.0.1:{port}/register"),
                    "code_challenge_methods_supported": ["S256"],
                    "scopes_supported": ["files:read"],
                });
                async move { axum::Json(body) }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("{base}/mcp/v2")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_finds_each_fault_at_its_step() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start_with(
        &nats.url(),
        vec![("MCPGW_EGRESS_ALLOW", "127.0.0.0/8".to_owned())],
    )
    .await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet.workspace("doctored").await;
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "client"))
        .await;
    let key_id = key["id"].as_str().unwrap();

    // Healthy: every step passes, and the upstream's tools are listed.
    let healthy = register(
        &fleet,
        &workspace,
        "demo",
        &upstream.url(),
        json!({"type": "none"}),
    )
    .await;
    let report = diagnose(&fleet, &healthy, json!({"key_id": key_id})).await;
    assert_eq!(report["ok"], true, "{report:#}");
    for name in [
        "key",
        "provisioning",
        "dns",
        "egress",
        "initialize",
        "tools/list",
    ] {
        assert_eq!(step(&report, name)["status"], "pass", "{name}: {report:#}");
    }
    assert!(
        step(&report, "tools/list")["detail"]
            .as_str()
            .unwrap()
            .contains("echo")
    );
    assert!(step(&report, "initialize")["took_ms"].is_u64());

    // By slug; a slug with a typo is named, with the one it looks like.
    let by_slug = diagnose(&fleet, "demo", json!({})).await;
    assert_eq!(by_slug["server_id"], healthy.as_str());
    let (status, body) = fleet
        .admin(Method::POST, "/v1/servers/dmeo/diagnose", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `demo`?"),
        "{body}"
    );

    // A key without `mcp.invoke` (an admin key, say).
    let admin_only = fleet
        .create(
            "/v1/api-keys",
            json!({"workspace_id": workspace, "name": "admin only", "type": "service", "permissions": ["admin"]}),
        )
        .await;
    let report = diagnose(&fleet, &healthy, json!({"key_id": admin_only["id"]})).await;
    let key_step = failed(&report, "key");
    assert!(
        key_step["detail"]
            .as_str()
            .unwrap()
            .contains("cannot call MCP servers")
    );
    assert!(key_step["fix"].as_str().unwrap().contains("mcp.invoke"));

    // A revoked key.
    fleet.create(&revoke_path(key_id), json!({})).await;
    let report = diagnose(&fleet, &healthy, json!({"key_id": key_id})).await;
    assert_eq!(report["ok"], false);
    assert_eq!(step(&report, "key")["status"], "fail");
    assert!(
        step(&report, "key")["detail"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert!(
        report["summary"].as_str().unwrap().contains("key"),
        "{report:#}"
    );

    // A key of another workspace: the server is not provisioned to it.
    let other = fleet
        .create("/v1/workspaces", json!({"name": "elsewhere"}))
        .await;
    let outsider = fleet
        .create(
            "/v1/api-keys",
            invoke_key_request(other["id"].as_str().unwrap(), "outsider"),
        )
        .await;
    let report = diagnose(&fleet, &healthy, json!({"key_id": outsider["id"]})).await;
    let provisioning = failed(&report, "provisioning");
    assert!(
        provisioning["fix"]
            .as_str()
            .unwrap()
            .contains("provisioned")
    );

    // An upstream that is down.
    let down = register(
        &fleet,
        &workspace,
        "down",
        &format!("http://127.0.0.1:{}/mcp", free_port()),
        json!({"type": "none"}),
    )
    .await;
    let report = diagnose(&fleet, &down, json!({})).await;
    let initialize = failed(&report, "initialize");
    assert!(
        initialize["detail"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{report:#}"
    );
    assert!(
        initialize["fix"]
            .as_str()
            .unwrap()
            .contains("down or unreachable")
    );
    assert_eq!(step(&report, "tools/list")["status"], "skip");

    // A wrong base URL: the upstream's root, not its MCP endpoint.
    let base = upstream.url().trim_end_matches("/mcp").to_owned();
    let wrong_path = register(
        &fleet,
        &workspace,
        "wrong-path",
        &format!("{base}/"),
        json!({"type": "none"}),
    )
    .await;
    let report = diagnose(&fleet, &wrong_path, json!({})).await;
    let initialize = failed(&report, "initialize");
    assert!(
        initialize["detail"].as_str().unwrap().contains("404"),
        "{report:#}"
    );
    assert!(initialize["fix"].as_str().unwrap().contains("/mcp"));

    // An address the egress policy refuses (a private range not in MCPGW_EGRESS_ALLOW).
    let internal = register(
        &fleet,
        &workspace,
        "internal",
        "http://10.255.255.1/mcp",
        json!({"type": "none"}),
    )
    .await;
    let report = diagnose(&fleet, &internal, json!({})).await;
    let egress = failed(&report, "egress");
    assert!(
        egress["fix"]
            .as_str()
            .unwrap()
            .contains("MCPGW_EGRESS_ALLOW")
    );
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["step"] != "initialize"),
        "nothing is sent to a refused address"
    );

    // A disabled server.
    let (status, _) = fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{healthy}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert!(status.is_success());
    let report = diagnose(&fleet, &healthy, json!({})).await;
    assert_eq!(step(&report, "provisioning")["status"], "fail");
    assert!(
        step(&report, "provisioning")["fix"]
            .as_str()
            .unwrap()
            .contains("\"enabled\": true")
    );

    // OAuth: metadata naming another resource, the spec's error and the URL to register.
    let oauth_url = misregistered_oauth_upstream().await;
    let oauth = register(
        &fleet,
        &workspace,
        "files",
        &oauth_url,
        json!({"type": "oauth2", "oauth_metadata": {"scope": "files:read"}}),
    )
    .await;
    let report = diagnose(&fleet, &oauth, json!({})).await;
    let resource = failed(&report, "protected resource");
    let expected = format!(
        "Protected resource {} does not match expected {oauth_url}",
        oauth_url.trim_end_matches("/v2")
    );
    assert_eq!(resource["detail"], expected.as_str());
    assert!(
        resource["fix"]
            .as_str()
            .unwrap()
            .contains(oauth_url.trim_end_matches("/v2"))
    );
    assert_eq!(
        step(&report, "authorization server")["status"],
        "pass",
        "{report:#}"
    );
    assert_eq!(step(&report, "client registration")["status"], "pass");
    assert_eq!(step(&report, "scope")["status"], "pass");

    // An upstream that answers 401 to the gateway's credentials.
    let refusing = register(
        &fleet,
        &workspace,
        "refusing",
        &oauth_url,
        json!({"type": "headers", "headers": {"Authorization": "Bearer stale-token"}}),
    )
    .await;
    let report = diagnose(&fleet, &refusing, json!({})).await;
    let initialize = failed(&report, "initialize");
    assert!(
        initialize["detail"]
            .as_str()
            .unwrap()
            .contains("refused the gateway's credentials (HTTP 401)")
    );
    assert!(initialize["fix"].as_str().unwrap().contains("auth"));

    // Bad input gets a clear error.
    let (status, body) = fleet
        .admin(
            Method::POST,
            &format!("/v1/servers/{healthy}/diagnose"),
            Some(json!({"key": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The command line: a table of steps, exit status 1 on a failure, 0 when healthy.
    let output = fleet.mcpgw(&["doctor", &down]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("STEP") && stdout.contains("initialize") && stdout.contains("fail"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("initialize"));
    let (status, _) = fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{healthy}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert!(status.is_success());
    let output = fleet.mcpgw(&["doctor", &healthy, "-o", "json"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["ok"], true);
}
