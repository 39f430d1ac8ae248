use chrono::{Duration, Utc};
use http::{HeaderMap, HeaderValue};
use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::Permission;

use super::*;
use crate::snapshot::ConfigStore;
use crate::testing::{invoke_key, key, server, snapshot};

fn bearer(text: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {text}")).unwrap(),
    );
    headers
}

#[test]
fn a_valid_key_authenticates_from_either_header() {
    let ws = WorkspaceId::new();
    let (cred, record) = invoke_key(ws);
    let (store, mut up) = ConfigStore::new();
    up.replace(snapshot(1, &[ws], &[], &[&record])).unwrap();
    let config = store.load();
    assert_eq!(
        authenticate(&config, &bearer(&cred.expose()))
            .unwrap()
            .key
            .id,
        record.id
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        API_KEY_HEADER,
        HeaderValue::from_str(&cred.expose()).unwrap(),
    );
    assert!(authenticate(&config, &headers).is_ok());
}

#[test]
fn missing_wrong_revoked_and_expired_keys_are_told_apart_only_where_safe() {
    let ws = WorkspaceId::new();
    let (cred, mut record) = invoke_key(ws);
    let (other, _) = invoke_key(ws);
    let (store, mut up) = ConfigStore::new();
    up.replace(snapshot(1, &[ws], &[], &[&record])).unwrap();
    let config = store.load();
    assert!(matches!(
        authenticate(&config, &HeaderMap::new()),
        Err(GatewayError::MissingCredential)
    ));
    assert!(matches!(
        authenticate(&config, &bearer("nonsense")),
        Err(GatewayError::InvalidCredential)
    ));
    assert!(matches!(
        authenticate(&config, &bearer(&other.expose())),
        Err(GatewayError::InvalidCredential)
    ));
    let wrong_secret = format!("mcpgw_{}_{}", cred.id(), "B".repeat(40));
    assert!(matches!(
        authenticate(&config, &bearer(&wrong_secret)),
        Err(GatewayError::InvalidCredential)
    ));
    let mut basic = HeaderMap::new();
    basic.insert(
        "authorization",
        HeaderValue::from_static("Basic Zm9vOmJhcg=="),
    );
    assert!(matches!(
        authenticate(&config, &basic),
        Err(GatewayError::InvalidCredential)
    ));

    record.revoked = true;
    up.replace(snapshot(2, &[ws], &[], &[&record])).unwrap();
    assert!(matches!(
        authenticate(&store.load(), &bearer(&cred.expose())),
        Err(GatewayError::Revoked)
    ));
    record.revoked = false;
    record.expires_at = Some(Utc::now() - Duration::seconds(1));
    up.replace(snapshot(3, &[ws], &[], &[&record])).unwrap();
    assert!(matches!(
        authenticate(&store.load(), &bearer(&cred.expose())),
        Err(GatewayError::Expired)
    ));
}

#[test]
fn authorization_needs_invoke_a_served_workspace_and_an_enabled_server() {
    let ws = WorkspaceId::new();
    let other_ws = WorkspaceId::new();
    let mut demo = server("demo", ws, "http://127.0.0.1:1/mcp");
    let principal = |record| Principal {
        key: std::sync::Arc::new(record),
    };
    assert!(authorize(&principal(invoke_key(ws).1), &demo).is_ok());
    assert!(authorize(&principal(key(None, &[Permission::McpInvoke]).1), &demo).is_ok());
    assert!(matches!(
        authorize(&principal(key(Some(ws), &[Permission::Admin]).1), &demo),
        Err(GatewayError::MissingPermission)
    ));
    assert!(matches!(
        authorize(&principal(invoke_key(other_ws).1), &demo),
        Err(GatewayError::NotProvisioned(_))
    ));
    demo.provisioned.push(other_ws);
    assert!(authorize(&principal(invoke_key(other_ws).1), &demo).is_ok());
    demo.enabled = false;
    assert!(matches!(
        authorize(&principal(invoke_key(ws).1), &demo),
        Err(GatewayError::ServerDisabled(_))
    ));
}
