//! Identity forwarding across real parts: a control plane and a data-plane process in front
//! of an upstream that echoes the headers it got. In `jwt` mode the upstream gets a JWT the
//! control plane signed, which verifies against the pod's `/.well-known/jwks.json` with the
//! user as `sub` and the upstream's URL as `aud`, and which the pod reuses while it is fresh;
//! in `claims_header` mode it gets the claims as JSON. The client's key never crosses.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcpgw_data_plane::testing::echo_upstream;
use mcpgw_e2e::fleet::Fleet;
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);

/// The headers the upstream saw of a `tools/call` by `client` in a new session.
async fn seen_by_upstream(client: &McpClient, key: &str) -> Value {
    let session = client.initialize().await;
    let answer = client
        .post(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {}}}),
            Some(&session),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let text = answer.body.to_string();
    assert!(
        !text.contains(key),
        "the client's key never crosses: {text}"
    );
    let headers = answer.body["result"]["headers"].clone();
    assert!(headers.get("authorization").is_none(), "{headers}");
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_is_told_who_calls_with_a_verifiable_jwt_or_a_claims_header() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let upstream = echo_upstream::spawn().await;
    let workspace = fleet.workspace("forwarding").await;
    let server = fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "echo", "name": "Echo", "url": upstream,
                   "identity_forwarding": {"mode": "jwt", "ttl_seconds": 120}}),
        )
        .await;
    assert_eq!(
        server["identity_forwarding"],
        json!({"mode": "jwt", "header": "X-User-JWT", "ttl_seconds": 120}),
        "{server}"
    );
    let key_of = |user: Option<&str>| {
        let mut body = json!({"workspace_id": workspace, "name": "k", "type": "service",
                               "permissions": ["mcp.invoke"]});
        if let Some(user) = user {
            body["type"] = json!("user");
            body["user_id"] = json!(user);
        }
        let fleet = &fleet;
        async move {
            fleet.create("/v1/api-keys", body).await["key"]
                .as_str()
                .expect("a key")
                .to_owned()
        }
    };
    let alice = key_of(Some("alice")).await;
    let service = key_of(None).await;
    let token = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token, &[]).await;
    pod.wait_applied(fleet.head().await, SOON).await;
    let client = McpClient::new(pod.mcp_url("echo"), &alice);

    // jwt: a token the upstream verifies against the pod's JWKS.
    let headers = seen_by_upstream(&client, &alice).await;
    let jwt = headers["x-user-jwt"]
        .as_str()
        .unwrap_or_else(|| panic!("the assertion: {headers}"))
        .to_owned();
    let jwks: JwkSet = reqwest::get(format!("{}/.well-known/jwks.json", pod.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let key = DecodingKey::from_jwk(
        jwks.find(&header.kid.unwrap())
            .expect("its key is published"),
    )
    .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[upstream.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(&jwt, &key, &validation)
        .expect("the assertion verifies")
        .claims;
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["aud"], upstream.as_str());
    assert!(
        claims["iss"].as_str().unwrap().starts_with(&pod.url()),
        "{claims}"
    );
    assert_eq!(claims["mcpgw_workspace"], workspace.as_str());
    assert_eq!(claims["mcpgw_server"], server["id"]);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    let again = seen_by_upstream(&client, &alice).await;
    assert_eq!(
        again["x-user-jwt"],
        jwt.as_str(),
        "a fresh assertion is reused"
    );
    // A service key has no user: its requests go without one.
    let headers = seen_by_upstream(&client.with_key(&service), &service).await;
    assert!(headers.get("x-user-jwt").is_none(), "{headers}");

    // claims_header: the claims as JSON.
    let path = format!("/v1/servers/{}", server["id"].as_str().unwrap());
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"identity_forwarding": {"mode": "claims_header"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pod.wait_applied(fleet.head().await, SOON).await;
    let headers = seen_by_upstream(&client, &alice).await;
    let claims: Value = serde_json::from_str(headers["x-mcpgw-user"].as_str().unwrap()).unwrap();
    assert_eq!(claims, json!({"sub": "alice", "workspace": workspace}));
    assert!(headers.get("x-user-jwt").is_none(), "{headers}");

    // A header that carries credentials is refused, naming the field.
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"identity_forwarding": {"mode": "claims_header", "header": "Authorization"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("identity_forwarding.header"),
        "{body}"
    );
}
