use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::Permission;

use super::*;
use crate::snapshot::Change;
use crate::testing::{
    invoke_key, key_removed, key_state, server, server_removed, server_state, snapshot,
};

#[test]
fn a_new_store_is_not_ready_until_a_snapshot_is_applied() {
    let (store, mut updater) = ConfigStore::new();
    assert!(!store.load().is_ready());
    let ws = WorkspaceId::new();
    let demo = server("demo", ws, "http://127.0.0.1:1/mcp");
    updater.replace(snapshot(7, &[ws], &[&demo], &[])).unwrap();
    let config = store.load();
    assert!(config.is_ready());
    assert_eq!(config.seq(), 7);
    assert_eq!(store.applied_seq(), 7);
    assert_eq!(config.route_by_slug("demo").unwrap().id(), demo.id);
    assert!(config.workspace(&ws).is_some());
}

#[test]
fn readers_keep_their_version_while_an_update_swaps_in() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    let demo = server("demo", ws, "http://127.0.0.1:1/mcp");
    updater.replace(snapshot(1, &[ws], &[&demo], &[])).unwrap();
    let held = store.load();
    updater.apply([server_removed(2, demo.id)], 2).unwrap();
    assert!(held.route_by_slug("demo").is_some());
    assert!(store.load().route_by_slug("demo").is_none());
}

#[test]
fn a_renamed_slug_moves_and_the_old_one_disappears() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    let mut demo = server("demo", ws, "http://127.0.0.1:1/mcp");
    updater.replace(snapshot(1, &[ws], &[&demo], &[])).unwrap();
    demo.slug = mcpgw_shared::Slug::parse("renamed").unwrap();
    demo.version = 2;
    updater.apply([server_state(2, &demo)], 2).unwrap();
    let config = store.load();
    assert!(config.route_by_slug("demo").is_none());
    assert_eq!(config.route_by_slug("renamed").unwrap().server.version, 2);
}

#[test]
fn stale_and_repeated_states_are_skipped_and_removals_are_not_undone() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    let (_, mut key) = invoke_key(ws);
    updater.replace(snapshot(1, &[ws], &[], &[&key])).unwrap();
    key.revoked = true;
    let set = updater.apply([key_state(5, &key)], 5).unwrap();
    assert!(matches!(
        &set.changes[0],
        Change::ApiKey {
            revoked: true,
            removed: false,
            ..
        }
    ));
    key.revoked = false;
    let set = updater.apply([key_state(4, &key)], 5).unwrap();
    assert!(set.changes.is_empty(), "an older state must not win");
    assert!(store.load().api_key(&key.id).unwrap().revoked);
    updater.apply([key_removed(6, &key.id)], 6).unwrap();
    updater.apply([key_state(5, &key)], 6).unwrap();
    assert!(
        store.load().api_key(&key.id).is_none(),
        "a removal must not be resurrected"
    );
}

#[test]
fn a_bad_batch_changes_nothing() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    let (_, key) = invoke_key(ws);
    updater.replace(snapshot(1, &[ws], &[], &[])).unwrap();
    let mut broken = key_state(3, &key);
    broken.id = "someoneelse".into();
    let err = updater.apply([key_state(2, &key), broken], 3).unwrap_err();
    assert!(matches!(err, ApplyError::Mismatched { .. }), "{err}");
    assert!(store.load().api_key(&key.id).is_none());
    assert_eq!(store.applied_seq(), 1);
}

#[test]
fn an_unsupported_snapshot_format_is_refused() {
    let (_, mut updater) = ConfigStore::new();
    let mut snap = snapshot(1, &[], &[], &[]);
    snap.format = 99;
    assert!(matches!(
        updater.replace(snap),
        Err(ApplyError::UnsupportedFormat(99))
    ));
}

