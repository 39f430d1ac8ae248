//! Server operations. Secrets are sealed here, before the domain sees them, with the server id
//! and field path as associated data.

use std::collections::BTreeSet;

use mcpgw_shared::ids::{ServerId, WorkspaceId};
use mcpgw_shared::model::{ToolFilter, UpstreamAuth};
use mcpgw_shared::slug::Slug;
use mcpgw_shared::{SealedSecret, SecretCipher};
use serde::Deserialize;

use super::workspaces::with_taken_value;
use super::{Admin, Outcome, Service, ServiceError};
use crate::domain::server::{RegisterServer, Server, UpdateServer, validate_auth_secrets};
use crate::domain::{DomainError, DomainEvent};
use crate::store::ServerRow;

/// `POST /v1/servers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterServerInput {
    /// Home workspace.
    pub workspace_id: String,
    /// Globally unique slug, `^[a-z0-9][a-z0-9-]{1,62}$`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Upstream MCP endpoint (http or https).
    pub url: String,
    /// Upstream auth: `{"type": "none"}`, `{"type": "headers", "headers": {...}}`,
    /// `{"type": "client_credentials", ...}` or `{"type": "oauth2", "oauth_metadata": {...}}`.
    #[schema(value_type = Object)]
    pub auth: UpstreamAuth<String>,
    /// Tool visibility; omitted: every tool.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub tools: ToolFilter,
    /// Whether clients may use it (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Other workspaces to provision it to.
    #[serde(default)]
    pub provisioned_workspaces: Vec<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// `PATCH /v1/servers/{id}`: only the given fields change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServerInput {
    /// The version the change was made against (or the `If-Match` header).
    pub version: Option<i64>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New upstream URL.
    pub url: Option<String>,
    /// New upstream auth (replaces the old one, secrets included).
    #[schema(value_type = Option<Object>)]
    pub auth: Option<UpstreamAuth<String>>,
    /// New tool filter (`{}` allows every tool).
    #[schema(value_type = Option<Object>)]
    pub tools: Option<ToolFilter>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// The complete new list of provisioned workspaces.
    pub provisioned_workspaces: Option<Vec<String>>,
}

impl Service {
    /// Registers a server.
    pub async fn register_server(
        &self,
        admin: &Admin,
        input: RegisterServerInput,
    ) -> Result<ServerRow, ServiceError> {
        let workspace_id = self
            .existing_workspace("workspace_id", &input.workspace_id)
            .await?;
        admin.require_workspace(&input.workspace_id)?;
        let provisioned = self
            .existing_workspaces(admin, &input.provisioned_workspaces)
            .await?;
        let slug =
            Slug::parse(&input.slug).map_err(|e| DomainError::invalid("slug", e.to_string()))?;
        if self
            .db()
            .reader()
            .await?
            .server_by_slug(slug.as_str())
            .await?
            .is_some()
        {
            return Err(ServiceError::Taken {
                field: "slug",
                value: slug.to_string(),
            });
        }
        validate_auth_secrets(&input.auth)?;
        let id = ServerId::new();
        let command = RegisterServer {
            workspace_id,
            slug: slug.clone(),
            name: input.name,
            description: input.description,
            url: input.url,
            auth: seal_auth(self.cipher(), &id, input.auth),
            tools: input.tools,
            enabled: input.enabled,
            provisioned: provisioned.into_iter().collect(),
        };
        let key = id.to_string();
        self.execute::<Server>(
            &id.stream(),
            None,
            &admin.actor(),
            |state| state.register(&key, command.clone()),
            server_concerns,
        )
        .await
        .map_err(|e| with_taken_value(e, slug.as_str()))?;
        self.server(admin, &key).await
    }

