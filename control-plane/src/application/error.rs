//! Errors of the service layer; the API layers map them to HTTP and gRPC statuses.

use crate::domain::DomainError;
use crate::store::StoreError;

/// A service operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is invalid.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The entity changed since the caller read it.
    #[error("the entity is at version {actual}, not {expected}: read it again and retry")]
    VersionConflict {
        /// What the caller expected.
        expected: i64,
        /// What it is.
        actual: i64,
    },
    /// A unique field is taken.
    #[error("{field} `{value}` is already in use")]
    Taken {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller could not be authenticated.
    #[error("{0}")]
    Unauthenticated(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Taken { field, value } => Self::Taken { field, value },
            StoreError::Conflict {
                expected, actual, ..
            } => Self::VersionConflict { expected, actual },
            other => Self::Store(other),
        }
    }
}

impl ServiceError {
    /// A not-found error for an entity.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::Domain(DomainError::NotFound {
            kind,
            id: id.into(),
        })
    }
}
