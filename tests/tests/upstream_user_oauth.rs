//! Per-user upstream OAuth against real parts: `oidc-provider` as the authorization server
//! (dynamic registration, refresh-token rotation with reuse detection, JWT access tokens for
//! the requested resource) and a fastmcp server that is a protected resource (RFC 9728) and
//! accepts only tokens for its own URL. Users sign in through the gateway's link, the test
//! playing the browser through oidc-provider's login and consent pages; each user's own token
//! then reaches the upstream from every pod, is refreshed before it expires, and a revoked
//! connection asks for a new sign-in.

use std::time::Duration;

use mcpgw_e2e::browser;
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet};
use mcpgw_e2e::mcp_client::{McpClient, StreamEvent, VERSION};
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::oauth_peers::{AuthorizationServer, JwtUpstream, seen_by_upstream, whoami};
use mcpgw_e2e::pki::TestPki;
use mcpgw_e2e::tls_proxy::TlsProxy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);

struct Setup {
    _nats: PrivateNats,
    fleet: Fleet,
    workspace: String,
}

impl Setup {
    async fn start() -> Self {
        let nats = PrivateNats::start().await;
        let fleet = Fleet::start_with(
            &nats.url(),
            vec![("MCPGW_EGRESS_ALLOW", "127.0.0.0/8".to_owned())],
        )
        .await;
        let workspace = fleet.workspace("people").await;
        Self {
            _nats: nats,
            fleet,
            workspace,
        }
    }

    /// A user key of `user`.
    async fn user_key(&self, user: &str) -> String {
        let key = self
            .fleet
            .create(
                "/v1/api-keys",
                json!({"workspace_id": self.workspace, "name": user, "type": "user",
                       "user_id": user, "permissions": ["mcp.invoke"]}),
            )
            .await;
        key["key"].as_str().unwrap().to_owned()
    }

    /// Registers a per-user OAuth server; returns its id.
    async fn server(&self, slug: &str, url: &str, oauth_metadata: Value) -> String {
        let server = self
            .fleet
            .create(
                "/v1/servers",
                json!({"workspace_id": self.workspace, "slug": slug, "name": slug, "url": url,
                       "auth": {"type": "oauth2", "oauth_metadata": oauth_metadata}}),
            )
            .await;
        server["id"].as_str().unwrap().to_owned()
    }

    /// `n` data planes sharing one token key, at debug level (their logs are scanned).
    async fn pods(&self, n: usize) -> Vec<DataPlaneProcess> {
        let token = self.fleet.data_plane_token(None).await;
        let token_key = format!("k1:{}", mcpgw_shared::secret::generate_base64_key());
        let env = [
            ("MCPGW_TOKEN_KEY", token_key),
            ("RUST_LOG", "debug".to_owned()),
        ];
        let mut pods = Vec::new();
        for _ in 0..n {
            let pod = self.fleet.data_plane(&token, &env).await;
            pod.wait_applied(self.fleet.head().await, SOON).await;
            pods.push(pod);
        }
        pods
    }

    async fn connections(&self, server: &str) -> Value {
        let (status, body) = self
            .fleet
            .admin(
                Method::GET,
                &format!("/v1/servers/{server}/connections"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// `initialize` of a 2025-11-25 client that declares URL elicitation.
fn initialize_with_url_elicitation() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {"elicitation": {"url": {}}},
        "clientInfo": {"name": "mcpgw-tests", "version": "1"}}})
}

/// Signs in through `link` as `login` and checks the gateway's page says so.
async fn sign_in(link: &str, login: &str) {
    let landing = browser::sign_in(link, login).await;
    assert_eq!(landing.status, StatusCode::OK, "{landing:?}");
    assert!(landing.text.contains("Signed in to"), "{landing:?}");
}

