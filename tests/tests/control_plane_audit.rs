//! The event log as an admin reads it over REST: a server's history and its state at a point,
//! the audit log without hashes or secrets, and two admins changing one server at once.

use std::sync::Arc;
use std::time::Duration;

use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::control_plane::TestControlPlane;
use mcpgw_e2e::db::Backend;
use mcpgw_shared::bus::InProcessBus;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "sk-history-secret-one";
const ROTATED: &str = "sk-history-secret-two";

async fn control_plane(backend: Backend) -> TestControlPlane {
    TestControlPlane::start(backend, Arc::new(InProcessBus::default())).await
}

fn server_body(workspace: &str, slug: &str) -> Value {
    json!({
        "workspace_id": workspace,
        "slug": slug,
        "name": "Historic",
        "url": "https://mcp.example.com/mcp",
        "auth": {"type": "headers", "headers": {"X-Api-Key": SECRET}},
    })
}

async fn patch(cp: &TestControlPlane, id: &str, body: Value) -> Value {
    let (status, server) = cp
        .call(Method::PATCH, &format!("/v1/servers/{id}"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{server}");
    server
}

async fn head(cp: &TestControlPlane) -> i64 {
    let (_, events) = cp.call(Method::GET, "/v1/events?limit=1", None).await;
    events["head"].as_i64().unwrap()
}

#[tokio::test]
async fn a_servers_five_versions_and_past_states_are_read_from_the_log_without_secrets() {
    let mut cp = control_plane(Backend::Sqlite).await;
    let workspace = cp.create_workspace("history").await;
    let server = cp
        .post_ok(
            "/v1/servers",
            server_body(&workspace, "historic"),
            StatusCode::CREATED,
        )
        .await;
    let id = server["id"].as_str().unwrap().to_owned();
    let mut seqs = vec![head(&cp).await];
    let renamed = patch(&cp, &id, json!({"name": "Renamed"})).await;
    seqs.push(head(&cp).await);
    patch(
        &cp,
        &id,
        json!({"auth": {"type": "headers", "headers": {"X-Api-Key": ROTATED}}}),
    )
    .await;
    seqs.push(head(&cp).await);
    patch(&cp, &id, json!({"tools": {"deny": ["rm"]}})).await;
    seqs.push(head(&cp).await);
    let disabled = patch(&cp, &id, json!({"enabled": false})).await;

    let (status, history) = cp
        .call(Method::GET, &format!("/v1/servers/{id}/history"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let versions = history["versions"].as_array().unwrap();
    let changes: Vec<&str> = versions
        .iter()
        .map(|v| v["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        [
            "ServerRegistered",
            "ServerDetailsChanged",
            "ServerAuthChanged",
            "ServerToolsChanged",
            "ServerEnabledChanged"
        ]
    );
    assert_eq!(
        versions[1]["changes"],
        json!([{"field": "name", "before": "Historic", "after": "Renamed"}])
    );
    assert_eq!(versions[2]["changes"][0]["field"], "auth");
    assert!(
        versions
            .iter()
            .all(|v| v["actor"].as_str().unwrap().starts_with("api_key:"))
    );

    let at = |point: String| {
        let cp = &cp;
        let id = id.clone();
        async move {
            cp.call(Method::GET, &format!("/v1/servers/{id}?at={point}"), None)
                .await
        }
    };
    let (status, first) = at(seqs[0].to_string()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        (first["name"].clone(), first["version"].clone()),
        (json!("Historic"), json!(1))
    );
    let (_, second) = at(seqs[1].to_string()).await;
    assert_eq!(
        second, renamed,
        "the fold equals what the API answered then"
    );
    let (_, third) = at(seqs[2].to_string()).await;
    assert_eq!(third["connection_version"], 2, "the auth change bumped it");
    let (_, now) = at(disabled["updated_at"].as_str().unwrap().replace('+', "%2B")).await;
    assert_eq!(
        now, disabled,
        "at the last update's time: the current server"
    );
    let (status, _) = at("0".into()).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "it did not exist before registration"
    );
    let (status, bad) = at("yesterday".into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["error"]["field"], "at");

    let (status, _) = cp
        .call(Method::DELETE, &format!("/v1/servers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, history) = cp
        .call(Method::GET, &format!("/v1/servers/{id}/history"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "a deleted server keeps its history");
    assert_eq!(history["versions"].as_array().unwrap().len(), 6);
    let (status, past) = at(seqs[3].to_string()).await;
    assert_eq!(status, StatusCode::OK, "and its past states");
    assert_eq!(past["tools"], json!({"deny": ["rm"]}));

    let (_, log) = cp.call(Method::GET, "/v1/events", None).await;
    for text in [history.to_string(), log.to_string(), first.to_string()] {
        for hidden in [SECRET, ROTATED, "\"ct\"", "secret_hash", "token_hash"] {
            assert!(!text.contains(hidden), "{hidden} shown in {text}");
        }
    }
    cp.running.stop().await;
}

#[tokio::test]
async fn the_audit_log_shows_no_hash_of_a_key_or_a_data_plane_token() {
    let mut cp = control_plane(Backend::Sqlite).await;
    let workspace = cp.create_workspace("hashes").await;
    let key = cp
        .post_ok(
            "/v1/api-keys",
            invoke_key_request(&workspace, "k"),
            StatusCode::CREATED,
        )
        .await;
    let data_plane = cp
        .post_ok(
            "/v1/data-planes",
            json!({"name": "edge"}),
            StatusCode::CREATED,
        )
        .await;
    let (_, log) = cp.call(Method::GET, "/v1/events", None).await;
    let issued = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["type"] == "ApiKeyIssued"
                && e["stream"] == format!("api_key:{}", key["id"].as_str().unwrap())
        })
        .expect("the key's issue is audited");
    assert_eq!(issued["data"]["name"], "k");
    let text = log.to_string();
    assert!(
        !text.contains("secret_hash") && !text.contains("token_hash"),
        "{text}"
    );
    let token_secret = data_plane["token"]
        .as_str()
        .unwrap()
        .rsplit('_')
        .next()
        .unwrap();
    assert!(!text.contains(token_secret));
    cp.running.stop().await;
}

/// A workspace admin withdraws the server's provisioning while a global admin provisions it to
/// a workspace the workspace admin does not manage. Whatever the order, that provisioning
/// survives: the workspace admin's change is authorized against the very state it applies to,
/// so it either comes first or is refused.
#[tokio::test]
async fn two_concurrent_admins_never_lose_a_provisioning() {
    const ROUNDS: usize = 20;
    let mut cp = control_plane(Backend::Postgres).await;
    let home = cp.create_workspace("home").await;
    let third = cp.create_workspace("third").await;
    let server = cp
        .post_ok(
            "/v1/servers",
            server_body(&home, "contended"),
            StatusCode::CREATED,
        )
        .await;
    let path = format!("/v1/servers/{}", server["id"].as_str().unwrap());
    let home_admin = cp
        .post_ok(
            "/v1/api-keys",
            json!({"workspace_id": home, "name": "home admin", "type": "service", "permissions": ["admin"]}),
            StatusCode::CREATED,
        )
        .await;
    let home_admin = home_admin["key"].as_str().unwrap().to_owned();
    let mut refused = 0;
    for round in 0..ROUNDS {
        patch(
            &cp,
            &path["/v1/servers/".len()..],
            json!({"provisioned_workspaces": []}),
        )
        .await;
        let provision = cp.call(
            Method::PATCH,
            &path,
            Some(json!({"provisioned_workspaces": [third]})),
        );
        // Each round starts the workspace admin a little later, sweeping it across the global
        // admin's change: before it, overlapping it, after it.
        let withdraw = async {
            tokio::time::sleep(Duration::from_millis(2 * round as u64)).await;
            cp.call_as(
                &home_admin,
                Method::PATCH,
                &path,
                Some(json!({"provisioned_workspaces": []})),
            )
            .await
        };
        let ((global, _), (scoped, answer)) = tokio::join!(provision, withdraw);
        assert_eq!(global, StatusCode::OK, "round {round}");
        assert!(
            scoped == StatusCode::OK || scoped == StatusCode::FORBIDDEN,
            "round {round}: {scoped} {answer}"
        );
        refused += usize::from(scoped == StatusCode::FORBIDDEN);
        let (_, after) = cp.call(Method::GET, &path, None).await;
        assert_eq!(
            after["provisioned_workspaces"],
            json!([third]),
            "round {round}: the global admin's provisioning was lost"
        );
    }
    println!("the workspace admin came second and was refused in {refused} of {ROUNDS} rounds");
    cp.running.stop().await;
}
