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
            tools: None,
            grants: Default::default(),
            rate_limits: vec![],
            jwt_validation: None,
            identity_provider: None,
        }],
        servers: vec![],
        api_keys: vec![],
        connections: vec![],
        revoked_grants: vec![],
        control_plane_version: String::new(),
        data_plane_id: String::new(),
    }
}

#[test]
fn a_saved_configuration_loads_back_with_the_same_token_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut updater) = ConfigStore::new();
    let mut saved = snapshot(7);
    let revoked = proto::RevokedGrant {
        id: mcpgw_shared::OAuthGrantId::new().to_string(),
        workspace_id: saved.workspaces[0].id.clone(),
        live_until_ms: chrono::Utc::now().timestamp_millis() + 600_000,
    };
    saved.revoked_grants.push(revoked.clone());
    updater.replace(saved).unwrap();
    let file = LastKnownGood::new(dir.path(), "mcpgwdp_abcdefgh_token");
    file.save(&updater.store().load()).unwrap();
    let loaded = file.load().unwrap().unwrap();
    assert_eq!(loaded.seq, 7);
    assert_eq!(loaded.workspaces.len(), 1);
    // A pod restarted from the file still refuses the tokens of a revoked grant.
    assert_eq!(loaded.revoked_grants, vec![revoked]);
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
fn a_workspace_identity_provider_is_saved_sealed_and_loads_back_with_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut updater) = ConfigStore::new();
    let mut snap = snapshot(3);
    snap.workspaces[0].identity_provider = Some(
        r#"{"issuer": "https://idp.example.com", "client_id": "gateway", "client_secret": "idp-secret-marker"}"#
            .into(),
    );
    updater.replace(snap).unwrap();
    let file = LastKnownGood::new(dir.path(), "mcpgwdp_abcdefgh_token");
    file.save(&store.load()).unwrap();
    let bytes = std::fs::read(file.path()).unwrap();
    assert!(
        !bytes
            .windows(b"idp-secret-marker".len())
            .any(|w| w == b"idp-secret-marker"),
        "the file is sealed"
    );
    let (reloaded, mut updater) = ConfigStore::new();
    updater.replace(file.load().unwrap().unwrap()).unwrap();
    let config = reloaded.load();
    let workspace = config.workspaces().next().unwrap();
    let provider = workspace.identity_provider.as_ref().unwrap();
    assert_eq!(
        provider.client_secret.as_ref().map(|s| s.expose().as_str()),
        Some("idp-secret-marker")
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

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever a file holds (truncated, corrupted, another program's), loading it is an
        /// error, never a panic or a configuration.
        #[test]
        fn any_file_content_is_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512), magic in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let file = LastKnownGood::new(dir.path(), "mcpgwdp_abcdefgh_token");
            let mut content = if magic { MAGIC.to_vec() } else { Vec::new() };
            content.extend_from_slice(&bytes);
            std::fs::write(file.path(), content).unwrap();
            prop_assert!(file.load().is_err());
        }
    }
}
