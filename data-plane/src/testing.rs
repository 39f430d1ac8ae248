//! Builders of configuration test data (feature `test-util`): servers, keys, snapshots and
//! entity states, so tests feed a [`ConfigStore`](crate::ConfigStore) exactly as the sync loop
//! does, without a control plane.

use mcpgw_shared::model::{
    ApiKeyRecord, KeyType, Permission, RevokedGrant, ServerConfig, ToolFilter, UpstreamAuth,
};
use mcpgw_shared::proto::{self, entity_state::State};
use mcpgw_shared::{ApiKeyId, Credential, CredentialKind, ServerId, Slug, WorkspaceId};

/// An enabled server at `slug` in `workspace`, relaying to `url`, with no upstream auth.
pub fn server(slug: &str, workspace: WorkspaceId, url: &str) -> ServerConfig {
    ServerConfig {
        id: ServerId::new(),
        workspace_id: workspace,
        provisioned: Vec::new(),
        slug: Slug::parse(slug).expect("test slugs are valid"),
        name: slug.to_owned(),
        description: String::new(),
        url: url.to_owned(),
        enabled: true,
        tools: ToolFilter::default(),
        auth: UpstreamAuth::None,
        request_logging: Default::default(),
        rate_limits: Vec::new(),
        virtual_server: None,
        identity_forwarding: Default::default(),
        jwt_validation: None,
        version: 1,
        connection_version: 1,
    }
}

/// A new service key of `workspace` (or global) with `permissions`: the credential to present
/// and the record the data plane holds.
pub fn key(
    workspace: Option<WorkspaceId>,
    permissions: &[Permission],
) -> (Credential, ApiKeyRecord) {
    let credential = Credential::generate(CredentialKind::ApiKey);
    let record = ApiKeyRecord {
        id: *credential.id(),
        workspace_id: workspace,
        name: format!("test key {}", credential.id()),
        key_type: KeyType::Service,
        user_id: None,
        permissions: permissions.to_vec(),
        expires_at: None,
        revoked: false,
        secret_hash: credential.secret_hash(),
    };
    (credential, record)
}

/// A service key of `workspace` that may invoke MCP servers.
pub fn invoke_key(workspace: WorkspaceId) -> (Credential, ApiKeyRecord) {
    key(Some(workspace), &[Permission::McpInvoke])
}

/// A snapshot at `seq` serving every workspace.
pub fn snapshot(
    seq: i64,
    workspaces: &[WorkspaceId],
    servers: &[&ServerConfig],
    keys: &[&ApiKeyRecord],
) -> proto::Snapshot {
    proto::Snapshot {
        format: proto::SnapshotFormat::V1 as i32,
        seq,
        all_workspaces: true,
        workspaces: workspaces
            .iter()
            .map(|id| proto::Workspace {
                id: id.to_string(),
                name: format!("workspace {id}"),
                tools: None,
                grants: Default::default(),
                rate_limits: vec![],
                jwt_validation: None,
                identity_provider: None,
            })
            .collect(),
        servers: servers.iter().map(|s| proto::Server::from(*s)).collect(),
        api_keys: keys.iter().map(|k| proto::ApiKey::from(*k)).collect(),
        connections: vec![],
        revoked_grants: vec![],
        control_plane_version: env!("CARGO_PKG_VERSION").to_owned(),
        data_plane_id: String::new(),
    }
}

/// The state of `server` after the event `seq`.
pub fn server_state(seq: i64, server: &ServerConfig) -> proto::EntityState {
    proto::EntityState {
        kind: proto::EntityKind::Server as i32,
        id: server.id.to_string(),
        seq,
        state: Some(State::Server(server.into())),
    }
}

/// The state of `key` after the event `seq`.
pub fn key_state(seq: i64, key: &ApiKeyRecord) -> proto::EntityState {
    proto::EntityState {
        kind: proto::EntityKind::ApiKey as i32,
        id: key.id.to_string(),
        seq,
        state: Some(State::ApiKey(key.into())),
    }
}

/// The revocation of `grant` at event `seq`.
pub fn revoked_grant_state(seq: i64, grant: &RevokedGrant) -> proto::EntityState {
    proto::EntityState {
        kind: proto::EntityKind::OauthGrant as i32,
        id: grant.id.to_string(),
        seq,
        state: Some(State::RevokedGrant(grant.into())),
    }
}

/// The removal of the server `id` at event `seq`.
pub fn server_removed(seq: i64, id: ServerId) -> proto::EntityState {
    proto::EntityState {
        kind: proto::EntityKind::Server as i32,
        id: id.to_string(),
        seq,
        state: Some(State::Removed(proto::Removed {})),
    }
}

/// The removal of the key `id` at event `seq`.
pub fn key_removed(seq: i64, id: &ApiKeyId) -> proto::EntityState {
    proto::EntityState {
        kind: proto::EntityKind::ApiKey as i32,
        id: id.to_string(),
        seq,
        state: Some(State::Removed(proto::Removed {})),
    }
}

pub mod echo_upstream;
pub mod harness;

/// Runs a whole test under a time limit, so no wait in it can hang the suite.
pub async fn within(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(std::time::Duration::from_secs(240), test)
        .await
        .expect("the test did not finish within 240 s");
}
