//! Bearer JWTs of a workspace's own identity provider, against real parts: `oidc-provider`
//! issues JWT access tokens (client credentials, with the resource indicator naming the
//! gateway's server URL), a workspace's `jwt_validation` names it, and a data-plane process
//! accepts its tokens beside API keys. Tokens for another audience, from a foreign issuer,
//! unsigned (`alg: none`), lacking a required claim, or expired are refused with 401; one
//! whose issuer's keys cannot be fetched gets 503 with Retry-After (it was not refused). Opaque
//! tokens (issued without a resource indicator) are introspected at the provider's RFC 7662
//! endpoint: active ones call tools, revoked or unknown ones get 401, claims grant permissions,
//! and a server's own rules accept another provider's tokens.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::fleet::Fleet;
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::oauth_peers::AuthorizationServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);
const SECRET: &str = "agent-secret-0123456789";
/// How long the provider's tokens live: the test outwaits it to see one expire.
const TOKEN_TTL: Duration = Duration::from_secs(6);

fn clients() -> Value {
    json!([{"client_id": "agent", "client_secret": SECRET, "grant_types": ["client_credentials"],
            "redirect_uris": [], "response_types": [], "token_endpoint_auth_method": "client_secret_basic",
            "scope": "mcp:tools"}])
}

