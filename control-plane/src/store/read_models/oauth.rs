//! Queries of the authorization server's read models: clients, grants and signing keys.

use std::ops::DerefMut;

use chrono::{DateTime, Utc};
use mcpgw_shared::{
    OAuthClientId, OAuthGrantId, SealedSecret, ServerId, SigningKeyId, WorkspaceId,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Reader, Scope, parse_text, parse_time, placeholders};
use crate::store::{StoreError, format_time};

/// A registered client, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClientRow {
    /// Id (the `client_id`).
    pub id: OAuthClientId,
    /// Display name.
    pub name: String,
    /// Where codes may be sent.
    pub redirect_uris: Vec<String>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub token_endpoint_auth_method: String,
    /// The grant types it uses.
    pub grant_types: Vec<String>,
    /// The scopes it may ask for, space-separated.
    pub scope: String,
    /// Its home page, or empty.
    pub client_uri: String,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

/// A grant as listed: whose consent, to what, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthGrantRow {
    /// Id.
    pub id: OAuthGrantId,
    /// The client (a registered client's id or a metadata document URL).
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The server.
    pub server_id: ServerId,
    /// The tokens' audience.
    pub resource: String,
    /// The granted scopes.
    pub scope: String,
    /// `issued`, `active` or `revoked`.
    pub state: String,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// Issued.
    pub created_at: DateTime<Utc>,
    /// Last changed (redeemed, refreshed, revoked).
    pub updated_at: DateTime<Utc>,
}

/// Which grants to list; every given field must match.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter<'a> {
    /// Of this user.
    pub user_id: Option<&'a str>,
    /// Of this client.
    pub client_id: Option<&'a str>,
    /// In this workspace.
    pub workspace_id: Option<WorkspaceId>,
    /// Only those not revoked.
    pub unrevoked: bool,
}

/// A signing key, its private part sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    /// Id.
    pub id: SigningKeyId,
    /// The key id tokens name.
    pub kid: String,
    /// The public JWK.
    pub public_jwk: serde_json::Value,
    /// The PKCS#8 PEM, sealed with the control plane's secret key.
    pub sealed_private: SealedSecret,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Retired, if it was.
    pub retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("id", &self.id)
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

const CLIENT_COLUMNS: &str = "id, name, redirect_uris, token_endpoint_auth_method, grant_types, \
     scope, client_uri, CASE WHEN revoked THEN 1 ELSE 0 END, created_at FROM oauth_clients";

const GRANT_COLUMNS: &str = "id, client_id, user_id, workspace_id, server_id, resource, scope, \
     state, revoked_reason, created_at, updated_at FROM oauth_grants";

const KEY_COLUMNS: &str =
    "id, kid, public_jwk, sealed_private, created_at, retired_at FROM signing_keys";

