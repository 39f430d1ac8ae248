//! A fleet of real processes: one `mcpgw-control-plane serve` on a fresh PostgreSQL database
//! and any number of `mcpgw-data-plane serve`, on a NATS server of the test's choosing.

use std::time::Duration;

use mcpgw_shared::secret::generate_base64_key;
use mcpgw_shared::{Credential, CredentialKind};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::db::TestDatabase;
use crate::process::{ChildProcess, free_port, wait_for_http};

/// The control plane of a fleet.
pub struct Fleet {
    // Dropped first: the process goes before its database.
    control_plane: Option<ChildProcess>,
    database: TestDatabase,
    nats_url: String,
    admin_port: u16,
    grpc_port: u16,
    control_plane_env: Vec<(&'static str, String)>,
    secret_key: String,
    session_keys: String,
    /// A global admin key.
    pub admin_key: String,
    http: reqwest::Client,
}

/// One data-plane process.
pub struct DataPlaneProcess {
    child: Option<ChildProcess>,
    port: u16,
    env: Vec<(&'static str, String)>,
    /// Its data dir (last-known-good file).
    pub data_dir: tempfile::TempDir,
}

impl Fleet {
    /// Starts a control plane using `nats_url`.
    pub async fn start(nats_url: &str) -> Self {
        Self::start_with(nats_url, Vec::new()).await
    }

    /// Starts a control plane using `nats_url`, with `extra` environment (TLS, NATS user…).
    pub async fn start_with(nats_url: &str, extra: Vec<(&'static str, String)>) -> Self {
        let mut fleet = Self {
            control_plane: None,
            database: TestDatabase::postgres().await,
            nats_url: nats_url.to_owned(),
            admin_port: free_port(),
            grpc_port: free_port(),
            control_plane_env: extra,
            secret_key: generate_base64_key(),
            session_keys: format!("k1:{}", generate_base64_key()),
            admin_key: Credential::generate(CredentialKind::ApiKey).expose(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("HTTP client"),
        };
        fleet.start_control_plane().await;
        fleet
    }

    /// (Re)starts the control-plane process.
    pub async fn start_control_plane(&mut self) {
        let mut env = vec![
            ("MCPGW_DATABASE_URL", self.database.url().to_owned()),
            ("MCPGW_NATS_URL", self.nats_url.clone()),
            ("MCPGW_ADMIN_ADDR", format!("127.0.0.1:{}", self.admin_port)),
            ("MCPGW_GRPC_ADDR", format!("127.0.0.1:{}", self.grpc_port)),
            ("MCPGW_BOOTSTRAP_ADMIN_KEY", self.admin_key.clone()),
            ("MCPGW_SECRET_KEY", self.secret_key.clone()),
            ("RUST_LOG", process_log_filter()),
        ];
        env.extend(self.control_plane_env.iter().cloned());
        let child = ChildProcess::spawn("mcpgw-control-plane", &["serve"], &env);
        self.control_plane = Some(child);
        wait_for_http(
            &format!("{}/healthz", self.admin_url()),
            Duration::from_secs(30),
        )
        .await;
    }

    /// What the control-plane process logged (standard error).
    pub fn control_plane_logs(&self) -> Vec<String> {
        self.control_plane
            .as_ref()
            .map(|child| child.logs().lines())
            .unwrap_or_default()
    }

    /// Kills the control-plane process.
    pub async fn stop_control_plane(&mut self) {
        if let Some(mut child) = self.control_plane.take() {
            child.kill().await;
        }
    }

    /// The control plane's database URL.
    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    /// The control plane's gRPC port.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// `http://127.0.0.1:<admin port>`.
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// Sends an admin request; returns status and JSON body.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.admin_url());
        crate::admin_api::call(&self.http, &self.admin_key, method, &url, body).await
    }

    /// `POST`, expecting 200 or 201; returns the body.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, json) = self.admin(reqwest::Method::POST, path, Some(body)).await;
        assert!(status.is_success(), "POST {path}: {status} {json}");
        json
    }

    /// The sequence of the last committed event.
    pub async fn head(&self) -> i64 {
        self.admin(reqwest::Method::GET, "/v1/events?limit=1", None)
            .await
            .1["head"]
            .as_i64()
            .expect("the audit log names its head")
    }

    /// Creates a workspace named `name`; returns its id.
    pub async fn workspace(&self, name: &str) -> String {
        self.create("/v1/workspaces", json!({"name": name})).await["id"]
            .as_str()
            .expect("a workspace id")
            .to_owned()
    }

