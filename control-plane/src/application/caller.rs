//! Who calls the service and what they may manage: the gateway itself, or an administrator
//! authenticated by an API key with the `admin` permission, global or limited to a workspace.

use mcpgw_shared::{ApiKeyId, WorkspaceId};

use crate::domain::Actor;
use crate::store::read_models::Scope;

/// What an administrator may manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminScope {
    /// Everything.
    Global,
    /// One workspace and what belongs to it.
    Workspace(WorkspaceId),
}

/// An authenticated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The id of the admin key used.
    pub key_id: ApiKeyId,
    /// What it may manage.
    pub scope: AdminScope,
}

/// The caller of a service operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The gateway itself (bootstrap, standalone seeding): may do anything.
    System,
    /// An administrator.
    Admin(Admin),
}

/// The caller may not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    /// A workspace admin reached outside its workspace.
    #[error(
        "this admin key is limited to workspace {admin}; use a key of workspace {target} or a global admin key"
    )]
    OutsideWorkspace {
        /// The admin's workspace.
        admin: WorkspaceId,
        /// The workspace it reached for.
        target: WorkspaceId,
    },
    /// The operation needs a global admin.
    #[error("{action} needs a global admin key (one not bound to a workspace)")]
    NeedsGlobalAdmin {
        /// What was attempted.
        action: &'static str,
    },
    /// A valid API key without the `admin` permission.
    #[error("this API key lacks the `admin` permission")]
    NotAnAdmin {
        /// The key.
        key_id: ApiKeyId,
    },
}

impl From<Admin> for Caller {
    fn from(admin: Admin) -> Self {
        Self::Admin(admin)
    }
}

impl Caller {
    /// How this caller is recorded in the event log.
    pub fn actor(&self) -> Actor {
        match self {
            Self::System => Actor::System,
            Self::Admin(admin) => Actor::ApiKey(admin.key_id),
        }
    }

    /// The workspace this caller is limited to, if any.
    fn limited_to(&self) -> Option<WorkspaceId> {
        match self {
            Self::Admin(Admin {
                scope: AdminScope::Workspace(workspace),
                ..
            }) => Some(*workspace),
            _ => None,
        }
    }

    /// Whether this caller may manage everything.
    pub fn is_global(&self) -> bool {
        self.limited_to().is_none()
    }

    /// Whether this caller may manage `workspace`.
    pub fn manages(&self, workspace: &WorkspaceId) -> bool {
        self.limited_to().is_none_or(|own| own == *workspace)
    }

    /// The workspaces this caller sees, as a read-model scope (`None`: all).
    pub fn scope(&self) -> Option<[WorkspaceId; 1]> {
        self.limited_to().map(|workspace| [workspace])
    }

    /// Fails unless this caller may manage `workspace`.
    pub fn require_workspace(&self, workspace: &WorkspaceId) -> Result<(), Forbidden> {
        match self.limited_to() {
            Some(admin) if admin != *workspace => Err(Forbidden::OutsideWorkspace {
                admin,
                target: *workspace,
            }),
            _ => Ok(()),
        }
    }

    /// Fails unless this caller may manage everything.
    pub fn require_global(&self, action: &'static str) -> Result<(), Forbidden> {
        if self.is_global() {
            Ok(())
        } else {
            Err(Forbidden::NeedsGlobalAdmin { action })
        }
    }
}

/// `scope` of a caller as the read models take it.
pub(super) fn as_scope(scope: &Option<[WorkspaceId; 1]>) -> Scope<'_> {
    scope.as_ref().map(|s| &s[..])
}
