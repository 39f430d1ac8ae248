//! The service layer on an in-memory SQLite database: authorization against the state a
//! change is decided on, taken values named, the audit log's hygiene, a server's history and
//! its state at a point, and `Debug` output that never shows a plaintext secret.

use std::collections::BTreeMap;
use std::sync::Arc;

use mcpgw_shared::model::{KeyState, KeyType, Permission, ToolFilter, UpstreamAuth};
use mcpgw_shared::secret::{Keyring, generate_base64_key};
use mcpgw_shared::{SecretCipher, WorkspaceId};
use serde_json::json;

use super::*;
use crate::domain::DomainError;
use crate::store::{ServerRow, Taken};

const SECRET: &str = "header-secret-marker-1";
const ROTATED: &str = "header-secret-marker-2";

pub(crate) async fn service() -> Service {
    let cipher = SecretCipher::new(Keyring::from_base64_key(&generate_base64_key()).unwrap());
    Service::new(Database::in_memory().await, cipher, Arc::new(Notify::new()))
}

fn headers(value: &str) -> UpstreamAuth<String> {
    UpstreamAuth::Headers {
        headers: BTreeMap::from([("X-Api-Key".to_owned(), value.to_owned())]),
    }
}

pub(super) fn server_input(workspace: &WorkspaceId, slug: &str) -> RegisterServerInput {
    RegisterServerInput {
        workspace_id: workspace.to_string(),
        slug: slug.into(),
        name: "Server".into(),
        description: String::new(),
        url: "https://mcp.example.com/mcp".into(),
        auth: headers(SECRET),
        tools: ToolFilter::default(),
        enabled: true,
        request_logging: Default::default(),
        rate_limits: Vec::new(),
        virtual_server: None,
        identity_forwarding: Default::default(),
        jwt_validation: None,
        provisioned_workspaces: vec![],
    }
}

fn invoke_key(workspace: &WorkspaceId) -> IssueApiKeyInput {
    IssueApiKeyInput {
        workspace_id: Some(workspace.to_string()),
        name: "k".into(),
        key_type: KeyType::Service,
        user_id: None,
        permissions: vec![Permission::McpInvoke],
        expires_at: None,
    }
}

pub(super) fn data_plane() -> RegisterDataPlaneInput {
    RegisterDataPlaneInput {
        name: "edge".into(),
        workspaces: None,
    }
}

pub(super) fn admin_of(workspace: WorkspaceId) -> Caller {
    Caller::Admin(Admin {
        key_id: mcpgw_shared::ApiKeyId::generate(),
        scope: AdminScope::Workspace(workspace),
    })
}

pub(super) async fn workspace(service: &Service, name: &str) -> WorkspaceId {
    service
        .create_workspace(&Caller::System, name)
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn a_taken_slug_or_name_is_named_with_its_value_and_records_nothing() {
    let service = service().await;
    let ws = workspace(&service, "alpha").await;
    service
        .register_server(&Caller::System, server_input(&ws, "github"))
        .await
        .unwrap();
    let head = service.head().await.unwrap();
    let err = service
        .register_server(&Caller::System, server_input(&ws, "github"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Taken(Taken::ServerSlug(slug)) if slug.as_str() == "github"),
        "{err:?}"
    );
    let err = service
        .create_workspace(&Caller::System, "alpha")
        .await
        .unwrap_err();
    assert!(matches!(&err, ServiceError::Taken(Taken::WorkspaceName(name)) if name == "alpha"));
    assert_eq!(
        service.head().await.unwrap(),
        head,
        "refused changes use no sequence"
    );
}

#[tokio::test]
async fn a_workspace_admin_cannot_withdraw_a_workspace_it_does_not_manage() {
    let service = service().await;
    let home = workspace(&service, "home").await;
    let other = workspace(&service, "other").await;
    let server = service
        .register_server(&Caller::System, server_input(&home, "shared"))
        .await
        .unwrap();
    // A global admin provisions the server to a workspace the home admin does not manage.
    let provision = |list: Vec<String>| UpdateServerInput {
        provisioned_workspaces: Some(list),
        ..UpdateServerInput::default()
    };
    service
        .update_server(
            &Caller::System,
            &server.id,
            provision(vec![other.to_string()]),
            None,
        )
        .await
        .unwrap();
    let err = service
        .update_server(&admin_of(home), &server.id, provision(vec![]), None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServiceError::Forbidden(Forbidden::OutsideWorkspace { .. })
    ));
    let after = service.server(&Caller::System, &server.id).await.unwrap();
    assert_eq!(after.provisioned, vec![other]);
}

