//! Turning config-sync messages into a [`Config`]: a whole snapshot, or entity states applied
//! on top of the current one. Pure functions over values; the store swaps the result in.

use std::sync::Arc;

use chrono::Utc;
use mcpgw_shared::model::InvalidMessage;
use mcpgw_shared::model::{
    ConnectionRecord, IdentityProvider, JwtValidation, RevokedGrant, ServerConfig,
};
use mcpgw_shared::proto::{self, entity_state::State};
use mcpgw_shared::{ApiKeyId, ConnectionId, OAuthGrantId, ServerId, WorkspaceId};

use super::change::Change;
use super::grant::Grant;
use super::key::KeyRecord;
use super::route::Route;
use super::sharded::ShardedMap;
use super::tool_policy::ToolPolicy;
use super::view::{Config, Entry, Workspace};
use crate::limits::ServerLimits;

/// A config-sync message could not be applied; the configuration is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The snapshot is in a format this build does not read.
    #[error(
        "snapshot format {0} is not supported by this data plane: upgrade it to the control plane's version"
    )]
    UnsupportedFormat(i32),
    /// An entity does not describe a valid configuration.
    #[error(transparent)]
    Invalid(#[from] InvalidMessage),
    /// An entity state names a kind this build does not know.
    #[error("entity {id} has unknown kind {kind}: upgrade the data plane")]
    UnknownKind {
        /// The kind number.
        kind: i32,
        /// The entity id.
        id: String,
    },
    /// An entity state carries neither a state nor a removal.
    #[error("entity {id} of kind {kind} carries no state")]
    MissingState {
        /// The kind number.
        kind: i32,
        /// The entity id.
        id: String,
    },
    /// An entity state's payload does not match its kind or id.
    #[error("entity {id} of kind {kind} carries a payload of another kind or id")]
    Mismatched {
        /// The kind number.
        kind: i32,
        /// The entity id.
        id: String,
    },
}

fn workspace_from(msg: proto::Workspace) -> Result<Workspace, ApplyError> {
    let id = msg.id.parse().map_err(|e| InvalidMessage {
        field: "workspace.id",
        reason: format!("{e}"),
    })?;
    let tools =
        ToolPolicy::compile(&msg.tools.unwrap_or_default().into()).map_err(|e| InvalidMessage {
            field: "workspace.tools",
            reason: e.to_string(),
        })?;
    let grants = msg
        .grants
        .into_iter()
        .map(|(subject, grants)| {
            let grant = Grant::compile(grants.into()).map_err(|e| InvalidMessage {
                field: "workspace.grants",
                reason: e.to_string(),
            })?;
            Ok((subject, Arc::new(grant)))
        })
        .collect::<Result<_, ApplyError>>()?;
    let rate_limits = msg
        .rate_limits
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<Vec<_>, _>>()?;
    let limits =
        ServerLimits::compile_for_workspace(id, &rate_limits).map_err(|e| InvalidMessage {
            field: "workspace.rate_limits",
            reason: e.to_string(),
        })?;
    let jwt_validation = msg
        .jwt_validation
        .map(|json| JwtValidation::from_json_with_secret(&json))
        .transpose()
        .map_err(|e| InvalidMessage {
            field: "workspace.jwt_validation",
            reason: e.to_string(),
        })?
        .map(Arc::new);
    let identity_provider = msg
        .identity_provider
        .map(|json| IdentityProvider::from_json_with_secret(&json))
        .transpose()
        .map_err(|e| InvalidMessage {
            field: "workspace.identity_provider",
            reason: e.to_string(),
        })?
        .map(Arc::new);
    Ok(Workspace {
        id,
        name: msg.name,
        tools: Arc::new(tools),
        grants,
        limits: Arc::new(limits),
        jwt_validation,
        identity_provider,
    })
}

/// Builds a complete configuration from a snapshot.
pub(crate) fn from_snapshot(snapshot: proto::Snapshot) -> Result<Config, ApplyError> {
    if snapshot.format != proto::SnapshotFormat::V1 as i32 {
        return Err(ApplyError::UnsupportedFormat(snapshot.format));
    }
    let seq = snapshot.seq;
    let mut config = Config {
        seq,
        ready: true,
        all_workspaces: snapshot.all_workspaces,
        ..Config::default()
    };
    for ws in snapshot.workspaces {
        let ws = workspace_from(ws)?;
        config.workspaces.insert(ws.id, entry(seq, Arc::new(ws)));
    }
    for server in snapshot.servers {
        upsert_route(&mut config, seq, route(server)?);
    }
    for key in snapshot.api_keys {
        let (id, key) = KeyRecord::from_message(key)?;
        config.keys.insert(id, entry(seq, key));
    }
    for connection in snapshot.connections {
        let connection = ConnectionRecord::try_from(connection)?;
        config
            .connections
            .insert(connection.id, entry(seq, Arc::new(connection)));
    }
    for grant in snapshot.revoked_grants {
        let grant = RevokedGrant::try_from(grant)?;
        config.revoked_grants.insert(grant.id, entry(seq, grant));
    }
    Ok(config)
}

