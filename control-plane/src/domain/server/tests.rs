//! Tests of `server`: given these events, when this command, then these events or that error.

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
        request_logging: Default::default(),
        rate_limits: Vec::new(),
        virtual_server: None,
        identity_forwarding: IdentityForwarding::None,
        jwt_validation: None,
        provisioned: BTreeSet::new(),
    }
}

fn given(events: Vec<ServerEvent>) -> Server {
    Server::from_events(&events)
}

fn id() -> ServerId {
    ServerId::new()
}

/// The events `command` decides against `state`.
fn when(state: &Server, command: ServerCommand) -> Result<Vec<ServerEvent>, DomainError> {
    state.decide(&id(), command).map(|decision| decision.events)
}

fn update(state: &Server, update: UpdateServer) -> Result<Vec<ServerEvent>, DomainError> {
    when(state, ServerCommand::Update(update))
}

fn registered() -> (WorkspaceId, Server) {
    let ws = WorkspaceId::new();
    let events = when(&given(vec![]), ServerCommand::Register(register(ws))).unwrap();
    (ws, given(events))
}

#[test]
fn registering_records_the_server_and_its_provisioning() {
    let ws = WorkspaceId::new();
    let other = WorkspaceId::new();
    let decision = given(vec![])
        .decide(
            &id(),
            ServerCommand::Register(RegisterServer {
                provisioned: BTreeSet::from([other]),
                ..register(ws)
            }),
        )
        .unwrap();
    assert_eq!(decision.events[0].event_type(), "ServerRegistered");
    assert_eq!(
        decision.events[1],
        ServerEvent::Provisioned {
            workspace_id: other
        }
    );
    let mut audience = vec![Audience::Workspace(ws), Audience::Workspace(other)];
    audience.sort();
    assert_eq!(decision.audience, audience);
}

