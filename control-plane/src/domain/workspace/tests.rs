//! Tests of `workspace`: given these events, when this command, then these events or that
//! error.

use mcpgw_shared::model::ToolFilter;

use super::*;

fn given(events: &[WorkspaceEvent]) -> Workspace {
    Workspace::from_events(events)
}

fn create(name: &str) -> WorkspaceCommand {
    WorkspaceCommand::Create { name: name.into() }
}

fn rename(name: &str) -> WorkspaceCommand {
    WorkspaceCommand::Rename { name: name.into() }
}

fn created(name: &str) -> WorkspaceEvent {
    WorkspaceEvent::Created { name: name.into() }
}

#[test]
fn creating_a_new_workspace_records_its_name_for_that_workspace() {
    let id = WorkspaceId::new();
    let decision = given(&[]).decide(&id, create("team")).unwrap();
    assert_eq!(decision.events, vec![created("team")]);
    assert_eq!(decision.audience, vec![id.into()]);
}

#[test]
fn creating_an_existing_workspace_is_refused() {
    let state = given(&[created("a")]);
    assert!(matches!(
        state.decide(&WorkspaceId::new(), create("b")),
        Err(DomainError::AlreadyExists { .. })
    ));
}

#[test]
fn a_blank_or_overlong_name_is_refused_with_the_field() {
    let id = WorkspaceId::new();
    let err = given(&[]).decide(&id, create("  ")).unwrap_err();
    assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "name"));
    assert!(given(&[]).decide(&id, create(&"x".repeat(101))).is_err());
}

#[test]
fn renaming_to_the_same_name_records_nothing() {
    let id = WorkspaceId::new();
    let state = given(&[created("a")]);
    assert!(state.decide(&id, rename("a")).unwrap().events.is_empty());
    assert_eq!(
        state.decide(&id, rename("b")).unwrap().events,
        vec![WorkspaceEvent::Renamed { name: "b".into() }]
    );
}

#[test]
fn renaming_a_missing_workspace_is_not_found() {
    assert!(matches!(
        given(&[]).decide(&WorkspaceId::new(), rename("b")),
        Err(DomainError::NotFound { .. })
    ));
}

