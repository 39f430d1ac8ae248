//! Tests of `events`.

use std::collections::BTreeMap;

use chrono::Utc;
use mcpgw_shared::model::{KeyType, Permission, ToolFilter, UpstreamAuth};
use mcpgw_shared::{
    ApiKeyId, ConnectionId, DataPlaneId, OAuthClientId, OAuthGrantId, SealedSecret, ServerId,
    SigningKeyId, Slug, WorkspaceId,
};

use super::*;
use crate::domain::oauth_client::{Registration, TokenEndpointAuthMethod};
use crate::domain::oauth_grant::{IssuedGrant, RefreshIssued};

/// One event of every type, with the stream it belongs to.
fn every_event() -> Vec<(StreamId, DomainEvent)> {
    let workspace = WorkspaceId::new();
    let server = ServerId::new().stream();
    let key = ApiKeyId::generate().stream();
    let data_plane = DataPlaneId::new().stream();
    let server_events = [
        ServerEvent::Registered {
            workspace_id: workspace,
            slug: Slug::parse("s1").unwrap(),
            name: "n".into(),
            description: String::new(),
            url: "https://x/mcp".into(),
            auth: UpstreamAuth::Headers {
                headers: BTreeMap::new(),
            },
            tools: ToolFilter::default(),
            enabled: true,
            request_logging: Default::default(),
            rate_limits: Vec::new(),
            virtual_server: None,
            identity_forwarding: Default::default(),
        },
        ServerEvent::DetailsChanged {
            name: "n".into(),
            description: "d".into(),
        },
        ServerEvent::UpstreamChanged {
            url: "https://y/mcp".into(),
        },
        ServerEvent::AuthChanged {
            auth: UpstreamAuth::None,
        },
        ServerEvent::ToolsChanged {
            tools: ToolFilter::default(),
        },
        ServerEvent::EnabledChanged { enabled: false },
        ServerEvent::JwtValidationChanged {
            jwt_validation: None,
        },
        ServerEvent::Provisioned {
            workspace_id: workspace,
        },
        ServerEvent::Deprovisioned {
            workspace_id: workspace,
        },
        ServerEvent::Deleted,
    ];
    let mut events: Vec<(StreamId, DomainEvent)> = vec![
        (
            workspace.stream(),
            WorkspaceEvent::Created { name: "w".into() }.into(),
        ),
        (
            workspace.stream(),
            WorkspaceEvent::Renamed { name: "v".into() }.into(),
        ),
        (
            key.clone(),
            ApiKeyEvent::Issued {
                workspace_id: Some(workspace),
                name: "k".into(),
                key_type: KeyType::User,
                user_id: Some("alice".into()),
                permissions: vec![Permission::McpInvoke],
                expires_at: Some(Utc::now()),
                secret_hash: [7; 32],
            }
            .into(),
        ),
        (key, ApiKeyEvent::Revoked.into()),
        (
            data_plane,
            DataPlaneEvent::Registered {
                name: "edge".into(),
                workspaces: Some(vec![workspace]),
                token_id: ApiKeyId::generate(),
                token_hash: [9; 32],
                nats_user: Some("UABC".into()),
            }
            .into(),
        ),
    ];
    events.extend(server_events.map(|e| (server.clone(), e.into())));
    events.push((
        workspace.stream(),
        WorkspaceEvent::ToolsChanged {
            tools: ToolFilter {
                deny: vec!["*_delete".into()],
                read_only: true,
                ..ToolFilter::default()
            },
        }
        .into(),
    ));
    let server_id = ServerId::new();
    let connection = ConnectionId::of(&server_id, "alice").stream();
    events.push((
        connection.clone(),
        ConnectionEvent::TokensStored {
            server_id,
            user_id: "alice".into(),
            sealed: "c2VhbGVk".into(),
            signed_out: true,
        }
        .into(),
    ));
    events.push((
        connection,
        ConnectionEvent::Revoked {
            server_id,
            user_id: "alice".into(),
        }
        .into(),
    ));
    events.extend(oauth_events(workspace, server_id));
    events
}

