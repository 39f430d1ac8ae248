//! Workspace operations.

use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::ToolFilter;

use super::caller::as_scope;
use super::{Caller, Service, ServiceError};
use crate::domain::DomainError;
use crate::domain::workspace::{Workspace, WorkspaceCommand};
use crate::store::WorkspaceRow;

impl Service {
    /// Creates a workspace (global admins only).
    pub async fn create_workspace(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<WorkspaceRow, ServiceError> {
        caller.require_global("creating a workspace")?;
        let id = WorkspaceId::new();
        let command = WorkspaceCommand::Create { name: name.into() };
        self.execute::<Workspace>(caller, &id, None, |_| Ok(()), command)
            .await?;
        self.workspace(caller, &id).await
    }

    /// Renames a workspace and/or sets its tool policy.
    pub async fn update_workspace(
        &self,
        caller: &Caller,
        id: &WorkspaceId,
        name: Option<&str>,
        tools: Option<ToolFilter>,
        expected_version: Option<i64>,
    ) -> Result<WorkspaceRow, ServiceError> {
        caller.require_workspace(id)?;
        let mut expected_version = expected_version;
        if let Some(name) = name {
            let command = WorkspaceCommand::Rename { name: name.into() };
            self.execute::<Workspace>(caller, id, expected_version.take(), |_| Ok(()), command)
                .await?;
        }
        if let Some(tools) = tools {
            let command = WorkspaceCommand::SetTools { tools };
            self.execute::<Workspace>(caller, id, expected_version, |_| Ok(()), command)
                .await?;
        }
        self.workspace(caller, id).await
    }

    /// One workspace the caller may see.
    pub async fn workspace(
        &self,
        caller: &Caller,
        id: &WorkspaceId,
    ) -> Result<WorkspaceRow, ServiceError> {
        if !caller.manages(id) {
            return Err(ServiceError::not_found("workspace", id));
        }
        self.db
            .reader()
            .await?
            .workspace(id)
            .await?
            .ok_or_else(|| ServiceError::not_found("workspace", id))
    }

    /// Every workspace the caller may see.
    pub async fn workspaces(&self, caller: &Caller) -> Result<Vec<WorkspaceRow>, ServiceError> {
        let scope = caller.scope();
        Ok(self.db.reader().await?.workspaces(as_scope(&scope)).await?)
    }

    /// Parses a workspace id given in `field` and checks that the workspace exists.
    pub(super) async fn existing_workspace(
        &self,
        field: &str,
        id: &str,
    ) -> Result<WorkspaceId, ServiceError> {
        let missing = || DomainError::invalid(field, format!("no workspace has the id `{id}`"));
        let parsed: WorkspaceId = id.parse().map_err(|_| missing())?;
        if self.db.reader().await?.workspace(&parsed).await?.is_none() {
            return Err(missing().into());
        }
        Ok(parsed)
    }

    /// [`Service::existing_workspace`] for each of `ids`, given in `field[index]`, each of which
    /// the caller must manage.
    pub(super) async fn managed_workspaces(
        &self,
        caller: &Caller,
        field: &str,
        ids: &[String],
    ) -> Result<Vec<WorkspaceId>, ServiceError> {
        let mut workspaces = Vec::with_capacity(ids.len());
        for (index, id) in ids.iter().enumerate() {
            let workspace = self
                .existing_workspace(&format!("{field}[{index}]"), id)
                .await?;
            caller.require_workspace(&workspace)?;
            workspaces.push(workspace);
        }
        Ok(workspaces)
    }
}
