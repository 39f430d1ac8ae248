//! What a data plane may see of the configuration: the entities of the workspaces its token
//! serves, secrets opened for it, read in one consistent state of the database with the
//! sequence it is current at.

use std::ops::DerefMut;

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{
    ApiKeyRecord, ConnectionRecord, Grants, IdentityProvider, JwtValidation, RateLimit,
    RevokedGrant, ServerConfig, ToolFilter,
};
use mcpgw_shared::{Redacted, SecretCipher, StreamId, WorkspaceId};
use sqlx::AnyConnection;

use super::connections::connection_record;
use super::workspaces::workspace_secret_context;
use super::{Service, ServiceError, secret_context};
use crate::store::read_models::{OAuthGrantRow, Reader, Scope};
use crate::store::{ApiKeyRow, DataPlaneRow, ServerRow, WorkspaceRow};

/// A data plane more than this many events behind takes a new snapshot instead of changes.
pub const MAX_CHANGES: i64 = 10_000;

/// How long past its access tokens' lifetime a revoked grant stays on data planes: their
/// verification leeway and the clocks' skew.
const REVOKED_GRANT_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Every entity a data plane serves, current at `seq`.
#[derive(Debug, Clone)]
pub struct SyncSnapshot {
    /// Every event up to this sequence is reflected.
    pub seq: i64,
    /// Whether the data plane serves every workspace.
    pub all_workspaces: bool,
    /// Its workspaces, secrets opened.
    pub workspaces: Vec<SyncWorkspace>,
    /// The servers that serve them, secrets opened.
    pub servers: Vec<ServerConfig>,
    /// Their keys.
    pub api_keys: Vec<ApiKeyRecord>,
    /// Users' connections to them (tokens sealed for data planes).
    pub connections: Vec<ConnectionRecord>,
    /// Their users' revoked grants whose access tokens may be unexpired.
    pub revoked_grants: Vec<RevokedGrant>,
}

/// The current state of one entity as a data plane may see it.
#[derive(Debug, Clone)]
pub struct SyncEntity {
    /// The entity's stream.
    pub stream: StreamId,
    /// The sequence of the last event of the entity that the state reflects.
    pub seq: i64,
    /// Its state.
    pub state: SyncState,
}

/// An entity's state for a data plane.
#[derive(Debug, Clone)]
pub enum SyncState {
    /// It no longer exists, or is no longer in the data plane's scope (or is not a kind of
    /// entity data planes hold).
    Removed,
    /// A workspace, secrets opened.
    Workspace(Box<SyncWorkspace>),
    /// A server, secrets opened.
    Server(Box<ServerConfig>),
    /// An API key.
    ApiKey(ApiKeyRecord),
    /// A user's connection.
    Connection(ConnectionRecord),
    /// A revoked grant whose access tokens may be unexpired.
    RevokedGrant(RevokedGrant),
}

/// A workspace as a data plane holds it: its identity provider's client secret opened.
#[derive(Debug, Clone)]
pub struct SyncWorkspace {
    /// Id.
    pub id: WorkspaceId,
    /// Name.
    pub name: String,
    /// Its tool policy.
    pub tools: ToolFilter,
    /// What single keys and users may use.
    pub grants: std::collections::BTreeMap<String, Grants>,
    /// Its rate limits and quotas.
    pub rate_limits: Vec<RateLimit>,
    /// How it checks bearer tokens, introspection client secret opened.
    pub jwt_validation: Option<JwtValidation>,
    /// The OpenID Connect provider its users sign in with, client secret opened.
    pub identity_provider: Option<IdentityProvider>,
}

impl Service {
    /// A consistent snapshot of everything `data_plane` serves.
    pub async fn sync_snapshot(
        &self,
        data_plane: &DataPlaneRow,
    ) -> Result<SyncSnapshot, ServiceError> {
        let scope = data_plane.scope();
        let mut reader = self.db.snapshot_reader().await?;
        let seq = reader.head().await?;
        let resolver = self.resolver(scope);
        let workspaces = reader
            .workspaces(scope)
            .await?
            .into_iter()
            .map(|row| resolver.workspace(row))
            .collect::<Result<_, _>>()?;
        let servers = reader
            .servers(scope)
            .await?
            .into_iter()
            .map(|row| resolver.server(row))
            .collect::<Result<_, _>>()?;
        let api_keys = reader
            .api_keys(scope)
            .await?
            .into_iter()
            // Keys of no workspace are global admin keys: no data plane has a use for them.
            .filter(|row| row.workspace_id.is_some())
            .map(|row| resolver.api_key(row))
            .collect();
        let connections = reader
            .connections(scope)
            .await?
            .into_iter()
            .map(connection_record)
            .collect::<Result<_, _>>()?;
        let now = Utc::now();
        let revoked_grants = reader
            .oauth_grants_revoked_since(
                scope,
                now.checked_sub_signed(resolver.revoked_grant_window)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            )
            .await?
            .into_iter()
            .filter_map(|row| resolver.revoked_grant(&row, now))
            .collect();
        Ok(SyncSnapshot {
            seq,
            all_workspaces: scope.is_none(),
            workspaces,
            servers,
            api_keys,
            connections,
            revoked_grants,
        })
    }

