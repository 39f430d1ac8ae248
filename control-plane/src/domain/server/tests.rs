use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn register(workspace_id: WorkspaceId) -> RegisterServer {
    RegisterServer {
        workspace_id,
        slug: Slug::parse("github").unwrap(),
        name: "GitHub".into(),
        description: String::new(),
        url: "https://mcp.example.com/mcp".into(),
        auth: UpstreamAuth::None,
        tools: ToolFilter::default(),
        enabled: true,
        provisioned: BTreeSet::new(),
    }
}

fn given(events: Vec<DomainEvent>) -> Server {
    Server::from_events(&events)
}

fn registered() -> (WorkspaceId, Server) {
    let ws = WorkspaceId::new();
    let events = given(vec![]).register("s", register(ws)).unwrap();
    (ws, given(events))
}

#[test]
fn registering_records_the_server_and_its_provisioning() {
    let ws = WorkspaceId::new();
    let other = WorkspaceId::new();
    let events = given(vec![])
        .register(
            "s",
            RegisterServer {
                provisioned: BTreeSet::from([other]),
                ..register(ws)
            },
        )
        .unwrap();
    assert_eq!(events[0].event_type(), "ServerRegistered");
    assert_eq!(
        events[1],
        DomainEvent::ServerProvisioned {
            workspace_id: other
        }
    );
}

#[test]
fn a_non_http_url_is_refused_naming_the_field() {
    for url in [
        "ftp://x/mcp",
        "file:///etc/passwd",
        "not a url",
        "https://user:pw@h/mcp",
    ] {
        let err = given(vec![])
            .register(
                "s",
                RegisterServer {
                    url: url.into(),
                    ..register(WorkspaceId::new())
                },
            )
            .unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { ref field, .. } if field == "url"),
            "{url}"
        );
    }
}

#[test]
fn provisioning_to_the_home_workspace_is_refused() {
    let ws = WorkspaceId::new();
    let err = given(vec![])
        .register(
            "s",
            RegisterServer {
                provisioned: BTreeSet::from([ws]),
                ..register(ws)
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, DomainError::Invalid { ref field, .. } if field == "provisioned_workspaces")
    );
}

#[test]
fn an_update_records_one_event_per_changed_aspect() {
    let (_, server) = registered();
    let events = server
        .update(
            "s",
            UpdateServer {
                url: Some("https://new.example.com/mcp".into()),
                enabled: Some(false),
                tools: Some(ToolFilter {
                    allow: None,
                    deny: vec!["rm".into()],
                }),
                name: Some("GitHub".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let types: Vec<_> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        [
            "ServerUpstreamChanged",
            "ServerToolsChanged",
            "ServerEnabledChanged"
        ]
    );
}

#[test]
fn an_update_that_changes_nothing_records_nothing() {
    let (_, server) = registered();
    let same = UpdateServer {
        url: Some("https://mcp.example.com/mcp".into()),
        enabled: Some(true),
        ..Default::default()
    };
    assert!(server.update("s", same).unwrap().is_empty());
}

#[test]
fn provisioning_changes_become_provisioned_and_deprovisioned_events() {
    let (_, server) = registered();
    let a = WorkspaceId::new();
    let b = WorkspaceId::new();
    let events = server
        .update(
            "s",
            UpdateServer {
                provisioned: Some(vec![a]),
                ..Default::default()
            },
        )
        .unwrap();
    let server = Server::from_events(
        &[
            given(vec![])
                .register("s", register(server.current.unwrap().workspace_id))
                .unwrap(),
            events,
        ]
        .concat(),
    );
    let events = server
        .update(
            "s",
            UpdateServer {
                provisioned: Some(vec![b]),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        events,
        vec![
            DomainEvent::ServerDeprovisioned { workspace_id: a },
            DomainEvent::ServerProvisioned { workspace_id: b }
        ]
    );
}

#[test]
fn a_deleted_server_cannot_be_changed_or_registered_again() {
    let (_, server) = registered();
    let mut events = vec![];
    events.extend(
        given(vec![])
            .register("s", register(WorkspaceId::new()))
            .unwrap(),
    );
    events.extend(server.delete("s").unwrap());
    let deleted = given(events);
    assert!(matches!(
        deleted.update("s", UpdateServer::default()),
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        deleted.delete("s"),
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        deleted.register("s", register(WorkspaceId::new())),
        Err(DomainError::AlreadyExists { .. })
    ));
}

#[test]
fn header_secrets_are_checked_before_sealing() {
    let ok: UpstreamAuth<String> = UpstreamAuth::Headers {
        headers: BTreeMap::from([("X-Api-Key".into(), "v".into())]),
    };
    assert!(validate_auth_secrets(&ok).is_ok());
    for (name, value) in [
        ("Bad Name", "v"),
        ("X-Key", "line\nbreak"),
        ("Host", "evil"),
        ("X-Key", ""),
    ] {
        let auth = UpstreamAuth::Headers {
            headers: BTreeMap::from([(name.to_owned(), value.to_owned())]),
        };
        let err = validate_auth_secrets(&auth).unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { ref field, .. } if field.starts_with("auth.headers."))
        );
    }
}

#[test]
fn client_credentials_need_an_http_token_endpoint() {
    let auth: UpstreamAuth<SealedSecret> = UpstreamAuth::ClientCredentials {
        token_endpoint: "javascript:alert(1)".into(),
        client_id: "c".into(),
        client_secret: SealedSecret {
            kid: "k".into(),
            nonce: String::new(),
            ct: String::new(),
        },
        scope: None,
        audience: None,
    };
    let err = given(vec![])
        .register(
            "s",
            RegisterServer {
                auth,
                ..register(WorkspaceId::new())
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, DomainError::Invalid { ref field, .. } if field == "auth.token_endpoint")
    );
}
