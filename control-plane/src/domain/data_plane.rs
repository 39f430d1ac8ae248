//! Data-plane registrations: one token, scoped to some workspaces or all.

use mcpgw_shared::ids::WorkspaceId;

use super::workspace::validate_name;
use super::{Aggregate, DomainError, DomainEvent};

/// A data-plane registration's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DataPlane {
    /// Whether it was registered.
    pub registered: bool,
}

impl Aggregate for DataPlane {
    fn apply(&mut self, event: &DomainEvent) {
        if let DomainEvent::DataPlaneRegistered { .. } = event {
            self.registered = true;
        }
    }
}

/// `RegisterDataPlane`.
#[derive(Debug, Clone)]
pub struct RegisterDataPlane {
    /// Display name.
    pub name: String,
    /// Workspaces it serves; `None` for all.
    pub workspaces: Option<Vec<WorkspaceId>>,
    /// Public id of the generated token.
    pub token_id: String,
    /// SHA-256 of the token's secret, hex.
    pub token_hash: String,
}

impl DataPlane {
    /// Decides `RegisterDataPlane`.
    pub fn register(
        &self,
        id: &str,
        cmd: RegisterDataPlane,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.registered {
            return Err(DomainError::AlreadyExists {
                kind: "data plane",
                id: id.to_owned(),
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
        Ok(vec![DomainEvent::DataPlaneRegistered {
            name: cmd.name,
            workspaces,
            token_id: cmd.token_id,
            token_hash: cmd.token_hash,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(workspaces: Option<Vec<WorkspaceId>>) -> RegisterDataPlane {
        RegisterDataPlane {
            name: "edge".into(),
            workspaces,
            token_id: "abcdefgh".into(),
            token_hash: "00".into(),
        }
    }

    #[test]
    fn a_data_plane_serving_all_workspaces_is_registered() {
        let events = DataPlane::default().register("d", cmd(None)).unwrap();
        assert_eq!(events[0].event_type(), "DataPlaneRegistered");
    }

    #[test]
    fn an_empty_workspace_list_is_refused() {
        assert!(
            DataPlane::default()
                .register("d", cmd(Some(vec![])))
                .is_err()
        );
    }

    #[test]
    fn registering_twice_is_refused() {
        let state = DataPlane::from_events(&DataPlane::default().register("d", cmd(None)).unwrap());
        assert!(matches!(
            state.register("d", cmd(None)),
            Err(DomainError::AlreadyExists { .. })
        ));
    }
}
