//! The real parts of the upstream-OAuth tests: `oidc-provider` as the authorization server
//! (`tests/peers/authorization_server.mjs`) and a fastmcp server that accepts only JWTs of
//! that server for its own URL (`tests/peers/jwt_upstream.py`). Both installed by
//! `tests/peers.sh`; both killed when dropped.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::peers::{node, npm_file, python, script};
use crate::process::free_port;

/// The scopes resource servers grant unless told otherwise.
const DEFAULT_SCOPES: &str = "mcp:tools";

/// How long a peer may take to start.
const START: Duration = Duration::from_secs(60);

/// Starts `command`, echoes its output, and waits for a line starting with `ready`.
async fn start(mut command: Command, what: &str) -> Child {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stderr = child.stderr.take().expect("stderr");
    let label = what.to_owned();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{label}] {line}");
        }
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    tokio::time::timeout(START, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if line.starts_with("ready") {
                return;
            }
            eprintln!("[{what}] {line}");
        }
        panic!("{what} exited before it was ready");
    })
    .await
    .unwrap_or_else(|_| panic!("{what} was not ready within {START:?}"));
    let label = what.to_owned();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{label}] {line}");
        }
    });
    child
}

/// `oidc-provider` on a free port.
pub struct AuthorizationServer {
    _child: Child,
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
}

impl AuthorizationServer {
    /// Starts it with `clients` pre-registered and access tokens living `ttl`.
    pub async fn start(clients: Value, ttl: Duration) -> Self {
        Self::start_on(free_port(), clients, ttl).await
    }

    /// Starts it on `port` (a restart keeps the issuer; its signing key is new each time).
    pub async fn start_on(port: u16, clients: Value, ttl: Duration) -> Self {
        Self::launch(port, clients, ttl, true, DEFAULT_SCOPES).await
    }

    /// Starts one that offers no dynamic client registration.
    pub async fn start_without_registration(clients: Value, ttl: Duration) -> Self {
        Self::launch(free_port(), clients, ttl, false, DEFAULT_SCOPES).await
    }

    /// Starts one whose resource servers grant `scopes` (space-separated).
    pub async fn start_with_scopes(clients: Value, ttl: Duration, scopes: &str) -> Self {
        Self::launch(free_port(), clients, ttl, true, scopes).await
    }

    /// Starts one that accepts Client ID Metadata Documents (besides dynamic registration),
    /// fetching them over https trusting the CA certificate at `ca`.
    pub async fn start_accepting_metadata_documents(ca: &std::path::Path) -> Self {
        let port = free_port();
        let mut command = Self::command(
            port,
            Value::Array(vec![]),
            Duration::from_secs(300),
            true,
            DEFAULT_SCOPES,
        );
        command.env("CIMD", "on").env("NODE_EXTRA_CA_CERTS", ca);
        Self::spawn(command, port).await
    }

    async fn launch(
        port: u16,
        clients: Value,
        ttl: Duration,
        registration: bool,
        scopes: &str,
    ) -> Self {
        Self::spawn(
            Self::command(port, clients, ttl, registration, scopes),
            port,
        )
        .await
    }

    fn command(
        port: u16,
        clients: Value,
        ttl: Duration,
        registration: bool,
        scopes: &str,
    ) -> Command {
        let mut command = Command::new(node());
        command
            .arg(script("authorization_server.mjs"))
            .env("PORT", port.to_string())
            .env("CLIENTS", clients.to_string())
            .env("ACCESS_TOKEN_TTL", ttl.as_secs().to_string())
            .env("REGISTRATION", if registration { "on" } else { "off" })
            .env("SCOPES", scopes)
            .env("OIDC_PROVIDER", npm_file("oidc-provider/lib/index.js"));
        command
    }

    async fn spawn(command: Command, port: u16) -> Self {
        let child = start(command, "authorization server").await;
        Self {
            _child: child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the issuer names its port")
    }

    /// Its token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }
}

/// The fastmcp upstream that checks tokens.
pub struct JwtUpstream {
    _child: Child,
    /// Its MCP endpoint, also the audience its tokens must name.
    pub url: String,
}

impl JwtUpstream {
    /// Starts it, trusting `issuer`.
    pub async fn start(issuer: &str) -> Self {
        Self::launch(issuer, false, DEFAULT_SCOPES).await
    }

    /// Starts it as a protected resource (RFC 9728) whose metadata names `issuer`.
    pub async fn start_protected(issuer: &str) -> Self {
        Self::launch(issuer, true, DEFAULT_SCOPES).await
    }

    /// A protected resource that requires `scopes` (space-separated) of every token.
    pub async fn start_requiring(issuer: &str, scopes: &str) -> Self {
        Self::launch(issuer, true, scopes).await
    }

    async fn launch(issuer: &str, protected: bool, scopes: &str) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/mcp");
        let mut command = Command::new(python());
        command
            .arg(script("jwt_upstream.py"))
            .arg(port.to_string())
            .arg(issuer)
            .arg(&url)
            .env("REQUIRED_SCOPES", scopes);
        if protected {
            command.arg("prm");
        }
        let child = start(command, "jwt upstream").await;
        crate::peers::wait_for_port(port, START).await;
        Self { _child: child, url }
    }
}

/// A `tools/call` of the upstream's `whoami` tool.
pub fn whoami(id: u64) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                       "params": {"name": "whoami", "arguments": {}}})
}

/// The token the upstream saw (its client, scopes, claims and text), from `whoami`'s answer.
pub fn seen_by_upstream(answer: &Value) -> Value {
    let result = &answer["result"];
    if result["structuredContent"].is_object() {
        return result["structuredContent"].clone();
    }
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a whoami result: {answer}"));
    serde_json::from_str(text).expect("whoami answers JSON")
}

/// JSON documents served at fixed paths over plain HTTP (put a [`crate::tls_proxy::TlsProxy`]
/// in front for https): Client ID Metadata Documents of test clients. Stops when dropped.
pub struct StaticDocuments {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl StaticDocuments {
    /// Serves each `(path, document)`.
    pub async fn start(documents: Vec<(&'static str, Value)>) -> Self {
        let mut router = axum::Router::new();
        for (path, document) in documents {
            router = router.route(
                path,
                axum::routing::get(move || {
                    let document = document.clone();
                    async move { axum::Json(document) }
                }),
            );
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { port, task }
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for StaticDocuments {
    fn drop(&mut self) {
        self.task.abort();
    }
}
