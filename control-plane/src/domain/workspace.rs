//! Workspaces: the unit of tenancy that servers, keys and data planes are scoped to.

use mcpgw_shared::model::ToolFilter;
use mcpgw_shared::{StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};

use super::{Aggregate, Decision, DomainError, DomainEvent};

/// A workspace's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WorkspaceEvent {
    /// It was created.
    #[serde(rename = "WorkspaceCreated")]
    Created {
        /// Its name.
        name: String,
    },
    /// It was renamed.
    #[serde(rename = "WorkspaceRenamed")]
    Renamed {
        /// The new name.
        name: String,
    },
    /// Its tool policy changed: it limits every server its keys reach.
    #[serde(rename = "WorkspaceToolsChanged")]
    ToolsChanged {
        /// The policy (`allow`, `deny`, `read_only`).
        tools: ToolFilter,
    },
}

impl WorkspaceEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "WorkspaceCreated",
            Self::Renamed { .. } => "WorkspaceRenamed",
            Self::ToolsChanged { .. } => "WorkspaceToolsChanged",
        }
    }
}

/// What can be asked of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceCommand {
    /// Create it with a name.
    Create {
        /// The name.
        name: String,
    },
    /// Rename it.
    Rename {
        /// The new name.
        name: String,
    },
    /// Set its tool policy.
    SetTools {
        /// The policy.
        tools: ToolFilter,
    },
}

/// A workspace's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Its name, once created.
    pub name: Option<String>,
    /// Its tool policy.
    pub tools: ToolFilter,
}

impl Aggregate for Workspace {
    type Id = WorkspaceId;
    type Event = WorkspaceEvent;
    type Command = WorkspaceCommand;

    fn stream(id: &WorkspaceId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<WorkspaceEvent> {
        match event {
            DomainEvent::Workspace(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &WorkspaceEvent) {
        match event {
            WorkspaceEvent::Created { name } | WorkspaceEvent::Renamed { name } => {
                self.name = Some(name.clone());
            }
            WorkspaceEvent::ToolsChanged { tools } => self.tools = tools.clone(),
        }
    }

    fn decide(
        &self,
        id: &WorkspaceId,
        command: WorkspaceCommand,
    ) -> Result<Decision<WorkspaceEvent>, DomainError> {
        let events = match command {
            WorkspaceCommand::Create { name } => self.create(id, name)?,
            WorkspaceCommand::Rename { name } => self.rename(id, name)?,
            WorkspaceCommand::SetTools { tools } => self.set_tools(id, tools)?,
        };
        Ok(Decision {
            events,
            audience: vec![(*id).into()],
        })
    }
}

/// Longest accepted name, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// Validates a display name (shared by every entity that has one).
pub fn validate_name(field: &str, name: &str) -> Result<(), DomainError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl Workspace {
    fn create(&self, id: &WorkspaceId, name: String) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_some() {
            return Err(DomainError::AlreadyExists {
                kind: "workspace",
                id: id.to_string(),
            });
        }
        validate_name("name", &name)?;
        Ok(vec![WorkspaceEvent::Created { name }])
    }

    /// Renaming to the same name changes nothing.
    fn rename(&self, id: &WorkspaceId, name: String) -> Result<Vec<WorkspaceEvent>, DomainError> {
        let current = self
            .name
            .as_deref()
            .ok_or_else(|| DomainError::not_found("workspace", id))?;
        validate_name("name", &name)?;
        if current == name {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::Renamed { name }])
    }

    /// Setting the same policy changes nothing. Overrides belong to a server's policy.
    fn set_tools(
        &self,
        id: &WorkspaceId,
        tools: ToolFilter,
    ) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_none() {
            return Err(DomainError::not_found("workspace", id));
        }
        if !tools.overrides.is_empty() {
            return Err(DomainError::invalid(
                "tools.overrides",
                "names and descriptions belong to a server's tool policy; a workspace's limits what its keys reach (allow, deny, read_only)",
            ));
        }
        super::server::validate_tools(&tools)?;
        if tools == self.tools {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::ToolsChanged { tools }])
    }
}

#[cfg(test)]
mod tests;