    /// Changes a server.
    pub async fn update_server(
        &self,
        admin: &Admin,
        id: &str,
        input: UpdateServerInput,
        if_match: Option<i64>,
    ) -> Result<ServerRow, ServiceError> {
        let current = self.server(admin, id).await?;
        let server_id: ServerId = id
            .parse()
            .map_err(|_| ServiceError::not_found("server", id))?;
        let provisioned = match &input.provisioned_workspaces {
            Some(list) => Some(self.existing_workspaces(admin, list).await?),
            None => None,
        };
        // Withdrawing a workspace this admin does not manage is as forbidden as adding one.
        if provisioned.is_some() {
            for workspace in &current.provisioned {
                admin.require_workspace(workspace)?;
            }
        }
        if let Some(auth) = &input.auth {
            validate_auth_secrets(auth)?;
        }
        let command = UpdateServer {
            name: input.name,
            description: input.description,
            url: input.url,
            auth: input
                .auth
                .map(|auth| seal_auth(self.cipher(), &server_id, auth)),
            tools: input.tools,
            enabled: input.enabled,
            provisioned,
        };
        self.execute::<Server>(
            &server_id.stream(),
            if_match.or(input.version),
            &admin.actor(),
            |state| state.update(id, command.clone()),
            server_concerns,
        )
        .await?;
        self.server(admin, id).await
    }

    /// Deletes a server.
    pub async fn delete_server(
        &self,
        admin: &Admin,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<Outcome, ServiceError> {
        self.server(admin, id).await?;
        let server_id: ServerId = id
            .parse()
            .map_err(|_| ServiceError::not_found("server", id))?;
        self.execute::<Server>(
            &server_id.stream(),
            if_match,
            &admin.actor(),
            |state| state.delete(id),
            server_concerns,
        )
        .await
    }

    /// One server whose home workspace the admin manages.
    pub async fn server(&self, admin: &Admin, id: &str) -> Result<ServerRow, ServiceError> {
        let row = self.db().reader().await?.server(id).await?;
        row.filter(|s| admin.manages(&s.workspace_id))
            .ok_or_else(|| ServiceError::not_found("server", id))
    }

    /// Every server whose home workspace the admin manages.
    pub async fn servers(&self, admin: &Admin) -> Result<Vec<ServerRow>, ServiceError> {
        let servers = self.db().reader().await?.servers(None).await?;
        Ok(servers
            .into_iter()
            .filter(|s| admin.manages(&s.workspace_id))
            .collect())
    }

    /// Parses a workspace id given in `field` and checks that the workspace exists.
    pub(super) async fn existing_workspace(
        &self,
        field: &str,
        id: &str,
    ) -> Result<WorkspaceId, ServiceError> {
        let missing = || DomainError::invalid(field, format!("no workspace has the id `{id}`"));
        let parsed: WorkspaceId = id.parse().map_err(|_| missing())?;
        if self.db().reader().await?.workspace(id).await?.is_none() {
            return Err(missing().into());
        }
        Ok(parsed)
    }

    async fn existing_workspaces(
        &self,
        admin: &Admin,
        ids: &[String],
    ) -> Result<Vec<WorkspaceId>, ServiceError> {
        let mut workspaces = Vec::with_capacity(ids.len());
        for (index, id) in ids.iter().enumerate() {
            workspaces.push(
                self.existing_workspace(&format!("provisioned_workspaces[{index}]"), id)
                    .await?,
            );
            admin.require_workspace(id)?;
        }
        Ok(workspaces)
    }
}

/// Seals every secret of `auth` for server `id`.
fn seal_auth(
    cipher: &SecretCipher,
    id: &ServerId,
    auth: UpstreamAuth<String>,
) -> UpstreamAuth<SealedSecret> {
    auth.try_map_secrets(|plain, path| {
        Ok::<_, std::convert::Infallible>(cipher.seal(&plain, &secret_context(id, path)))
    })
    .unwrap_or_else(|never| match never {})
}

/// The associated data a server's secret is sealed with: its stream and field path.
pub fn secret_context(id: &ServerId, path: &str) -> String {
    format!("{}/{path}", id.stream())
}

/// A server change concerns every workspace it served before and serves after.
fn server_concerns(before: &Server, events: &[DomainEvent]) -> Vec<String> {
    let mut after = before.clone();
    for event in events {
        crate::domain::Aggregate::apply(&mut after, event);
    }
    let mut workspaces = BTreeSet::new();
    for state in [&before.current, &after.current].into_iter().flatten() {
        workspaces.insert(state.workspace_id.to_string());
        workspaces.extend(state.provisioned.iter().map(ToString::to_string));
    }
    workspaces.into_iter().collect()
}
