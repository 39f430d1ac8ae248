//! The config-sync gRPC API as a data plane uses it: scoped snapshots with secrets, changes
//! since a sequence, single entities, status reports, and its refusals.

use std::sync::Arc;

use mcpgw_e2e::admin_api::{invoke_key_request, revoke_path};
use mcpgw_e2e::control_plane::TestControlPlane;
use mcpgw_e2e::db::Backend;
use mcpgw_shared::bus::InProcessBus;
use mcpgw_shared::proto::config_sync_client::ConfigSyncClient;
use mcpgw_shared::proto::{
    ChangesRequest, EntityKind, EntityRequest, SnapshotRequest, StatusReport, entity_state,
    upstream_auth,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tonic::Request;
use tonic::transport::Channel;

struct DataPlaneClient {
    client: ConfigSyncClient<Channel>,
    token: String,
}

impl DataPlaneClient {
    async fn connect(cp: &TestControlPlane, token: &str) -> Self {
        let client = ConfigSyncClient::connect(format!("http://{}", cp.running.grpc_addr))
            .await
            .expect("connect to the sync API");
        Self {
            client,
            token: token.to_owned(),
        }
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        request
    }
}

async fn register_data_plane(cp: &TestControlPlane, workspaces: Option<Vec<&str>>) -> String {
    let mut body = json!({"name": "edge"});
    if let Some(ws) = workspaces {
        body["workspaces"] = json!(ws);
    }
    let created = cp
        .post_ok("/v1/data-planes", body, StatusCode::CREATED)
        .await;
    created["token"]
        .as_str()
        .expect("token shown once")
        .to_owned()
}

fn server(workspace: &str, slug: &str, secret: &str) -> serde_json::Value {
    json!({
        "workspace_id": workspace, "slug": slug, "name": slug, "url": "http://127.0.0.1:9/mcp",
        "auth": {"type": "headers", "headers": {"Authorization": secret}}
    })
}

#[tokio::test]
async fn a_scoped_data_plane_gets_only_its_workspaces_with_secrets_and_changes() {
    let mut cp = TestControlPlane::start(Backend::Sqlite, Arc::new(InProcessBus::default())).await;
    let a = cp.create_workspace("a").await;
    let b = cp.create_workspace("b").await;
    cp.post_ok(
        "/v1/servers",
        server(&a, "server-a", "Bearer secret-a"),
        StatusCode::CREATED,
    )
    .await;
    cp.post_ok(
        "/v1/servers",
        server(&b, "server-b", "Bearer secret-b"),
        StatusCode::CREATED,
    )
    .await;
    let key_a = cp
        .post_ok(
            "/v1/api-keys",
            invoke_key_request(&a, "k"),
            StatusCode::CREATED,
        )
        .await;
    cp.post_ok(
        "/v1/api-keys",
        invoke_key_request(&b, "k"),
        StatusCode::CREATED,
    )
    .await;
    let token = register_data_plane(&cp, Some(vec![&a])).await;
    let mut dp = DataPlaneClient::connect(&cp, &token).await;

    let snapshot = dp
        .client
        .get_snapshot(dp.request(SnapshotRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(!snapshot.all_workspaces);
    assert_eq!(
        snapshot
            .workspaces
            .iter()
            .map(|w| w.id.as_str())
            .collect::<Vec<_>>(),
        [a.as_str()]
    );
    assert_eq!(
        snapshot.servers.len(),
        1,
        "workspace B's server is not visible"
    );
    assert_eq!(snapshot.servers[0].slug, "server-a");
    match snapshot.servers[0]
        .auth
        .as_ref()
        .and_then(|a| a.kind.as_ref())
    {
        Some(upstream_auth::Kind::Headers(h)) => {
            assert_eq!(h.headers["Authorization"], "Bearer secret-a")
        }
        other => panic!("expected header auth, got {other:?}"),
    }
    assert_eq!(snapshot.api_keys.len(), 1);
    assert_eq!(snapshot.api_keys[0].id, key_a["id"].as_str().unwrap());
    let (_, events) = cp.call(Method::GET, "/v1/events", None).await;
    assert_eq!(snapshot.seq, events["head"].as_i64().unwrap());

    // Nothing changed: an empty, cheap answer.
    let none = dp
        .client
        .get_changes(dp.request(ChangesRequest {
            after_seq: snapshot.seq,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(none.entities.is_empty());

    // A revocation in A and a change in B: only A's shows.
    cp.call(
        Method::POST,
        &revoke_path(key_a["id"].as_str().unwrap()),
        None,
    )
    .await;
    cp.post_ok(
        "/v1/servers",
        server(&b, "server-b2", "x"),
        StatusCode::CREATED,
    )
    .await;
    let changes = dp
        .client
        .get_changes(dp.request(ChangesRequest {
            after_seq: snapshot.seq,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changes.entities.len(), 1, "{changes:?}");
    match &changes.entities[0].state {
        Some(entity_state::State::ApiKey(key)) => assert!(key.revoked),
        other => panic!("expected the revoked key, got {other:?}"),
    }

    // B's server by id looks removed to A's data plane.
    let (_, servers) = cp.call(Method::GET, "/v1/servers", None).await;
    let b_server = servers["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "server-b")
        .unwrap();
    let entity = dp
        .client
        .get_entity(dp.request(EntityRequest {
            kind: EntityKind::Server.into(),
            id: b_server["id"].as_str().unwrap().into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        entity.state,
        Some(entity_state::State::Removed(_))
    ));

    let ahead = dp
        .client
        .get_changes(dp.request(ChangesRequest {
            after_seq: changes.head_seq + 100,
        }))
        .await;
    assert_eq!(ahead.unwrap_err().code(), tonic::Code::FailedPrecondition);

    let ack = dp
        .client
        .report_status(dp.request(StatusReport {
            instance_id: "pod-1".into(),
            version: "0.1.0".into(),
            applied_seq: snapshot.seq,
            healthy: true,
            uptime_seconds: 120,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.head_seq, changes.head_seq);
    let (_, fleet) = cp.call(Method::GET, "/v1/data-planes", None).await;
    let instance = &fleet["data_planes"][0]["instances"][0];
    assert_eq!(instance["instance_id"], "pod-1");
    assert_eq!(instance["applied_seq"], snapshot.seq);
    assert_eq!(instance["lag"], changes.head_seq - snapshot.seq);
    assert!(
        (120..125).contains(&instance["uptime_seconds"].as_i64().unwrap()),
        "{instance}"
    );
    assert_eq!(instance["stale"], false);
    assert_eq!(instance["version_skew"], false);
    assert_eq!(fleet["version_skew"], false);
    assert_eq!(fleet["control_plane_version"], env!("CARGO_PKG_VERSION"));

    // A pod newer than the control plane is flagged; one silent for a minute is stale.
    dp.client
        .report_status(dp.request(StatusReport {
            instance_id: "pod-from-the-future".into(),
            version: "9.1.0".into(),
            applied_seq: snapshot.seq,
            healthy: true,
            uptime_seconds: 5,
        }))
        .await
        .unwrap();
    let row = cp
        .running
        .service
        .authenticate_data_plane(&token)
        .await
        .unwrap();
    cp.running
        .service
        .record_instance_status(
            &row,
            &mcpgw_control_plane::application::InstanceReport {
                instance_id: "pod-gone".into(),
                version: "0.1.0".into(),
                applied_seq: snapshot.seq,
                healthy: true,
                uptime_seconds: 30,
            },
            chrono::Utc::now() - chrono::Duration::seconds(60),
        )
        .await
        .unwrap();
    let (_, fleet) = cp.call(Method::GET, "/v1/data-planes", None).await;
    let instances = fleet["data_planes"][0]["instances"].as_array().unwrap();
    let of = |id: &str| instances.iter().find(|i| i["instance_id"] == id).unwrap();
    assert_eq!(of("pod-from-the-future")["version_skew"], true);
    assert_eq!(
        fleet["version_skew"], true,
        "the breach is flagged in the response"
    );
    assert_eq!(of("pod-gone")["stale"], true);
    assert!(
        of("pod-gone")["uptime_seconds"].as_i64().unwrap() >= 90,
        "uptime counts on from its start"
    );
    assert_eq!(of("pod-1")["stale"], false);
    cp.running.stop().await;
}

#[tokio::test]
async fn the_sync_api_refuses_missing_and_wrong_tokens() {
    let mut cp = TestControlPlane::start(Backend::Sqlite, Arc::new(InProcessBus::default())).await;
    let mut anonymous = ConfigSyncClient::connect(format!("http://{}", cp.running.grpc_addr))
        .await
        .unwrap();
    let missing = anonymous
        .get_snapshot(Request::new(SnapshotRequest {}))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::Unauthenticated);
    let mut forged =
        DataPlaneClient::connect(&cp, "mcpgwdp_abcdefgh_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await;
    let refused = forged
        .client
        .get_snapshot(forged.request(SnapshotRequest {}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let mut admin_key_as_token = DataPlaneClient::connect(&cp, &cp.admin_key).await;
    let refused = admin_key_as_token
        .client
        .get_snapshot(admin_key_as_token.request(SnapshotRequest {}))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::Unauthenticated,
        "an admin key is not a data-plane token"
    );
    cp.running.stop().await;
}

#[tokio::test]
async fn a_data_plane_of_all_workspaces_sees_everything_but_admin_keys() {
    let mut cp = TestControlPlane::start(Backend::Sqlite, Arc::new(InProcessBus::default())).await;
    let a = cp.create_workspace("a").await;
    let b = cp.create_workspace("b").await;
    cp.post_ok("/v1/servers", server(&a, "one", "x"), StatusCode::CREATED)
        .await;
    cp.post_ok("/v1/servers", server(&b, "two", "y"), StatusCode::CREATED)
        .await;
    let token = register_data_plane(&cp, None).await;
    let mut dp = DataPlaneClient::connect(&cp, &token).await;
    let snapshot = dp
        .client
        .get_snapshot(dp.request(SnapshotRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(snapshot.all_workspaces);
    assert_eq!(snapshot.servers.len(), 2);
    assert!(
        snapshot.api_keys.is_empty(),
        "the bootstrap admin key cannot invoke servers and is not shipped"
    );
    cp.running.stop().await;
}

#[tokio::test]
async fn the_grpc_server_reports_health_for_the_sync_service() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let mut cp = TestControlPlane::start(Backend::Sqlite, Arc::new(InProcessBus::default())).await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", cp.running.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut health = HealthClient::new(channel);
    let answer = health
        .check(HealthCheckRequest {
            service: "mcpgw.v1.ConfigSync".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.status(), ServingStatus::Serving);
    cp.running.stop().await;
}
