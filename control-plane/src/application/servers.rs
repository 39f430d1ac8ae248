//! Server operations. Secrets are sealed here, before the domain sees them, with the server id
//! and field path as associated data.

mod history;
mod inputs;

use mcpgw_shared::model::{UpstreamAuth, VirtualServer};
use mcpgw_shared::slug::Slug;
use mcpgw_shared::{SealedSecret, SecretCipher, ServerId, WorkspaceId};

pub use history::{BadPoint, ServerAt, ServerChange, ServerVersion};
pub use inputs::{RegisterServerInput, UpdateServerInput};

use super::workspaces::{seal_jwt_validation, seal_jwt_validation_change};
use super::{Caller, Outcome, Service, ServiceError};
use crate::domain::DomainError;
use crate::domain::server::{
    RegisterServer, Server, ServerCommand, UpdateServer, validate_auth_secrets,
};
use crate::store::ServerRow;

impl Service {
    /// For a per-user OAuth server with configured scopes: refuses scopes its authorization
    /// server does not list (so `invalid_scope` is found now, not at a user's first sign-in).
    /// Says nothing when the authorization server cannot be reached within 5 s or lists no
    /// scopes.
    async fn check_oauth_scopes(
        &self,
        url: &str,
        auth: &UpstreamAuth<String>,
    ) -> Result<(), ServiceError> {
        let UpstreamAuth::Oauth2 {
            oauth_metadata: Some(metadata),
        } = auth
        else {
            return Ok(());
        };
        let Ok(upstream) = url::Url::parse(url) else {
            return Ok(());
        };
        let client = mcpgw_data_plane::egress::http_client(
            self.probe_egress.clone(),
            std::time::Duration::from_secs(10),
        );
        let check = mcpgw_data_plane::oauth::unsupported_scopes(
            &client,
            &self.probe_egress,
            &upstream,
            metadata,
        );
        // The admin call waits at most this long for the authorization server.
        match tokio::time::timeout(std::time::Duration::from_secs(5), check).await {
            Err(_) | Ok(None) => Ok(()),
            Ok(Some(found)) => Err(DomainError::invalid(
                "auth.oauth_metadata.scope",
                format!(
                    "the authorization server {} does not support {}: it lists {}; use those (or leave scope out to ask for what the upstream names)",
                    found.issuer,
                    found.unsupported.join(" "),
                    found.supported.join(" "),
                ),
            )
            .into()),
        }
    }

