//! The link between a data plane and its control plane, as an operator sets it up: TLS and
//! mutual TLS, tokens revoked while a pod runs, a data plane newer than its control plane,
//! and clusters that share one bus without seeing each other.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mcpgw_data_plane::app::{RunningDataPlane, StartError, SyncSource};
use mcpgw_data_plane::config::SyncLinkArgs;
use mcpgw_data_plane::sync::{SyncLink, SyncSettings};
use mcpgw_e2e::control_plane::{Options, TestControlPlane};
use mcpgw_e2e::db::Backend;
use mcpgw_e2e::pki::TestPki;
use mcpgw_shared::Redacted;
use mcpgw_shared::bus::{Bus, InProcessBus};
use mcpgw_shared::secret::{Keyring, generate_base64_key};
use mcpgw_shared::subjects::Cluster;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// Starts an in-process data plane over `link` with `token`.
async fn data_plane(
    link: SyncLink,
    token: &str,
    bus: Arc<dyn Bus>,
    settings: SyncSettings,
) -> Result<RunningDataPlane, StartError> {
    let gateway = mcpgw_data_plane::Settings::new(
        "127.0.0.1:0".parse().unwrap(),
        Keyring::parse(&format!("k1:{}", generate_base64_key())).unwrap(),
    );
    let source = SyncSource {
        link,
        token: Redacted::new(token.to_owned()),
        data_dir: None,
        settings,
    };
    RunningDataPlane::start(gateway, source, bus).await
}

async fn register(cp: &TestControlPlane) -> Value {
    cp.post_ok(
        "/v1/data-planes",
        json!({"name": "edge"}),
        StatusCode::CREATED,
    )
    .await
}

fn token(registered: &Value) -> &str {
    registered["token"]
        .as_str()
        .expect("the token is shown once")
}

async fn tls_control_plane(pki: &TestPki, mutual: bool) -> TestControlPlane {
    let (cert, key) = pki.server();
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
        std::fs::read(cert).unwrap(),
        std::fs::read(key).unwrap(),
    ));
    if mutual {
        tls = tls.client_ca_root(Certificate::from_pem(std::fs::read(pki.ca()).unwrap()));
    }
    TestControlPlane::start_with(
        Backend::Sqlite,
        Arc::new(InProcessBus::default()),
        Options {
            grpc_tls: Some(tls),
            ..Options::default()
        },
    )
    .await
}

fn https(cp: &TestControlPlane) -> String {
    format!("https://localhost:{}", cp.running.grpc_addr.port())
}

#[tokio::test]
async fn config_syncs_over_tls_and_mutual_tls_needs_the_client_certificate() {
    let pki = TestPki::generate();
    let cp = tls_control_plane(&pki, true).await;
    let registered = register(&cp).await;
    let (client_cert, client_key) = pki.client();
    let with_identity = SyncLinkArgs {
        control_plane_ca: Some(pki.ca()),
        control_plane_client_cert: Some(client_cert),
        control_plane_client_key: Some(client_key),
        insecure_sync: false,
    };
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let mut dp = data_plane(
        SyncLink::new(&https(&cp), &with_identity).unwrap(),
        token(&registered),
        bus.clone(),
        SyncSettings::default(),
    )
    .await
    .unwrap();
    assert!(
        dp.ready(Duration::from_secs(10)).await,
        "a data plane with the CA and a client certificate syncs over mutual TLS"
    );
    dp.stop().await;

    let without_identity = SyncLinkArgs {
        control_plane_ca: Some(pki.ca()),
        ..SyncLinkArgs::default()
    };
    let mut refused = data_plane(
        SyncLink::new(&https(&cp), &without_identity).unwrap(),
        token(&registered),
        bus.clone(),
        SyncSettings::default(),
    )
    .await
    .unwrap();
    assert!(
        !refused.ready(Duration::from_secs(3)).await,
        "without a client certificate the TLS handshake fails"
    );
    refused.stop().await;

    let mut clear_text = data_plane(
        SyncLink::loopback(cp.running.grpc_addr).unwrap(),
        token(&registered),
        bus,
        SyncSettings::default(),
    )
    .await
    .unwrap();
    assert!(
        !clear_text.ready(Duration::from_secs(3)).await,
        "the TLS listener does not answer clear text"
    );
    clear_text.stop().await;
}

