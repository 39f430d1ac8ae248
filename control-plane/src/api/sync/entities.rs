//! Turns read-model rows into the entity states a data plane may see: in its scope, secrets
//! opened, keys only when they can invoke MCP servers.

use std::ops::DerefMut;

use mcpgw_shared::model::{ApiKeyRecord, KeyType, Permission, ServerConfig};
use mcpgw_shared::proto::{self, EntityKind, EntityState, Removed, entity_state};
use mcpgw_shared::{Redacted, SecretCipher, ServerId, Slug};
use sqlx::AnyConnection;
use tonic::Status;

use crate::application::secret_context;
use crate::store::read_models::Reader;
use crate::store::{ApiKeyRow, ServerRow, WorkspaceRow};

/// Resolves entities for one data plane.
pub struct EntityResolver<'a> {
    cipher: &'a SecretCipher,
    scope: Option<&'a [String]>,
}

impl<'a> EntityResolver<'a> {
    /// A resolver for a data plane serving `scope` (`None`: all workspaces).
    pub fn new(cipher: &'a SecretCipher, scope: Option<&'a [String]>) -> Self {
        Self { cipher, scope }
    }

    fn in_scope(&self, workspace: &str) -> bool {
        self.scope.is_none_or(|s| s.iter().any(|w| w == workspace))
    }

    /// A workspace message.
    pub fn workspace(row: &WorkspaceRow) -> proto::Workspace {
        proto::Workspace {
            id: row.id.clone(),
            name: row.name.clone(),
        }
    }

    /// A server message with its secrets opened.
    pub fn server(&self, row: &ServerRow) -> Result<proto::Server, Status> {
        let id: ServerId = row
            .id
            .parse()
            .map_err(|_| Status::internal(format!("stored server id `{}` is invalid", row.id)))?;
        let auth = row.auth.clone().try_map_secrets(|sealed, path| {
            self.cipher
                .open(&sealed, &secret_context(&id, path))
                .map(|s| Redacted::new(s.into_inner()))
                .map_err(|e| {
                    tracing::error!(server = %row.id, field = path, error = %e, "cannot open a stored secret");
                    Status::internal(format!(
                        "a secret of server {} cannot be decrypted ({e}): is MCPGW_SECRET_KEY the key it was stored with?",
                        row.id
                    ))
                })
        })?;
        let config = ServerConfig {
            id,
            workspace_id: row
                .workspace_id
                .parse()
                .map_err(|_| Status::internal("stored workspace id is invalid"))?,
            provisioned: row
                .provisioned
                .iter()
                .filter_map(|w| w.parse().ok())
                .collect(),
            slug: Slug::parse(&row.slug).map_err(|e| Status::internal(e.to_string()))?,
            name: row.name.clone(),
            description: row.description.clone(),
            url: row.url.clone(),
            enabled: row.enabled,
            tools: row.tools.clone(),
            auth,
            version: row.version,
            connection_version: row.connection_version,
        };
        Ok(proto::Server::from(&config))
    }

    /// An API key message, or `None` for keys a data plane has no use for (no `mcp.invoke`).
    pub fn api_key(&self, row: &ApiKeyRow) -> Option<Result<proto::ApiKey, Status>> {
        if !row.permissions.contains(&Permission::McpInvoke) {
            return None;
        }
        Some(
            self.api_key_record(row)
                .map(|record| proto::ApiKey::from(&record)),
        )
    }

    fn api_key_record(&self, row: &ApiKeyRow) -> Result<ApiKeyRecord, Status> {
        let corrupt = |what: &str| {
            Status::internal(format!("stored API key {} has an invalid {what}", row.id))
        };
        Ok(ApiKeyRecord {
            id: row.id.parse().map_err(|_| corrupt("id"))?,
            workspace_id: row
                .workspace_id
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|_| corrupt("workspace"))?,
            name: row.name.clone(),
            key_type: row
                .key_type
                .parse::<KeyType>()
                .map_err(|_| corrupt("type"))?,
            user_id: row.user_id.clone(),
            permissions: row.permissions.clone(),
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
            secret_hash: hex::decode(&row.secret_hash)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| corrupt("hash"))?,
        })
    }

    /// The current state of the entity in `stream` as this data plane may see it; `None` for
    /// streams data planes do not hold (data-plane registrations).
    pub async fn resolve<C: DerefMut<Target = AnyConnection>>(
        &self,
        reader: &mut Reader<C>,
        stream: &str,
        seq: i64,
    ) -> Result<Option<EntityState>, Status> {
        let Some((kind, id)) = stream.split_once(':') else {
            return Ok(None);
        };
        let db = |e: crate::store::StoreError| super::into_status(e);
        let (kind, state) = match kind {
            "workspace" => {
                let row = reader.workspace(id).await.map_err(db)?;
                let state = row
                    .filter(|w| self.in_scope(&w.id))
                    .map(|w| entity_state::State::Workspace(Self::workspace(&w)));
                (EntityKind::Workspace, state)
            }
            "server" => {
                let row = reader.server(id).await.map_err(db)?;
                let state = match row.filter(|s| s.workspaces().any(|w| self.in_scope(w))) {
                    Some(server) => Some(entity_state::State::Server(self.server(&server)?)),
                    None => None,
                };
                (EntityKind::Server, state)
            }
            "api_key" => {
                let row = reader.api_key(id).await.map_err(db)?;
                let visible =
                    row.filter(|k| k.workspace_id.as_deref().is_some_and(|w| self.in_scope(w)));
                let state = match visible.as_ref().and_then(|k| self.api_key(k)) {
                    Some(key) => Some(entity_state::State::ApiKey(key?)),
                    None => None,
                };
                (EntityKind::ApiKey, state)
            }
            _ => return Ok(None),
        };
        Ok(Some(EntityState {
            kind: kind.into(),
            id: id.to_owned(),
            seq,
            state: Some(state.unwrap_or(entity_state::State::Removed(Removed {}))),
        }))
    }
}
