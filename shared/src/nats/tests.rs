//! Tests of `nats`.

use super::*;

#[test]
fn a_scoped_data_plane_reads_its_workspaces_and_writes_only_its_own_subjects() {
    let subjects = Subjects::default();
    let id = DataPlaneId::new();
    let workspace = WorkspaceId::new();
    let permissions = Permissions::data_plane(&subjects, id, Some(&[workspace]));
    assert_eq!(
        permissions.subscribe,
        [
            "mcpgw.default.heartbeat".to_owned(),
            "mcpgw.default.limits.>".to_owned(),
            "mcpgw.default.config._global.data_plane".to_owned(),
            format!("mcpgw.default.config.{workspace}.>"),
        ]
    );
    assert_eq!(
        permissions.publish,
        [
            format!("mcpgw.default.status.{id}"),
            format!("mcpgw.default.logs.{id}.>"),
            format!("mcpgw.default.limits.{id}"),
        ]
    );
    assert!(
        !permissions
            .publish
            .iter()
            .any(|s| s.contains("config") || s.contains("heartbeat"))
    );
}

#[test]
fn generated_users_have_a_seed_that_gives_back_their_public_key() {
    let (seed, public) = new_user();
    assert!(seed.expose().starts_with("SU") && public.starts_with('U'));
    assert_eq!(public_key(seed.expose()).as_deref(), Some(public.as_str()));
    assert_eq!(public_key("not a seed"), None);
}
