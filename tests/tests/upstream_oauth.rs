//! Upstream auth with the client credentials grant, against real parts: `oidc-provider` as the
//! authorization server (JWT access tokens for the requested `resource`) and a fastmcp server
//! that accepts only those tokens, for its own URL. The gateway gets its own token (by a
//! configured token endpoint, or by discovering it from the issuer; `client_secret_basic` or
//! `client_secret_post`), sends it instead of anything of the client's, renews it before it
//! expires and when the upstream refuses it, and names the server and the authorization
//! server's own error when it cannot get one.

use std::time::Duration;

use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet};
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::oauth_peers::{AuthorizationServer, JwtUpstream, seen_by_upstream, whoami};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);
const SECRET: &str = "the-gateway-client-secret-0123456789";

/// A P-256 key for `private_key_jwt`: its PEM (for the gateway) and its public JWK (for the
/// authorization server).
fn signing_key() -> (String, Value) {
    use base64::Engine;
    let key = rcgen::KeyPair::generate().expect("a P-256 key");
    let point = key.public_key_raw();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                     "kid": "gateway-key-1", "use": "sig", "alg": "ES256"});
    (key.serialize_pem(), jwk)
}

/// The gateway's clients at the authorization server.
fn clients() -> Value {
    clients_with(None)
}

/// The clients, and one that authenticates with `private_key_jwt` when its key is given.
fn clients_with(jwk: Option<&Value>) -> Value {
    let mut clients = json!([
        {"client_id": "gateway-basic", "client_secret": SECRET, "grant_types": ["client_credentials"],
         "redirect_uris": [], "response_types": [], "token_endpoint_auth_method": "client_secret_basic", "scope": "mcp:tools"},
        {"client_id": "gateway-post", "client_secret": SECRET, "grant_types": ["client_credentials"],
         "redirect_uris": [], "response_types": [], "token_endpoint_auth_method": "client_secret_post", "scope": "mcp:tools"},
    ]);
    if let Some(jwk) = jwk {
        clients.as_array_mut().unwrap().push(json!({
            "client_id": "gateway-jwt", "grant_types": ["client_credentials"], "redirect_uris": [],
            "response_types": [], "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256", "jwks": {"keys": [jwk]}, "scope": "mcp:tools"}));
    }
    clients
}

struct Setup {
    _nats: PrivateNats,
    fleet: Fleet,
    workspace: String,
    key: String,
    key_id: String,
    pod: Option<DataPlaneProcess>,
}

impl Setup {
    async fn start() -> Self {
        let nats = PrivateNats::start().await;
        // The control plane's doctor reaches the loopback peers too.
        let fleet = Fleet::start_with(
            &nats.url(),
            vec![("MCPGW_EGRESS_ALLOW", "127.0.0.0/8".to_owned())],
        )
        .await;
        let workspace = fleet.workspace("oauth").await;
        let key = fleet
            .create("/v1/api-keys", invoke_key_request(&workspace, "client"))
            .await;
        Self {
            _nats: nats,
            fleet,
            workspace,
            key: key["key"].as_str().unwrap().to_owned(),
            key_id: key["id"].as_str().unwrap().to_owned(),
            pod: None,
        }
    }

    async fn server(&self, slug: &str, url: &str, auth: Value) {
        self.fleet
            .create(
                "/v1/servers",
                json!({"workspace_id": self.workspace, "slug": slug, "name": slug, "url": url, "auth": auth}),
            )
            .await;
    }