impl<C: DerefMut<Target = AnyConnection>> Reader<C> {
    /// Every registered client, oldest first.
    pub async fn oauth_clients(&mut self) -> Result<Vec<OAuthClientRow>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.iter().map(decode_client).collect()
    }

    /// One client, revoked or not.
    pub async fn oauth_client(
        &mut self,
        id: &OAuthClientId,
    ) -> Result<Option<OAuthClientRow>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.as_ref().map(decode_client).transpose()
    }

    /// The grants `filter` selects, newest first.
    pub async fn oauth_grants(
        &mut self,
        filter: &GrantFilter<'_>,
    ) -> Result<Vec<OAuthGrantRow>, StoreError> {
        let workspace = filter.workspace_id.map(|w| w.to_string());
        let conditions = [
            ("user_id", filter.user_id),
            ("client_id", filter.client_id),
            ("workspace_id", workspace.as_deref()),
        ];
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        for (column, value) in conditions {
            if let Some(value) = value {
                values.push(value);
                clauses.push(format!("{column} = ${}", values.len()));
            }
        }
        if filter.unrevoked {
            clauses.push("state <> 'revoked'".to_owned());
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!("SELECT {GRANT_COLUMNS} {filter_sql} ORDER BY created_at DESC, id DESC");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&mut *self.conn).await?;
        rows.iter().map(decode_grant).collect()
    }

    /// One grant, revoked or not.
    pub async fn oauth_grant(
        &mut self,
        id: &OAuthGrantId,
    ) -> Result<Option<OAuthGrantRow>, StoreError> {
        let sql = format!("SELECT {GRANT_COLUMNS} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.as_ref().map(decode_grant).transpose()
    }

    /// The grants of the workspaces of `scope` revoked at `since` or later, oldest first.
    pub async fn oauth_grants_revoked_since(
        &mut self,
        scope: Scope<'_>,
        since: DateTime<Utc>,
    ) -> Result<Vec<OAuthGrantRow>, StoreError> {
        // Times are stored as fixed-width RFC 3339 text in UTC, so text order is time order.
        let mut sql =
            format!("SELECT {GRANT_COLUMNS} WHERE state = 'revoked' AND updated_at >= $1");
        let workspaces = scope.unwrap_or_default();
        match scope {
            Some([]) => return Ok(vec![]),
            Some(scope) => {
                sql += &format!(" AND workspace_id IN ({})", placeholders(2, scope.len()))
            }
            None => {}
        }
        sql += " ORDER BY updated_at, id";
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(format_time(since));
        for workspace in workspaces {
            query = query.bind(workspace.to_string());
        }
        let rows = query.fetch_all(&mut *self.conn).await?;
        rows.iter().map(decode_grant).collect()
    }

    /// Signing keys, newest first; retired ones only with `retired`.
    pub async fn signing_keys(&mut self, retired: bool) -> Result<Vec<SigningKeyRow>, StoreError> {
        let filter = if retired {
            ""
        } else {
            "WHERE retired_at IS NULL"
        };
        let sql = format!("SELECT {KEY_COLUMNS} {filter} ORDER BY created_at DESC, id DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.iter().map(decode_key).collect()
    }
}

fn decode_client(row: &AnyRow) -> Result<OAuthClientRow, StoreError> {
    Ok(OAuthClientRow {
        id: parse_text(row.try_get(0)?)?,
        name: row.try_get(1)?,
        redirect_uris: serde_json::from_str(&row.try_get::<String, _>(2)?)?,
        token_endpoint_auth_method: row.try_get(3)?,
        grant_types: serde_json::from_str(&row.try_get::<String, _>(4)?)?,
        scope: row.try_get(5)?,
        client_uri: row.try_get(6)?,
        revoked: row.try_get::<i64, _>(7)? != 0,
        created_at: parse_time(&row.try_get::<String, _>(8)?)?,
    })
}

fn decode_grant(row: &AnyRow) -> Result<OAuthGrantRow, StoreError> {
    Ok(OAuthGrantRow {
        id: parse_text(row.try_get(0)?)?,
        client_id: row.try_get(1)?,
        user_id: row.try_get(2)?,
        workspace_id: parse_text(row.try_get(3)?)?,
        server_id: parse_text(row.try_get(4)?)?,
        resource: row.try_get(5)?,
        scope: row.try_get(6)?,
        state: row.try_get(7)?,
        revoked_reason: row.try_get(8)?,
        created_at: parse_time(&row.try_get::<String, _>(9)?)?,
        updated_at: parse_time(&row.try_get::<String, _>(10)?)?,
    })
}

fn decode_key(row: &AnyRow) -> Result<SigningKeyRow, StoreError> {
    Ok(SigningKeyRow {
        id: parse_text(row.try_get(0)?)?,
        kid: row.try_get(1)?,
        public_jwk: serde_json::from_str(&row.try_get::<String, _>(2)?)?,
        sealed_private: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
        created_at: parse_time(&row.try_get::<String, _>(4)?)?,
        retired_at: row
            .try_get::<Option<String>, _>(5)?
            .as_deref()
            .map(parse_time)
            .transpose()?,
    })
}
