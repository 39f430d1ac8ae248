//! Tests of `data_plane`: given these events, when this command, then these events or that
//! error.

use super::*;

fn cmd(workspaces: Option<Vec<WorkspaceId>>) -> DataPlaneCommand {
    DataPlaneCommand::Register(RegisterDataPlane {
        name: "edge".into(),
        workspaces,
        token_id: ApiKeyId::generate(),
        token_hash: [0; 32],
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