/// A client-credentials access token of `auth_server` for `resource`.
async fn token(auth_server: &AuthorizationServer, resource: &str, scope: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(auth_server.token_endpoint())
        .basic_auth("agent", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("resource", resource)
                .append_pair("scope", scope)
                .finish(),
        )
        .send()
        .await
        .expect("the authorization server answers")
        .json()
        .await
        .expect("a token answer");
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token: {answer}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspaces_identity_provider_tokens_are_accepted_beside_api_keys() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let auth_server = AuthorizationServer::start(clients(), TOKEN_TTL).await;
    let foreign = AuthorizationServer::start(clients(), Duration::from_secs(300)).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet.workspace("idp").await;
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "Demo", "url": upstream.url()}),
        )
        .await;
    let path = format!("/v1/workspaces/{workspace}");
    // Unsigned tokens are never accepted, whatever the rules say.
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"jwt_validation": {"issuer": auth_server.issuer, "jwks_uri": format!("{}/jwks", auth_server.issuer), "algorithms": ["none"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("jwt_validation.algorithms[0]"),
        "{body}"
    );
    let rules = json!({"issuer": auth_server.issuer, "jwks_uri": format!("{}/jwks", auth_server.issuer),
        "algorithms": ["RS256"], "clock_tolerance_seconds": 0,
        "required_claims": {"scope": "mcp:tools"}});
    let (status, body) = fleet
        .admin(Method::PATCH, &path, Some(json!({"jwt_validation": rules})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["jwt_validation"]["issuer"],
        auth_server.issuer.as_str(),
        "{body}"
    );
    let token_of = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token_of, &[]).await;
    pod.wait_applied(fleet.head().await, SOON).await;
    let server_url = pod.mcp_url("demo");

    // A token for this server's URL: the client it names calls like a user of the workspace.
    let good = token(&auth_server, &server_url, "mcp:tools").await;
    let client = McpClient::new(server_url.clone(), &good);
    let session = client.initialize().await;
    let listed = client.list_tools(&session).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let called = client
        .post_stateless(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}))
        .await;
    assert_eq!(
        called.body["result"]["content"][0]["text"], "3",
        "{}",
        called.body
    );

    // A second workspace trusting the same issuer: a token for its server is its user's.
    let second = fleet.workspace("idp-too").await;
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": second, "slug": "demo-too", "name": "Demo too", "url": upstream.url()}),
        )
        .await;
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &format!("/v1/workspaces/{second}"),
            Some(json!({"jwt_validation": rules})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;
    let other_url = pod.mcp_url("demo-too");
    let other_token = token(&auth_server, &other_url, "mcp:tools").await;
    let listed = McpClient::new(other_url, &other_token)
        .post_stateless(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);

    // Another audience, a foreign issuer, no signature, a missing claim: 401, saying why.
    let elsewhere = token(&auth_server, "https://other.example/mcp", "mcp:tools").await;
    let why = client.with_key(&elsewhere).token_refusal().await;
    assert!(
        why.contains(&format!("its audience is not {server_url}")),
        "{why}"
    );
    let stranger = token(&foreign, &server_url, "mcp:tools").await;
    let why = client.with_key(&stranger).token_refusal().await;
    assert!(
        why.contains("no workspace accepts tokens of issuer"),
        "{why}"
    );
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"iss": auth_server.issuer, "aud": server_url, "sub": "mallory",
               "scope": "mcp:tools", "exp": 4_000_000_000u64})
        .to_string(),
    );
    let unsigned = format!(
        "{}.{claims}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let why = client.with_key(&unsigned).token_refusal().await;
    assert!(why.contains("never `none`"), "{why}");
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"jwt_validation": {"issuer": auth_server.issuer,
                "jwks_uri": format!("{}/jwks", auth_server.issuer), "clock_tolerance_seconds": 0,
                "required_claims": {"scope": "mcp:admin"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;
    // A fresh token: only the claim is at fault.
    let fresh = token(&auth_server, &server_url, "mcp:tools").await;
    let why = client.with_key(&fresh).token_refusal().await;
    assert!(why.contains("its `scope` claim"), "{why}");
    let (status, body) = fleet
        .admin(Method::PATCH, &path, Some(json!({"jwt_validation": rules})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;

    // A pod whose operator turned external identity providers off refuses a good token
    // with 403, saying why.
    let closed = fleet
        .data_plane(&token_of, &[("MCPGW_EXTERNAL_AUTH", "false".to_owned())])
        .await;
    closed.wait_applied(fleet.head().await, SOON).await;
    let fresh = token(&auth_server, &closed.mcp_url("demo"), "mcp:tools").await;
    let answer = McpClient::new(closed.mcp_url("demo"), &fresh)
        .post_stateless(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}}))
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(
        answer.body["error"]["data"]["reason"], "external_auth_disabled",
        "{}",
        answer.body
    );
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MCPGW_EXTERNAL_AUTH=false"),
        "{}",
        answer.body
    );

    // The issuer's keys cannot be fetched (nothing listens at the JWKS URI): the token is not
    // refused but could not be checked, 503 with Retry-After, and the client keeps it.
    let unreachable = format!("http://127.0.0.1:{}/jwks", mcpgw_e2e::process::free_port());
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(
                json!({"jwt_validation": {"issuer": auth_server.issuer, "jwks_uri": unreachable,
                "algorithms": ["RS256"], "clock_tolerance_seconds": 0}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;
    let fresh = token(&auth_server, &server_url, "mcp:tools").await;
    let answer = client
        .with_key(&fresh)
        .post_stateless(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}}))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(
        answer.body["error"]["data"]["reason"], "token_check_unavailable",
        "{}",
        answer.body
    );
    assert_eq!(answer.headers["retry-after"], "5");
    assert!(answer.headers.get("www-authenticate").is_none());
    let (status, body) = fleet
        .admin(Method::PATCH, &path, Some(json!({"jwt_validation": rules})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;

    // Expired: the provider's tokens live a few seconds.
    tokio::time::sleep(TOKEN_TTL + Duration::from_secs(1)).await;
    let why = client.with_key(&good).token_refusal().await;
    assert!(why.contains("it has expired"), "{why}");

    // Removing the rules leaves API keys only.
    let (status, body) = fleet
        .admin(Method::PATCH, &path, Some(json!({"jwt_validation": null})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("jwt_validation").is_none(), "{body}");
}

/// `pairs` as a form body.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A client-credentials access token of `auth_server` without a resource indicator: opaque.
async fn opaque_token(auth_server: &AuthorizationServer, scope: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(auth_server.token_endpoint())
        .basic_auth("agent", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ]))
        .send()
        .await
        .expect("the authorization server answers")
        .json()
        .await
        .expect("a token answer");
    let token = answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token: {answer}"))
        .to_owned();
    assert_ne!(token.split('.').count(), 3, "an opaque token: {token}");
    token
}

/// Revokes `token` at `auth_server` (RFC 7009).
async fn revoke(auth_server: &AuthorizationServer, token: &str) {
    let status = reqwest::Client::new()
        .post(format!("{}/token/revocation", auth_server.issuer))
        .basic_auth("agent", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", token),
            ("token_type_hint", "access_token"),
        ]))
        .send()
        .await
        .expect("the authorization server answers")
        .status();
    assert!(status.is_success(), "revoked: {status}");
}

