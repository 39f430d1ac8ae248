//! Tests of `conversions`.

use std::collections::BTreeMap;

use super::*;
use crate::ids::{ApiKeyId, ServerId, WorkspaceId};
use crate::model::Permission;
use crate::model::ToolOverride;

#[test]
fn a_server_survives_the_round_trip_through_proto() {
    let server = ServerConfig {
        id: ServerId::new(),
        workspace_id: WorkspaceId::new(),
        provisioned: vec![WorkspaceId::new()],
        slug: Slug::parse("demo").unwrap(),
        name: "Demo".into(),
        description: String::new(),
        url: "http://127.0.0.1:1/mcp".into(),
        enabled: true,
        // Server rules carry their introspection secret to data planes.
        jwt_validation: Some(
            crate::model::JwtValidation::from_json_with_secret(
                r#"{"issuer": "https://idp.example", "introspection": {"endpoint":
                    "https://idp.example/introspect", "client_id": "gw", "client_secret": "s"},
                    "permissions": {"mcp.invoke": {"groups": "mcp"}}}"#,
            )
            .unwrap(),
        ),
        tools: ToolFilter {
            allow: Some(vec![]),
            deny: vec!["x".into(), "*_delete".into()],
            read_only: true,
            overrides: BTreeMap::from([(
                "search_v2".into(),
                ToolOverride {
                    name: Some("search".into()),
                    description: None,
                },
            )]),
        },
        auth: UpstreamAuth::Headers {
            headers: BTreeMap::from([("X-Key".into(), Redacted::new("v".into()))]),
        },
        request_logging: RequestLogging {
            arguments: true,
            results: false,
            max_bytes: 512,
        },
        rate_limits: vec![
            RateLimit {
                by: crate::model::LimitScope::Key,
                tools: vec![],
                per_minute: Some(60),
                per_hour: None,
                per_day: Some(1000),
                concurrent: Some(2),
            },
            RateLimit {
                by: crate::model::LimitScope::Tool,
                tools: vec!["search*".into()],
                per_minute: None,
                per_hour: Some(10),
                per_day: None,
                concurrent: None,
            },
        ],
        virtual_server: Some(VirtualServer {
            members: vec![
                Member {
                    server: "github".into(),
                    on_failure: FailureMode::Open,
                },
                Member {
                    server: "jira".into(),
                    on_failure: FailureMode::Closed,
                },
            ],
            prefix: PrefixMode::Always,
        }),
        identity_forwarding: IdentityForwarding::Jwt {
            header: "X-User-JWT".into(),
            ttl_seconds: 120,
        },
        version: 3,
        connection_version: 2,
    };
    let back = ServerConfig::try_from(proto::Server::from(&server)).unwrap();
    assert_eq!(back, server);
    let claims = ServerConfig {
        identity_forwarding: IdentityForwarding::ClaimsHeader {
            header: "X-MCPGW-User".into(),
        },
        ..server.clone()
    };
    let back = ServerConfig::try_from(proto::Server::from(&claims)).unwrap();
    assert_eq!(back, claims);
}

#[test]
fn an_identity_forwarding_mode_this_build_does_not_know_is_refused() {
    let mut message = proto::Server::from(&ServerConfig {
        identity_forwarding: IdentityForwarding::None,
        jwt_validation: None,
        ..some_server()
    });
    assert!(message.identity_forwarding.is_none(), "none is left out");
    message.identity_forwarding = Some(proto::IdentityForwarding {
        mode: "mtls".into(),
        header: "X-Who".into(),
        ttl_seconds: 0,
    });
    let error = ServerConfig::try_from(message).unwrap_err();
    assert_eq!(error.field, "server.identity_forwarding.mode");
}

fn some_server() -> ServerConfig {
    ServerConfig {
        id: ServerId::new(),
        workspace_id: WorkspaceId::new(),
        provisioned: vec![],
        slug: Slug::parse("plain").unwrap(),
        name: "Plain".into(),
        description: String::new(),
        url: "http://127.0.0.1:1/mcp".into(),
        enabled: true,
        tools: ToolFilter::default(),
        auth: UpstreamAuth::None,
        request_logging: RequestLogging::default(),
        rate_limits: vec![],
        virtual_server: None,
        identity_forwarding: IdentityForwarding::None,
        jwt_validation: None,
        version: 1,
        connection_version: 1,
    }
}

#[test]
fn an_api_key_survives_the_round_trip_through_proto() {
    let key = ApiKeyRecord {
        id: ApiKeyId::generate(),
        workspace_id: None,
        name: "k".into(),
        key_type: KeyType::User,
        user_id: Some("alice".into()),
        permissions: vec![Permission::McpInvoke],
        expires_at: DateTime::from_timestamp_millis(1_800_000_000_000),
        revoked: true,
        secret_hash: [7; 32],
    };
    assert_eq!(
        ApiKeyRecord::try_from(proto::ApiKey::from(&key)).unwrap(),
        key
    );
}
