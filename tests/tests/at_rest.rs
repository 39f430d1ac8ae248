//! Secrets at rest, as a standalone installation keeps them: upstream credentials, API keys
//! and data-plane tokens planted through the admin API never appear in clear text in the admin
//! API's answers (beyond the one answer that hands out a key or token), in the SQLite file
//! (event log payloads, read models, request log) or in the last-known-good file; and every file
//! holding sealed material is readable by its owner only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::standalone::{Ports, Standalone};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Random text that must never show up in clear text.
fn planted(label: &str) -> String {
    format!("{label}{}", uuid::Uuid::new_v4().simple())
}

/// The secret part of a credential `prefix_<id>_<secret>`.
fn secret_part(credential: &str) -> String {
    credential.rsplit('_').next().unwrap().to_owned()
}

struct Admin {
    http: reqwest::Client,
    base: String,
    key: String,
    /// Every answer, for the scan.
    answers: Vec<String>,
}

impl Admin {
    /// Sends a request; `hands_out_a_secret` marks the one answer that shows a new key or token.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        hands_out_a_secret: bool,
    ) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the admin API answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        if !hands_out_a_secret {
            self.answers.push(text.clone());
        }
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_stay_sealed_at_rest_and_in_admin_answers() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let ports = Ports::free();
    let standalone = Standalone::start(dir.path(), ports).await;
    let mut admin = Admin {
        http: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{}", ports.admin),
        key: standalone.printed_key("Admin key").expect("an admin key"),
        answers: Vec::new(),
    };
    let header_secret = planted("headersecret");
    let client_secret = planted("clientsecret");
    let oauth_secret = planted("oauthsecret");
    let private_key = rcgen::KeyPair::generate()
        .expect("a P-256 key")
        .serialize_pem();
    // A PEM body line: long enough to be unique, and what a leak would carry.
    let private_key_body = private_key.lines().nth(1).unwrap().to_owned();

    let workspaces = admin.call(Method::GET, "/v1/workspaces", None, false).await;
    let workspace = workspaces["workspaces"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let servers = admin.call(Method::GET, "/v1/servers", None, false).await;
    let demo = servers["servers"][0].clone();
    // The demo server gets a header secret: it goes to the data plane, the file and the log.
    admin
        .call(
            Method::PATCH,
            &format!("/v1/servers/{}", demo["id"].as_str().unwrap()),
            Some(json!({"auth": {"type": "headers", "headers": {"X-Api-Key": header_secret}}})),
            false,
        )
        .await;
    admin
        .call(
            Method::POST,
            "/v1/servers",
            Some(json!({"workspace_id": workspace, "slug": "billing", "name": "Billing", "url": "https://billing.example/mcp",
                "auth": {"type": "client_credentials", "token_endpoint": "https://auth.example/token", "client_id": "gw", "client_secret": client_secret}})),
            false,
        )
        .await;
    admin
        .call(
            Method::POST,
            "/v1/servers",
            Some(json!({"workspace_id": workspace, "slug": "signed", "name": "Signed", "url": "https://signed.example/mcp",
                "auth": {"type": "client_credentials", "token_endpoint": "https://auth.example/token", "client_id": "gw",
                         "client_auth": "private_key_jwt", "private_key": private_key, "key_id": "k1"}})),
            false,
        )
        .await;
    admin
        .call(
            Method::POST,
            "/v1/servers",
            Some(json!({"workspace_id": workspace, "slug": "files", "name": "Files", "url": "https://files.example/mcp",
                "auth": {"type": "oauth2", "oauth_metadata": {"client_id": "gw", "client_secret": oauth_secret}}})),
            false,
        )
        .await;
    let issued = admin
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"workspace_id": workspace, "name": "client", "type": "service", "permissions": ["mcp.invoke"]})),
            true,
        )
        .await;
    let client_key = issued["key"].as_str().unwrap().to_owned();
    let registered = admin
        .call(
            Method::POST,
            "/v1/data-planes",
            Some(json!({"name": "edge"})),
            true,
        )
        .await;
    let token = registered["token"].as_str().unwrap().to_owned();
    let rotated = admin
        .call(
            Method::POST,
            &format!(
                "/v1/data-planes/{}/rotate-token",
                registered["id"].as_str().unwrap()
            ),
            Some(json!({"overlap_seconds": 60})),
            true,
        )
        .await;
    let rotated_token = rotated["token"].as_str().unwrap().to_owned();

    // Traffic, so the data plane's file and the request log hold the configuration as used.
    let client = McpClient::new(
        format!("http://127.0.0.1:{}/demo/mcp", ports.gateway),
        &client_key,
    );
    let session = client.initialize().await;
    assert_eq!(client.list_tools(&session).await.status, StatusCode::OK);

    // Read back everything the admin API shows.
    for path in [
        "/v1/workspaces",
        "/v1/servers",
        "/v1/api-keys",
        "/v1/data-planes",
        "/v1/events?limit=1000",
        "/v1/requests?limit=1000",
        "/v1/nats/authorization",
    ] {
        admin.call(Method::GET, path, None, false).await;
    }
    for server in admin.call(Method::GET, "/v1/servers", None, false).await["servers"]
        .as_array()
        .unwrap()
        .clone()
    {
        let id = server["id"].as_str().unwrap();
        admin
            .call(
                Method::GET,
                &format!("/v1/servers/{id}/history"),
                None,
                false,
            )
            .await;
    }

    // The data plane writes its last-known-good file once the configuration changed.
    let data_dir = dir.path().join(".mcpgw");
    let last_known_good = data_dir.join("last-known-good.bin");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !last_known_good.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no last-known-good file in {}",
            data_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the request log its batch window, so its records are in the file too.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut files = vec![data_dir.join("mcpgw.db"), last_known_good.clone()];
    for suffix in ["-wal", "-shm"] {
        let path = data_dir.join(format!("mcpgw.db{suffix}"));
        if path.exists() {
            files.push(path);
        }
    }
    let secrets = [
        ("an upstream header secret", header_secret.clone()),
        ("a client-credentials secret", client_secret.clone()),
        ("a client-assertion private key", private_key_body.clone()),
        ("an OAuth client secret", oauth_secret.clone()),
        ("the client's API key secret", secret_part(&client_key)),
        ("the admin key secret", secret_part(&admin.key)),
        ("a data-plane token secret", secret_part(&token)),
        (
            "a rotated data-plane token secret",
            secret_part(&rotated_token),
        ),
    ];
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for (what, secret) in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{what} is in clear text in {}",
                file.display()
            );
        }
        assert_eq!(
            mode(file),
            0o600,
            "{} must be readable by its owner only",
            file.display()
        );
    }
    // The scan reads real data: what is not secret is there in clear text.
    let stored: Vec<u8> = files
        .iter()
        .filter(|f| **f != last_known_good)
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    for clear in ["billing", issued["id"].as_str().unwrap()] {
        assert!(
            stored.windows(clear.len()).any(|w| w == clear.as_bytes()),
            "`{clear}` should be stored in clear text"
        );
    }
    let scanned: usize = files
        .iter()
        .filter(|f| **f != last_known_good)
        .map(|f| std::fs::read(f).unwrap().len())
        .sum();
    assert!(
        scanned > 64 * 1024,
        "the database (file and write-ahead log) was scanned while it held data: {scanned} bytes"
    );
    for secret_file in ["secret.key", "session.keys"] {
        let path = data_dir.join(secret_file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    for (what, secret) in &secrets {
        for answer in &admin.answers {
            assert!(
                !answer.contains(secret.as_str()),
                "{what} in an admin answer: {answer}"
            );
        }
    }
    assert!(
        admin.answers.len() >= 15,
        "{} answers scanned",
        admin.answers.len()
    );
    assert!(
        admin.answers.iter().any(|a| a.contains("\"set\":true")),
        "secrets show as set"
    );
    drop(standalone);
}
