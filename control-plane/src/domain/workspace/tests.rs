//! Tests of `workspace`: given these events, when this command, then these events or that
//! error.

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
