use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ConnectionId, ServerId, WorkspaceId};

use super::*;

fn store(server: ServerId, user: &str) -> ConnectionCommand {
    ConnectionCommand::Store {
        server_id: server,
        user_id: user.to_owned(),
        sealed: "c2VhbGVk".to_owned(),
        signed_out: false,
        audience: vec![Audience::Workspace(WorkspaceId::new())],
    }
}

#[test]
fn tokens_are_stored_for_the_connection_of_their_server_and_user_only() {
    let server = ServerId::new();
    let id = ConnectionId::of(&server, "alice");
    let decision = Connection::default()
        .decide(&id, store(server, "alice"))
        .unwrap();
    assert_eq!(decision.events.len(), 1);

    let foreign = Connection::default().decide(&id, store(server, "mallory"));
    assert!(matches!(foreign, Err(DomainError::Invalid { field, .. }) if field == "user_id"));
}

#[test]
fn empty_or_oversized_tokens_are_refused() {
    let server = ServerId::new();
    let id = ConnectionId::of(&server, "alice");
    for sealed in [String::new(), "a".repeat(MAX_SEALED_BYTES + 1)] {
        let command = ConnectionCommand::Store {
            server_id: server,
            user_id: "alice".to_owned(),
            sealed,
            signed_out: false,
            audience: vec![],
        };
        let refused = Connection::default().decide(&id, command);
        assert!(matches!(refused, Err(DomainError::Invalid { field, .. }) if field == "sealed"));
    }
}

#[test]
fn revoking_ends_a_connection_once() {
    let server = ServerId::new();
    let id = ConnectionId::of(&server, "alice");
    let mut connection = Connection::default();
    let revoke = ConnectionCommand::Revoke { audience: vec![] };
    assert!(matches!(
        connection.decide(&id, revoke.clone()),
        Err(DomainError::NotFound { .. })
    ));
    for event in connection
        .decide(&id, store(server, "alice"))
        .unwrap()
        .events
    {
        connection.apply(&event);
    }
    let events = connection.decide(&id, revoke.clone()).unwrap().events;
    assert_eq!(
        events,
        vec![ConnectionEvent::Revoked {
            server_id: server,
            user_id: "alice".to_owned()
        }]
    );
    connection.apply(&events[0]);
    assert!(!connection.connected);
    assert!(connection.decide(&id, revoke).is_err());
}