/// The user's connection's version in the admin listing.
fn version_of(connections: &Value, user: &str) -> i64 {
    connections["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user_id"] == user)
        .unwrap_or_else(|| panic!("{user} is connected: {connections}"))["version"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_signs_in_once_and_every_pod_sends_their_own_token() {
    let s = Setup::start().await;
    let ttl = Duration::from_secs(6);
    let auth_server = AuthorizationServer::start(json!([]), ttl).await;
    let upstream = JwtUpstream::start_protected(&auth_server.issuer).await;
    // Discovered from the upstream's 401; registered dynamically. Offline access is asked
    // for (with consent) so that refresh tokens are issued; provider extras cannot override
    // what the gateway sets (these would break the sign-in if they did).
    let server = s
        .server(
            "files",
            &upstream.url,
            json!({"scope": "mcp:tools offline_access",
                   "authorization_params": {"prompt": "consent",
                       "redirect_uri": "https://evil.example/callback", "client_id": "evil",
                       "code_challenge_method": "plain"}}),
        )
        .await;
    let alice = s.user_key("alice").await;
    let bob = s.user_key("bob").await;
    let pods = s.pods(2).await;
    let (pod_a, pod_b) = (&pods[0], &pods[1]);

    // 2025-11-25, URL elicitation declared: -32042 carrying the link, never a 401.
    let alice_a = McpClient::new(pod_a.mcp_url("files"), &alice);
    let answer = alice_a.post(initialize_with_url_elicitation(), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let error = &answer.body["error"];
    assert_eq!(error["code"], -32042, "{}", answer.body);
    assert_eq!(error["data"]["reason"], "sign_in_required");
    let elicitation = &error["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    let link = elicitation["url"].as_str().unwrap().to_owned();
    assert_eq!(error["data"]["sign_in_url"], link.as_str());
    assert!(link.starts_with(&pod_a.url()), "{link}");
    sign_in(&link, "alice@idp").await;
    // The link was good once.
    let again = browser::sign_in(&link, "alice@idp").await;
    assert_eq!(again.status, StatusCode::GONE, "{again:?}");
    assert!(again.text.contains("already used"), "{again:?}");

    // Signed in: her own token reaches the upstream, for its URL, from either pod.
    let session = alice_a.initialize().await;
    let answer = alice_a.post(whoami(2), Some(&session)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let seen = seen_by_upstream(&answer.body);
    assert_eq!(seen["claims"]["sub"], "alice@idp", "{seen}");
    assert_eq!(seen["claims"]["aud"], upstream.url.as_str(), "{seen}");
    assert!(
        !seen.to_string().contains(&alice),
        "the key reached the upstream"
    );
    let first_token = seen["token"].as_str().unwrap().to_owned();
    let alice_b = alice_a.with_url(pod_b.mcp_url("files"));
    let session_b = alice_b.initialize().await;
    let answer = alice_b.post(whoami(3), Some(&session_b)).await;
    assert_eq!(seen_by_upstream(&answer.body)["claims"]["sub"], "alice@idp");

    // 2026-07-28: an InputRequiredResult with a URL elicitation and the gateway's state; the
    // retry carrying them back succeeds once the user signed in.
    let bob_b = McpClient::new(pod_b.mcp_url("files"), &bob);
    let answer = bob_b.post_stateless(whoami(4)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let result = &answer.body["result"];
    assert_eq!(result["resultType"], "input_required", "{}", answer.body);
    let request = &result["inputRequests"]["mcpgw_sign_in"];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["mode"], "url");
    let request_state = result["requestState"].as_str().unwrap().to_owned();
    sign_in(request["params"]["url"].as_str().unwrap(), "bob@idp").await;
    let mut retry = whoami(5);
    retry["params"]["inputResponses"] = json!({"mcpgw_sign_in": {"action": "accept"}});
    retry["params"]["requestState"] = json!(request_state);
    // Another caller cannot use bob's state.
    let stolen = alice_b.post_stateless(retry.clone()).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{}", stolen.body);
    let answer = bob_b.post_stateless(retry).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(seen_by_upstream(&answer.body)["claims"]["sub"], "bob@idp");

    let connections = s.connections(&server).await;
    assert_eq!(version_of(&connections, "alice"), 1, "{connections}");
    assert_eq!(version_of(&connections, "bob"), 1, "{connections}");

    // Past the token's lifetime both pods refresh alice's at once: both calls succeed, one
    // refresh is spent (the authorization server revokes a grant whose refresh token is
    // reused), and she stays signed in.
    tokio::time::sleep(ttl).await;
    let (on_a, on_b) = tokio::join!(
        alice_a.post(whoami(6), Some(&session)),
        alice_b.post(whoami(7), Some(&session_b)),
    );
    for answer in [&on_a, &on_b] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(answer.body["result"].is_object(), "{}", answer.body);
    }
    let refreshed = seen_by_upstream(&on_a.body)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(refreshed, first_token, "the token was refreshed");
    assert_eq!(
        refreshed,
        seen_by_upstream(&on_b.body)["token"].as_str().unwrap(),
        "both pods send the one refreshed token"
    );
    let connections = s.connections(&server).await;
    // One claim and one refresh stored.
    assert_eq!(version_of(&connections, "alice"), 3, "{connections}");
    tokio::time::sleep(ttl).await;
    let answer = alice_b.post(whoami(8), Some(&session_b)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(seen_by_upstream(&answer.body)["claims"]["sub"], "alice@idp");

    // Revoking alice's connection closes her stream and asks her to sign in again; bob is
    // untouched.
    let mut stream = alice_a.open_stream(&session).await;
    let (status, body) = s
        .fleet
        .admin(
            Method::DELETE,
            &format!("/v1/servers/{server}/connections/alice"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    while stream.next(SOON).await != StreamEvent::Closed {}
    mcpgw_e2e::fleet::eventually(SOON, "alice must sign in again", || async {
        let answer = alice_a.post(whoami(9), Some(&session)).await;
        answer.body["error"]["data"]["reason"] == "sign_in_required"
    })
    .await;
    let answer = bob_b.post_stateless(whoami(10)).await;
    assert_eq!(seen_by_upstream(&answer.body)["claims"]["sub"], "bob@idp");
    let connections = s.connections(&server).await;
    assert_eq!(
        connections["connections"].as_array().unwrap().len(),
        1,
        "{connections}"
    );

    // The command line lists the connections, tests the sign-in path and disconnects a user.
    let output = s.fleet.mcpgw(&["servers", "connections", &server]).await;
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && table.contains("bob"), "{table}");
    let output = s.fleet.mcpgw(&["test-auth", "files"]).await;
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && table.contains("client registration"),
        "{table}"
    );
    let output = s
        .fleet
        .mcpgw(&["servers", "disconnect", &server, "bob"])
        .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let connections = s.connections(&server).await;
    assert_eq!(
        connections["connections"].as_array().unwrap().len(),
        0,
        "{connections}"
    );

    // The control plane holds the tokens sealed only: no event payload or row has one.
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(s.fleet.database_url())
        .await
        .expect("the fleet's database");
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT payload::text FROM events UNION ALL SELECT sealed FROM upstream_connections",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(
        stored.iter().any(|row| row.contains("sealed")),
        "tokens were stored"
    );
    for row in &stored {
        for token in [&first_token, &refreshed] {
            assert!(
                !row.contains(token.as_str()),
                "a token is stored in the clear"
            );
        }
    }

    // No token of anyone's, and no sign-in link, is in either plane's logs.
    let logs = [pod_a.logs(), pod_b.logs(), s.fleet.control_plane_logs()]
        .concat()
        .join("\n");
    for (what, planted) in [
        ("an access token", first_token.as_str()),
        ("a refreshed token", refreshed.as_str()),
        ("a sign-in link", link.as_str()),
    ] {
        assert!(!logs.contains(planted), "{what} is in the logs");
    }
}

/// `initialize` of a client without URL elicitation.
fn plain_initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {},
        "clientInfo": {"name": "mcpgw-tests", "version": "1"}}})
}

