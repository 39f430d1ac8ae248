//! One immutable version of the configuration, as request handling reads it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::grant::Grant;
use super::key::KeyRecord;
use super::route::Route;
use super::sharded::ShardedMap as HashMap;
use super::tool_policy::ToolPolicy;
use crate::limits::ServerLimits;
use chrono::{DateTime, Utc};
use mcpgw_shared::model::{
    ConnectionRecord, IdentityProvider, JwtValidation, RevokedGrant, key_subject, user_subject,
};
use mcpgw_shared::proto;
use mcpgw_shared::{ApiKeyId, ConnectionId, OAuthGrantId, ServerId, WorkspaceId};

/// A workspace as the data plane knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Its id.
    pub id: WorkspaceId,
    /// Display name.
    pub name: String,
    /// Its tool policy, limiting every server its keys reach.
    pub tools: Arc<ToolPolicy>,
    /// What single keys and users may use, by `key:<id>` or `user:<id>`.
    pub grants: BTreeMap<String, Arc<Grant>>,
    /// Rate limits and quotas on everything its keys call.
    pub limits: Arc<ServerLimits>,
    /// How it checks its identity provider's bearer JWTs (none: API keys only).
    pub jwt_validation: Option<Arc<JwtValidation>>,
    /// The OpenID Connect provider its users sign in with at the gateway's authorization
    /// server, client secret in memory (none: no sign-in through a provider).
    pub identity_provider: Option<Arc<IdentityProvider>>,
}

impl Workspace {
    /// The grants of the key `key_id`, and of the user `user`, where there are any.
    pub fn grants_of(&self, key_id: &str, user: Option<&str>) -> [Option<&Arc<Grant>>; 2] {
        if self.grants.is_empty() {
            return [None, None];
        }
        [
            self.grants.get(&key_subject(key_id)),
            user.and_then(|u| self.grants.get(&user_subject(u))),
        ]
    }
}

/// An entity with the sequence of the last event that changed it.
#[derive(Debug, Clone)]
pub(crate) struct Entry<T> {
    pub(crate) seq: i64,
    pub(crate) value: T,
}

/// A complete, immutable configuration of the workspaces this data plane serves.
///
/// Cloning is cheap: the maps are sharded copy-on-write, so an update copies only the shards
/// it touches, whatever the number of keys and servers.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub(crate) seq: i64,
    pub(crate) ready: bool,
    /// Set while nothing has confirmed the configuration for longer than `MCPGW_MAX_STALENESS`.
    pub(crate) stale: bool,
    pub(crate) all_workspaces: bool,
    pub(crate) workspaces: HashMap<WorkspaceId, Entry<Arc<Workspace>>>,
    pub(crate) routes: HashMap<ServerId, Entry<Arc<Route>>>,
    /// Slug (validated when applied) to server; keyed by text so lookups need no validation.
    pub(crate) slugs: HashMap<Box<str>, ServerId>,
    /// Every key of the workspaces served, held inline (no allocation per key).
    pub(crate) keys: HashMap<ApiKeyId, Entry<KeyRecord>>,
    /// Users' connections to per-user OAuth servers (tokens sealed with `MCPGW_TOKEN_KEY`).
    pub(crate) connections: HashMap<ConnectionId, Entry<Arc<ConnectionRecord>>>,
    /// Revoked grants of the gateway's authorization server whose access tokens may be
    /// unexpired: those tokens are refused.
    pub(crate) revoked_grants: HashMap<OAuthGrantId, Entry<RevokedGrant>>,
    /// Sequences of removals, so a late upsert older than its removal is not resurrected.
    pub(crate) removed: HashMap<(u8, String), i64>,
}

impl Config {
    /// Every event up to this sequence is reflected.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// Whether a snapshot was ever applied and the configuration is not stale (otherwise the
    /// gateway answers 503).
    pub fn is_ready(&self) -> bool {
        self.ready && !self.stale
    }

