//! A workspace's identity provider through the service: its client secret sealed in the event
//! log and the read model, never in an answer or the audit log, kept or dropped by an update
//! without one, and opened for data planes.

use mcpgw_shared::model::{IdentityProvider, JwtValidation};
use serde_json::json;

use super::*;
use crate::application::tests::{data_plane, service, workspace};
use crate::application::{Caller, SyncState};

const IDP_SECRET: &str = "idp-secret-marker-1";

fn provider(value: serde_json::Value) -> IdentityProvider<String> {
    serde_json::from_value(value).unwrap()
}

fn set(identity_provider: Option<IdentityProvider<String>>) -> WorkspaceChanges {
    WorkspaceChanges {
        identity_provider: Some(identity_provider),
        ..WorkspaceChanges::default()
    }
}

fn with_secret() -> IdentityProvider<String> {
    provider(json!({
        "issuer": "https://idp.example.com",
        "client_id": "gateway",
        "client_secret": IDP_SECRET,
        "allowed_email_domains": ["example.com"],
        "required_claims": {"groups": ["mcp-users"]},
    }))
}

/// Every stored payload and read-model row of the workspace, as the database holds them.
async fn stored_text(service: &Service, id: &WorkspaceId) -> String {
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM events WHERE stream_id = $1")
            .bind(id.stream().to_string())
            .fetch_all(service.db.pool())
            .await
            .unwrap();
    let row: Option<String> =
        sqlx::query_scalar("SELECT identity_provider FROM workspaces WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(service.db.pool())
            .await
            .unwrap();
    format!("{}\n{}", payloads.join("\n"), row.unwrap_or_default())
}

#[tokio::test]
async fn the_client_secret_is_sealed_where_it_is_stored_and_opened_only_for_data_planes() {
    let service = service().await;
    let ws = workspace(&service, "team").await;
    let row = service
        .update_workspace(&Caller::System, &ws, set(Some(with_secret())), None)
        .await
        .unwrap();
    let stored = row
        .identity_provider
        .clone()
        .expect("the provider is stored");
    assert!(stored.client_secret.is_some());
    assert!(!format!("{row:?}").contains(IDP_SECRET));

    let text = stored_text(&service, &ws).await;
    assert!(!text.contains(IDP_SECRET), "{text}");
    assert!(text.contains(r#""ct":"#), "sealed: {text}");
    let events = service.db.load_stream(&ws.stream()).await.unwrap();
    let changed = events
        .iter()
        .find(|e| e.event.event_type() == "WorkspaceIdentityProviderChanged")
        .expect("the change is recorded");
    assert_eq!(changed.event.schema_version(), 1);

    let (entries, _) = service.audit_log(&Caller::System, 0, 100).await.unwrap();
    let audit =
        serde_json::to_string(&entries.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(
        !audit.contains(IDP_SECRET) && !audit.contains("\"ct\""),
        "{audit}"
    );
    assert!(audit.contains(r#""client_secret_set":true"#), "{audit}");

    let registered = service
        .register_data_plane(&Caller::System, data_plane())
        .await
        .unwrap();
    let snapshot = service.sync_snapshot(&registered.status.row).await.unwrap();
    let in_snapshot = snapshot
        .workspaces
        .iter()
        .find(|w| w.id == ws)
        .and_then(|w| w.identity_provider.clone())
        .expect("data planes get the provider");
    assert_eq!(
        in_snapshot
            .client_secret
            .as_ref()
            .map(|s| s.expose().as_str()),
        Some(IDP_SECRET)
    );
    let entity = service
        .sync_entity(&registered.status.row, ws.stream())
        .await
        .unwrap();
    let SyncState::Workspace(changed) = entity.state else {
        panic!("a workspace: {:?}", entity.state)
    };
    assert_eq!(changed.identity_provider, Some(in_snapshot));
}

#[tokio::test]
async fn an_update_without_a_secret_keeps_it_for_the_same_client_and_null_removes_the_provider() {
    let service = service().await;
    let ws = workspace(&service, "team").await;
    service
        .update_workspace(&Caller::System, &ws, set(Some(with_secret())), None)
        .await
        .unwrap();
    let mut narrower = with_secret();
    narrower.client_secret = None;
    narrower.scopes = "openid email".into();
    let row = service
        .update_workspace(&Caller::System, &ws, set(Some(narrower.clone())), None)
        .await
        .unwrap();
    let kept = row.identity_provider.unwrap();
    assert_eq!(kept.scopes, "openid email");
    assert!(
        kept.client_secret.is_some(),
        "the same client keeps its secret"
    );

    narrower.client_id = "another-client".into();
    let row = service
        .update_workspace(&Caller::System, &ws, set(Some(narrower)), None)
        .await
        .unwrap();
    assert!(row.identity_provider.unwrap().client_secret.is_none());

    let row = service
        .update_workspace(&Caller::System, &ws, set(None), None)
        .await
        .unwrap();
    assert!(row.identity_provider.is_none());
}

#[tokio::test]
async fn an_empty_secret_or_an_invalid_provider_is_refused_naming_the_field() {
    let service = service().await;
    let ws = workspace(&service, "team").await;
    let mut empty_secret = with_secret();
    empty_secret.client_secret = Some(String::new());
    let mut plain_http = with_secret();
    plain_http.issuer = "http://idp.example.com".into();
    for (bad, field) in [
        (empty_secret, "identity_provider.client_secret"),
        (plain_http, "identity_provider.issuer"),
    ] {
        let err = service
            .update_workspace(&Caller::System, &ws, set(Some(bad)), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ServiceError::Domain(DomainError::Invalid { field: got, .. }) if got == field),
            "{err:?}"
        );
    }
}

const INTROSPECTION_SECRET: &str = "introspection-secret-marker-1";

#[tokio::test]
async fn the_introspection_secret_is_sealed_where_it_is_stored_and_opened_only_for_data_planes() {
    let service = service().await;
    let ws = workspace(&service, "team").await;
    let rules: JwtValidation<String> = serde_json::from_value(json!({
        "issuer": "https://idp.example.com",
        "introspection": {
            "endpoint": "https://idp.example.com/introspect",
            "client_id": "gateway",
            "client_secret": INTROSPECTION_SECRET
        },
        "permissions": {"mcp.invoke": {"groups": "mcp-users"}}
    }))
    .unwrap();
    let changes = WorkspaceChanges {
        jwt_validation: Some(Some(rules)),
        ..WorkspaceChanges::default()
    };
    let row = service
        .update_workspace(&Caller::System, &ws, changes, None)
        .await
        .unwrap();
    let stored = row.jwt_validation.clone().expect("the rules are stored");
    assert!(!format!("{row:?}").contains(INTROSPECTION_SECRET));
    assert_eq!(
        stored.shown()["introspection"]["client_secret_set"],
        json!(true)
    );
    let events = service.db.load_stream(&ws.stream()).await.unwrap();
    let recorded = serde_json::to_string(&events.last().unwrap().event.payload()).unwrap();
    assert!(!recorded.contains(INTROSPECTION_SECRET), "{recorded}");

    let (entries, _) = service.audit_log(&Caller::System, 0, 100).await.unwrap();
    let audit =
        serde_json::to_string(&entries.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(
        !audit.contains(INTROSPECTION_SECRET) && !audit.contains("\"ct\""),
        "{audit}"
    );
    assert!(audit.contains(r#""client_secret_set":true"#), "{audit}");

    // An update without the secret keeps it.
    let without: JwtValidation<String> = serde_json::from_value(json!({
        "issuer": "https://idp.example.com",
        "introspection": {
            "endpoint": "https://idp.example.com/introspect",
            "client_id": "gateway"
        },
        "audiences": ["https://api.example.com"]
    }))
    .unwrap();
    let changes = WorkspaceChanges {
        jwt_validation: Some(Some(without)),
        ..WorkspaceChanges::default()
    };
    service
        .update_workspace(&Caller::System, &ws, changes, None)
        .await
        .unwrap();

    let registered = service
        .register_data_plane(&Caller::System, data_plane())
        .await
        .unwrap();
    let snapshot = service.sync_snapshot(&registered.status.row).await.unwrap();
    let rules = snapshot
        .workspaces
        .iter()
        .find(|w| w.id == ws)
        .and_then(|w| w.jwt_validation.clone())
        .expect("data planes get the rules");
    assert_eq!(rules.audiences, ["https://api.example.com"]);
    assert_eq!(
        rules
            .introspection
            .and_then(|i| i.client_secret)
            .map(|s| s.expose().clone())
            .as_deref(),
        Some(INTROSPECTION_SECRET)
    );
}