    /// The head sequence and the current state of every entity of `data_plane`'s scope that
    /// changed after `after`. [`ServiceError::SnapshotNeeded`] when `after` is ahead of the
    /// log or too far behind it.
    pub async fn sync_changes(
        &self,
        data_plane: &DataPlaneRow,
        after: i64,
    ) -> Result<(i64, Vec<SyncEntity>), ServiceError> {
        let scope = data_plane.scope();
        let mut reader = self.db.snapshot_reader().await?;
        let head = reader.head().await?;
        if after > head || after < 0 || head - after > MAX_CHANGES {
            return Err(ServiceError::SnapshotNeeded { after, head });
        }
        let resolver = self.resolver(scope);
        let changed = reader.changed_entities(after, head, scope).await?;
        let mut entities = Vec::with_capacity(changed.len());
        for (stream, seq) in changed {
            // Data planes hold no registrations, their own included, and of the authorization
            // server only revoked grants (they ask for the rest through its own API).
            if !synced(&stream) {
                continue;
            }
            let entity = resolver.resolve(&mut reader, stream, seq).await?;
            // A grant that is not (or no longer needs to be) refused is nothing to a data
            // plane: no removal is sent for it.
            if matches!(entity.stream, StreamId::OAuthGrant(_))
                && matches!(entity.state, SyncState::Removed)
            {
                continue;
            }
            entities.push(entity);
        }
        Ok((head, entities))
    }

    /// The current state of one entity as `data_plane` may see it.
    pub async fn sync_entity(
        &self,
        data_plane: &DataPlaneRow,
        stream: StreamId,
    ) -> Result<SyncEntity, ServiceError> {
        let scope = data_plane.scope();
        let mut reader = self.db.snapshot_reader().await?;
        let head = reader.head().await?;
        self.resolver(scope)
            .resolve(&mut reader, stream, head)
            .await
    }

    fn resolver<'a>(&'a self, scope: Scope<'a>) -> Resolver<'a> {
        let ttl = chrono::TimeDelta::from_std(self.authorization.access_token_ttl)
            .unwrap_or(chrono::TimeDelta::MAX);
        Resolver {
            cipher: &self.cipher,
            scope,
            revoked_grant_window: ttl.checked_add(&REVOKED_GRANT_MARGIN).unwrap_or(ttl),
        }
    }
}

impl Service {
    /// Server `id` with its secrets opened, for calls the control plane itself makes to its
    /// upstream (the doctor), if the caller manages its workspace.
    pub async fn server_with_secrets(
        &self,
        caller: &super::Caller,
        id: &mcpgw_shared::ServerId,
    ) -> Result<ServerConfig, ServiceError> {
        let row = self.server(caller, id).await?;
        self.resolver(None).server(row)
    }
}

/// Turns read-model rows into what one data plane may see: in its scope, secrets opened.
struct Resolver<'a> {
    cipher: &'a SecretCipher,
    scope: Scope<'a>,
    /// How long after its revocation a grant's access tokens may be unexpired.
    revoked_grant_window: chrono::TimeDelta,
}

