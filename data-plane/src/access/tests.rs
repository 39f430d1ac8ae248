//! Tests of `access`: the one rule, as admission and enforcement both apply it.

use chrono::Duration;
use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::{KeyType, Permission};

use super::*;
use crate::snapshot::{Permissions, Route};
use crate::testing::server;

fn key(workspace: Option<WorkspaceId>, permissions: &[Permission]) -> KeyRecord {
    KeyRecord {
        secret_hash: [0; 32],
        workspace,
        user: None,
        expires_at: None,
        permissions: permissions.iter().copied().collect::<Permissions>(),
        key_type: KeyType::Service,
        revoked: false,
    }
}

#[test]
fn a_usable_invoke_key_of_a_served_workspace_may_use_an_enabled_server() {
    let ws = WorkspaceId::new();
    let other = WorkspaceId::new();
    let now = Utc::now();
    let mut demo = server("demo", ws, "http://127.0.0.1:1/mcp");
    let route = |s: &mcpgw_shared::model::ServerConfig| Route::build(s.clone()).unwrap();
    let invoke = key(Some(ws), &[Permission::McpInvoke]);
    assert_eq!(check(&invoke, &route(&demo), now), Ok(()));
    assert_eq!(
        check(&key(Some(ws), &[Permission::Admin]), &route(&demo), now),
        Err(Denial::MissingPermission(Permission::McpInvoke))
    );
    assert_eq!(
        check(&key(None, &[Permission::McpInvoke]), &route(&demo), now),
        Err(Denial::NotProvisioned),
        "a key of no workspace reaches no server"
    );
    let guest = key(Some(other), &[Permission::McpInvoke]);
    assert_eq!(
        check(&guest, &route(&demo), now),
        Err(Denial::NotProvisioned)
    );
    demo.provisioned.push(other);
    assert_eq!(check(&guest, &route(&demo), now), Ok(()));
    demo.enabled = false;
    assert_eq!(check(&invoke, &route(&demo), now), Err(Denial::Disabled));
}

#[test]
fn revoked_and_expired_keys_are_refused_before_anything_else() {
    let ws = WorkspaceId::new();
    let now = Utc::now();
    let demo = Route::build(server("demo", ws, "http://127.0.0.1:1/mcp")).unwrap();
    let mut revoked = key(Some(ws), &[]);
    revoked.revoked = true;
    assert_eq!(check(&revoked, &demo, now), Err(Denial::Revoked));
    let mut expired = key(Some(ws), &[Permission::McpInvoke]);
    expired.expires_at = Some(now - Duration::seconds(1));
    assert_eq!(check(&expired, &demo, now), Err(Denial::Expired));
    assert_eq!(key_usable(&expired, now - Duration::seconds(2)), Ok(()));
}

#[test]
fn a_server_that_signs_each_user_in_refuses_service_keys() {
    let ws = WorkspaceId::new();
    let now = Utc::now();
    let mut per_user = server("per-user", ws, "http://127.0.0.1:1/mcp");
    per_user.auth = mcpgw_shared::model::UpstreamAuth::Oauth2 {
        oauth_metadata: None,
    };
    let route = Route::build(per_user).unwrap();
    let service = key(Some(ws), &[Permission::McpInvoke]);
    assert_eq!(check(&service, &route, now), Err(Denial::UserRequired));
    let user = KeyRecord {
        key_type: KeyType::User,
        user: Some("ada@example.com".into()),
        ..service
    };
    assert_eq!(check(&user, &route, now), Ok(()));
}