#[test]
fn a_workspace_tool_policy_limits_tools_but_names_none() {
    let id = WorkspaceId::new();
    let state = given(&[created("team")]);
    let deny: ToolFilter =
        serde_json::from_str(r#"{"deny":["*_delete"],"read_only":true}"#).unwrap();
    let decision = state
        .decide(
            &id,
            WorkspaceCommand::SetTools {
                tools: deny.clone(),
            },
        )
        .unwrap();
    assert_eq!(
        decision.events,
        vec![WorkspaceEvent::ToolsChanged {
            tools: deny.clone()
        }]
    );
    let same = given(&[created("team"), decision.events[0].clone()]);
    let again = same
        .decide(&id, WorkspaceCommand::SetTools { tools: deny })
        .unwrap();
    assert!(again.events.is_empty(), "the same policy changes nothing");
    let renaming: ToolFilter = serde_json::from_str(r#"{"overrides":{"a":{"name":"b"}}}"#).unwrap();
    assert!(matches!(
        state.decide(&id, WorkspaceCommand::SetTools { tools: renaming }),
        Err(DomainError::Invalid { field, .. }) if field == "tools.overrides"
    ));
    let bad: ToolFilter = serde_json::from_str(r#"{"allow":["two words"]}"#).unwrap();
    assert!(
        state
            .decide(&id, WorkspaceCommand::SetTools { tools: bad })
            .is_err()
    );
}

fn set_grants(json: &str) -> WorkspaceCommand {
    WorkspaceCommand::SetGrants {
        changes: serde_json::from_str(json).unwrap(),
    }
}

#[test]
fn grants_merge_by_subject_and_bad_ones_are_refused_naming_the_field() {
    let id = WorkspaceId::new();
    let key = mcpgw_shared::ApiKeyId::generate();
    let state = given(&[created("team")]);
    let first = state
        .decide(
            &id,
            set_grants(&format!(
                r#"{{"key:{key}": {{"servers": ["github"]}}, "user:alice": {{"tools": {{"read_only": true}}}}}}"#
            )),
        )
        .unwrap()
        .events;
    let [WorkspaceEvent::GrantsChanged { grants }] = first.as_slice() else {
        panic!("{first:?}")
    };
    assert_eq!(grants.len(), 2);
    let state = given(&[created("team"), first[0].clone()]);
    // Removing alice's keeps the key's; removing what is not there changes nothing more.
    let second = state
        .decide(&id, set_grants(r#"{"user:alice": null, "user:bob": null}"#))
        .unwrap()
        .events;
    let [WorkspaceEvent::GrantsChanged { grants }] = second.as_slice() else {
        panic!("{second:?}")
    };
    assert_eq!(grants.keys().collect::<Vec<_>>(), [&format!("key:{key}")]);
    let same = given(&[created("team"), first[0].clone(), second[0].clone()]);
    assert!(
        same.decide(&id, set_grants(r#"{"user:bob": null}"#))
            .unwrap()
            .events
            .is_empty()
    );
    for (json, field) in [
        (r#"{"alice": {}}"#, "grants"),
        (r#"{"key:not-a-key": {}}"#, "grants"),
        (
            r#"{"user:alice": {"servers": ["Not A Slug"]}}"#,
            "grants.user:alice.servers[0]",
        ),
        (
            r#"{"user:alice": {"tools": {"deny": ["two words"]}}}"#,
            "grants.user:alice.tools.deny[0]",
        ),
        (
            r#"{"user:alice": {"tools": {"overrides": {"a": {"name": "b"}}}}}"#,
            "grants.user:alice.tools.overrides",
        ),
    ] {
        match state.decide(&id, set_grants(json)) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field, "{json}"),
            other => panic!("{json}: {other:?}"),
        }
    }
}

fn sealed(marker: &str) -> SealedSecret {
    SealedSecret {
        kid: "k1".into(),
        nonce: "n".into(),
        ct: marker.into(),
    }
}

fn provider(issuer: &str, client_id: &str, secret: Option<&str>) -> IdentityProvider<SealedSecret> {
    let mut provider: IdentityProvider<SealedSecret> = serde_json::from_value(serde_json::json!({
        "issuer": issuer,
        "client_id": client_id,
        "allowed_email_domains": ["example.com"],
        "required_claims": {"groups": ["mcp-users"]},
    }))
    .unwrap();
    provider.client_secret = secret.map(sealed);
    provider
}

fn set_provider(identity_provider: Option<IdentityProvider<SealedSecret>>) -> WorkspaceCommand {
    WorkspaceCommand::SetIdentityProvider { identity_provider }
}

fn provider_changed(identity_provider: Option<IdentityProvider<SealedSecret>>) -> WorkspaceEvent {
    WorkspaceEvent::IdentityProviderChanged { identity_provider }
}

#[test]
fn setting_an_identity_provider_records_it_with_its_sealed_secret() {
    let id = WorkspaceId::new();
    let idp = provider("https://idp.example.com", "gateway", Some("c1"));
    let decision = given(&[created("team")])
        .decide(&id, set_provider(Some(idp.clone())))
        .unwrap();
    assert_eq!(decision.events, vec![provider_changed(Some(idp.clone()))]);
    assert_eq!(decision.audience, vec![id.into()]);
    let state = given(&[created("team"), provider_changed(Some(idp.clone()))]);
    assert_eq!(state.identity_provider, Some(idp));
}

#[test]
fn an_update_without_a_secret_keeps_the_stored_one_for_the_same_client_only() {
    let id = WorkspaceId::new();
    let stored = provider("https://idp.example.com", "gateway", Some("c1"));
    let state = given(&[created("team"), provider_changed(Some(stored.clone()))]);

    // The same provider and client, without a secret: nothing changes.
    let same = provider("https://idp.example.com", "gateway", None);
    assert!(
        state
            .decide(&id, set_provider(Some(same)))
            .unwrap()
            .events
            .is_empty()
    );

    // Another scope list, without a secret: the secret stays.
    let mut narrower = provider("https://idp.example.com", "gateway", None);
    narrower.scopes = "openid email".into();
    let events = state
        .decide(&id, set_provider(Some(narrower.clone())))
        .unwrap()
        .events;
    narrower.client_secret = Some(sealed("c1"));
    assert_eq!(events, vec![provider_changed(Some(narrower))]);

    // Another client id or issuer without a secret: the secret is dropped.
    for other in [
        provider("https://idp.example.com", "other-client", None),
        provider("https://login.example.org", "gateway", None),
    ] {
        let events = state
            .decide(&id, set_provider(Some(other.clone())))
            .unwrap()
            .events;
        assert_eq!(events, vec![provider_changed(Some(other))]);
    }

    // A new secret replaces the stored one.
    let rotated = provider("https://idp.example.com", "gateway", Some("c2"));
    let events = state
        .decide(&id, set_provider(Some(rotated.clone())))
        .unwrap()
        .events;
    assert_eq!(events, vec![provider_changed(Some(rotated))]);
}

#[test]
fn removing_the_identity_provider_records_none_and_removing_none_records_nothing() {
    let id = WorkspaceId::new();
    let stored = provider("https://idp.example.com", "gateway", Some("c1"));
    let state = given(&[created("team"), provider_changed(Some(stored))]);
    assert_eq!(
        state.decide(&id, set_provider(None)).unwrap().events,
        vec![provider_changed(None)]
    );
    let state = given(&[created("team")]);
    assert!(
        state
            .decide(&id, set_provider(None))
            .unwrap()
            .events
            .is_empty()
    );
}

#[test]
fn an_invalid_identity_provider_is_refused_naming_the_field() {
    let id = WorkspaceId::new();
    let state = given(&[created("team")]);
    let mut no_openid = provider("https://idp.example.com", "gateway", None);
    no_openid.scopes = "email profile".into();
    let mut bad_domain = provider("https://idp.example.com", "gateway", None);
    bad_domain.allowed_email_domains = vec!["user@example.com".into()];
    for (bad, field) in [
        (
            provider("http://idp.example.com", "gateway", None),
            "identity_provider.issuer",
        ),
        (
            provider("https://idp.example.com", "", None),
            "identity_provider.client_id",
        ),
        (no_openid, "identity_provider.scopes"),
        (bad_domain, "identity_provider.allowed_email_domains[0]"),
    ] {
        match state.decide(&id, set_provider(Some(bad))) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn setting_an_identity_provider_of_a_missing_workspace_is_not_found() {
    let provider = provider("https://idp.example.com", "gateway", None);
    assert!(matches!(
        given(&[]).decide(&WorkspaceId::new(), set_provider(Some(provider))),
        Err(DomainError::NotFound { .. })
    ));
}

fn jwt_rules(extra: serde_json::Value) -> JwtValidation<SealedSecret> {
    let mut rules = serde_json::json!({"issuer": "https://idp.example.com"});
    if let (serde_json::Value::Object(rules), serde_json::Value::Object(extra)) =
        (&mut rules, extra)
    {
        rules.extend(extra);
    }
    serde_json::from_value(rules).unwrap()
}

fn introspecting(
    endpoint: &str,
    client_id: &str,
    secret: Option<&str>,
) -> JwtValidation<SealedSecret> {
    let mut rules = jwt_rules(serde_json::json!({"introspection": {
        "endpoint": endpoint, "client_id": client_id
    }}));
    if let Some(introspection) = &mut rules.introspection {
        introspection.client_secret = secret.map(sealed);
    }
    rules
}

fn set_jwt(jwt_validation: Option<JwtValidation<SealedSecret>>) -> WorkspaceCommand {
    WorkspaceCommand::SetJwtValidation { jwt_validation }
}

fn jwt_changed(jwt_validation: Option<JwtValidation<SealedSecret>>) -> WorkspaceEvent {
    WorkspaceEvent::JwtValidationChanged { jwt_validation }
}

#[test]
fn introspection_alone_is_a_way_to_check_tokens_and_its_secret_is_recorded_sealed() {
    let id = WorkspaceId::new();
    let rules = introspecting("https://idp.example.com/introspect", "gateway", Some("i1"));
    let events = given(&[created("team")])
        .decide(&id, set_jwt(Some(rules.clone())))
        .unwrap()
        .events;
    assert_eq!(events, vec![jwt_changed(Some(rules))]);
}

#[test]
fn introspection_without_a_secret_keeps_the_stored_one_for_the_same_client_only() {
    let id = WorkspaceId::new();
    let stored = introspecting("https://idp.example.com/introspect", "gateway", Some("i1"));
    let state = given(&[created("team"), jwt_changed(Some(stored.clone()))]);
    let same = introspecting("https://idp.example.com/introspect", "gateway", None);
    assert!(
        state
            .decide(&id, set_jwt(Some(same)))
            .unwrap()
            .events
            .is_empty()
    );

    let mut wider = introspecting("https://idp.example.com/introspect", "gateway", None);
    wider.audiences = vec!["https://api.example.com".into()];
    let events = state
        .decide(&id, set_jwt(Some(wider.clone())))
        .unwrap()
        .events;
    if let Some(i) = &mut wider.introspection {
        i.client_secret = Some(sealed("i1"));
    }
    assert_eq!(events, vec![jwt_changed(Some(wider))]);

    for other in [
        introspecting("https://idp.example.com/introspect", "other", None),
        introspecting("https://other.example.com/introspect", "gateway", None),
    ] {
        match state.decide(&id, set_jwt(Some(other))) {
            Err(DomainError::Invalid { field, .. }) => {
                assert_eq!(field, "jwt_validation.introspection.client_secret")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn invalid_jwt_rules_are_refused_naming_the_field() {
    let id = WorkspaceId::new();
    let state = given(&[created("team")]);
    for (bad, field) in [
        (jwt_rules(serde_json::json!({})), "jwt_validation"),
        (
            introspecting("not a url", "gateway", Some("i1")),
            "jwt_validation.introspection.endpoint",
        ),
        (
            introspecting("https://idp.example.com/introspect", "", Some("i1")),
            "jwt_validation.introspection.client_id",
        ),
        (
            jwt_rules(serde_json::json!({
                "jwks_uri": "https://idp.example.com/jwks",
                "permissions": {"mcp.invoke": {}, "mcp.everything": {"groups": "x"}}
            })),
            "jwt_validation.permissions.mcp.everything",
        ),
    ] {
        match state.decide(&id, set_jwt(Some(bad))) {
            Err(DomainError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn permissions_that_exist_are_accepted() {
    let id = WorkspaceId::new();
    let rules = jwt_rules(serde_json::json!({
        "jwks_uri": "https://idp.example.com/jwks",
        "permissions": {"mcp.invoke": {"groups": ["mcp-users"]}, "admin": {"groups": "admins"}}
    }));
    let events = given(&[created("team")])
        .decide(&id, set_jwt(Some(rules.clone())))
        .unwrap()
        .events;
    assert_eq!(events, vec![jwt_changed(Some(rules))]);
}