#[tokio::test]
async fn another_workspaces_admin_does_not_see_the_server_at_all() {
    let service = service().await;
    let home = workspace(&service, "home").await;
    let other = workspace(&service, "other").await;
    let server = service
        .register_server(&Caller::System, server_input(&home, "mine"))
        .await
        .unwrap();
    let rename = UpdateServerInput {
        name: Some("stolen".into()),
        ..UpdateServerInput::default()
    };
    for err in [
        service
            .update_server(&admin_of(other), &server.id, rename, None)
            .await
            .unwrap_err(),
        service
            .delete_server(&admin_of(other), &server.id, None)
            .await
            .unwrap_err(),
        service
            .server_history(&admin_of(other), &server.id)
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                ServiceError::Domain(crate::domain::DomainError::NotFound { .. })
            ),
            "{err:?}"
        );
    }
}

/// A server with five versions: registered, renamed, auth rotated, tools changed, disabled.
async fn five_versions(service: &Service, ws: &WorkspaceId) -> (ServerRow, Vec<i64>) {
    let server = service
        .register_server(&Caller::System, server_input(ws, "history"))
        .await
        .unwrap();
    let changes = [
        UpdateServerInput {
            name: Some("Renamed".into()),
            ..UpdateServerInput::default()
        },
        UpdateServerInput {
            auth: Some(headers(ROTATED)),
            ..UpdateServerInput::default()
        },
        UpdateServerInput {
            tools: Some(ToolFilter {
                allow: None,
                deny: vec!["rm".into()],
                ..ToolFilter::default()
            }),
            ..UpdateServerInput::default()
        },
        UpdateServerInput {
            enabled: Some(false),
            ..UpdateServerInput::default()
        },
    ];
    let mut seqs = vec![service.head().await.unwrap()];
    for change in changes {
        service
            .update_server(&Caller::System, &server.id, change, None)
            .await
            .unwrap();
        seqs.push(service.head().await.unwrap());
    }
    (server, seqs)
}

#[tokio::test]
async fn the_history_lists_every_version_with_what_changed_and_never_a_secret() {
    let service = service().await;
    let ws = workspace(&service, "w").await;
    let (server, _) = five_versions(&service, &ws).await;
    let history = service
        .server_history(&Caller::System, &server.id)
        .await
        .unwrap();
    let kinds: Vec<_> = history.iter().map(|v| v.change).collect();
    assert_eq!(
        kinds,
        [
            "ServerRegistered",
            "ServerDetailsChanged",
            "ServerAuthChanged",
            "ServerToolsChanged",
            "ServerEnabledChanged"
        ]
    );
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let renamed = &history[1].changes;
    assert_eq!(renamed.len(), 1);
    assert_eq!(
        (&renamed[0].field[..], &renamed[0].before, &renamed[0].after),
        ("name", &json!("Server"), &json!("Renamed"))
    );
    let auth = &history[2].changes;
    assert_eq!(auth[0].field, "auth");
    assert_eq!(auth[0].after["headers"]["X-Api-Key"], json!({"set": true}));
    let disabled = &history[4].changes[0];
    assert_eq!(
        (&disabled.before, &disabled.after),
        (&json!(true), &json!(false))
    );
    let text = format!("{history:?}");
    assert!(!text.contains(SECRET) && !text.contains(ROTATED));
    assert!(!text.contains("\"ct\""), "no ciphertext either: {text}");
}

