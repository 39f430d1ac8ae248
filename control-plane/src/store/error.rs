//! Store errors.

use mcpgw_shared::{ApiKeyId, Slug, StreamId};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream moved on since it was read: the caller's expected version is stale.
    #[error("{stream} is at version {actual}, not {expected}")]
    Conflict {
        /// The stream.
        stream: StreamId,
        /// The version the caller expected.
        expected: i64,
        /// The version it is at.
        actual: i64,
    },
    /// A uniqueness rule of the read models was violated.
    #[error(transparent)]
    Taken(#[from] Taken),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrating the schema failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data could not be read.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}

/// A value that must be unique is in use already.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Taken {
    /// Another workspace has this name.
    #[error("name `{0}` is already in use")]
    WorkspaceName(String),
    /// Another server has this slug.
    #[error("slug `{0}` is already in use")]
    ServerSlug(Slug),
    /// Another data plane has a token with this id (a generated id collided).
    #[error("token id `{0}` is already in use")]
    DataPlaneToken(ApiKeyId),
}

impl Taken {
    /// The request field whose value is taken.
    pub fn field(&self) -> &'static str {
        match self {
            Self::WorkspaceName(_) => "name",
            Self::ServerSlug(_) => "slug",
            Self::DataPlaneToken(_) => "token",
        }
    }

    /// The value that is taken.
    pub fn value(&self) -> String {
        match self {
            Self::WorkspaceName(name) => name.clone(),
            Self::ServerSlug(slug) => slug.to_string(),
            Self::DataPlaneToken(id) => id.to_string(),
        }
    }
}