/// The `add` tool called by `client`: its answer.
async fn add(client: &McpClient) -> mcpgw_e2e::mcp_client::Answer {
    client
        .post_stateless(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_and_their_claims_grant_permissions() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let auth_server = AuthorizationServer::start(clients(), Duration::from_secs(300)).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let workspace = fleet.workspace("introspected").await;
    fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "Demo", "url": upstream.url()}),
        )
        .await;
    let path = format!("/v1/workspaces/{workspace}");
    let endpoint = format!("{}/token/introspection", auth_server.issuer);
    let rules = |permissions: Value| {
        let mut rules = json!({"issuer": auth_server.issuer,
            "introspection": {"endpoint": endpoint, "client_id": "agent", "client_secret": SECRET},
            "user_claim": "client_id", "required_claims": {"scope": "mcp:tools"}});
        if !permissions.is_null() {
            rules["permissions"] = permissions;
        }
        rules
    };
    // A permission that does not exist is refused, naming it.
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(
                json!({"jwt_validation": rules(json!({"mcp.everything": {"scope": "mcp:tools"}}))}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string()
            .contains("jwt_validation.permissions.mcp.everything"),
        "{body}"
    );
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"jwt_validation": rules(Value::Null)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["jwt_validation"]["introspection"]["client_secret_set"], true,
        "{body}"
    );
    assert!(!body.to_string().contains(SECRET), "{body}");
    let token_of = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token_of, &[]).await;
    pod.wait_applied(fleet.head().await, SOON).await;
    let server_url = pod.mcp_url("demo");

    // An opaque token the provider says is active: its client calls like a user.
    let good = opaque_token(&auth_server, "mcp:tools").await;
    let client = McpClient::new(server_url.clone(), &good);
    let called = add(&client).await;
    assert_eq!(
        called.body["result"]["content"][0]["text"], "3",
        "{}",
        called.body
    );
    // Asked again, the kept answer serves.
    assert_eq!(add(&client).await.status, StatusCode::OK);

    // Revoked, or unknown to the provider: 401.
    let revoked = opaque_token(&auth_server, "mcp:tools").await;
    revoke(&auth_server, &revoked).await;
    let why = client.with_key(&revoked).token_refusal().await;
    assert!(why.contains("not active"), "{why}");
    let why = client
        .with_key("no-such-token-0123456789")
        .token_refusal()
        .await;
    assert!(why.contains("not active"), "{why}");

    // Permissions by claims: a rule the token does not meet leaves it without mcp.invoke.
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"jwt_validation": rules(json!({"mcp.invoke": {"scope": "mcp:admin"}}))})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;
    let answer = add(&client).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(
        answer.body["error"]["data"]["reason"], "missing_permission",
        "{}",
        answer.body
    );
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mcp.invoke"),
        "{}",
        answer.body
    );
    // A rule it meets gives it back.
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"jwt_validation": rules(json!({"mcp.invoke": {"scope": ["mcp:admin", "mcp:tools"]}}))})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;
    assert_eq!(add(&client).await.status, StatusCode::OK);

    // A server with rules of its own accepts tokens of another provider, which the
    // workspace's rules refuse; its callers are users of its home workspace.
    let other = AuthorizationServer::start(clients(), Duration::from_secs(300)).await;
    let own_rules = json!({"issuer": other.issuer,
        "introspection": {"endpoint": format!("{}/token/introspection", other.issuer),
            "client_id": "agent", "client_secret": SECRET},
        "user_claim": "client_id"});
    let (status, body) = fleet
        .admin(
            Method::POST,
            "/v1/servers",
            Some(
                json!({"workspace_id": workspace, "slug": "own-rules", "name": "Own rules",
                "url": upstream.url(), "jwt_validation": own_rules}),
            ),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(
        body["jwt_validation"]["introspection"]["client_secret_set"], true,
        "{body}"
    );
    assert!(!body.to_string().contains(SECRET), "{body}");
    let own_id = body["id"].as_str().unwrap().to_owned();
    pod.wait_applied(fleet.head().await, SOON).await;
    let theirs = opaque_token(&other, "mcp:tools").await;
    let own = McpClient::new(pod.mcp_url("own-rules"), &theirs);
    let called = add(&own).await;
    assert_eq!(
        called.body["result"]["content"][0]["text"], "3",
        "{}",
        called.body
    );
    let why = client.with_key(&theirs).token_refusal().await;
    assert!(why.contains("not active"), "{why}");
    // The workspace's tokens still work on it.
    assert_eq!(
        add(&own.with_key(&good)).await.status,
        StatusCode::OK,
        "the workspace's rules follow the server's"
    );
    // Without its rules, only the workspace's apply.
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{own_id}"),
            Some(json!({"jwt_validation": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("jwt_validation").is_none(), "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;
    let why = own.token_refusal().await;
    assert!(why.contains("not active"), "{why}");
}
