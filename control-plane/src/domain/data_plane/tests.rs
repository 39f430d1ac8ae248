//! Tests of `data_plane`: given these events, when this command, then these events or that
//! error.

use super::*;

fn cmd(workspaces: Option<Vec<WorkspaceId>>) -> DataPlaneCommand {
    DataPlaneCommand::Register(RegisterDataPlane {
        name: "edge".into(),
        workspaces,
        token_id: ApiKeyId::generate(),
        token_hash: [0; 32],
        nats_user: "UABC".into(),
    })
}

fn when(state: &DataPlane, command: DataPlaneCommand) -> Result<Vec<DataPlaneEvent>, DomainError> {
    state
        .decide(&DataPlaneId::new(), command)
        .map(|decision| decision.events)
}

#[test]
fn a_data_plane_serving_all_workspaces_is_registered() {
    let events = when(&DataPlane::default(), cmd(None)).unwrap();
    assert_eq!(events[0].event_type(), "DataPlaneRegistered");
}

#[test]
fn an_empty_workspace_list_is_refused() {
    assert!(when(&DataPlane::default(), cmd(Some(vec![]))).is_err());
}

#[test]
fn registering_twice_is_refused() {
    let state = DataPlane::from_events(&when(&DataPlane::default(), cmd(None)).unwrap());
    assert!(matches!(
        when(&state, cmd(None)),
        Err(DomainError::AlreadyExists { .. })
    ));
}

fn registered() -> (DataPlane, ApiKeyId) {
    let events = when(&DataPlane::default(), cmd(None)).unwrap();
    let DataPlaneEvent::Registered { token_id, .. } = events[0] else {
        unreachable!("registering gives DataPlaneRegistered");
    };
    (DataPlane::from_events(&events), token_id)
}

fn rotate(state: &mut DataPlane, overlap: chrono::Duration, now: DateTime<Utc>) -> ApiKeyId {
    let token_id = ApiKeyId::generate();
    let events = when(
        state,
        DataPlaneCommand::RotateToken {
            token_id,
            token_hash: [1; 32],
            retire_previous_at: now + overlap,
            now,
        },
    )
    .unwrap();
    for event in &events {
        state.apply(event);
    }
    token_id
}

#[test]
fn a_rotation_keeps_the_old_token_for_the_overlap_only() {
    let (mut state, first) = registered();
    let now = Utc::now();
    let second = rotate(&mut state, chrono::Duration::minutes(10), now);
    let usable = |state: &DataPlane, at| -> Vec<ApiKeyId> {
        state
            .tokens
            .iter()
            .filter(|t| t.usable(at))
            .map(|t| t.id)
            .collect()
    };
    assert_eq!(usable(&state, now), vec![first, second]);
    assert_eq!(
        usable(&state, now + chrono::Duration::minutes(11)),
        vec![second]
    );
    // A second rotation never extends the first token's window.
    rotate(&mut state, chrono::Duration::hours(1), now);
    assert_eq!(
        state.tokens[0].expires_at,
        Some(now + chrono::Duration::minutes(10))
    );
}

#[test]
fn an_overlap_beyond_seven_days_is_refused() {
    let (state, _) = registered();
    let now = Utc::now();
    let result = when(
        &state,
        DataPlaneCommand::RotateToken {
            token_id: ApiKeyId::generate(),
            token_hash: [1; 32],
            retire_previous_at: now + MAX_ROTATION_OVERLAP + chrono::Duration::seconds(1),
            now,
        },
    );
    assert!(matches!(result, Err(DomainError::Invalid { .. })));
}

#[test]
fn revoking_without_a_token_revokes_every_usable_one() {
    let (mut state, first) = registered();
    let now = Utc::now();
    let second = rotate(&mut state, chrono::Duration::minutes(10), now);
    let events = when(
        &state,
        DataPlaneCommand::Revoke {
            token_id: None,
            now,
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            DataPlaneEvent::TokenRevoked { token_id: first },
            DataPlaneEvent::TokenRevoked { token_id: second }
        ]
    );
}

#[test]
fn an_unknown_or_revoked_token_cannot_be_revoked() {
    let (mut state, first) = registered();
    let now = Utc::now();
    let revoke = |token_id| DataPlaneCommand::Revoke {
        token_id: Some(token_id),
        now,
    };
    assert!(matches!(
        when(&state, revoke(ApiKeyId::generate())),
        Err(DomainError::NotFound { .. })
    ));
    state.apply(&when(&state, revoke(first)).unwrap()[0]);
    assert!(matches!(
        when(&state, revoke(first)),
        Err(DomainError::Invalid { .. })
    ));
}

#[test]
fn a_deleted_data_plane_takes_no_more_commands() {
    let (mut state, _) = registered();
    state.apply(&when(&state, DataPlaneCommand::Delete).unwrap()[0]);
    assert!(matches!(
        when(&state, DataPlaneCommand::Delete),
        Err(DomainError::NotFound { .. })
    ));
}