    /// Whether nothing has confirmed the configuration for longer than `MCPGW_MAX_STALENESS`.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Whether this data plane serves every workspace.
    pub fn serves_all_workspaces(&self) -> bool {
        self.all_workspaces
    }

    /// The route of the server at `slug`.
    pub fn route_by_slug(&self, slug: &str) -> Option<&Arc<Route>> {
        let id = self.slugs.get(slug)?;
        self.route(id)
    }

    /// The route of the server with `id`.
    pub fn route(&self, id: &ServerId) -> Option<&Arc<Route>> {
        self.routes.get(id).map(|e| &e.value)
    }

    /// The API key with `id`.
    pub fn api_key(&self, id: &ApiKeyId) -> Option<&KeyRecord> {
        self.keys.get(id).map(|e| &e.value)
    }

    /// `user`'s connection to `server`, if they signed in.
    pub fn connection(&self, server: &ServerId, user: &str) -> Option<&Arc<ConnectionRecord>> {
        self.connections
            .get(&ConnectionId::of(server, user))
            .map(|e| &e.value)
    }

    /// The sequence at which connection `id` was ended, if this configuration saw it end.
    pub fn connection_removed_at(&self, id: &ConnectionId) -> Option<i64> {
        self.removed
            .get(&(proto::EntityKind::Connection as u8, id.to_string()))
            .copied()
    }

    /// Whether grant `id` was revoked: access tokens issued under it are refused at `now`.
    pub fn grant_revoked(&self, id: &OAuthGrantId, now: DateTime<Utc>) -> bool {
        self.revoked_grants
            .get(id)
            .is_some_and(|e| e.value.matters_at(now))
    }

    /// The workspace with `id`.
    pub fn workspace(&self, id: &WorkspaceId) -> Option<&Arc<Workspace>> {
        self.workspaces.get(id).map(|e| &e.value)
    }

    /// Every route.
    pub fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.values().map(|e| &e.value)
    }

    /// Every API key.
    pub fn api_keys(&self) -> impl Iterator<Item = (&ApiKeyId, &KeyRecord)> {
        self.keys.iter().map(|(id, e)| (id, &e.value))
    }

    /// Every workspace.
    pub fn workspaces(&self) -> impl Iterator<Item = &Arc<Workspace>> {
        self.workspaces.values().map(|e| &e.value)
    }

    /// This configuration as a snapshot message (for the last-known-good file).
    pub fn to_snapshot(&self) -> proto::Snapshot {
        proto::Snapshot {
            format: proto::SnapshotFormat::V1.into(),
            seq: self.seq,
            all_workspaces: self.all_workspaces,
            workspaces: self
                .workspaces()
                .map(|w| proto::Workspace {
                    id: w.id.to_string(),
                    name: w.name.clone(),
                    tools: Some(w.tools.source().into()),
                    grants: w
                        .grants
                        .iter()
                        .map(|(subject, grant)| (subject.clone(), grant.source().into()))
                        .collect(),
                    rate_limits: w.limits.source().iter().map(Into::into).collect(),
                    jwt_validation: w
                        .jwt_validation
                        .as_deref()
                        .map(JwtValidation::to_json_with_secret),
                    identity_provider: w
                        .identity_provider
                        .as_deref()
                        .map(IdentityProvider::to_json_with_secret),
                })
                .collect(),
            servers: self
                .routes()
                .map(|r| proto::Server::from(&r.server))
                .collect(),
            api_keys: self
                .api_keys()
                .map(|(id, key)| key.to_message(id))
                .collect(),
            connections: self
                .connections
                .values()
                .map(|e| proto::UpstreamConnection::from(&*e.value))
                .collect(),
            revoked_grants: self
                .revoked_grants
                .values()
                .map(|e| proto::RevokedGrant::from(&e.value))
                .collect(),
            control_plane_version: String::new(),
            data_plane_id: String::new(),
        }
    }
}
