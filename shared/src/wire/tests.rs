//! Tests of `wire`.

use super::*;

#[test]
fn subjects_follow_the_documented_pattern() {
    let workspace = WorkspaceId::new();
    let event = ConfigEvent {
        v: WIRE_VERSION,
        seq: 42,
        workspace: Audience::Workspace(workspace),
        kind: EntityKind::ApiKey,
        id: "abcdefgh".into(),
        change: "ApiKeyRevoked".into(),
        at: Utc::now(),
    };
    assert_eq!(
        event.subject(&Subjects::default()),
        format!("mcpgw.default.config.{workspace}.api_key")
    );
    assert_eq!(event.message_id(), format!("42.{workspace}"));
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], "api_key");
    assert_eq!(json["v"], 1);
}

#[test]
fn audiences_are_workspace_ids_or_the_global_token() {
    let workspace = WorkspaceId::new();
    for audience in [Audience::Global, Audience::Workspace(workspace)] {
        assert_eq!(audience.to_string().parse::<Audience>().unwrap(), audience);
    }
    assert_eq!(Audience::Global.to_string(), GLOBAL_WORKSPACE);
    let heartbeat = Heartbeat {
        v: WIRE_VERSION,
        head: 3,
        workspaces: [(Audience::Workspace(workspace), 3), (Audience::Global, 2)].into(),
        at: Utc::now(),
    };
    let json = serde_json::to_string(&heartbeat).unwrap();
    assert_eq!(serde_json::from_str::<Heartbeat>(&json).unwrap(), heartbeat);
}
