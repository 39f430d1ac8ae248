//! A control plane started in-process on a fresh database, with an admin key and a small REST
//! client.

use std::sync::Arc;
use std::time::Duration;

use mcpgw_control_plane::app::{ControlPlaneConfig, RunningControlPlane};
use mcpgw_control_plane::outbox::RelaySettings;
use mcpgw_control_plane::store::Database;
use mcpgw_shared::SecretCipher;
use mcpgw_shared::bus::Bus;
use mcpgw_shared::secret::{Keyring, generate_base64_key};
use mcpgw_shared::subjects::Subjects;
use reqwest::StatusCode;
use serde_json::Value;
use tonic::transport::ServerTlsConfig;

use crate::db::{Backend, TestDatabase};

/// How a test control plane differs from the default one.
#[derive(Default)]
pub struct Options {
    /// TLS of its gRPC listener.
    pub grpc_tls: Option<ServerTlsConfig>,
    /// The subjects it publishes on (its cluster).
    pub subjects: Subjects,
}

/// A running control plane and what a test needs to talk to it.
pub struct TestControlPlane {
    /// The running planes.
    pub running: RunningControlPlane,
    /// Its database, for tests that inspect the store directly.
    pub db: Database,
    /// A global admin key.
    pub admin_key: String,
    /// `http://<admin addr>`.
    pub base_url: String,
    http: reqwest::Client,
    _database: TestDatabase,
}

impl TestControlPlane {
    /// Starts a control plane on a fresh `backend` database, publishing to `bus`.
    pub async fn start(backend: Backend, bus: Arc<dyn Bus>) -> Self {
        Self::start_with(backend, bus, Options::default()).await
    }

    /// Starts a control plane as [`TestControlPlane::start`] does, with `options`.
    pub async fn start_with(backend: Backend, bus: Arc<dyn Bus>, options: Options) -> Self {
        if std::env::var_os("RUST_LOG").is_some() {
            // The guard is leaked: logging stays for the whole test process.
            std::mem::forget(mcpgw_shared::telemetry::init("mcpgw-tests"));
        }
        let database = TestDatabase::new(backend).await;
        let db = Database::connect(database.url())
            .await
            .expect("connect to the test database");
        db.migrate().await.expect("migrate the test database");
        let cipher =
            SecretCipher::new(Keyring::from_base64_key(&generate_base64_key()).expect("valid key"));
        let running = RunningControlPlane::start(ControlPlaneConfig {
            db: db.clone(),
            cipher,
            bus,
            admin_addr: "127.0.0.1:0".parse().expect("address"),
            grpc_addr: "127.0.0.1:0".parse().expect("address"),
            grpc_tls: options.grpc_tls,
            nats_user: None,
            relay: RelaySettings {
                poll_interval: Duration::from_millis(200),
                heartbeat_interval: Duration::from_millis(200),
                subjects: options.subjects,
                ..RelaySettings::default()
            },
            bootstrap: Default::default(),
            request_log: Default::default(),
            egress: mcpgw_data_plane::egress::EgressPolicy::with_loopback(),
        })
        .await
        .expect("start the control plane");
        let admin_key = running
            .generated_admin_key
            .clone()
            .expect("a fresh database gets a generated admin key");
        let base_url = format!("http://{}", running.admin_addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Self {
            running,
            db,
            admin_key,
            base_url,
            http,
            _database: database,
        }
    }

    /// The database URL (for a second replica).
    pub fn database_url(&self) -> &str {
        self._database.url()
    }

    /// Sends `method path` with the admin key and an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.admin_key, method, path, body).await
    }

    /// Sends a request with another bearer key.
    pub async fn call_as(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base_url);
        crate::admin_api::call(&self.http, key, method, &url, body).await
    }

    /// A raw request builder for tests of malformed input.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.admin_key)
    }

    /// `POST`, expecting `expected`; returns the body.
    pub async fn post_ok(&self, path: &str, body: Value, expected: StatusCode) -> Value {
        let (status, json) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, expected, "POST {path}: {json}");
        json
    }

    /// Creates a workspace; returns its id.
    pub async fn create_workspace(&self, name: &str) -> String {
        let json = self
            .post_ok(
                "/v1/workspaces",
                serde_json::json!({ "name": name }),
                StatusCode::CREATED,
            )
            .await;
        json["id"].as_str().expect("workspace id").to_owned()
    }
}