fn entry<T>(seq: i64, value: T) -> Entry<T> {
    Entry { seq, value }
}

fn route(server: proto::Server) -> Result<Arc<Route>, ApplyError> {
    Ok(Arc::new(Route::build(ServerConfig::try_from(server)?)?))
}

fn upsert_route(config: &mut Config, seq: i64, route: Arc<Route>) -> Option<Arc<Route>> {
    let before = config.routes.get(&route.id()).map(|e| e.value.clone());
    if let Some(old) = &before
        && old.slug() != route.slug()
        && config.slugs.get(old.slug().as_str()) == Some(&old.id())
    {
        config.slugs.remove(old.slug().as_str());
    }
    config
        .slugs
        .insert(route.slug().as_str().into(), route.id());
    config.routes.insert(route.id(), entry(seq, route));
    before
}

fn remove_route(config: &mut Config, id: &ServerId) -> Option<Arc<Route>> {
    let before = config.routes.remove(id)?.value;
    if config.slugs.get(before.slug().as_str()) == Some(id) {
        config.slugs.remove(before.slug().as_str());
    }
    Some(before)
}

fn kind_code(kind: proto::EntityKind) -> u8 {
    kind as u8
}

/// Applies one entity state to `config`. Returns the change, or `None` when the state is older
/// than what `config` holds for that entity (a late or repeated delivery).
pub(crate) fn apply_entity(
    config: &mut Config,
    state: proto::EntityState,
) -> Result<Option<Change>, ApplyError> {
    let kind = proto::EntityKind::try_from(state.kind)
        .ok()
        .filter(|k| *k != proto::EntityKind::Unspecified)
        .ok_or_else(|| ApplyError::UnknownKind {
            kind: state.kind,
            id: state.id.clone(),
        })?;
    let tombstone_key = (kind_code(kind), state.id.clone());
    let held_seq = match kind {
        proto::EntityKind::Workspace => parse_id::<WorkspaceId>(&state.id, "workspace.id")
            .ok()
            .and_then(|id| config.workspaces.get(&id).map(|e| e.seq)),
        proto::EntityKind::Server => parse_id::<ServerId>(&state.id, "server.id")
            .ok()
            .and_then(|id| config.routes.get(&id).map(|e| e.seq)),
        proto::EntityKind::ApiKey => parse_id::<ApiKeyId>(&state.id, "api_key.id")
            .ok()
            .and_then(|id| config.keys.get(&id).map(|e| e.seq)),
        proto::EntityKind::Connection => parse_id::<ConnectionId>(&state.id, "connection.id")
            .ok()
            .and_then(|id| config.connections.get(&id).map(|e| e.seq)),
        proto::EntityKind::OauthGrant => parse_id::<OAuthGrantId>(&state.id, "revoked_grant.id")
            .ok()
            .and_then(|id| config.revoked_grants.get(&id).map(|e| e.seq)),
        proto::EntityKind::Unspecified => None,
    }
    .or_else(|| config.removed.get(&tombstone_key).copied());
    if held_seq.is_some_and(|held| state.seq <= held) {
        return Ok(None);
    }
    let seq = state.seq;
    let mismatched = || ApplyError::Mismatched {
        kind: state.kind,
        id: state.id.clone(),
    };
    let change = match (kind, state.state.clone()) {
        (_, None) => {
            return Err(ApplyError::MissingState {
                kind: state.kind,
                id: state.id,
            });
        }
        (proto::EntityKind::Workspace, Some(State::Removed(_))) => {
            let id = parse_id::<WorkspaceId>(&state.id, "workspace.id")?;
            let before = config.workspaces.remove(&id).map(|e| e.value);
            Change::workspace(id, before.as_deref(), None)
        }
        (proto::EntityKind::Workspace, Some(State::Workspace(ws))) => {
            let ws = workspace_from(ws)?;
            if ws.id.to_string() != state.id {
                return Err(mismatched());
            }
            let id = ws.id;
            let ws = Arc::new(ws);
            let before = config.workspaces.insert(id, entry(seq, ws.clone()));
            Change::workspace(id, before.as_ref().map(|e| &*e.value), Some(&ws))
        }
        (proto::EntityKind::Server, Some(State::Removed(_))) => {
            let id = parse_id::<ServerId>(&state.id, "server.id")?;
            let before = remove_route(config, &id);
            Change::server(id, before.as_deref(), None)
        }
        (proto::EntityKind::Server, Some(State::Server(server))) => {
            let route = route(server)?;
            if route.id().to_string() != state.id {
                return Err(mismatched());
            }
            let id = route.id();
            let before = upsert_route(config, seq, route.clone());
            Change::server(id, before.as_deref(), Some(&route))
        }
        (proto::EntityKind::ApiKey, Some(State::Removed(_))) => {
            let id = parse_id::<ApiKeyId>(&state.id, "api_key.id")?;
            config.keys.remove(&id);
            Change::api_key(id, None)
        }
        (proto::EntityKind::ApiKey, Some(State::ApiKey(key))) => {
            let (id, key) = KeyRecord::from_message(key)?;
            if id.as_str() != state.id {
                return Err(mismatched());
            }
            let change = Change::api_key(id, Some(&key));
            config.keys.insert(id, entry(seq, key));
            change
        }
        (proto::EntityKind::Connection, Some(State::Removed(_))) => {
            let id = parse_id::<ConnectionId>(&state.id, "connection.id")?;
            config.connections.remove(&id);
            Change::Connection { id, removed: true }
        }
        (proto::EntityKind::Connection, Some(State::Connection(connection))) => {
            let connection = ConnectionRecord::try_from(connection)?;
            if connection.id.to_string() != state.id {
                return Err(mismatched());
            }
            let id = connection.id;
            config
                .connections
                .insert(id, entry(seq, Arc::new(connection)));
            Change::Connection { id, removed: false }
        }
        (proto::EntityKind::OauthGrant, Some(State::Removed(_))) => {
            let id = parse_id::<OAuthGrantId>(&state.id, "revoked_grant.id")?;
            config.revoked_grants.remove(&id);
            Change::OAuthGrant { id, revoked: false }
        }
        (proto::EntityKind::OauthGrant, Some(State::RevokedGrant(grant))) => {
            let grant = RevokedGrant::try_from(grant)?;
            if grant.id.to_string() != state.id {
                return Err(mismatched());
            }
            forget_expired_grants(config);
            config.revoked_grants.insert(grant.id, entry(seq, grant));
            Change::OAuthGrant {
                id: grant.id,
                revoked: true,
            }
        }
        _ => return Err(mismatched()),
    };
    if matches!(state.state, Some(State::Removed(_))) {
        config.removed.insert(tombstone_key, seq);
    } else {
        config.removed.remove(&tombstone_key);
    }
    Ok(Some(change))
}