    /// Registers a server of `workspace` at `url` with `auth`, which must be refused as an
    /// invalid field (422); returns the error body.
    pub async fn refused_server(&self, workspace: &str, url: &str, auth: Value) -> Value {
        let (status, body) = self
            .admin(
                reqwest::Method::POST,
                "/v1/servers",
                Some(
                    json!({"workspace_id": workspace, "slug": "refused", "name": "refused",
                            "url": url, "auth": auth}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        body
    }

    /// Runs the `mcpgw` command line against this fleet's control plane, as its admin.
    pub async fn mcpgw(&self, args: &[&str]) -> std::process::Output {
        tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(crate::process::binary("mcpgw"))
                .args(args)
                .env(
                    "MCPGW_ADMIN_URL",
                    format!("http://127.0.0.1:{}", self.grpc_port),
                )
                .env("MCPGW_ADMIN_KEY", &self.admin_key)
                .output(),
        )
        .await
        .expect("mcpgw finishes")
        .expect("mcpgw runs")
    }

    /// A data-plane token for `workspaces` (`None`: all).
    pub async fn data_plane_token(&self, workspaces: Option<Vec<String>>) -> String {
        let mut body = json!({"name": "pod"});
        if let Some(ws) = workspaces {
            body["workspaces"] = json!(ws);
        }
        self.create("/v1/data-planes", body).await["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Starts a data-plane process with `token`, the fleet's session keys and `extra` env.
    pub async fn data_plane(
        &self,
        token: &str,
        extra: &[(&'static str, String)],
    ) -> DataPlaneProcess {
        let port = free_port();
        let data_dir = tempfile::tempdir().expect("temporary folder");
        let mut env = vec![
            ("MCPGW_DATA_PLANE_TOKEN", token.to_owned()),
            (
                "MCPGW_CONTROL_PLANE_URL",
                format!("http://127.0.0.1:{}", self.grpc_port),
            ),
            ("MCPGW_NATS_URL", self.nats_url.clone()),
            ("MCPGW_LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("MCPGW_SESSION_KEYS", self.session_keys.clone()),
            ("MCPGW_DATA_DIR", data_dir.path().display().to_string()),
            // Test upstreams listen on loopback, which the egress policy refuses by default.
            ("MCPGW_EGRESS_ALLOW", "127.0.0.0/8".to_owned()),
            ("RUST_LOG", process_log_filter()),
        ];
        env.extend(extra.iter().cloned());
        let mut pod = DataPlaneProcess {
            child: None,
            port,
            env,
            data_dir,
        };
        pod.restart().await;
        pod
    }
}

impl DataPlaneProcess {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The MCP endpoint of `slug` on this pod.
    pub fn mcp_url(&self, slug: &str) -> String {
        format!("{}/{slug}/mcp", self.url())
    }

    /// The process id (none while stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(ChildProcess::pid)
    }

    /// What the process logged (standard error).
    pub fn logs(&self) -> Vec<String> {
        self.child
            .as_ref()
            .map(|child| child.logs().lines())
            .unwrap_or_default()
    }

    /// Kills the process.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await;
        }
    }

    /// (Re)starts the process and waits until it answers `/healthz`.
    pub async fn restart(&mut self) {
        self.stop().await;
        let env: Vec<(&str, String)> = self.env.iter().map(|(k, v)| (*k, v.clone())).collect();
        self.child = Some(ChildProcess::spawn("mcpgw-data-plane", &["serve"], &env));
        wait_for_http(&format!("{}/healthz", self.url()), Duration::from_secs(30)).await;
    }

    /// `/readyz` as JSON, with its status.
    pub async fn readyz(&self) -> (StatusCode, Value) {
        let response = reqwest::get(format!("{}/readyz", self.url()))
            .await
            .expect("readyz answers");
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// Waits until the pod is ready and has applied at least `seq`.
    pub async fn wait_applied(&self, seq: i64, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (status, body) = self.readyz().await;
            if status == StatusCode::OK && body["applied_seq"].as_i64().unwrap_or(0) >= seq {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "pod {} did not apply seq {seq} within {within:?}: {body}",
                self.url()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Retries `check` every 10 ms until it returns true, for up to `within`; panics with `what`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The log filter of child processes: `MCPGW_TEST_PROCESS_LOG`, or warnings only.
fn process_log_filter() -> String {
    std::env::var("MCPGW_TEST_PROCESS_LOG").unwrap_or_else(|_| "warn".to_owned())
}
