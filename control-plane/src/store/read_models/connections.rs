//! Queries of users' connections to per-user OAuth servers.

use std::ops::DerefMut;

use chrono::{DateTime, Utc};
use mcpgw_shared::{ConnectionId, ServerId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Reader, Scope, parse_text, parse_time};
use crate::store::StoreError;

/// A connection row: whose tokens, and the tokens sealed (base64, opaque here).
#[derive(Clone, PartialEq)]
pub struct ConnectionRow {
    /// Id, `ConnectionId::of(server_id, user_id)`.
    pub id: ConnectionId,
    /// The server.
    pub server_id: ServerId,
    /// The user.
    pub user_id: String,
    /// The sealed tokens, base64.
    pub sealed: String,
    /// The sign-in ended: the user must sign in again.
    pub signed_out: bool,
    /// Stream version.
    pub version: i64,
    /// First connected.
    pub created_at: DateTime<Utc>,
    /// Tokens last stored (signed in or refreshed).
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConnectionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRow")
            .field("id", &self.id)
            .field("server_id", &self.server_id)
            .field("user_id", &self.user_id)
            .field("version", &self.version)
            .field("signed_out", &self.signed_out)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

const CONNECTION_COLUMNS: &str = "id, server_id, user_id, sealed, version, created_at, updated_at, \
     CASE WHEN signed_out THEN 1 ELSE 0 END FROM upstream_connections";

impl<C: DerefMut<Target = AnyConnection>> Reader<C> {
    /// The connections to servers that serve a workspace in scope.
    pub async fn connections(
        &mut self,
        scope: Scope<'_>,
    ) -> Result<Vec<ConnectionRow>, StoreError> {
        let rows = match scope {
            None => {
                let sql = format!("SELECT {CONNECTION_COLUMNS} ORDER BY server_id, user_id");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *self.conn)
                    .await?
            }
            Some(scope) => {
                self.fetch_scoped(
                    &format!("SELECT {CONNECTION_COLUMNS}"),
                    "server_id IN (SELECT server_id FROM server_workspaces WHERE workspace_id",
                    Some(scope),
                    ") ORDER BY server_id, user_id",
                )
                .await?
            }
        };
        rows.iter().map(decode_connection).collect()
    }

    /// The connections to one server, by user.
    pub async fn connections_of(
        &mut self,
        server: &ServerId,
    ) -> Result<Vec<ConnectionRow>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} WHERE server_id = $1 ORDER BY user_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(server.to_string())
            .fetch_all(&mut *self.conn)
            .await?;
        rows.iter().map(decode_connection).collect()
    }

    /// One connection.
    pub async fn connection(
        &mut self,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.as_ref().map(decode_connection).transpose()
    }
}

fn decode_connection(row: &AnyRow) -> Result<ConnectionRow, StoreError> {
    Ok(ConnectionRow {
        id: parse_text(row.try_get(0)?)?,
        server_id: parse_text(row.try_get(1)?)?,
        user_id: row.try_get(2)?,
        sealed: row.try_get(3)?,
        version: row.try_get(4)?,
        created_at: parse_time(&row.try_get::<String, _>(5)?)?,
        updated_at: parse_time(&row.try_get::<String, _>(6)?)?,
        signed_out: row.try_get::<i64, _>(7)? != 0,
    })
}
