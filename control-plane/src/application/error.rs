//! Errors of the service layer; the API layers map them to HTTP and gRPC statuses.

use mcpgw_shared::{SecretError, StreamId};

use super::authenticate::Unauthenticated;
use super::authorization::signing::SigningError;
use super::caller::Forbidden;
use crate::domain::DomainError;
use crate::domain::oauth_grant::TokenRefusal;
use crate::store::{StoreError, Taken};

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
    #[error(transparent)]
    Taken(Taken),
    /// The caller may not do this.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The caller could not be authenticated.
    #[error(transparent)]
    Unauthenticated(#[from] Unauthenticated),
    /// A data plane's applied sequence is ahead of the log or too far behind it.
    #[error("{}", snapshot_needed(*after, *head))]
    SnapshotNeeded {
        /// The data plane's sequence.
        after: i64,
        /// The head of the log.
        head: i64,
    },
    /// A stored secret does not open with the configured key.
    #[error(
        "a secret of {owner} ({field}) cannot be decrypted ({source}): is MCPGW_SECRET_KEY the key it was stored with?"
    )]
    SecretUnreadable {
        /// The server or workspace it belongs to.
        owner: StreamId,
        /// The secret's field path.
        field: String,
        /// Why it does not open.
        source: SecretError,
    },
    /// No server the caller may see has this slug.
    #[error("{}", no_such_slug(.slug, .near.as_deref()))]
    NoSuchSlug {
        /// The slug asked for (cut to 64 characters).
        slug: String,
        /// The caller's closest slug, if one is close.
        near: Option<String>,
    },
    /// An access-token signing key could not be made or used.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

fn no_such_slug(slug: &str, near: Option<&str>) -> String {
    match near {
        Some(near) => format!("no server has the slug `{slug}`; did you mean `{near}`?"),
        None => format!("no server has the slug `{slug}` (`GET /v1/servers` lists them)"),
    }
}

fn snapshot_needed(after: i64, head: i64) -> String {
    if after > head {
        format!("sequence {after} is ahead of the log (head {head}): take a new snapshot")
    } else {
        format!("sequence {after} is too far behind the head {head}: take a new snapshot")
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Taken(taken) => Self::Taken(taken),
            StoreError::Conflict {
                expected, actual, ..
            } => Self::VersionConflict { expected, actual },
            other => Self::Store(other),
        }
    }
}

impl From<TokenRefusal> for ServiceError {
    fn from(refusal: TokenRefusal) -> Self {
        Self::Domain(DomainError::Refused(refusal))
    }
}

impl ServiceError {
    /// A not-found error for an entity.
    pub fn not_found(kind: &'static str, id: impl std::fmt::Display) -> Self {
        Self::Domain(DomainError::not_found(kind, id))
    }
}
