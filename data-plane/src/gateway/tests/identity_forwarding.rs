//! Identity forwarding: the upstream is told who calls in a header the gateway writes, and
//! never gets the client's own credential.

use mcpgw_shared::model::{IdentityForwarding, KeyType};
use serde_json::{Value, json};

use super::http::{call, initialize, post, send, setup_with_server};
use crate::testing::harness::Harness;
use crate::testing::invoke_key;

/// A user key of the harness workspace for `user`: the key text.
fn user_key(gw: &mut Harness, user: &str) -> String {
    let (credential, mut record) = invoke_key(gw.workspace);
    record.key_type = KeyType::User;
    record.user_id = Some(user.into());
    gw.put_key(&record);
    credential.expose()
}

/// What the echo upstream saw of a `tools/call` made in a session of `key`, with the client
/// also sending `extra` headers.
async fn seen_by_upstream(gw: &Harness, key: &str, extra: &[(&str, &str)]) -> Value {
    let session = initialize(gw, key, "2025-11-25").await;
    let mut request = post(&gw.url("echo"), key, call(1, "echo"))
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let answer = send(request).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        !answer.text.contains(key),
        "the key never crosses: {}",
        answer.text
    );
    answer.json()["result"]["headers"].clone()
}

fn claims_header() -> IdentityForwarding {
    IdentityForwarding::ClaimsHeader {
        header: IdentityForwarding::CLAIMS_HEADER.into(),
    }
}

#[tokio::test]
async fn claims_header_mode_tells_the_upstream_the_user_and_never_the_clients_credential() {
    crate::testing::within(async {
        let (mut gw, _) = setup_with_server(|s| s.identity_forwarding = claims_header()).await;
        let key = user_key(&mut gw, "alice");
        let forged = r#"{"sub":"mallory"}"#;
        let headers = seen_by_upstream(&gw, &key, &[("x-mcpgw-user", forged)]).await;
        let claims: Value =
            serde_json::from_str(headers["x-mcpgw-user"].as_str().expect("the header")).unwrap();
        assert_eq!(
            claims,
            json!({"sub": "alice", "workspace": gw.workspace.to_string()})
        );
        assert!(headers.get("authorization").is_none(), "{headers}");
        assert!(headers.get("x-mcpgw-api-key").is_none(), "{headers}");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_service_key_is_named_by_its_id_as_a_service() {
    crate::testing::within(async {
        let (gw, key) = setup_with_server(|s| s.identity_forwarding = claims_header()).await;
        let headers = seen_by_upstream(&gw, &key, &[]).await;
        let claims: Value =
            serde_json::from_str(headers["x-mcpgw-user"].as_str().unwrap()).unwrap();
        let key_id = key.split('_').nth(1).unwrap();
        assert_eq!(claims["sub"], key_id, "{claims}");
        assert_eq!(claims["kind"], "service");
        assert_eq!(claims["workspace"], gw.workspace.to_string());
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn without_an_assertion_a_users_request_is_refused_and_a_service_key_goes_without() {
    crate::testing::within(async {
        // The harness has no control plane to sign assertions.
        let (mut gw, service_key) = setup_with_server(|s| {
            s.identity_forwarding = IdentityForwarding::Jwt {
                header: "X-User-JWT".into(),
                ttl_seconds: 300,
            }
        })
        .await;
        let key = user_key(&mut gw, "alice");
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
        let answer = send(post(&gw.url("echo"), &key, init)).await;
        let json = answer.assert_error(502, "identity_forwarding_failed");
        assert!(json.to_string().contains("`echo`"), "{json}");
        let headers = seen_by_upstream(&gw, &service_key, &[]).await;
        assert!(headers.get("x-user-jwt").is_none(), "{headers}");
        gw.stop().await;
    })
    .await;
}