/// Drops the revoked grants whose access tokens have all expired (a snapshot leaves them out
/// too), so the set stays as small as the tokens' lifetime allows.
fn forget_expired_grants(config: &mut Config) {
    let now = Utc::now();
    let expired: Vec<OAuthGrantId> = config
        .revoked_grants
        .iter()
        .filter(|(_, e)| !e.value.matters_at(now))
        .map(|(id, _)| *id)
        .collect();
    for id in expired {
        config.revoked_grants.remove(&id);
    }
}

fn parse_id<T: std::str::FromStr>(text: &str, field: &'static str) -> Result<T, ApplyError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| {
        ApplyError::Invalid(InvalidMessage {
            field,
            reason: e.to_string(),
        })
    })
}

/// The changes between two configurations, for subscribers of a snapshot replacement.
pub(crate) fn diff(old: &Config, new: &Config) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_map(
        &old.workspaces,
        &new.workspaces,
        &mut changes,
        |id, before, after| Change::workspace(id, before.map(|w| &**w), after.map(|w| &**w)),
    );
    diff_map(
        &old.routes,
        &new.routes,
        &mut changes,
        |id, before, after| Change::server(id, before.map(|r| &**r), after.map(|r| &**r)),
    );
    diff_map(&old.keys, &new.keys, &mut changes, |id, _, after| {
        Change::api_key(id, after)
    });
    diff_map(
        &old.connections,
        &new.connections,
        &mut changes,
        |id, _, after| Change::Connection {
            id,
            removed: after.is_none(),
        },
    );
    diff_map(
        &old.revoked_grants,
        &new.revoked_grants,
        &mut changes,
        |id, _, after| Change::OAuthGrant {
            id,
            revoked: after.is_some(),
        },
    );
    changes
}

/// Appends a change for every entity of `old` or `new` whose value differs between them.
fn diff_map<K, V>(
    old: &ShardedMap<K, Entry<V>>,
    new: &ShardedMap<K, Entry<V>>,
    changes: &mut Vec<Change>,
    change: impl Fn(K, Option<&V>, Option<&V>) -> Change,
) where
    K: std::hash::Hash + Eq + Copy,
    V: Clone + PartialEq,
{
    for (id, e) in new {
        let before = old.get(id).map(|o| &o.value);
        if before != Some(&e.value) {
            changes.push(change(*id, before, Some(&e.value)));
        }
    }
    for (id, e) in old {
        if !new.contains_key(id) {
            changes.push(change(*id, Some(&e.value), None));
        }
    }
}
