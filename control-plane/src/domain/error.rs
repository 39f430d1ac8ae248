//! Why a command was refused.

use std::fmt::Display;

use super::oauth_grant::TokenRefusal;

/// A command was refused by the domain.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// A field of the command is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the field, such as `auth.token_endpoint`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The entity does not exist (or was deleted).
    #[error("{kind} {id} does not exist")]
    NotFound {
        /// Kind of entity.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The entity exists already.
    #[error("{kind} {id} exists already")]
    AlreadyExists {
        /// Kind of entity.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A token request was refused (an OAuth error, answered to the client as such).
    #[error(transparent)]
    Refused(#[from] TokenRefusal),
}

impl DomainError {
    /// A field error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A not-found error for the entity of `kind` with `id`.
    pub fn not_found(kind: &'static str, id: impl Display) -> Self {
        Self::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}