#[tokio::test]
async fn subscribers_see_what_changed_and_the_sequence_advances() {
    let (store, mut updater) = ConfigStore::new();
    let mut changes = store.subscribe();
    let mut seq = store.watch_seq();
    let ws = WorkspaceId::new();
    let mut demo = server("demo", ws, "http://127.0.0.1:1/mcp");
    let (_, key) = crate::testing::key(Some(ws), &[Permission::McpInvoke]);
    updater
        .replace(snapshot(1, &[ws], &[&demo], &[&key]))
        .unwrap();
    let first = changes.recv().await.unwrap();
    assert!(first.replaced);
    assert_eq!(first.changes.len(), 3);

    demo.tools.deny = vec!["secret".into()];
    demo.version = 2;
    updater.apply([server_state(2, &demo)], 2).unwrap();
    let second = changes.recv().await.unwrap();
    assert!(second.changes[0].changes_tools());
    assert!(matches!(
        &second.changes[0],
        Change::Server { how, .. } if !how.connection
    ));

    demo.url = "http://127.0.0.1:2/mcp".into();
    demo.connection_version = 2;
    updater.apply([server_state(3, &demo)], 3).unwrap();
    let third = changes.recv().await.unwrap();
    assert!(matches!(
        &third.changes[0],
        Change::Server { how, .. } if how.connection && !how.tools
    ));

    tokio::time::timeout(std::time::Duration::from_secs(5), seq.wait_for(|s| *s == 3))
        .await
        .expect("the applied sequence reaches 3")
        .unwrap();

    let unchanged = updater
        .replace(snapshot(4, &[ws], &[&demo], &[&key]))
        .unwrap();
    assert!(unchanged.changes.is_empty(), "{unchanged:?}");
    assert_eq!(store.applied_seq(), 4);
}

#[test]
fn every_key_is_held_whatever_its_permissions_and_routes_are_built_once() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    let (_, admin) = crate::testing::key(Some(ws), &[Permission::Admin]);
    let mut authed = server("authed", ws, "http://127.0.0.1:1/mcp?token=x");
    authed.auth = mcpgw_shared::model::UpstreamAuth::Headers {
        headers: [(
            "X-Api-Key".to_owned(),
            mcpgw_shared::Redacted::new("s3cret".to_owned()),
        )]
        .into(),
    };
    updater
        .replace(snapshot(1, &[ws], &[&authed], &[&admin]))
        .unwrap();
    let config = store.load();
    let held = config
        .api_key(&admin.id)
        .expect("a key without mcp.invoke is held");
    assert!(held.permissions.has(Permission::Admin));
    assert!(!held.permissions.has(Permission::McpInvoke));
    let route = config.route_by_slug("authed").unwrap();
    assert_eq!(route.upstream.query(), Some("token=x"));
    assert!(route.auth_headers["x-api-key"].is_sensitive());
}

/// A workspace state at `seq` whose identity provider is the JSON `provider`.
fn workspace_with_provider(
    seq: i64,
    ws: WorkspaceId,
    provider: Option<&str>,
) -> proto::EntityState {
    let mut message = snapshot(seq, &[ws], &[], &[]).workspaces.remove(0);
    message.identity_provider = provider.map(str::to_owned);
    proto::EntityState {
        kind: proto::EntityKind::Workspace as i32,
        id: ws.to_string(),
        seq,
        state: Some(proto::entity_state::State::Workspace(message)),
    }
}