    /// Each member of a virtual server is an ordinary server that serves `workspace` (its home
    /// or provisioned to it), so the virtual server's callers may reach it.
    async fn check_members(
        &self,
        workspace: &WorkspaceId,
        members: &VirtualServer,
    ) -> Result<(), ServiceError> {
        let servers = self
            .db
            .reader()
            .await?
            .servers(Some(std::slice::from_ref(workspace)))
            .await?;
        for (i, member) in members.members.iter().enumerate() {
            let field = format!("virtual_server.members[{i}].server");
            match servers.iter().find(|s| s.slug.as_str() == member.server) {
                None => {
                    return Err(DomainError::invalid(
                        field,
                        format!(
                            "no server `{}` serves this workspace: register it, or provision it here",
                            member.server
                        ),
                    )
                    .into());
                }
                Some(server) if server.virtual_server.is_some() => {
                    return Err(DomainError::invalid(
                        field,
                        "is a virtual server itself; list its members instead",
                    )
                    .into());
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Registers a server.
    pub async fn register_server(
        &self,
        caller: &Caller,
        input: RegisterServerInput,
    ) -> Result<ServerRow, ServiceError> {
        let workspace_id = self
            .existing_workspace("workspace_id", &input.workspace_id)
            .await?;
        caller.require_workspace(&workspace_id)?;
        let provisioned = self
            .managed_workspaces(
                caller,
                "provisioned_workspaces",
                &input.provisioned_workspaces,
            )
            .await?;
        let slug =
            Slug::parse(&input.slug).map_err(|e| DomainError::invalid("slug", e.to_string()))?;
        validate_auth_secrets(&input.auth)?;
        self.check_oauth_scopes(&input.url, &input.auth).await?;
        if let Some(members) = &input.virtual_server {
            self.check_members(&workspace_id, members).await?;
        }
        let id = ServerId::new();
        let jwt_validation = input
            .jwt_validation
            .map(|rules| seal_jwt_validation(&self.cipher, &id.stream(), rules))
            .transpose()?;
        let command = ServerCommand::Register(RegisterServer {
            workspace_id,
            slug,
            name: input.name,
            description: input.description,
            url: input.url,
            auth: seal_auth(&self.cipher, &id, input.auth),
            tools: input.tools,
            enabled: input.enabled,
            request_logging: input.request_logging,
            rate_limits: input.rate_limits,
            virtual_server: input.virtual_server,
            identity_forwarding: input.identity_forwarding,
            jwt_validation,
            provisioned: provisioned.into_iter().collect(),
        });
        self.execute::<Server>(caller, &id, None, |_| Ok(()), command)
            .await?;
        self.server(caller, &id).await
    }

    /// Changes a server. The caller's right to it, and to every workspace it is provisioned to
    /// when provisioning changes, is checked against the state the change is decided on.
    pub async fn update_server(
        &self,
        caller: &Caller,
        id: &ServerId,
        input: UpdateServerInput,
        if_match: Option<i64>,
    ) -> Result<ServerRow, ServiceError> {
        let provisioned = match &input.provisioned_workspaces {
            Some(list) => Some(
                self.managed_workspaces(caller, "provisioned_workspaces", list)
                    .await?,
            ),
            None => None,
        };
        if let Some(auth) = &input.auth {
            validate_auth_secrets(auth)?;
            let url = match &input.url {
                Some(url) => url.clone(),
                None => self.server(caller, id).await?.url,
            };
            self.check_oauth_scopes(&url, auth).await?;
        }
        if let Some(members) = &input.virtual_server {
            let home = self.server(caller, id).await?.workspace_id;
            self.check_members(&home, members).await?;
        }
        let changes_provisioning = provisioned.is_some();
        let jwt_validation =
            seal_jwt_validation_change(&self.cipher, &id.stream(), input.jwt_validation)?;
        let command = ServerCommand::Update(UpdateServer {
            name: input.name,
            description: input.description,
            url: input.url,
            auth: input.auth.map(|auth| seal_auth(&self.cipher, id, auth)),
            tools: input.tools,
            request_logging: input.request_logging,
            rate_limits: input.rate_limits,
            virtual_server: input.virtual_server,
            identity_forwarding: input.identity_forwarding,
            jwt_validation,
            enabled: input.enabled,
            provisioned,
        });
        let authorize = |state: &Server| {
            let live = visible(caller, id, state)?;
            // Withdrawing a workspace this caller does not manage is as forbidden as adding one.
            if changes_provisioning {
                for workspace in &live.provisioned {
                    caller.require_workspace(workspace)?;
                }
            }
            Ok(())
        };
        self.execute::<Server>(caller, id, if_match.or(input.version), authorize, command)
            .await?;
        self.server(caller, id).await
    }

    /// Deletes a server.
    pub async fn delete_server(
        &self,
        caller: &Caller,
        id: &ServerId,
        if_match: Option<i64>,
    ) -> Result<Outcome, ServiceError> {
        let authorize = |state: &Server| visible(caller, id, state).map(|_| ());
        self.execute::<Server>(caller, id, if_match, authorize, ServerCommand::Delete)
            .await
    }

    /// One server whose home workspace the caller manages.
    pub async fn server(&self, caller: &Caller, id: &ServerId) -> Result<ServerRow, ServiceError> {
        let row = self.db.reader().await?.server(id).await?;
        row.filter(|s| caller.manages(&s.workspace_id))
            .ok_or_else(|| ServiceError::not_found("server", id))
    }

    /// The id of the server with `slug` among those the caller manages; not found with the
    /// slugs that look like it (a client's URL with a typo).
    pub async fn server_by_slug(
        &self,
        caller: &Caller,
        slug: &str,
    ) -> Result<ServerId, ServiceError> {
        let servers = self.servers(caller).await?;
        if let Some(server) = servers.iter().find(|s| s.slug.as_str() == slug) {
            return Ok(server.id);
        }
        let mut near: Vec<(usize, &str)> = servers
            .iter()
            .map(|s| (strsim::levenshtein(slug, s.slug.as_str()), s.slug.as_str()))
            .filter(|(distance, _)| *distance <= 3)
            .collect();
        near.sort();
        Err(ServiceError::NoSuchSlug {
            slug: slug.chars().take(64).collect(),
            near: near.first().map(|(_, like)| (*like).to_owned()),
        })
    }

    /// Every server whose home workspace the caller manages.
    pub async fn servers(&self, caller: &Caller) -> Result<Vec<ServerRow>, ServiceError> {
        let servers = self.db.reader().await?.servers(None).await?;
        Ok(servers
            .into_iter()
            .filter(|s| caller.manages(&s.workspace_id))
            .collect())
    }
}

/// The live state of server `id`, if the caller may see it (it manages its home workspace);
/// otherwise not found, as for a server that does not exist.
fn visible<'a>(
    caller: &Caller,
    id: &ServerId,
    state: &'a Server,
) -> Result<&'a crate::domain::server::ServerState, ServiceError> {
    state
        .current
        .as_ref()
        .filter(|live| caller.manages(&live.workspace_id))
        .ok_or_else(|| ServiceError::not_found("server", id))
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
