//! The read models' unique constraints, each known by its name so a violation maps to the
//! [`Taken`] value that caused it. PostgreSQL reports the constraint's name (the default
//! `<table>_<column>_key` of a `UNIQUE` column, `<table>_pkey` of a primary key); SQLite reports no name, only
//! `UNIQUE constraint failed: <table>.<column>`, matched whole.

use super::{StoreError, Taken};

/// One unique constraint of the read models.
pub(super) struct UniqueConstraint {
    /// Its name in PostgreSQL.
    postgres: &'static str,
    /// `<table>.<column>`, as SQLite names it.
    sqlite: &'static str,
}

/// `workspaces.name`.
pub(super) const WORKSPACE_NAME: UniqueConstraint = UniqueConstraint {
    postgres: "workspaces_name_key",
    sqlite: "workspaces.name",
};
/// `servers.slug`.
pub(super) const SERVER_SLUG: UniqueConstraint = UniqueConstraint {
    postgres: "servers_slug_key",
    sqlite: "servers.slug",
};
/// `data_plane_tokens.token_id` (its primary key).
pub(super) const DATA_PLANE_TOKEN: UniqueConstraint = UniqueConstraint {
    postgres: "data_plane_tokens_pkey",
    sqlite: "data_plane_tokens.token_id",
};

impl UniqueConstraint {
    /// `error` as [`StoreError::Taken`] with the value `taken` names when it violates this
    /// constraint; any other error unchanged.
    pub(super) fn taken(&self, error: sqlx::Error, taken: impl FnOnce() -> Taken) -> StoreError {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            let named = db.constraint() == Some(self.postgres);
            let sqlite = db.message() == format!("UNIQUE constraint failed: {}", self.sqlite);
            if named || sqlite {
                return StoreError::Taken(taken());
            }
        }
        StoreError::Database(error)
    }
}
