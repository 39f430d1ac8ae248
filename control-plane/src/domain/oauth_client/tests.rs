//! Tests of `oauth_client`: given these events, when this command, then these events or that
//! error.

use super::*;

fn registration() -> Registration {
    Registration {
        name: "Claude".into(),
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        grant_types: vec![],
        scope: String::new(),
        client_uri: String::new(),
        secret_sha256: None,
    }
}

fn when(
    state: &OAuthClient,
    command: OAuthClientCommand,
) -> Result<Vec<OAuthClientEvent>, DomainError> {
    state
        .decide(&OAuthClientId::new(), command)
        .map(|decision| decision.events)
}

fn refused_field(registration: Registration) -> String {
    match when(
        &OAuthClient::default(),
        OAuthClientCommand::Register(registration),
    ) {
        Err(DomainError::Invalid { field, .. }) => field,
        other => panic!("refused, not {other:?}"),
    }
}

#[test]
fn registering_a_public_client_fills_in_every_grant_type_and_scope() {
    let events = when(
        &OAuthClient::default(),
        OAuthClientCommand::Register(registration()),
    )
    .unwrap();
    let [OAuthClientEvent::Registered(registered)] = &events[..] else {
        panic!("one registration: {events:?}");
    };
    assert_eq!(registered.grant_types, GRANT_TYPES);
    assert_eq!(registered.scope, oauth_scope::EVERY_SCOPE);
}

#[test]
fn the_decision_concerns_no_data_plane() {
    let decision = OAuthClient::default()
        .decide(
            &OAuthClientId::new(),
            OAuthClientCommand::Register(registration()),
        )
        .unwrap();
    assert!(decision.audience.is_empty());
}

#[test]
fn redirect_uris_must_be_https_loopback_http_or_private_use_and_the_refusal_names_the_one() {
    let with = |uris: &[&str]| Registration {
        redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
        ..registration()
    };
    assert_eq!(refused_field(with(&[])), "redirect_uris");
    assert_eq!(
        refused_field(with(&["https://a.example/cb", "http://a.example/cb"])),
        "redirect_uris[1]"
    );
    assert_eq!(
        refused_field(with(&["https://a.example/cb#x"])),
        "redirect_uris[0]"
    );
    assert_eq!(
        refused_field(with(&["https://a.example/cb"; 11])),
        "redirect_uris"
    );
    let long = format!("https://a.example/{}", "a".repeat(2000));
    assert_eq!(refused_field(with(&[&long])), "redirect_uris[0]");
    let good = with(&[
        "https://a.example/cb",
        "http://[::1]:8080/cb",
        "http://localhost/cb",
        "com.example.app:/cb",
    ]);
    assert!(when(&OAuthClient::default(), OAuthClientCommand::Register(good)).is_ok());
}

#[test]
fn names_scopes_and_grant_types_are_checked() {
    let long_name = Registration {
        name: "n".repeat(MAX_NAME_CHARS + 1),
        ..registration()
    };
    assert_eq!(refused_field(long_name), "client_name");
    let bad_scope = Registration {
        scope: "openid".into(),
        ..registration()
    };
    assert_eq!(refused_field(bad_scope), "scope");
    let implicit = Registration {
        grant_types: vec!["implicit".into()],
        ..registration()
    };
    assert_eq!(refused_field(implicit), "grant_types");
}

#[test]
fn a_confidential_client_has_a_secret_and_a_public_one_none() {
    let without_secret = Registration {
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        ..registration()
    };
    assert_eq!(refused_field(without_secret), "token_endpoint_auth_method");
    let public_with_secret = Registration {
        secret_sha256: Some([1; 32]),
        ..registration()
    };
    assert_eq!(
        refused_field(public_with_secret),
        "token_endpoint_auth_method"
    );
}

#[test]
fn a_revoked_client_is_no_longer_active_and_revoking_it_again_changes_nothing() {
    let registered = OAuthClient::from_events(
        &when(
            &OAuthClient::default(),
            OAuthClientCommand::Register(registration()),
        )
        .unwrap(),
    );
    assert!(registered.active().is_some());
    let events = when(&registered, OAuthClientCommand::Revoke).unwrap();
    assert_eq!(events, vec![OAuthClientEvent::Revoked]);
    let mut revoked = registered;
    revoked.apply(&events[0]);
    assert!(revoked.active().is_none());
    assert_eq!(when(&revoked, OAuthClientCommand::Revoke).unwrap(), vec![]);
    assert!(matches!(
        when(&OAuthClient::default(), OAuthClientCommand::Revoke),
        Err(DomainError::NotFound { .. })
    ));
}

#[test]
fn auth_methods_are_read_by_their_rfc_7591_names() {
    assert_eq!(
        TokenEndpointAuthMethod::parse("").unwrap(),
        TokenEndpointAuthMethod::None
    );
    assert!(
        TokenEndpointAuthMethod::parse("client_secret_post")
            .unwrap()
            .is_confidential()
    );
    assert!(TokenEndpointAuthMethod::parse("private_key_jwt").is_err());
}