/// Opens a fresh sign-in link of `user_key` for server `slug` on `pod` (from the error a
/// client without URL elicitation gets) and plays the browser.
async fn sign_in_page(pod: &DataPlaneProcess, slug: &str, user_key: &str) -> browser::Landing {
    let answer = McpClient::new(pod.mcp_url(slug), user_key)
        .post(plain_initialize(), None)
        .await;
    assert_eq!(
        answer.body["error"]["data"]["reason"], "sign_in_required",
        "{slug}: {}",
        answer.body
    );
    let link = answer.body["error"]["data"]["sign_in_url"]
        .as_str()
        .unwrap();
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(link),
        "the message carries the link: {}",
        answer.body
    );
    browser::sign_in(link, "carol@idp").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_problems_name_their_cause_and_fix() {
    let s = Setup::start().await;
    let pods = s.pods(1).await;
    let pod = &pods[0];
    let callback = format!("{}/oauth/upstream-callback", pod.url());
    // The pod says which redirect URI to register.
    mcpgw_e2e::fleet::eventually(SOON, "the callback is logged", || async {
        pod.logs().iter().any(|l| l.contains(&callback))
    })
    .await;
    const SECRET: &str = "the-web-client-secret-0123456789";
    let web_client = |id: &str, redirect: &str| {
        json!({"client_id": id, "client_secret": SECRET, "redirect_uris": [redirect],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "token_endpoint_auth_method": "client_secret_basic", "scope": "mcp:tools"})
    };
    // No dynamic registration at this authorization server: only pre-registered clients.
    let auth_server = AuthorizationServer::start_without_registration(
        json!([
            web_client("gateway-web", &callback),
            web_client("gateway-elsewhere", "https://elsewhere.example/callback"),
        ]),
        Duration::from_secs(4),
    )
    .await;
    let upstream = JwtUpstream::start_protected(&auth_server.issuer).await;
    let localhost_url = upstream.url.replace("127.0.0.1", "localhost");
    let pre_registered = json!({"client_id": "gateway-web", "client_secret": SECRET});
    let pre_registered_id = s
        .server("pre-registered", &upstream.url, pre_registered.clone())
        .await;
    s.server("no-client", &upstream.url, json!({})).await;
    // An issuer at the cloud metadata address: the egress policy refuses its metadata.
    s.server(
        "metadata-issuer",
        &upstream.url,
        json!({"issuer": "http://169.254.169.254"}),
    )
    .await;
    s.server("wrong-resource", &localhost_url, json!({})).await;
    s.server(
        "wrong-callback",
        &upstream.url,
        json!({"client_id": "gateway-elsewhere", "client_secret": SECRET}),
    )
    .await;
    let carol = s.user_key("carol").await;
    pod.wait_applied(s.fleet.head().await, SOON).await;

    // A pre-registered client: used as is, nothing else tried. The session's client declares
    // URL elicitation.
    let landing = sign_in_page(pod, "pre-registered", &carol).await;
    assert_eq!(landing.status, StatusCode::OK, "{landing:?}");
    let client = McpClient::new(pod.mcp_url("pre-registered"), &carol);
    let init = client.post(initialize_with_url_elicitation(), None).await;
    assert_eq!(init.status, StatusCode::OK, "{}", init.body);
    let session = init.session.expect("a session");
    let initialized = client
        .post(
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            Some(&session),
        )
        .await;
    assert_eq!(initialized.status, StatusCode::ACCEPTED);
    let answer = client.post(whoami(2), Some(&session)).await;
    let seen = seen_by_upstream(&answer.body);
    assert_eq!(seen["client_id"], "gateway-web", "{seen}");
    assert_eq!(seen["claims"]["sub"], "carol@idp", "{seen}");
    let mut stream = client.open_stream(&session).await;

    // Its access token expires, and no refresh token was issued (no offline access): the
    // user is asked to sign in again (-32042, in this session), told why and what fixes it,
    // and their stream stays open.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let answer = client.post(whoami(3), Some(&session)).await;
    let error = &answer.body["error"];
    assert_eq!(error["code"], -32042, "{}", answer.body);
    let hint = error["data"]["hint"].as_str().unwrap();
    assert!(hint.contains("offline_access"), "{hint}");
    let connections = s.connections(&pre_registered_id).await;
    assert_eq!(
        connections["connections"][0]["signed_out"], true,
        "{connections}"
    );
    // Signing in again completes the elicitation on the session's stream, and the next call
    // works without reconnecting.
    let elicitation = &error["data"]["elicitations"][0];
    sign_in(elicitation["url"].as_str().unwrap(), "carol@idp").await;
    let complete = loop {
        match stream.next(SOON).await {
            StreamEvent::Message(message)
                if message["method"] == "notifications/elicitation/complete" =>
            {
                break message;
            }
            StreamEvent::Message(_) => continue,
            StreamEvent::Closed => panic!("the stream closed"),
        }
    };
    assert_eq!(
        complete["params"]["elicitationId"], elicitation["elicitationId"],
        "{complete}"
    );
    let answer = client.post(whoami(4), Some(&session)).await;
    assert_eq!(seen_by_upstream(&answer.body)["claims"]["sub"], "carol@idp");

    // Each problem's page names the cause and the fix.
    for (slug, status, words) in [
        (
            "no-client",
            StatusCode::BAD_GATEWAY,
            vec![
                "Incompatible auth server: does not support dynamic client registration",
                "oauth_metadata.client_id",
                callback.as_str(),
            ],
        ),
        (
            "wrong-resource",
            StatusCode::BAD_GATEWAY,
            vec![
                "Protected resource",
                "does not match expected",
                "register the server with the URL",
            ],
        ),
        (
            "metadata-issuer",
            StatusCode::BAD_GATEWAY,
            vec!["169.254.169.254"],
        ),
    ] {
        let landing = sign_in_page(pod, slug, &carol).await;
        assert_eq!(landing.status, status, "{slug}: {landing:?}");
        for word in words {
            let escaped = word.replace('&', "&amp;");
            assert!(
                landing.text.contains(&escaped),
                "{slug}: `{word}` in {}",
                landing.text
            );
        }
    }
    let landing = sign_in_page(pod, "wrong-resource", &carol).await;
    assert!(
        landing.text.contains(&upstream.url) && landing.text.contains(&localhost_url),
        "both URLs are named: {}",
        landing.text
    );

    // Forged or cut links and answers: refused with a page saying what to do.
    let forged = browser::sign_in(
        &format!("{}/oauth/upstream-sign-in?ticket=AAAA", pod.url()),
        "carol@idp",
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{forged:?}");
    assert!(forged.text.contains("not valid"), "{forged:?}");
    let forged = browser::sign_in(
        &format!("{}/oauth/upstream-callback?code=x&state=AAAA", pod.url()),
        "carol@idp",
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{forged:?}");
    assert!(forged.text.contains("no valid state"), "{forged:?}");

    // A client registered with another redirect URI: the authorization server itself refuses
    // (the gateway's callback is the one the pod logged at start).
    let landing = sign_in_page(pod, "wrong-callback", &carol).await;
    assert!(
        landing.url.starts_with(&auth_server.issuer) && landing.text.contains("redirect_uri"),
        "{landing:?}"
    );

    // test-auth shows each step with what it saw.
    for (slug, ok, failing) in [
        ("pre-registered", true, None),
        ("no-client", false, Some("client registration")),
        ("wrong-resource", false, Some("protected resource")),
    ] {
        let (status, report) = s
            .fleet
            .admin(Method::POST, &format!("/v1/servers/{slug}/test-auth"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["ok"], ok, "{slug}: {report:#}");
        let steps = report["steps"].as_array().unwrap();
        assert_eq!(steps[0]["step"], "challenge", "{report:#}");
        assert!(
            steps[0]["detail"]
                .as_str()
                .unwrap()
                .contains("/.well-known/oauth-protected-resource/mcp"),
            "{report:#}"
        );
        if let Some(failing) = failing {
            let step = steps.iter().find(|s| s["status"] == "fail").unwrap();
            assert_eq!(step["step"], failing, "{slug}: {report:#}");
        } else {
            let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
            assert_eq!(
                names,
                [
                    "challenge",
                    "protected resource",
                    "authorization server",
                    "client registration",
                    "scope",
                    "callback"
                ],
                "{report:#}"
            );
        }
    }

    // A scope the authorization server does not list: refused when the server is registered,
    // not at a user's first sign-in.
    let mut bad_scope = pre_registered.clone();
    bad_scope["scope"] = json!("mcp:tools admin:everything");
    let (status, body) = s
        .fleet
        .admin(
            Method::POST,
            "/v1/servers",
            Some(json!({"workspace_id": s.workspace, "slug": "bad-scope", "name": "b",
                        "url": upstream.url, "auth": {"type": "oauth2", "oauth_metadata": bad_scope}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("auth.oauth_metadata.scope") && text.contains("admin:everything"),
        "{body}"
    );

    // `oauth_metadata` misplaced or misspelled: refused, naming the field.
    for auth in [
        json!({"type": "oauth2", "client_id": "gateway-web"}),
        json!({"type": "oauth2", "oauth_metadata": {"clientid": "gateway-web"}}),
    ] {
        let body = s
            .fleet
            .refused_server(&s.workspace, &upstream.url, auth)
            .await;
        assert!(body.to_string().contains("client"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_needs_more_scope_gets_it_after_one_step_up() {
    let s = Setup::start().await;
    let auth_server = AuthorizationServer::start_with_scopes(
        json!([]),
        Duration::from_secs(300),
        "mcp:tools mcp:admin",
    )
    .await;
    // It needs mcp:admin too; the server asks for mcp:tools only.
    let upstream = JwtUpstream::start_requiring(&auth_server.issuer, "mcp:tools mcp:admin").await;
    s.server("admin", &upstream.url, json!({"scope": "mcp:tools"}))
        .await;
    // One that needs a scope the authorization server never grants.
    let stingy = JwtUpstream::start_requiring(&auth_server.issuer, "mcp:tools mcp:root").await;
    s.server("root", &stingy.url, json!({"scope": "mcp:tools"}))
        .await;
    let dave = s.user_key("dave").await;
    let pods = s.pods(1).await;
    let pod = &pods[0];

    let landing = sign_in_page(pod, "admin", &dave).await;
    assert_eq!(landing.status, StatusCode::OK, "{landing:?}");
    // Signed in with mcp:tools: the upstream answers 403 insufficient_scope, and the user is
    // asked to grant the rest (never shown the 403).
    let client = McpClient::new(pod.mcp_url("admin"), &dave);
    let answer = client.post(plain_initialize(), None).await;
    assert_eq!(
        answer.body["error"]["data"]["reason"], "sign_in_required",
        "{}",
        answer.body
    );
    let hint = answer.body["error"]["data"]["hint"].as_str().unwrap();
    assert!(hint.contains("mcp:admin"), "{hint}");
    let link = answer.body["error"]["data"]["sign_in_url"]
        .as_str()
        .unwrap();
    sign_in(link, "dave@idp").await;
    let session = client.initialize().await;
    let answer = client.post(whoami(2), Some(&session)).await;
    let seen = seen_by_upstream(&answer.body);
    let scopes = seen["scopes"].to_string();
    assert!(
        scopes.contains("mcp:admin") && scopes.contains("mcp:tools"),
        "{seen}"
    );

    // A scope the authorization server does not grant: one step-up, then the upstream's
    // refusal stands (no endless sign-ins).
    let root = McpClient::new(pod.mcp_url("root"), &dave);
    let landing = sign_in_page(pod, "root", &dave).await;
    assert_eq!(landing.status, StatusCode::OK, "{landing:?}");
    let answer = root.post(plain_initialize(), None).await;
    let link = answer.body["error"]["data"]["sign_in_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a step-up: {}", answer.body));
    assert!(
        answer.body["error"]["data"]["hint"]
            .as_str()
            .unwrap()
            .contains("mcp:root")
    );
    sign_in(link, "dave@idp").await;
    let answer = root.post(plain_initialize(), None).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.body);
    assert_eq!(
        answer.body["error"]["data"]["reason"], "upstream_auth_failed",
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_at_an_https_address_is_its_own_client_id_metadata_document() {
    let s = Setup::start().await;
    let pki = TestPki::generate();
    // The pod behind a TLS-terminating proxy, as behind a load balancer.
    let proxy = TlsProxy::start(&pki).await;
    let token = s.fleet.data_plane_token(None).await;
    let env = [
        (
            "MCPGW_TOKEN_KEY",
            format!("k1:{}", mcpgw_shared::secret::generate_base64_key()),
        ),
        ("MCPGW_PUBLIC_BASE_URL", proxy.url()),
    ];
    let pod = s.fleet.data_plane(&token, &env).await;
    proxy.forward_to(pod.port());
    // Dynamic registration is offered too: the document comes first.
    let auth_server = AuthorizationServer::start_accepting_metadata_documents(&pki.ca()).await;
    let upstream = JwtUpstream::start_protected(&auth_server.issuer).await;
    s.server("cimd", &upstream.url, json!({})).await;
    let erin = s.user_key("erin").await;
    pod.wait_applied(s.fleet.head().await, SOON).await;

    let answer = McpClient::new(pod.mcp_url("cimd"), &erin)
        .post(plain_initialize(), None)
        .await;
    let link = answer.body["error"]["data"]["sign_in_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", answer.body));
    assert!(link.starts_with(&proxy.url()), "{link}");
    let landing = browser::sign_in_trusting(link, "erin@idp", Some(&pki.ca())).await;
    assert_eq!(landing.status, StatusCode::OK, "{landing:?}");
    let client = McpClient::new(pod.mcp_url("cimd"), &erin);
    let session = client.initialize().await;
    let answer = client.post(whoami(2), Some(&session)).await;
    let seen = seen_by_upstream(&answer.body);
    let document = format!("{}/oauth/client-metadata.json", proxy.url());
    assert_eq!(seen["client_id"], document.as_str(), "{seen}");
    assert_eq!(seen["claims"]["sub"], "erin@idp", "{seen}");
}

/// Runs `tests/peers/signing_in_client.py`: the Python `mcp` SDK calling `whoami` as a user,
/// signing in through the browser when asked.
async fn python_user(url: &str, key: &str, mode: &str, login: &str) -> Value {
    let script = mcpgw_e2e::peers::script("signing_in_client.py");
    let out = mcpgw_e2e::peers::run(
        &mcpgw_e2e::peers::python(),
        &[script.to_str().unwrap(), url, key, mode, login],
        &mcpgw_e2e::peers::tests_dir(),
        Duration::from_secs(60),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Closing the session (DELETE, answered 200 with no body by fastmcp) is relayed as is.
    assert!(!stderr.contains("Session termination failed"), "{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_signs_its_user_in_through_the_gateway_in_both_eras() {
    let s = Setup::start().await;
    let auth_server = AuthorizationServer::start(json!([]), Duration::from_secs(300)).await;
    let upstream = JwtUpstream::start_protected(&auth_server.issuer).await;
    s.server("files", &upstream.url, json!({})).await;
    let frank = s.user_key("frank").await;
    let grace = s.user_key("grace").await;
    let pods = s.pods(1).await;
    let url = pods[0].mcp_url("files");

    // 2025-11-25: the -32042 URL elicitation error, then a new connection.
    let seen = python_user(&url, &frank, "legacy", "frank@idp").await;
    assert_eq!(seen["error_code"], -32042, "{seen}");
    assert_eq!(seen["elicitations"][0]["mode"], "url", "{seen}");
    assert!(
        seen["pages"][0].as_str().unwrap().contains("Signed in"),
        "{seen}"
    );
    assert_eq!(seen["seen"]["claims"]["sub"], "frank@idp", "{seen}");

    // 2026-07-28: the SDK gets an InputRequiredResult, hands the URL elicitation to its
    // callback, and retries the same call with the answer and the gateway's state.
    let seen = python_user(&url, &grace, "2026-07-28", "grace@idp").await;
    assert_eq!(seen["protocol_version"], "2026-07-28", "{seen}");
    assert!(seen.get("error_code").is_none(), "{seen}");
    assert_eq!(seen["elicitations"][0]["mode"], "url", "{seen}");
    assert!(
        seen["pages"][0].as_str().unwrap().contains("Signed in"),
        "{seen}"
    );
    assert_eq!(seen["seen"]["claims"]["sub"], "grace@idp", "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_server_reaches_a_per_user_member_with_the_users_own_token() {
    let s = Setup::start().await;
    let auth_server = AuthorizationServer::start(json!([]), Duration::from_secs(300)).await;
    let upstream = JwtUpstream::start_protected(&auth_server.issuer).await;
    s.server("notes", &upstream.url, json!({"scope": "mcp:tools"}))
        .await;
    s.fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": s.workspace, "slug": "desk", "name": "Desk",
                   "virtual_server": {"members": [{"server": "notes"}]}}),
        )
        .await;
    let erin = s.user_key("erin").await;
    let pods = s.pods(1).await;
    let client = McpClient::new(pods[0].mcp_url("desk"), &erin);

    // The virtual server's session is the gateway's; its member asks the user to sign in,
    // as a URL elicitation the client declared.
    let answer = client.post(initialize_with_url_elicitation(), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let session = answer.session.expect("a session");
    let listed = client
        .post(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            Some(&session),
        )
        .await;
    let error = &listed.body["error"];
    assert_eq!(error["code"], -32042, "{}", listed.body);
    let link = error["data"]["elicitations"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    sign_in(&link, "erin@idp").await;

    // Signed in: the member's tools, and her own token for the member's URL on a call.
    let listed = client
        .post(
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
            Some(&session),
        )
        .await;
    let names = listed.body["result"]["tools"].to_string();
    assert!(names.contains("whoami"), "{}", listed.body);
    let answer = client.post(whoami(4), Some(&session)).await;
    let seen = seen_by_upstream(&answer.body);
    assert_eq!(seen["claims"]["sub"], "erin@idp", "{seen}");
    assert_eq!(seen["claims"]["aud"], upstream.url.as_str(), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_sign_in_goes_on_into_the_upstreams_so_one_browser_flow_connects_everything() {
    let s = Setup::start().await;
    let auth_server = AuthorizationServer::start(json!([]), Duration::from_secs(300)).await;
    let upstream = JwtUpstream::start_protected(&auth_server.issuer).await;
    s.server("notes", &upstream.url, json!({"scope": "mcp:tools"}))
        .await;
    let erin = s.user_key("erin").await;
    let pods = s.pods(1).await;
    let base = pods[0].url();
    let resource = pods[0].mcp_url("notes");

    // An MCP client with no key: the gateway's sign-in and consent, then the upstream's own
    // login and consent, then back to the client with a code — one browser flow.
    let client_id = mcpgw_e2e::gateway_oauth::register_public_client(&base, "agent").await;
    let tokens = mcpgw_e2e::gateway_oauth::tokens_by_hand(
        &base, &resource, &client_id, &erin, "erin@idp", "mcp:*",
    )
    .await;
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    let client = McpClient::new(resource.clone(), access);
    let session = client.initialize().await;
    let answer = client.post(whoami(2), Some(&session)).await;
    let seen = seen_by_upstream(&answer.body);
    assert_eq!(seen["claims"]["sub"], "erin@idp", "{seen}");
    assert_ne!(
        seen["token"].as_str(),
        Some(access),
        "the client's token never reaches the upstream"
    );
}