#[tokio::test]
async fn a_server_as_of_a_sequence_or_a_time_is_the_state_it_had_then() {
    let service = service().await;
    let ws = workspace(&service, "w").await;
    let (server, seqs) = five_versions(&service, &ws).await;
    let at = |seq| service.server_at(&Caller::System, &server.id, ServerAt::Seq(seq));
    let registered = at(seqs[0]).await.unwrap();
    assert_eq!(
        (registered.name.as_str(), registered.version),
        ("Server", 1)
    );
    let renamed = at(seqs[1]).await.unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.connection_version),
        ("Renamed", 1)
    );
    let rotated = at(seqs[2]).await.unwrap();
    assert_eq!(
        rotated.connection_version, 2,
        "an auth change is a connection change"
    );
    let now = service.server(&Caller::System, &server.id).await.unwrap();
    let last = at(seqs[4]).await.unwrap();
    assert_eq!(last, now, "the fold at the head equals the read model");
    let by_time = service
        .server_at(&Caller::System, &server.id, ServerAt::Time(now.updated_at))
        .await
        .unwrap();
    assert_eq!(by_time, now);
    assert!(
        at(seqs[0] - 1).await.is_err(),
        "before registration: not found"
    );
}

#[tokio::test]
async fn the_audit_log_shows_no_hash_and_no_secret() {
    let service = service().await;
    let ws = workspace(&service, "w").await;
    service
        .register_server(&Caller::System, server_input(&ws, "audited"))
        .await
        .unwrap();
    service
        .issue_api_key(&Caller::System, invoke_key(&ws))
        .await
        .unwrap();
    service
        .register_data_plane(&Caller::System, data_plane())
        .await
        .unwrap();
    let (entries, _) = service.audit_log(&Caller::System, 0, 100).await.unwrap();
    let text = serde_json::to_string(&entries.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    for hidden in ["secret_hash", "token_hash", SECRET, "\"ct\""] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
    assert!(text.contains(r#""X-Api-Key":{"set":true}"#), "{text}");
}

#[tokio::test]
async fn a_workspace_admin_sees_only_the_fields_of_its_own_servers_events() {
    let service = service().await;
    let home = workspace(&service, "home").await;
    let guest = workspace(&service, "guest").await;
    let third = workspace(&service, "third").await;
    let mut input = server_input(&home, "provider");
    input.provisioned_workspaces = vec![guest.to_string(), third.to_string()];
    service
        .register_server(&Caller::System, input)
        .await
        .unwrap();
    let (entries, _) = service.audit_log(&admin_of(guest), 0, 100).await.unwrap();
    let server_events: Vec<_> = entries
        .iter()
        .filter(|e| e.event_type.starts_with("Server"))
        .collect();
    assert!(
        !server_events.is_empty(),
        "the guest learns the server changed"
    );
    for entry in server_events {
        assert_eq!(entry.data, json!({}), "{entry:?}");
        assert_eq!(entry.workspaces, vec![guest.into()], "{entry:?}");
    }
    let text = format!("{entries:?}");
    assert!(!text.contains("mcp.example.com") && !text.contains(&home.to_string()));
    assert!(!text.contains(&third.to_string()));

    let (own, _) = service.audit_log(&admin_of(home), 0, 100).await.unwrap();
    let registered = own
        .iter()
        .find(|e| e.event_type == "ServerRegistered")
        .unwrap();
    assert_eq!(registered.data["url"], "https://mcp.example.com/mcp");
}

#[tokio::test]
async fn debug_output_of_inputs_and_results_never_shows_a_plaintext_secret() {
    let service = service().await;
    let ws = workspace(&service, "w").await;
    let input = server_input(&ws, "debugged");
    assert!(!format!("{input:?}").contains(SECRET));
    let update = UpdateServerInput {
        auth: Some(headers(SECRET)),
        ..UpdateServerInput::default()
    };
    assert!(!format!("{update:?}").contains(SECRET));
    let issued = service
        .issue_api_key(&Caller::System, invoke_key(&ws))
        .await
        .unwrap();
    let secret_part = issued.key.rsplit('_').next().unwrap().to_owned();
    assert!(!format!("{issued:?}").contains(&secret_part));
    let registered = service
        .register_data_plane(&Caller::System, data_plane())
        .await
        .unwrap();
    let token_secret = registered
        .token
        .token
        .rsplit('_')
        .next()
        .unwrap()
        .to_owned();
    assert!(!format!("{registered:?}").contains(&token_secret));
}

#[tokio::test]
async fn a_rotated_token_overlaps_then_only_the_new_one_works() {
    let service = service().await;
    let registered = service
        .register_data_plane(&Caller::System, data_plane())
        .await
        .unwrap();
    let id = registered.status.row.id;
    let first = registered.token.token;
    let works = |token: String| {
        let service = service.clone();
        async move { service.authenticate_data_plane(&token).await.is_ok() }
    };
    let overlapping = service
        .rotate_data_plane_token(
            &Caller::System,
            id,
            RotateTokenInput {
                overlap_seconds: Some(3600),
            },
        )
        .await
        .unwrap();
    assert!(works(first.clone()).await && works(overlapping.token.clone()).await);
    let immediate = service
        .rotate_data_plane_token(
            &Caller::System,
            id,
            RotateTokenInput {
                overlap_seconds: Some(0),
            },
        )
        .await
        .unwrap();
    assert!(
        !works(first).await,
        "an overlap of 0 retires the earlier tokens at once"
    );
    assert!(!works(overlapping.token).await);
    assert!(works(immediate.token.clone()).await);
    let status = service
        .revoke_data_plane(
            &Caller::System,
            id,
            RevokeDataPlaneInput {
                token_id: Some(immediate.token_id.to_string()),
            },
        )
        .await
        .unwrap();
    assert!(!works(immediate.token).await);
    assert_eq!(status.tokens.len(), 3);
    assert!(
        status
            .tokens
            .iter()
            .all(|t| t.state(chrono::Utc::now()) != KeyState::Active)
    );
    let too_long = service
        .rotate_data_plane_token(
            &Caller::System,
            id,
            RotateTokenInput {
                overlap_seconds: Some(604_801),
            },
        )
        .await;
    assert!(matches!(
        too_long,
        Err(ServiceError::Domain(DomainError::Invalid { .. }))
    ));
}

#[tokio::test]
async fn a_deleted_data_plane_is_gone_with_its_tokens_and_instances() {
    let service = service().await;
    let registered = service
        .register_data_plane(&Caller::System, data_plane())
        .await
        .unwrap();
    let row = service
        .authenticate_data_plane(&registered.token.token)
        .await
        .unwrap();
    for instance in 0..(MAX_INSTANCES_PER_DATA_PLANE + 8) {
        let seen = chrono::Utc::now() + chrono::Duration::seconds(instance as i64);
        service
            .record_instance_status(
                &row,
                &InstanceReport {
                    instance_id: format!("pod-{instance:02}"),
                    version: "0.1.0".into(),
                    applied_seq: 1,
                    healthy: true,
                    uptime_seconds: 60,
                },
                seen,
            )
            .await
            .unwrap();
    }
    let status = service.data_plane(&Caller::System, row.id).await.unwrap();
    assert_eq!(status.instances.len(), MAX_INSTANCES_PER_DATA_PLANE);
    assert!(
        status
            .instances
            .iter()
            .all(|i| i.instance_id.as_str() >= "pod-08"),
        "the most recently seen instances are kept"
    );
    service
        .delete_data_plane(&Caller::System, row.id)
        .await
        .unwrap();
    assert!(
        service
            .authenticate_data_plane(&registered.token.token)
            .await
            .is_err()
    );
    assert!(
        service
            .data_planes(&Caller::System)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        service.delete_data_plane(&Caller::System, row.id).await,
        Err(ServiceError::Domain(DomainError::NotFound { .. }))
    ));
}
