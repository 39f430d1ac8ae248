//! Tests of `last_known_good`.

use super::*;
use crate::snapshot::ConfigStore;

fn snapshot(seq: i64) -> proto::Snapshot {
    proto::Snapshot {
        format: proto::SnapshotFormat::V1.into(),
        seq,
        all_workspaces: true,
        workspaces: vec![proto::Workspace {
            id: mcpgw_shared::WorkspaceId::new().to_string(),
            name: "w".into(),
        }],
        servers: vec![],
        api_keys: vec![],
        control_plane_version: String::new(),
        data_plane_id: String::new(),
    }
}

#[test]
fn a_saved_configuration_loads_back_with_the_same_token_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut updater) = ConfigStore::new();
    updater.replace(snapshot(7)).unwrap();
    let file = LastKnownGood::new(dir.path(), "mcpgwdp_abcdefgh_token");
    file.save(&updater.store().load()).unwrap();
    let loaded = file.load().unwrap().unwrap();
    assert_eq!(loaded.seq, 7);
    assert_eq!(loaded.workspaces.len(), 1);
    let other = LastKnownGood::new(dir.path(), "mcpgwdp_abcdefgh_other");
    assert!(matches!(
        other.load(),
        Err(LastKnownGoodError::Unreadable(_))
    ));
    let mode = std::fs::metadata(file.path()).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}

#[test]
fn a_missing_file_is_none_and_a_damaged_one_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = LastKnownGood::new(dir.path(), "t");
    assert!(file.load().unwrap().is_none());
    std::fs::write(file.path(), b"MCPGWLK1garbage").unwrap();
    assert!(file.load().is_err());
}