#[test]
fn a_non_http_url_is_refused_naming_the_field() {
    for url in [
        "ftp://x/mcp",
        "file:///etc/passwd",
        "not a url",
        "https://user:pw@h/mcp",
    ] {
        let err = when(
            &given(vec![]),
            ServerCommand::Register(RegisterServer {
                url: url.into(),
                ..register(WorkspaceId::new())
            }),
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
    let err = when(
        &given(vec![]),
        ServerCommand::Register(RegisterServer {
            provisioned: BTreeSet::from([ws]),
            ..register(ws)
        }),
    )
    .unwrap_err();
    assert!(
        matches!(err, DomainError::Invalid { ref field, .. } if field == "provisioned_workspaces")
    );
}

#[test]
fn an_update_records_one_event_per_changed_aspect() {
    let (_, server) = registered();
    let events = update(
        &server,
        UpdateServer {
            url: Some("https://new.example.com/mcp".into()),
            enabled: Some(false),
            tools: Some(ToolFilter {
                allow: None,
                deny: vec!["rm".into()],
                ..ToolFilter::default()
            }),
            name: Some("GitHub".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let types: Vec<_> = events.iter().map(ServerEvent::event_type).collect();
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
    assert!(update(&server, same).unwrap().is_empty());
}

#[test]
fn provisioning_changes_become_provisioned_and_deprovisioned_events() {
    let ws = WorkspaceId::new();
    let a = WorkspaceId::new();
    let b = WorkspaceId::new();
    let mut history = when(&given(vec![]), ServerCommand::Register(register(ws))).unwrap();
    let provision = |list| UpdateServer {
        provisioned: Some(list),
        ..Default::default()
    };
    history.extend(update(&given(history.clone()), provision(vec![a])).unwrap());
    let server = given(history);
    let decision = server
        .decide(&id(), ServerCommand::Update(provision(vec![b])))
        .unwrap();
    assert_eq!(
        decision.events,
        vec![
            ServerEvent::Deprovisioned { workspace_id: a },
            ServerEvent::Provisioned { workspace_id: b }
        ]
    );
    let mut everyone = vec![ws.into(), a.into(), b.into()];
    everyone.sort();
    assert_eq!(
        decision.audience, everyone,
        "the change concerns the workspaces served before and after"
    );
}

#[test]
fn a_deleted_server_cannot_be_changed_or_registered_again() {
    let (_, server) = registered();
    let mut events = when(
        &given(vec![]),
        ServerCommand::Register(register(WorkspaceId::new())),
    )
    .unwrap();
    events.extend(when(&server, ServerCommand::Delete).unwrap());
    let deleted = given(events);
    assert!(matches!(
        update(&deleted, UpdateServer::default()),
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        when(&deleted, ServerCommand::Delete),
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        when(
            &deleted,
            ServerCommand::Register(register(WorkspaceId::new()))
        ),
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
        token_endpoint: Some("javascript:alert(1)".into()),
        issuer: None,
        client_id: "c".into(),
        client_secret: Some(SealedSecret {
            kid: "k".into(),
            nonce: String::new(),
            ct: String::new(),
        }),
        private_key: None,
        key_id: None,
        client_auth: Default::default(),
        scope: None,
        resource: None,
        omit_resource: false,
        audience: None,
    };
    let err = when(
        &given(vec![]),
        ServerCommand::Register(RegisterServer {
            auth,
            ..register(WorkspaceId::new())
        }),
    )
    .unwrap_err();
    assert!(
        matches!(err, DomainError::Invalid { ref field, .. } if field == "auth.token_endpoint")
    );
}

#[test]
fn only_url_auth_enabled_registration_and_deletion_change_the_connection() {
    let (ws, _) = registered();
    let changing = [
        ServerEvent::UpstreamChanged {
            url: "https://x/mcp".into(),
        },
        ServerEvent::AuthChanged {
            auth: UpstreamAuth::None,
        },
        ServerEvent::EnabledChanged { enabled: false },
        ServerEvent::Deleted,
    ];
    let keeping = [
        ServerEvent::DetailsChanged {
            name: "n".into(),
            description: String::new(),
        },
        ServerEvent::ToolsChanged {
            tools: ToolFilter::default(),
        },
        ServerEvent::Provisioned { workspace_id: ws },
        ServerEvent::Deprovisioned { workspace_id: ws },
    ];
    assert!(changing.iter().all(ServerEvent::changes_connection));
    assert!(!keeping.iter().any(ServerEvent::changes_connection));
}

#[test]
fn tool_policies_with_bad_patterns_or_clashing_names_are_refused_naming_the_field() {
    let ws = WorkspaceId::new();
    for (tools, field) in [
        (r#"{"deny":["has space"]}"#, "tools.deny[0]"),
        (r#"{"allow":["ok_*",""]}"#, "tools.allow[1]"),
        (
            r#"{"overrides":{"a":{"name":"shown"},"b":{"name":"shown"}}}"#,
            "tools.overrides.b.name",
        ),
        (
            r#"{"overrides":{"a":{"name":"b"},"b":{}}}"#,
            "tools.overrides.a.name",
        ),
        (r#"{"overrides":{"a*":{"name":"x"}}}"#, "tools.overrides.a*"),
    ] {
        let command = ServerCommand::Register(RegisterServer {
            tools: serde_json::from_str(tools).unwrap(),
            ..register(ws)
        });
        match when(&given(vec![]), command) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field, "{tools}"),
            other => panic!("{tools}: {other:?}"),
        }
    }
    let globs = ServerCommand::Register(RegisterServer {
        tools: serde_json::from_str(
            r#"{"allow":["repo_*"],"deny":["*_delete"],"overrides":{"repo_read":{"name":"read","description":"Reads"}}}"#,
        )
        .unwrap(),
        ..register(ws)
    });
    assert!(when(&given(vec![]), globs).is_ok());
}

#[test]
fn rate_limits_must_bound_something_by_at_least_one_naming_the_field() {
    let ws = WorkspaceId::new();
    let too_many = serde_json::to_string(&vec![
        serde_json::json!({"by": "key", "per_minute": 1});
        mcpgw_shared::model::RateLimit::MAX_PER_SERVER + 1
    ])
    .unwrap();
    for (limits, field) in [
        (r#"[{"by":"key"}]"#, "rate_limits[0]"),
        (
            r#"[{"by":"key","per_day":5},{"by":"server","per_minute":0}]"#,
            "rate_limits[1].per_minute",
        ),
        (
            r#"[{"by":"tool","tools":["ok","bad name"],"per_hour":1}]"#,
            "rate_limits[0].tools[1]",
        ),
        (too_many.as_str(), "rate_limits"),
    ] {
        let command = ServerCommand::Register(RegisterServer {
            rate_limits: serde_json::from_str(limits).unwrap(),
            ..register(ws)
        });
        match when(&given(vec![]), command) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field, "{limits}"),
            other => panic!("{limits}: {other:?}"),
        }
    }
    let (_, state) = registered();
    let limits: Vec<mcpgw_shared::model::RateLimit> =
        serde_json::from_str(r#"[{"by":"user","per_minute":60,"concurrent":4}]"#).unwrap();
    let changed = update(
        &state,
        UpdateServer {
            rate_limits: Some(limits.clone()),
            ..UpdateServer::default()
        },
    )
    .unwrap();
    assert_eq!(
        changed,
        vec![ServerEvent::RateLimitsChanged {
            rate_limits: limits.clone()
        }]
    );
    let mut state = state;
    for event in &changed {
        state.apply(event);
    }
    let same = update(
        &state,
        UpdateServer {
            rate_limits: Some(limits),
            ..UpdateServer::default()
        },
    )
    .unwrap();
    assert!(same.is_empty(), "an unchanged list records nothing");
}

#[test]
fn a_virtual_server_has_members_and_no_url_or_auth_of_its_own() {
    let ws = WorkspaceId::new();
    let members: mcpgw_shared::model::VirtualServer = serde_json::from_str(
        r#"{"members": [{"server": "jira"}, {"server": "wiki", "on_failure": "open"}]}"#,
    )
    .unwrap();
    let virtual_server = |members: mcpgw_shared::model::VirtualServer| RegisterServer {
        url: String::new(),
        virtual_server: Some(members),
        ..register(ws)
    };
    let events = when(
        &given(vec![]),
        ServerCommand::Register(virtual_server(members.clone())),
    )
    .unwrap();
    let state = given(events);
    for (bad, field) in [
        (r#"{"members": []}"#, "virtual_server.members"),
        (
            r#"{"members": [{"server": "github"}]}"#,
            "virtual_server.members[0].server",
        ),
        (
            r#"{"members": [{"server": "jira"}, {"server": "jira"}]}"#,
            "virtual_server.members[1].server",
        ),
    ] {
        let command = ServerCommand::Register(virtual_server(serde_json::from_str(bad).unwrap()));
        match when(&given(vec![]), command) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let with_url = RegisterServer {
        url: "https://x.example/mcp".into(),
        ..virtual_server(members.clone())
    };
    assert!(when(&given(vec![]), ServerCommand::Register(with_url)).is_err());
    // Members change without touching sessions; a URL cannot be given to it.
    let fewer: mcpgw_shared::model::VirtualServer =
        serde_json::from_str(r#"{"members": [{"server": "jira"}], "prefix": "always"}"#).unwrap();
    let changed = update(
        &state,
        UpdateServer {
            virtual_server: Some(fewer.clone()),
            ..UpdateServer::default()
        },
    )
    .unwrap();
    assert_eq!(
        changed,
        vec![ServerEvent::MembersChanged {
            virtual_server: fewer
        }]
    );
    assert!(!changed[0].changes_connection());
    assert!(
        update(
            &state,
            UpdateServer {
                url: Some("https://x.example/mcp".into()),
                ..UpdateServer::default()
            }
        )
        .is_err()
    );
    let (_, ordinary) = registered();
    assert!(
        update(
            &ordinary,
            UpdateServer {
                virtual_server: Some(members),
                ..UpdateServer::default()
            }
        )
        .is_err()
    );
}

fn forwarding(json: &str) -> IdentityForwarding {
    serde_json::from_str(json).unwrap()
}

fn invalid_field<T: std::fmt::Debug>(result: Result<T, DomainError>) -> String {
    match result {
        Err(DomainError::Invalid { field, .. }) => field,
        other => panic!("refused as invalid, not {other:?}"),
    }
}

#[test]
fn identity_forwarding_is_recorded_once_and_changes_no_connection() {
    let (_, state) = registered();
    let jwt = forwarding(r#"{"mode": "jwt"}"#);
    let events = update(
        &state,
        UpdateServer {
            identity_forwarding: Some(jwt.clone()),
            ..UpdateServer::default()
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![ServerEvent::IdentityForwardingChanged {
            identity_forwarding: IdentityForwarding::Jwt {
                header: "X-User-JWT".into(),
                ttl_seconds: 300,
            }
        }]
    );
    assert_eq!(events[0].event_type(), "ServerIdentityForwardingChanged");
    assert!(!events[0].changes_connection());
    let mut after = state.clone();
    after.apply(&events[0]);
    assert_eq!(after.current.as_ref().unwrap().identity_forwarding, jwt);
    let again = update(
        &after,
        UpdateServer {
            identity_forwarding: Some(jwt),
            ..UpdateServer::default()
        },
    )
    .unwrap();
    assert!(again.is_empty(), "an unchanged setting records nothing");
}

#[test]
fn a_server_registered_with_identity_forwarding_keeps_it() {
    let ws = WorkspaceId::new();
    let claims = forwarding(r#"{"mode": "claims_header", "header": "X-Caller"}"#);
    let events = when(
        &given(vec![]),
        ServerCommand::Register(RegisterServer {
            identity_forwarding: claims.clone(),
            ..register(ws)
        }),
    )
    .unwrap();
    let state = given(events.clone());
    assert_eq!(state.current.unwrap().identity_forwarding, claims);
    // Events of servers without it read as before.
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["data"]["identity_forwarding"]["header"], "X-Caller");
    let plain = when(&given(vec![]), ServerCommand::Register(register(ws))).unwrap();
    let json = serde_json::to_value(&plain[0]).unwrap();
    assert!(json["data"].get("identity_forwarding").is_none());
}

#[test]
fn an_identity_header_that_carries_credentials_or_transport_is_refused() {
    let (_, state) = registered();
    for header in [
        "Authorization",
        "cookie",
        "Host",
        "Mcp-Session-Id",
        "mcp-anything",
        "Connection",
        "transfer-encoding",
        "bad header",
        "",
    ] {
        let json = serde_json::json!({"mode": "claims_header", "header": header}).to_string();
        let field = invalid_field(update(
            &state,
            UpdateServer {
                identity_forwarding: Some(forwarding(&json)),
                ..UpdateServer::default()
            },
        ));
        assert_eq!(field, "identity_forwarding.header", "{header}");
    }
}

#[test]
fn a_jwt_lifetime_outside_30_to_3600_seconds_is_refused() {
    let (_, state) = registered();
    for (ttl, ok) in [(29, false), (30, true), (3600, true), (3601, false)] {
        let json = format!(r#"{{"mode": "jwt", "ttl_seconds": {ttl}}}"#);
        let result = update(
            &state,
            UpdateServer {
                identity_forwarding: Some(forwarding(&json)),
                ..UpdateServer::default()
            },
        );
        if ok {
            assert!(result.is_ok(), "{ttl}");
        } else {
            assert_eq!(invalid_field(result), "identity_forwarding.ttl_seconds");
        }
    }
}

#[test]
fn an_identity_header_may_not_be_one_of_the_auth_headers_nor_set_on_a_virtual_server() {
    let ws = WorkspaceId::new();
    let auth: UpstreamAuth<SealedSecret> = UpstreamAuth::Headers {
        headers: BTreeMap::from([(
            "X-Caller".to_owned(),
            SealedSecret {
                kid: "k".into(),
                nonce: String::new(),
                ct: String::new(),
            },
        )]),
    };
    let command = ServerCommand::Register(RegisterServer {
        auth,
        identity_forwarding: forwarding(r#"{"mode": "claims_header", "header": "x-caller"}"#),
        ..register(ws)
    });
    assert_eq!(
        invalid_field(when(&given(vec![]), command)),
        "identity_forwarding.header"
    );
    let command = ServerCommand::Register(RegisterServer {
        url: String::new(),
        virtual_server: Some(serde_json::from_str(r#"{"members": [{"server": "jira"}]}"#).unwrap()),
        identity_forwarding: forwarding(r#"{"mode": "jwt"}"#),
        ..register(ws)
    });
    assert_eq!(
        invalid_field(when(&given(vec![]), command)),
        "identity_forwarding"
    );
}

fn server_rules(extra: serde_json::Value) -> JwtValidation<SealedSecret> {
    let mut rules = serde_json::json!({"issuer": "https://idp.example.com",
        "introspection": {"endpoint": "https://idp.example.com/introspect", "client_id": "gw"}});
    if let (serde_json::Value::Object(rules), serde_json::Value::Object(extra)) =
        (&mut rules, extra)
    {
        rules.extend(extra);
    }
    let mut rules: JwtValidation<SealedSecret> = serde_json::from_value(rules).unwrap();
    if let Some(introspection) = &mut rules.introspection {
        introspection.client_secret = Some(SealedSecret {
            kid: "k1".into(),
            nonce: "n".into(),
            ct: "c1".into(),
        });
    }
    rules
}

#[test]
fn a_server_registered_with_jwt_rules_records_them_after_its_registration() {
    let ws = WorkspaceId::new();
    let rules = server_rules(serde_json::json!({}));
    let mut cmd = register(ws);
    cmd.jwt_validation = Some(rules.clone());
    let events = given(vec![])
        .decide(&id(), ServerCommand::Register(cmd))
        .unwrap()
        .events;
    assert_eq!(events[0].event_type(), "ServerRegistered");
    assert_eq!(
        events[1],
        ServerEvent::JwtValidationChanged {
            jwt_validation: Some(rules.clone())
        }
    );
    assert!(!events[1].changes_connection());
    let state = given(events);
    assert_eq!(state.current.unwrap().jwt_validation, Some(rules));
}

#[test]
fn server_jwt_rules_change_keep_their_secret_and_null_removes_them() {
    let rules = server_rules(serde_json::json!({}));
    let (_, mut state) = registered();
    state.apply(&ServerEvent::JwtValidationChanged {
        jwt_validation: Some(rules.clone()),
    });
    let update = |jwt_validation| {
        ServerCommand::Update(UpdateServer {
            jwt_validation: Some(jwt_validation),
            ..UpdateServer::default()
        })
    };
    // The same rules without the secret: nothing changes.
    let mut without = rules.clone();
    if let Some(i) = &mut without.introspection {
        i.client_secret = None;
    }
    assert!(
        state
            .decide(&id(), update(Some(without)))
            .unwrap()
            .events
            .is_empty()
    );
    assert_eq!(
        state.decide(&id(), update(None)).unwrap().events,
        vec![ServerEvent::JwtValidationChanged {
            jwt_validation: None
        }]
    );
    // Invalid rules are refused naming the field.
    let bad = server_rules(serde_json::json!({"permissions": {"everything": {}}}));
    match state.decide(&id(), update(Some(bad))) {
        Err(DomainError::Invalid { field, .. }) => {
            assert_eq!(field, "jwt_validation.permissions.everything")
        }
        other => panic!("{other:?}"),
    }
}
