//! Data-plane registrations: one token, scoped to some workspaces or all.

use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ApiKeyId, DataPlaneId, StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};

use super::workspace::validate_name;
use super::{Aggregate, Decision, DomainError, DomainEvent};

/// A data-plane registration's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DataPlaneEvent {
    /// It was registered.
    #[serde(rename = "DataPlaneRegistered")]
    Registered {
        /// Display name.
        name: String,
        /// Workspaces it serves; `None` for all.
        workspaces: Option<Vec<WorkspaceId>>,
        /// Public id of its token.
        token_id: ApiKeyId,
        /// SHA-256 of the token's secret (hex in the stored payload).
        #[serde(with = "super::hex_hash")]
        token_hash: [u8; 32],
    },
}

impl DataPlaneEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Registered { .. } => "DataPlaneRegistered",
        }
    }
}

/// What can be asked of a data-plane registration.
#[derive(Debug, Clone)]
pub enum DataPlaneCommand {
    /// Register it.
    Register(RegisterDataPlane),
}

/// `RegisterDataPlane`.
#[derive(Debug, Clone)]
pub struct RegisterDataPlane {
    /// Display name.
    pub name: String,
    /// Workspaces it serves; `None` for all.
    pub workspaces: Option<Vec<WorkspaceId>>,
    /// Public id of the generated token.
    pub token_id: ApiKeyId,
    /// SHA-256 of the token's secret.
    pub token_hash: [u8; 32],
}

/// A data-plane registration's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DataPlane {
    /// Whether it was registered.
    pub registered: bool,
}

impl Aggregate for DataPlane {
    type Id = DataPlaneId;
    type Event = DataPlaneEvent;
    type Command = DataPlaneCommand;

    fn stream(id: &DataPlaneId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<DataPlaneEvent> {
        match event {
            DomainEvent::DataPlane(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &DataPlaneEvent) {
        match event {
            DataPlaneEvent::Registered { .. } => self.registered = true,
        }
    }

    fn decide(
        &self,
        id: &DataPlaneId,
        command: DataPlaneCommand,
    ) -> Result<Decision<DataPlaneEvent>, DomainError> {
        let DataPlaneCommand::Register(register) = command;
        Ok(Decision {
            events: self.register(id, register)?,
            audience: vec![Audience::Global],
        })
    }
}

impl DataPlane {
    fn register(
        &self,
        id: &DataPlaneId,
        cmd: RegisterDataPlane,
    ) -> Result<Vec<DataPlaneEvent>, DomainError> {
        if self.registered {
            return Err(DomainError::AlreadyExists {
                kind: "data plane",
                id: id.to_string(),
            });
        }
        validate_name("name", &cmd.name)?;
        let workspaces = cmd.workspaces.map(|mut ws| {
            ws.sort();
            ws.dedup();
            ws
        });
        if workspaces.as_ref().is_some_and(Vec::is_empty) {
            return Err(DomainError::invalid(
                "workspaces",
                "name at least one workspace, or omit the field to serve all",
            ));
        }
        Ok(vec![DataPlaneEvent::Registered {
            name: cmd.name,
            workspaces,
            token_id: cmd.token_id,
            token_hash: cmd.token_hash,
        }])
    }
}

#[cfg(test)]
mod tests;