#[test]
fn a_workspace_identity_provider_is_held_with_its_secret_and_goes_when_removed() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    updater.replace(snapshot(1, &[ws], &[], &[])).unwrap();
    assert!(
        store
            .load()
            .workspace(&ws)
            .unwrap()
            .identity_provider
            .is_none()
    );
    let json = r#"{"issuer": "https://idp.example.com", "client_id": "gateway",
        "client_secret": "idp-secret-marker", "allowed_email_domains": ["example.com"],
        "required_claims": {"groups": ["mcp-users"]}}"#;
    updater
        .apply([workspace_with_provider(2, ws, Some(json))], 2)
        .unwrap();
    let config = store.load();
    let provider = config
        .workspace(&ws)
        .unwrap()
        .identity_provider
        .clone()
        .expect("the provider is applied");
    assert_eq!(provider.issuer, "https://idp.example.com");
    assert_eq!(provider.client_id, "gateway");
    assert_eq!(
        provider.client_secret.as_ref().map(|s| s.expose().as_str()),
        Some("idp-secret-marker")
    );
    assert_eq!(provider.scopes, "openid email profile");
    assert_eq!(provider.user_claim, "email");
    assert_eq!(provider.allowed_email_domains, ["example.com"]);
    assert!(!format!("{config:?}").contains("idp-secret-marker"));
    // What the last-known-good file is written from keeps it.
    let saved = config.to_snapshot();
    assert!(
        saved.workspaces[0]
            .identity_provider
            .as_deref()
            .is_some_and(|j| j.contains("idp-secret-marker"))
    );

    updater
        .apply([workspace_with_provider(3, ws, None)], 3)
        .unwrap();
    assert!(
        store
            .load()
            .workspace(&ws)
            .unwrap()
            .identity_provider
            .is_none()
    );
}

#[test]
fn an_unreadable_identity_provider_is_refused_naming_the_field() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    updater.replace(snapshot(1, &[ws], &[], &[])).unwrap();
    let err = updater
        .apply(
            [workspace_with_provider(2, ws, Some(r#"{"issuer": 1}"#))],
            2,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("workspace.identity_provider"),
        "{err}"
    );
    assert_eq!(store.applied_seq(), 1);
}

fn revoked_grant(
    seq: i64,
    workspace: WorkspaceId,
    live_until: chrono::DateTime<chrono::Utc>,
) -> (mcpgw_shared::OAuthGrantId, proto::EntityState) {
    let grant = mcpgw_shared::model::RevokedGrant {
        id: mcpgw_shared::OAuthGrantId::new(),
        workspace_id: workspace,
        live_until,
    };
    (grant.id, crate::testing::revoked_grant_state(seq, &grant))
}

#[test]
fn a_revoked_grant_is_refused_until_its_tokens_expire_and_then_forgotten() {
    let (store, mut updater) = ConfigStore::new();
    let ws = WorkspaceId::new();
    updater.replace(snapshot(1, &[ws], &[], &[])).unwrap();
    let now = chrono::Utc::now();
    let (live, live_state) = revoked_grant(2, ws, now + chrono::TimeDelta::minutes(10));
    let (spent, spent_state) = revoked_grant(3, ws, now - chrono::TimeDelta::seconds(1));
    let set = updater.apply([live_state, spent_state], 3).unwrap();
    assert!(set.changes.contains(&Change::OAuthGrant {
        id: live,
        revoked: true
    }));
    let config = store.load();
    assert!(config.grant_revoked(&live, now));
    assert!(
        !config.grant_revoked(&spent, now),
        "its tokens have all expired"
    );
    assert!(!config.grant_revoked(&mcpgw_shared::OAuthGrantId::new(), now));

    // The next revocation forgets grants whose tokens have all expired; the live one stays,
    // and a pod saving its configuration keeps it.
    let (_, next) = revoked_grant(4, ws, now + chrono::TimeDelta::minutes(10));
    updater.apply([next], 4).unwrap();
    let config = store.load();
    assert!(config.grant_revoked(&live, now));
    let saved = config.to_snapshot();
    assert_eq!(saved.revoked_grants.len(), 2, "{saved:?}");
    assert!(
        saved
            .revoked_grants
            .iter()
            .all(|g| g.id != spent.to_string())
    );
    let (reloaded, mut updater) = ConfigStore::new();
    updater.replace(saved).unwrap();
    assert!(reloaded.load().grant_revoked(&live, now));
}
