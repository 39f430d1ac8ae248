//! API keys: issuing and revoking them.

use chrono::{DateTime, Utc};
use mcpgw_shared::ids::WorkspaceId;
use mcpgw_shared::model::{KeyType, Permission};

use super::workspace::validate_name;
use super::{Aggregate, DomainError, DomainEvent};

/// An API key's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Whether it was issued.
    pub issued: bool,
    /// Its workspace, if bound to one.
    pub workspace_id: Option<WorkspaceId>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl Aggregate for ApiKey {
    fn apply(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::ApiKeyIssued { workspace_id, .. } => {
                self.issued = true;
                self.workspace_id = *workspace_id;
            }
            DomainEvent::ApiKeyRevoked => self.revoked = true,
            _ => {}
        }
    }
}

/// `IssueApiKey`.
#[derive(Debug, Clone)]
pub struct IssueApiKey {
    /// Workspace, if bound to one.
    pub workspace_id: Option<WorkspaceId>,
    /// Display name.
    pub name: String,
    /// Service or user.
    pub key_type: KeyType,
    /// User of a user key.
    pub user_id: Option<String>,
    /// Permissions to grant.
    pub permissions: Vec<Permission>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// SHA-256 of the generated secret, hex.
    pub secret_hash: String,
    /// The time of the decision (expiry must lie after it).
    pub now: DateTime<Utc>,
}

impl ApiKey {
    /// Decides `IssueApiKey`.
    pub fn issue(&self, id: &str, cmd: IssueApiKey) -> Result<Vec<DomainEvent>, DomainError> {
        if self.issued {
            return Err(DomainError::AlreadyExists {
                kind: "api key",
                id: id.to_owned(),
            });
        }
        validate_name("name", &cmd.name)?;
        match (cmd.key_type, cmd.user_id.as_deref()) {
            (KeyType::User, None) => {
                return Err(DomainError::invalid(
                    "user_id",
                    "a user key needs the user's id",
                ));
            }
            (KeyType::User, Some(user)) if user.trim().is_empty() || user.len() > 256 => {
                return Err(DomainError::invalid(
                    "user_id",
                    "must be 1 to 256 characters",
                ));
            }
            (KeyType::Service, Some(_)) => {
                return Err(DomainError::invalid(
                    "user_id",
                    "only user keys have a user id; omit it or use \"type\": \"user\"",
                ));
            }
            _ => {}
        }
        if cmd.permissions.is_empty() {
            return Err(DomainError::invalid(
                "permissions",
                "grant at least one permission, such as \"mcp.invoke\"",
            ));
        }
        if cmd.permissions.contains(&Permission::McpInvoke) && cmd.workspace_id.is_none() {
            return Err(DomainError::invalid(
                "workspace_id",
                "a key with \"mcp.invoke\" must belong to a workspace",
            ));
        }
        if cmd.expires_at.is_some_and(|at| at <= cmd.now) {
            return Err(DomainError::invalid("expires_at", "must lie in the future"));
        }
        let mut permissions = cmd.permissions;
        permissions.sort();
        permissions.dedup();
        Ok(vec![DomainEvent::ApiKeyIssued {
            workspace_id: cmd.workspace_id,
            name: cmd.name,
            key_type: cmd.key_type,
            user_id: cmd.user_id,
            permissions,
            expires_at: cmd.expires_at,
            secret_hash: cmd.secret_hash,
        }])
    }

    /// Decides `RevokeApiKey`; revoking a revoked key changes nothing.
    pub fn revoke(&self, id: &str) -> Result<Vec<DomainEvent>, DomainError> {
        if !self.issued {
            return Err(DomainError::NotFound {
                kind: "api key",
                id: id.to_owned(),
            });
        }
        if self.revoked {
            return Ok(vec![]);
        }
        Ok(vec![DomainEvent::ApiKeyRevoked])
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn issue() -> IssueApiKey {
        IssueApiKey {
            workspace_id: Some(WorkspaceId::new()),
            name: "ci".into(),
            key_type: KeyType::Service,
            user_id: None,
            permissions: vec![Permission::McpInvoke],
            expires_at: None,
            secret_hash: "00".into(),
            now: Utc::now(),
        }
    }

    fn issued() -> ApiKey {
        ApiKey::from_events(&ApiKey::default().issue("k", issue()).unwrap())
    }

    #[test]
    fn issuing_a_service_key_records_it() {
        let events = ApiKey::default().issue("k", issue()).unwrap();
        assert_eq!(events[0].event_type(), "ApiKeyIssued");
    }

    #[test]
    fn a_user_key_needs_a_user_and_a_service_key_must_not_have_one() {
        let user = IssueApiKey {
            key_type: KeyType::User,
            ..issue()
        };
        assert!(matches!(
            ApiKey::default().issue("k", user),
            Err(DomainError::Invalid { ref field, .. }) if field == "user_id"
        ));
        let service = IssueApiKey {
            user_id: Some("alice".into()),
            ..issue()
        };
        assert!(ApiKey::default().issue("k", service).is_err());
    }

    #[test]
    fn a_key_without_permissions_or_with_a_past_expiry_is_refused() {
        let none = IssueApiKey {
            permissions: vec![],
            ..issue()
        };
        assert!(ApiKey::default().issue("k", none).is_err());
        let past = IssueApiKey {
            expires_at: Some(Utc::now() - Duration::seconds(1)),
            ..issue()
        };
        assert!(matches!(
            ApiKey::default().issue("k", past),
            Err(DomainError::Invalid { ref field, .. }) if field == "expires_at"
        ));
    }

    #[test]
    fn an_invoke_key_must_belong_to_a_workspace_but_a_global_admin_key_need_not() {
        let global_invoke = IssueApiKey {
            workspace_id: None,
            ..issue()
        };
        assert!(ApiKey::default().issue("k", global_invoke).is_err());
        let global_admin = IssueApiKey {
            workspace_id: None,
            permissions: vec![Permission::Admin],
            ..issue()
        };
        assert!(ApiKey::default().issue("k", global_admin).is_ok());
    }

    #[test]
    fn revoking_twice_records_one_revocation() {
        let key = issued();
        assert_eq!(key.revoke("k").unwrap(), vec![DomainEvent::ApiKeyRevoked]);
        let revoked = ApiKey {
            revoked: true,
            ..key
        };
        assert!(revoked.revoke("k").unwrap().is_empty());
    }

    #[test]
    fn revoking_an_unknown_key_is_not_found() {
        assert!(matches!(
            ApiKey::default().revoke("k"),
            Err(DomainError::NotFound { .. })
        ));
    }
}
