use chrono::{Duration, Utc};
use http::{HeaderMap, HeaderValue};
use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::Permission;

use super::*;
use crate::snapshot::ConfigStore;
use crate::testing::{invoke_key, key, snapshot};

fn authenticate(config: &Config, headers: &HeaderMap) -> Result<Principal, CredentialError> {
    super::authenticate(config, headers, Utc::now())
}

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
            .key_id,
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
        Err(CredentialError::Missing)
    ));
    assert!(matches!(
        authenticate(&config, &bearer("nonsense")),
        Err(CredentialError::Invalid)
    ));
    assert!(matches!(
        authenticate(&config, &bearer(&other.expose())),
        Err(CredentialError::Invalid)
    ));
    let wrong_secret = format!("mcpgw_{}_{}", cred.id(), "B".repeat(40));
    assert!(matches!(
        authenticate(&config, &bearer(&wrong_secret)),
        Err(CredentialError::Invalid)
    ));
    let mut basic = HeaderMap::new();
    basic.insert(
        "authorization",
        HeaderValue::from_static("Basic Zm9vOmJhcg=="),
    );
    assert!(matches!(
        authenticate(&config, &basic),
        Err(CredentialError::Invalid)
    ));

    record.revoked = true;
    up.replace(snapshot(2, &[ws], &[], &[&record])).unwrap();
    assert!(matches!(
        authenticate(&store.load(), &bearer(&cred.expose())),
        Err(CredentialError::Revoked)
    ));
    record.revoked = false;
    record.expires_at = Some(Utc::now() - Duration::seconds(1));
    up.replace(snapshot(3, &[ws], &[], &[&record])).unwrap();
    assert!(matches!(
        authenticate(&store.load(), &bearer(&cred.expose())),
        Err(CredentialError::Expired)
    ));
}

#[test]
fn a_known_key_without_invoke_authenticates_and_sessions_name_workspace_and_key() {
    let ws = WorkspaceId::new();
    let (cred, admin) = key(Some(ws), &[Permission::Admin]);
    let (store, mut up) = ConfigStore::new();
    up.replace(snapshot(1, &[ws], &[], &[&admin])).unwrap();
    let principal = authenticate(&store.load(), &bearer(&cred.expose())).unwrap();
    assert!(!principal.key.permissions.has(Permission::McpInvoke));
    assert_eq!(
        principal.session_key(),
        format!("k:{ws}:{}", cred.id()),
        "a service key's sessions are bound to its workspace and id"
    );
}

#[test]
fn an_expired_bearer_token_is_refused_as_a_token_and_an_expired_key_as_a_key() {
    let ws = WorkspaceId::new();
    let (cred, record) = invoke_key(ws);
    let (store, mut up) = ConfigStore::new();
    up.replace(snapshot(1, &[ws], &[], &[&record])).unwrap();
    let mut principal = authenticate(&store.load(), &bearer(&cred.expose())).unwrap();
    assert!(matches!(
        principal.refusal(CredentialError::Expired),
        GatewayError::Expired
    ));
    principal.external = true;
    let GatewayError::InvalidToken(why) = principal.refusal(CredentialError::Expired) else {
        panic!("an external token is an invalid token")
    };
    assert!(why.contains("identity provider"), "{why}");
    principal.grant = Some(mcpgw_shared::OAuthGrantId::new());
    let GatewayError::InvalidToken(why) = principal.refusal(CredentialError::Expired) else {
        panic!("the gateway's token is an invalid token")
    };
    assert!(why.contains("refresh it"), "{why}");
    assert!(matches!(
        principal.refusal(CredentialError::Revoked),
        GatewayError::Revoked
    ));
}