/// One event of every type of the authorization server's aggregates.
fn oauth_events(workspace: WorkspaceId, server: ServerId) -> Vec<(StreamId, DomainEvent)> {
    let client = OAuthClientId::new().stream();
    let grant = OAuthGrantId::new().stream();
    let key = SigningKeyId::new().stream();
    let refresh = RefreshIssued {
        refresh_sha256: [3; 32],
        generation: 1,
        refresh_expires_at: Utc::now(),
    };
    vec![
        (
            client.clone(),
            OAuthClientEvent::Registered(Registration {
                name: "Claude".into(),
                redirect_uris: vec!["https://claude.example/cb".into()],
                token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
                grant_types: vec!["authorization_code".into()],
                scope: "mcp:*".into(),
                client_uri: String::new(),
                secret_sha256: Some([5; 32]),
            })
            .into(),
        ),
        (client, OAuthClientEvent::Revoked.into()),
        (
            grant.clone(),
            OAuthGrantEvent::Issued(IssuedGrant {
                client_id: OAuthClientId::new().to_string(),
                user_id: "alice".into(),
                workspace_id: workspace,
                server_id: server,
                resource: "https://gw.example/s1/mcp".into(),
                scope: "mcp:tools:list".into(),
                redirect_uri: "https://claude.example/cb".into(),
                code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
                code_sha256: [4; 32],
                code_expires_at: Utc::now(),
                issuer: "https://gw.example".into(),
            })
            .into(),
        ),
        (
            grant.clone(),
            OAuthGrantEvent::CodeRedeemed(refresh.clone()).into(),
        ),
        (
            grant.clone(),
            OAuthGrantEvent::RefreshRotated(RefreshIssued {
                generation: 2,
                ..refresh
            })
            .into(),
        ),
        (
            grant,
            OAuthGrantEvent::Revoked {
                reason: "refresh token reuse".into(),
            }
            .into(),
        ),
        (
            key.clone(),
            SigningKeyEvent::Created {
                kid: "k1".into(),
                public_jwk: serde_json::json!({"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}),
                sealed_private: SealedSecret {
                    kid: "k".into(),
                    nonce: "n".into(),
                    ct: "c".into(),
                },
            }
            .into(),
        ),
        (key, SigningKeyEvent::Retired.into()),
    ]
}

#[test]
fn every_event_round_trips_through_its_stored_form_under_its_serde_tag() {
    for (stream, event) in every_event() {
        let tag = match &event {
            DomainEvent::Workspace(e) => serde_json::to_value(e).unwrap()["type"].clone(),
            DomainEvent::Server(e) => serde_json::to_value(e).unwrap()["type"].clone(),
            DomainEvent::ApiKey(e) => serde_json::to_value(e).unwrap()["type"].clone(),
            DomainEvent::DataPlane(e) => serde_json::to_value(e).unwrap()["type"].clone(),
            DomainEvent::Connection(e) => serde_json::to_value(e).unwrap()["type"].clone(),
            DomainEvent::OAuthClient(e) => serde_json::to_value(e).unwrap()["type"].clone(),
            DomainEvent::OAuthGrant(e) => serde_json::to_value(e).unwrap()["type"].clone(),
            DomainEvent::SigningKey(e) => serde_json::to_value(e).unwrap()["type"].clone(),
        };
        assert_eq!(tag, event.event_type(), "{event:?}");
        let back = DomainEvent::decode(
            &stream,
            event.event_type(),
            event.schema_version(),
            event.payload(),
        )
        .unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn hashes_are_stored_as_hex() {
    let (_, issued) = every_event().remove(2);
    assert_eq!(issued.payload()["secret_hash"], "07".repeat(32));
}

#[test]
fn oauth_secrets_are_stored_as_hashes_in_hex() {
    let events = oauth_events(WorkspaceId::new(), ServerId::new());
    assert_eq!(events[0].1.payload()["secret_sha256"], "05".repeat(32));
    assert_eq!(events[2].1.payload()["code_sha256"], "04".repeat(32));
    assert_eq!(events[3].1.payload()["refresh_sha256"], "03".repeat(32));
}

#[test]
fn unit_events_store_an_empty_object() {
    assert_eq!(
        DomainEvent::from(ServerEvent::Deleted).payload(),
        serde_json::json!({})
    );
}

#[test]
fn an_unknown_event_type_or_one_of_another_stream_is_an_error_not_a_panic() {
    let server = ServerId::new().stream();
    assert!(DomainEvent::decode(&server, "Nope", 1, serde_json::json!({})).is_err());
    assert!(DomainEvent::decode(&server, "ApiKeyRevoked", 1, serde_json::json!({})).is_err());
}

/// `ServerRegistered` as the release before request logging stored it (schema v1).
const SERVER_REGISTERED_V1: &str = r#"{
    "workspace_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    "slug": "github", "name": "GitHub", "description": "",
    "url": "https://api.example.com/mcp", "auth": {"type": "none"},
    "tools": {"allow": [], "deny": []}, "enabled": true
}"#;

#[test]
fn a_v1_server_registration_is_upcast_to_metadata_only_request_logging() {
    let stream = ServerId::new().stream();
    let payload = serde_json::from_str(SERVER_REGISTERED_V1).unwrap();
    let event = DomainEvent::decode(&stream, "ServerRegistered", 1, payload).unwrap();
    let DomainEvent::Server(ServerEvent::Registered {
        request_logging,
        slug,
        ..
    }) = event
    else {
        panic!("a registration: {event:?}");
    };
    assert_eq!(slug.as_str(), "github");
    assert_eq!(request_logging, Default::default());
    assert_eq!(
        DomainEvent::from(ServerEvent::Deleted).schema_version(),
        1,
        "other types are still at v1"
    );
}

#[test]
fn a_current_registration_must_carry_its_request_logging() {
    let stream = ServerId::new().stream();
    let payload = serde_json::from_str(SERVER_REGISTERED_V1).unwrap();
    let error = DomainEvent::decode(&stream, "ServerRegistered", 2, payload).unwrap_err();
    assert!(error.to_string().contains("request_logging"), "{error}");
}

#[test]
fn versions_from_a_newer_release_or_that_never_existed_are_refused_with_the_reason() {
    let stream = ServerId::new().stream();
    let payload = || serde_json::from_str(SERVER_REGISTERED_V1).unwrap();
    let newer = DomainEvent::decode(&stream, "ServerRegistered", 3, payload()).unwrap_err();
    assert!(
        newer.to_string().contains("written by a newer release"),
        "{newer}"
    );
    let never = DomainEvent::decode(&stream, "ServerRegistered", 0, payload()).unwrap_err();
    assert!(never.to_string().contains("never existed"), "{never}");
    let not_object = DomainEvent::decode(&stream, "ServerRegistered", 1, serde_json::json!([]));
    assert!(
        not_object
            .unwrap_err()
            .to_string()
            .contains("not a JSON object")
    );
}
