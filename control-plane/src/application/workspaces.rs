//! Workspace operations.

use mcpgw_shared::ids::WorkspaceId;

use super::{Admin, Service, ServiceError};
use crate::domain::workspace::Workspace;
use crate::store::WorkspaceRow;

impl Service {
    /// Creates a workspace (global admins only).
    pub async fn create_workspace(
        &self,
        admin: &Admin,
        name: &str,
    ) -> Result<WorkspaceRow, ServiceError> {
        admin.require_global("creating a workspace")?;
        if self
            .db()
            .reader()
            .await?
            .workspace_by_name(name)
            .await?
            .is_some()
        {
            return Err(ServiceError::Taken {
                field: "name",
                value: name.to_owned(),
            });
        }
        let id = WorkspaceId::new();
        let key = id.to_string();
        self.execute::<Workspace>(
            &id.stream(),
            None,
            &admin.actor(),
            |state| state.create(&key, name),
            |_, _| vec![key.clone()],
        )
        .await
        .map_err(|e| with_taken_value(e, name))?;
        self.workspace(admin, &key).await
    }

    /// Renames a workspace.
    pub async fn rename_workspace(
        &self,
        admin: &Admin,
        id: &str,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<WorkspaceRow, ServiceError> {
        let workspace_id = parse_workspace_id(id)?;
        admin.require_workspace(id)?;
        self.execute::<Workspace>(
            &workspace_id.stream(),
            expected_version,
            &admin.actor(),
            |state| state.rename(id, name),
            |_, _| vec![id.to_owned()],
        )
        .await
        .map_err(|e| with_taken_value(e, name))?;
        self.workspace(admin, id).await
    }

    /// One workspace the admin may see.
    pub async fn workspace(&self, admin: &Admin, id: &str) -> Result<WorkspaceRow, ServiceError> {
        if !admin.manages(id) {
            return Err(ServiceError::not_found("workspace", id));
        }
        self.db()
            .reader()
            .await?
            .workspace(id)
            .await?
            .ok_or_else(|| ServiceError::not_found("workspace", id))
    }

    /// Every workspace the admin may see.
    pub async fn workspaces(&self, admin: &Admin) -> Result<Vec<WorkspaceRow>, ServiceError> {
        let scope = admin.scope();
        Ok(self
            .db()
            .reader()
            .await?
            .workspaces(scope.as_deref())
            .await?)
    }
}

/// Parses a workspace id from a path.
fn parse_workspace_id(id: &str) -> Result<WorkspaceId, ServiceError> {
    id.parse()
        .map_err(|_| ServiceError::not_found("workspace", id))
}

/// Fills in the value of a [`ServiceError::Taken`] the store could not know.
pub(super) fn with_taken_value(error: ServiceError, value: &str) -> ServiceError {
    match error {
        ServiceError::Taken { field, .. } => ServiceError::Taken {
            field,
            value: value.to_owned(),
        },
        other => other,
    }
}