#[tokio::test]
async fn a_data_plane_trusts_only_the_configured_ca() {
    let pki = TestPki::generate();
    let other = TestPki::generate();
    let cp = tls_control_plane(&pki, false).await;
    let registered = register(&cp).await;
    let args = |ca| SyncLinkArgs {
        control_plane_ca: Some(ca),
        ..SyncLinkArgs::default()
    };
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let mut wrong_ca = data_plane(
        SyncLink::new(&https(&cp), &args(other.ca())).unwrap(),
        token(&registered),
        bus.clone(),
        SyncSettings::default(),
    )
    .await
    .unwrap();
    assert!(!wrong_ca.ready(Duration::from_secs(3)).await);
    wrong_ca.stop().await;
    let mut right_ca = data_plane(
        SyncLink::new(&https(&cp), &args(pki.ca())).unwrap(),
        token(&registered),
        bus,
        SyncSettings::default(),
    )
    .await
    .unwrap();
    assert!(right_ca.ready(Duration::from_secs(10)).await);
    right_ca.stop().await;
}

#[tokio::test]
async fn a_revoked_token_ends_the_pods_sync_and_it_answers_503_past_its_staleness_bound() {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let cp = TestControlPlane::start(Backend::Sqlite, bus.clone()).await;
    let workspace = cp.create_workspace("revoked").await;
    let registered = register(&cp).await;
    let id = registered["id"].as_str().unwrap();
    let settings = SyncSettings {
        max_staleness: Some(Duration::from_secs(2)),
        report_interval: Duration::from_millis(300),
        ..SyncSettings::default()
    };
    let mut dp = data_plane(
        SyncLink::loopback(cp.running.grpc_addr).unwrap(),
        token(&registered),
        bus,
        settings,
    )
    .await
    .unwrap();
    assert!(dp.ready(Duration::from_secs(10)).await);
    let readyz = format!("http://{}/readyz", dp.addr);
    assert_eq!(
        reqwest::get(&readyz).await.unwrap().status(),
        StatusCode::OK
    );

    cp.post_ok(
        &format!("/v1/data-planes/{id}/revoke"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    cp.post_ok(
        "/v1/servers",
        json!({"workspace_id": workspace, "slug": "after-revoke", "name": "n",
               "url": "http://127.0.0.1:9/mcp", "auth": {"type": "none"}}),
        StatusCode::CREATED,
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let mut status = StatusCode::OK;
    while tokio::time::Instant::now() < deadline {
        status = reqwest::get(&readyz).await.unwrap().status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "heartbeats keep arriving, yet the pod stops serving once the bound passes"
    );
    assert!(
        dp.store
            .load()
            .routes()
            .all(|route| route.slug().as_str() != "after-revoke"),
        "no change reaches a pod whose token is revoked"
    );
    dp.stop().await;
}

#[tokio::test]
async fn a_data_plane_newer_than_its_control_plane_refuses_to_start() {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let cp = TestControlPlane::start(Backend::Sqlite, bus.clone()).await;
    let registered = register(&cp).await;
    let settings = SyncSettings {
        version: "99.0.0".into(),
        ..SyncSettings::default()
    };
    let Err(error) = data_plane(
        SyncLink::loopback(cp.running.grpc_addr).unwrap(),
        token(&registered),
        bus,
        settings,
    )
    .await
    else {
        panic!(
            "a data plane of 99.0.0 started against {}",
            env!("CARGO_PKG_VERSION")
        );
    };
    let message = error.to_string();
    assert!(
        message.contains("99.0.0") && message.contains(env!("CARGO_PKG_VERSION")),
        "{message}"
    );
}

#[tokio::test]
async fn control_planes_of_two_clusters_on_one_bus_do_not_see_each_other() {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let blue = "blue".parse::<Cluster>().unwrap().subjects();
    let green = "green".parse::<Cluster>().unwrap().subjects();
    let mut blue_messages = bus.subscribe(blue.all()).await.unwrap();
    let mut green_messages = bus.subscribe(green.all()).await.unwrap();
    let cp = TestControlPlane::start_with(
        Backend::Sqlite,
        bus.clone(),
        Options {
            subjects: blue.clone(),
            ..Options::default()
        },
    )
    .await;
    cp.create_workspace("blue-only").await;
    let mut saw_config = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !saw_config {
        let message = tokio::time::timeout_at(deadline, blue_messages.next())
            .await
            .expect("the blue cluster's events arrive")
            .expect("the subscription lasts");
        saw_config = message.subject.starts_with("mcpgw.blue.config.");
    }
    let green_message =
        tokio::time::timeout(Duration::from_millis(600), green_messages.next()).await;
    assert!(
        green_message.is_err(),
        "nothing reaches the green cluster: {green_message:?}"
    );
}