    /// A data plane that has applied everything so far.
    async fn pod(&mut self) -> &DataPlaneProcess {
        if self.pod.is_none() {
            let token = self.fleet.data_plane_token(None).await;
            // Debug logs, so a test can show that no secret or token is in them.
            let logs = [("RUST_LOG", "debug".to_owned())];
            self.pod = Some(self.fleet.data_plane(&token, &logs).await);
        }
        let pod = self.pod.as_ref().unwrap();
        pod.wait_applied(self.fleet.head().await, SOON).await;
        pod
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_give_the_upstream_the_gateways_own_token() {
    let mut s = Setup::start().await;
    let (private_key, jwk) = signing_key();
    let auth_server =
        AuthorizationServer::start(clients_with(Some(&jwk)), Duration::from_secs(300)).await;
    let upstream = JwtUpstream::start(&auth_server.issuer).await;
    s.server(
        "signed",
        &upstream.url,
        json!({"type": "client_credentials", "token_endpoint": auth_server.token_endpoint(),
               "client_id": "gateway-jwt", "client_auth": "private_key_jwt",
               "private_key": private_key, "key_id": "gateway-key-1", "scope": "mcp:tools"}),
    )
    .await;
    let basic = json!({"type": "client_credentials", "token_endpoint": auth_server.token_endpoint(),
                       "client_id": "gateway-basic", "client_secret": SECRET, "scope": "mcp:tools"});
    s.server("basic", &upstream.url, basic.clone()).await;
    s.server(
        "discovered",
        &upstream.url,
        json!({"type": "client_credentials", "issuer": auth_server.issuer, "client_id": "gateway-post",
               "client_secret": SECRET, "client_auth": "client_secret_post", "scope": "mcp:tools"}),
    )
    .await;
    let mut wrong_secret = basic.clone();
    wrong_secret["client_secret"] = json!("not-the-secret-0123456789");
    s.server("wrong-secret", &upstream.url, wrong_secret).await;
    let mut wrong_scope = basic.clone();
    wrong_scope["scope"] = json!("admin:everything");
    s.server("wrong-scope", &upstream.url, wrong_scope).await;
    let mut metadata_address = basic.clone();
    metadata_address["token_endpoint"] = json!("http://169.254.169.254/token");
    s.server("metadata-address", &upstream.url, metadata_address)
        .await;
    s.server("no-auth", &upstream.url, json!({"type": "none"}))
        .await;
    s.server("per-user", &upstream.url, json!({"type": "oauth2"}))
        .await;
    let key = s.key.clone();
    let issuer = auth_server.issuer.clone();
    let pod = s.pod().await;

    // Both ways of configuring it: the upstream sees the gateway's client, for its own URL.
    let mut tokens = Vec::new();
    for (slug, client_id) in [
        ("basic", "gateway-basic"),
        ("discovered", "gateway-post"),
        ("signed", "gateway-jwt"),
    ] {
        let client = McpClient::new(pod.mcp_url(slug), &key);
        let session = client.initialize().await;
        let answer = client.post(whoami(2), Some(&session)).await;
        assert_eq!(answer.status, StatusCode::OK, "{slug}: {}", answer.body);
        let seen = seen_by_upstream(&answer.body);
        assert_eq!(seen["client_id"], client_id, "{slug}: {seen}");
        assert_eq!(
            seen["claims"]["aud"],
            upstream.url.as_str(),
            "{slug}: {seen}"
        );
        assert_eq!(seen["claims"]["iss"], issuer.as_str(), "{slug}: {seen}");
        assert!(
            !seen.to_string().contains(&key),
            "the client's key reached the upstream"
        );
        tokens.push(seen["token"].as_str().unwrap().to_owned());
    }

    // Without the gateway's token the upstream refuses: it checks, and the client's own key
    // (which it would reject anyway) is never sent.
    let refused = McpClient::new(pod.mcp_url("no-auth"), &key)
        .post(whoami(1), None)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_GATEWAY, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["data"]["reason"],
        "upstream_auth_failed"
    );

    // A server that signs each user in to its upstream is not for service keys.
    let service = McpClient::new(pod.mcp_url("per-user"), &key)
        .post(whoami(1), None)
        .await;
    assert_eq!(service.status, StatusCode::FORBIDDEN, "{}", service.body);
    assert_eq!(service.body["error"]["data"]["reason"], "user_required");
    let hint = service.body["error"]["data"]["hint"].as_str().unwrap();
    assert!(hint.contains("user key"), "{hint}");

    // No token: the error names the server and the authorization server's own answer.
    for (slug, words) in [
        ("wrong-secret", "invalid_client"),
        (
            "metadata-address",
            "egress policy refuses its token endpoint",
        ),
    ] {
        let answer = McpClient::new(pod.mcp_url(slug), &key)
            .post(whoami(1), None)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_GATEWAY,
            "{slug}: {}",
            answer.body
        );
        assert_eq!(
            answer.body["error"]["data"]["reason"], "upstream_token_failed",
            "{slug}: {}",
            answer.body
        );
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{slug}`")), "{slug}: {message}");
        assert!(message.contains(words), "{slug}: {message}");
        assert!(!message.contains(SECRET), "{slug}: {message}");
        let hint = answer.body["error"]["data"]["hint"].as_str().unwrap();
        assert!(
            hint.contains("mcpgw doctor") || hint.contains("MCPGW_EGRESS_ALLOW"),
            "{hint}"
        );
    }

    // A token the authorization server issued without the scope the upstream requires (this
    // one drops scopes a client may not have): the upstream refuses it, once and again with a
    // new token, and the client is told the upstream refused the gateway's credentials.
    let answer = McpClient::new(pod.mcp_url("wrong-scope"), &key)
        .post(whoami(1), None)
        .await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.body);
    assert_eq!(
        answer.body["error"]["data"]["reason"],
        "upstream_auth_failed"
    );
    let hint = answer.body["error"]["data"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("scope") && hint.contains("mcpgw doctor wrong-scope"),
        "{hint}"
    );

    // Neither plane's logs (the pod's at debug level) hold a token, a secret or the key.
    let key_body = private_key.lines().nth(1).unwrap().to_owned();
    let pod_logs = pod.logs();
    let logs = [pod_logs, s.fleet.control_plane_logs()].concat().join("\n");
    for (what, planted) in tokens
        .iter()
        .map(|t| ("an access token", t.as_str()))
        .chain([
            ("the client secret", SECRET),
            ("the private key", key_body.as_str()),
        ])
    {
        assert!(!logs.contains(planted), "{what} is in the logs");
    }

    // Each way to authenticate needs its own credential, and a key must be one it can sign
    // with: refused at registration, naming the field.
    for (auth, field) in [
        (
            json!({"type": "client_credentials", "token_endpoint": auth_server.token_endpoint(),
                "client_id": "c"}),
            "auth.client_secret",
        ),
        (
            json!({"type": "client_credentials", "token_endpoint": auth_server.token_endpoint(),
                "client_id": "c", "client_auth": "private_key_jwt"}),
            "auth.private_key",
        ),
        (
            json!({"type": "client_credentials", "token_endpoint": auth_server.token_endpoint(),
                "client_id": "c", "client_auth": "private_key_jwt",
                "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}),
            "auth.private_key",
        ),
        (
            json!({"type": "client_credentials", "client_id": "c", "client_secret": "s"}),
            "auth.token_endpoint",
        ),
    ] {
        let body = s
            .fleet
            .refused_server(&s.workspace, &upstream.url, auth)
            .await;
        assert!(body.to_string().contains(field), "{field}: {body}");
    }

    // The doctor tells the same of a service key on the per-user server.
    let key_id = s.key_id.clone();
    let (code, report) = s
        .fleet
        .admin(
            Method::POST,
            "/v1/servers/per-user/diagnose",
            Some(json!({"key_id": key_id})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{report}");
    let key_step = &report["steps"][0];
    assert_eq!(key_step["step"], "key", "{report:#}");
    assert_eq!(key_step["status"], "fail", "{report:#}");
    assert!(
        key_step["detail"]
            .as_str()
            .unwrap()
            .contains("user_required"),
        "{report:#}"
    );

    // The doctor gets a token the same way and shows the refusal.
    for (slug, status) in [("basic", "pass"), ("wrong-secret", "fail")] {
        let (code, report) = s
            .fleet
            .admin(
                Method::POST,
                &format!("/v1/servers/{slug}/diagnose"),
                Some(json!({})),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{report}");
        let step = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["step"] == "client credentials")
            .unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(step["status"], status, "{slug}: {report:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_they_expire_and_when_the_upstream_refuses_them() {
    let mut s = Setup::start().await;
    let ttl = Duration::from_secs(3);
    let auth_server = AuthorizationServer::start(clients(), ttl).await;
    let port = auth_server.port();
    let upstream = JwtUpstream::start(&auth_server.issuer).await;
    s.server(
        "renewed",
        &upstream.url,
        json!({"type": "client_credentials", "token_endpoint": auth_server.token_endpoint(),
               "client_id": "gateway-basic", "client_secret": SECRET, "scope": "mcp:tools"}),
    )
    .await;
    let key = s.key.clone();
    let pod = s.pod().await;
    let client = McpClient::new(pod.mcp_url("renewed"), &key);
    let session = client.initialize().await;

    // Calls across three token lifetimes all succeed, each lifetime with its own token.
    let mut tokens = Vec::new();
    for id in 0..4 {
        let answer = client.post(whoami(id), Some(&session)).await;
        assert_eq!(answer.status, StatusCode::OK, "call {id}: {}", answer.body);
        tokens.push(seen_by_upstream(&answer.body)["claims"]["jti"].clone());
        tokens.dedup();
        tokio::time::sleep(ttl).await;
    }
    assert!(tokens.len() >= 3, "tokens were renewed: {tokens:?}");

    // A restarted authorization server signs with a new key: the upstream refuses the token the
    // gateway holds, and the gateway gets a new one and retries, unseen by the client.
    drop(auth_server);
    let _restarted = AuthorizationServer::start_on(port, clients(), Duration::from_secs(300)).await;
    let answer = client.post(whoami(10), Some(&session)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answer = client.post(whoami(11), Some(&session)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