impl Resolver<'_> {
    fn in_scope(&self, workspace: &WorkspaceId) -> bool {
        self.scope.is_none_or(|s| s.contains(workspace))
    }

    fn server(&self, row: ServerRow) -> Result<ServerConfig, ServiceError> {
        let id = row.id;
        let auth = row.auth.try_map_secrets(|sealed, path| {
            self.cipher
                .open(&sealed, &secret_context(&id, path))
                .map(|s| Redacted::new(s.into_inner()))
                .map_err(|source| {
                    tracing::error!(server = %id, field = path, error = %source, "cannot open a stored secret");
                    ServiceError::SecretUnreadable {
                        owner: id.stream(),
                        field: path.to_owned(),
                        source,
                    }
                })
        })?;
        let jwt_validation = row
            .jwt_validation
            .map(|rules| {
                rules.try_map_secret(|sealed, path| self.open_sealed(&id.stream(), &sealed, path))
            })
            .transpose()?;
        Ok(ServerConfig {
            id,
            workspace_id: row.workspace_id,
            provisioned: row.provisioned,
            slug: row.slug,
            name: row.name,
            description: row.description,
            url: row.url,
            enabled: row.enabled,
            tools: row.tools,
            request_logging: row.request_logging,
            rate_limits: row.rate_limits,
            virtual_server: row.virtual_server,
            identity_forwarding: row.identity_forwarding,
            jwt_validation,
            auth,
            version: row.version,
            connection_version: row.connection_version,
        })
    }

    fn workspace(&self, row: WorkspaceRow) -> Result<SyncWorkspace, ServiceError> {
        let id = row.id;
        let identity_provider = row
            .identity_provider
            .map(|provider| {
                provider.try_map_secret(|sealed, path| {
                    self.cipher
                        .open(&sealed, &workspace_secret_context(&id, path))
                        .map_err(|source| {
                            tracing::error!(workspace = %id, field = path, error = %source, "cannot open a stored secret");
                            ServiceError::SecretUnreadable {
                                owner: id.stream(),
                                field: path.to_owned(),
                                source,
                            }
                        })
                })
            })
            .transpose()?;
        let jwt_validation = row
            .jwt_validation
            .map(|rules| {
                rules.try_map_secret(|sealed, path| self.open_sealed(&id.stream(), &sealed, path))
            })
            .transpose()?;
        Ok(SyncWorkspace {
            id,
            name: row.name,
            tools: row.tools,
            grants: row.grants,
            rate_limits: row.rate_limits,
            jwt_validation,
            identity_provider,
        })
    }

    /// A secret of `owner` sealed with the context `<owner>/<path>`, opened.
    fn open_sealed(
        &self,
        owner: &StreamId,
        sealed: &mcpgw_shared::SealedSecret,
        path: &str,
    ) -> Result<Redacted<String>, ServiceError> {
        self.cipher
            .open(sealed, &format!("{owner}/{path}"))
            .map_err(|source| {
                tracing::error!(%owner, field = path, error = %source, "cannot open a stored secret");
                ServiceError::SecretUnreadable {
                    owner: owner.clone(),
                    field: path.to_owned(),
                    source,
                }
            })
    }

    /// A key's record. Data planes hold every key of their workspaces, usable or not, so each
    /// key gets the right answer (a missing permission named, revoked or expired told so).
    fn api_key(&self, row: ApiKeyRow) -> ApiKeyRecord {
        ApiKeyRecord {
            revoked: row.revoked_at.is_some(),
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            key_type: row.key_type,
            user_id: row.user_id,
            permissions: row.permissions,
            expires_at: row.expires_at,
            secret_hash: row.secret_hash,
        }
    }

    /// A grant as data planes hold it: only when revoked, and while access tokens issued
    /// before the revocation may be unexpired at `now`.
    fn revoked_grant(&self, row: &OAuthGrantRow, now: DateTime<Utc>) -> Option<RevokedGrant> {
        let grant = RevokedGrant {
            id: row.id,
            workspace_id: row.workspace_id,
            live_until: row
                .updated_at
                .checked_add_signed(self.revoked_grant_window)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        (row.state == "revoked" && self.in_scope(&row.workspace_id) && grant.matters_at(now))
            .then_some(grant)
    }

    /// The current state of the entity in `stream` as this data plane may see it.
    async fn resolve<C: DerefMut<Target = AnyConnection>>(
        &self,
        reader: &mut Reader<C>,
        stream: StreamId,
        seq: i64,
    ) -> Result<SyncEntity, ServiceError> {
        let state = match &stream {
            StreamId::Workspace(id) => reader
                .workspace(id)
                .await?
                .filter(|w| self.in_scope(&w.id))
                .map(|row| {
                    self.workspace(row)
                        .map(|w| SyncState::Workspace(Box::new(w)))
                })
                .transpose()?,
            StreamId::Server(id) => match reader.server(id).await? {
                Some(server) if server.workspaces().any(|w| self.in_scope(w)) => {
                    Some(SyncState::Server(Box::new(self.server(server)?)))
                }
                _ => None,
            },
            StreamId::ApiKey(id) => reader
                .api_key(id)
                .await?
                .filter(|k| k.workspace_id.is_some_and(|w| self.in_scope(&w)))
                .map(|k| SyncState::ApiKey(self.api_key(k))),
            StreamId::Connection(id) => match reader.connection(id).await? {
                Some(row) => match reader.server(&row.server_id).await? {
                    Some(server) if server.workspaces().any(|w| self.in_scope(w)) => {
                        Some(SyncState::Connection(connection_record(row)?))
                    }
                    _ => None,
                },
                None => None,
            },
            StreamId::OAuthGrant(id) => reader
                .oauth_grant(id)
                .await?
                .and_then(|row| self.revoked_grant(&row, Utc::now()))
                .map(SyncState::RevokedGrant),
            StreamId::DataPlane(_) | StreamId::OAuthClient(_) | StreamId::SigningKey(_) => None,
        };
        Ok(SyncEntity {
            stream,
            seq,
            state: state.unwrap_or(SyncState::Removed),
        })
    }
}

/// Whether data planes are sent the entities of `stream`.
fn synced(stream: &StreamId) -> bool {
    matches!(
        stream,
        StreamId::Workspace(_)
            | StreamId::Server(_)
            | StreamId::ApiKey(_)
            | StreamId::Connection(_)
            | StreamId::OAuthGrant(_)
    )
}
