//! Tests of `api_key`: given these events, when this command, then these events or that error.

use chrono::Duration;

use super::*;

fn issue() -> IssueApiKey {
    IssueApiKey {
        workspace_id: Some(WorkspaceId::new()),
        name: "ci".into(),
        key_type: KeyType::Service,
        user_id: None,
        permissions: vec![Permission::McpInvoke],
        expires_at: None,
        secret_hash: [0; 32],
        now: Utc::now(),
    }
}

fn when(state: &ApiKey, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, DomainError> {
    state
        .decide(&ApiKeyId::generate(), command)
        .map(|decision| decision.events)
}

fn issued() -> ApiKey {
    ApiKey::from_events(&when(&ApiKey::default(), ApiKeyCommand::Issue(issue())).unwrap())
}

#[test]
fn issuing_a_service_key_records_it_for_its_workspace() {
    let command = issue();
    let workspace = command.workspace_id.unwrap();
    let decision = ApiKey::default()
        .decide(&ApiKeyId::generate(), ApiKeyCommand::Issue(command))
        .unwrap();
    assert_eq!(decision.events[0].event_type(), "ApiKeyIssued");
    assert_eq!(decision.audience, vec![Audience::Workspace(workspace)]);
}

#[test]
fn a_global_key_concerns_every_data_plane() {
    let global_admin = IssueApiKey {
        workspace_id: None,
        permissions: vec![Permission::Admin],
        ..issue()
    };
    let decision = ApiKey::default()
        .decide(&ApiKeyId::generate(), ApiKeyCommand::Issue(global_admin))
        .unwrap();
    assert_eq!(decision.audience, vec![Audience::Global]);
}

#[test]
fn a_user_key_needs_a_user_and_a_service_key_must_not_have_one() {
    let user = IssueApiKey {
        key_type: KeyType::User,
        ..issue()
    };
    assert!(matches!(
        when(&ApiKey::default(), ApiKeyCommand::Issue(user)),
        Err(DomainError::Invalid { ref field, .. }) if field == "user_id"
    ));
    let service = IssueApiKey {
        user_id: Some("alice".into()),
        ..issue()
    };
    assert!(when(&ApiKey::default(), ApiKeyCommand::Issue(service)).is_err());
}

#[test]
fn a_key_without_permissions_or_with_a_past_expiry_is_refused() {
    let none = IssueApiKey {
        permissions: vec![],
        ..issue()
    };
    assert!(when(&ApiKey::default(), ApiKeyCommand::Issue(none)).is_err());
    let past = IssueApiKey {
        expires_at: Some(Utc::now() - Duration::seconds(1)),
        ..issue()
    };
    assert!(matches!(
        when(&ApiKey::default(), ApiKeyCommand::Issue(past)),
        Err(DomainError::Invalid { ref field, .. }) if field == "expires_at"
    ));
}

#[test]
fn an_invoke_key_must_belong_to_a_workspace_but_a_global_admin_key_need_not() {
    let global_invoke = IssueApiKey {
        workspace_id: None,
        ..issue()
    };
    assert!(when(&ApiKey::default(), ApiKeyCommand::Issue(global_invoke)).is_err());
    let global_admin = IssueApiKey {
        workspace_id: None,
        permissions: vec![Permission::Admin],
        ..issue()
    };
    assert!(when(&ApiKey::default(), ApiKeyCommand::Issue(global_admin)).is_ok());
}

#[test]
fn revoking_twice_records_one_revocation() {
    let key = issued();
    assert_eq!(
        when(&key, ApiKeyCommand::Revoke).unwrap(),
        vec![ApiKeyEvent::Revoked]
    );
    let revoked = ApiKey {
        revoked: true,
        ..key
    };
    assert!(when(&revoked, ApiKeyCommand::Revoke).unwrap().is_empty());
}

#[test]
fn revoking_an_unknown_key_is_not_found() {
    assert!(matches!(
        when(&ApiKey::default(), ApiKeyCommand::Revoke),
        Err(DomainError::NotFound { .. })
    ));
}
