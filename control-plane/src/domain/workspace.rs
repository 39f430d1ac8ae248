//! Workspaces: the unit of tenancy that servers, keys and data planes are scoped to.

use super::{Aggregate, DomainError, DomainEvent};

/// A workspace's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Its name, once created.
    pub name: Option<String>,
}

impl Aggregate for Workspace {
    fn apply(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::WorkspaceCreated { name } | DomainEvent::WorkspaceRenamed { name } => {
                self.name = Some(name.clone());
            }
            _ => {}
        }
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
    /// Decides `CreateWorkspace`.
    pub fn create(&self, id: &str, name: &str) -> Result<Vec<DomainEvent>, DomainError> {
        if self.name.is_some() {
            return Err(DomainError::AlreadyExists {
                kind: "workspace",
                id: id.to_owned(),
            });
        }
        validate_name("name", name)?;
        Ok(vec![DomainEvent::WorkspaceCreated {
            name: name.to_owned(),
        }])
    }

    /// Decides `RenameWorkspace`; renaming to the same name changes nothing.
    pub fn rename(&self, id: &str, name: &str) -> Result<Vec<DomainEvent>, DomainError> {
        let current = self.name.as_deref().ok_or_else(|| DomainError::NotFound {
            kind: "workspace",
            id: id.to_owned(),
        })?;
        validate_name("name", name)?;
        if current == name {
            return Ok(vec![]);
        }
        Ok(vec![DomainEvent::WorkspaceRenamed {
            name: name.to_owned(),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(events: &[DomainEvent]) -> Workspace {
        Workspace::from_events(events)
    }

    #[test]
    fn creating_a_new_workspace_records_its_name() {
        assert_eq!(
            given(&[]).create("w", "team").unwrap(),
            vec![DomainEvent::WorkspaceCreated {
                name: "team".into()
            }]
        );
    }

    #[test]
    fn creating_an_existing_workspace_is_refused() {
        let state = given(&[DomainEvent::WorkspaceCreated { name: "a".into() }]);
        assert!(matches!(
            state.create("w", "b"),
            Err(DomainError::AlreadyExists { .. })
        ));
    }

    #[test]
    fn a_blank_or_overlong_name_is_refused_with_the_field() {
        let err = given(&[]).create("w", "  ").unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "name"));
        assert!(given(&[]).create("w", &"x".repeat(101)).is_err());
    }

    #[test]
    fn renaming_to_the_same_name_records_nothing() {
        let state = given(&[DomainEvent::WorkspaceCreated { name: "a".into() }]);
        assert!(state.rename("w", "a").unwrap().is_empty());
        assert_eq!(
            state.rename("w", "b").unwrap(),
            vec![DomainEvent::WorkspaceRenamed { name: "b".into() }]
        );
    }

    #[test]
    fn renaming_a_missing_workspace_is_not_found() {
        assert!(matches!(
            given(&[]).rename("w", "b"),
            Err(DomainError::NotFound { .. })
        ));
    }
}
