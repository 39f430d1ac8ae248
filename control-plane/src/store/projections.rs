//! Read models: one `apply` per event, run in the append transaction, and a rebuild that
//! replays the whole log into empty tables. Each row records the sequence of the last event
//! applied to it, so replaying an event it has seen changes nothing.

mod oauth;
mod unique;

use mcpgw_shared::ApiKeyId;
use sqlx::AnyConnection;

use super::event_log::read_log_on;
use super::{Database, StoreError, StoredEvent, Taken, format_time};
use crate::domain::DomainEvent;
use crate::domain::api_key::ApiKeyEvent;
use crate::domain::connection::ConnectionEvent;
use crate::domain::data_plane::DataPlaneEvent;
use crate::domain::server::ServerEvent;
use crate::domain::workspace::WorkspaceEvent;
use unique::{DATA_PLANE_TOKEN, SERVER_SLUG, WORKSPACE_NAME};

/// The projection tables, in the order a rebuild empties them.
const TABLES: &[&str] = &[
    "workspaces",
    "servers",
    "server_workspaces",
    "api_keys",
    "data_planes",
    "data_plane_tokens",
    "upstream_connections",
    "oauth_clients",
    "oauth_grants",
    "signing_keys",
];

/// What one event changes in its row.
struct Row<'a> {
    id: String,
    version: i64,
    at: String,
    seq: i64,
    conn: &'a mut AnyConnection,
}

/// Applies one stored event to the read models.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    stored: &StoredEvent,
) -> Result<(), StoreError> {
    let row = Row {
        id: stored.stream.entity_id(),
        version: stored.stream_version,
        at: format_time(stored.recorded_at),
        seq: stored.seq,
        conn,
    };
    match &stored.event {
        DomainEvent::Workspace(event) => apply_workspace(row, event).await,
        DomainEvent::Server(event) => apply_server(row, event).await,
        DomainEvent::ApiKey(event) => apply_api_key(row, event).await,
        DomainEvent::DataPlane(event) => apply_data_plane(row, event).await,
        DomainEvent::Connection(event) => apply_connection(row, event).await,
        DomainEvent::OAuthClient(event) => oauth::apply_client(row, event).await,
        DomainEvent::OAuthGrant(event) => oauth::apply_grant(row, event).await,
        DomainEvent::SigningKey(event) => oauth::apply_signing_key(row, event).await,
    }
}

async fn apply_workspace(row: Row<'_>, event: &WorkspaceEvent) -> Result<(), StoreError> {
    match event {
        WorkspaceEvent::Created { name } => {
            sqlx::query(
                "INSERT INTO workspaces (id, name, version, created_at, updated_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(name)
            .bind(row.version)
            .bind(&row.at)
            .bind(row.seq)
            .execute(row.conn)
            .await
            .map_err(|e| WORKSPACE_NAME.taken(e, || Taken::WorkspaceName(name.clone())))?;
        }
        WorkspaceEvent::Renamed { name } => {
            let taken = || Taken::WorkspaceName(name.clone());
            update(row, "workspaces", "name = $4", |q| q.bind(name.as_str()))
                .await
                .map_err(|e| WORKSPACE_NAME.taken(e, taken))?;
        }
        WorkspaceEvent::ToolsChanged { tools } => {
            let tools = serde_json::to_string(tools)?;
            update(row, "workspaces", "tools = $4", |q| q.bind(tools)).await?;
        }
        WorkspaceEvent::JwtValidationChanged { jwt_validation } => {
            let rules = jwt_validation
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?;
            update(row, "workspaces", "jwt_validation = $4", |q| q.bind(rules)).await?;
        }
        WorkspaceEvent::IdentityProviderChanged { identity_provider } => {
            // The client secret stays sealed, as in the event.
            let provider = identity_provider
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?;
            let set = "identity_provider = $4";
            update(row, "workspaces", set, |q| q.bind(provider)).await?;
        }
        WorkspaceEvent::RateLimitsChanged { rate_limits } => {
            let limits = serde_json::to_string(rate_limits)?;
            update(row, "workspaces", "rate_limits = $4", |q| q.bind(limits)).await?;
        }
        WorkspaceEvent::GrantsChanged { grants } => {
            let grants = serde_json::to_string(grants)?;
            update(row, "workspaces", "grants = $4", |q| q.bind(grants)).await?;
        }
    }
    Ok(())
}

async fn apply_server(row: Row<'_>, event: &ServerEvent) -> Result<(), StoreError> {
    // The domain says which changes bump the connection version; the SQL only counts them.
    let bump = i64::from(event.changes_connection());
    match event {
        ServerEvent::Registered {
            workspace_id,
            slug,
            name,
            description,
            url,
            auth,
            tools,
            enabled,
            request_logging,
            rate_limits,
            virtual_server,
            identity_forwarding,
        } => {
            sqlx::query(
                "INSERT INTO servers (id, workspace_id, slug, name, description, url, auth, tools, enabled, \
                 version, connection_version, created_at, updated_at, last_seq, request_logging, rate_limits, virtual_server, \
                 identity_forwarding) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(workspace_id.to_string())
            .bind(slug.as_str())
            .bind(name)
            .bind(description)
            .bind(url)
            .bind(serde_json::to_string(auth)?)
            .bind(serde_json::to_string(tools)?)
            .bind(*enabled)
            .bind(row.version)
            .bind(bump)
            .bind(&row.at)
            .bind(row.seq)
            .bind(serde_json::to_string(request_logging)?)
            .bind(serde_json::to_string(rate_limits)?)
            .bind(
                virtual_server
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?,
            )
            .bind(
                (!identity_forwarding.is_none())
                    .then(|| serde_json::to_string(identity_forwarding))
                    .transpose()?,
            )
            .execute(&mut *row.conn)
            .await
            .map_err(|e| SERVER_SLUG.taken(e, || Taken::ServerSlug(slug.clone())))?;
            set_server_workspace(row.conn, &row.id, &workspace_id.to_string(), true).await?;
        }
        ServerEvent::DetailsChanged { name, description } => {
            update(row, "servers", "name = $4, description = $5", |q| {
                q.bind(name.as_str()).bind(description.as_str())
            })
            .await?;
        }
        ServerEvent::UpstreamChanged { url } => {
            let set = "url = $4, connection_version = connection_version + $5";
            update(row, "servers", set, |q| q.bind(url.as_str()).bind(bump)).await?;
        }
        ServerEvent::AuthChanged { auth } => {
            let auth = serde_json::to_string(auth)?;
            let set = "auth = $4, connection_version = connection_version + $5";
            update(row, "servers", set, |q| q.bind(auth).bind(bump)).await?;
        }
        ServerEvent::ToolsChanged { tools } => {
            let tools = serde_json::to_string(tools)?;
            update(row, "servers", "tools = $4", |q| q.bind(tools)).await?;
        }
        ServerEvent::RequestLoggingChanged { request_logging } => {
            let logging = serde_json::to_string(request_logging)?;
            update(row, "servers", "request_logging = $4", |q| q.bind(logging)).await?;
        }
        ServerEvent::RateLimitsChanged { rate_limits } => {
            let limits = serde_json::to_string(rate_limits)?;
            update(row, "servers", "rate_limits = $4", |q| q.bind(limits)).await?;
        }
        ServerEvent::IdentityForwardingChanged {
            identity_forwarding,
        } => {
            let forwarding = serde_json::to_string(identity_forwarding)?;
            let set = "identity_forwarding = $4";
            update(row, "servers", set, |q| q.bind(forwarding)).await?;
        }
        ServerEvent::JwtValidationChanged { jwt_validation } => {
            // An introspection client secret stays sealed, as in the event.
            let rules = jwt_validation
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?;
            update(row, "servers", "jwt_validation = $4", |q| q.bind(rules)).await?;
        }
        ServerEvent::MembersChanged { virtual_server } => {
            let members = serde_json::to_string(virtual_server)?;
            update(row, "servers", "virtual_server = $4", |q| q.bind(members)).await?;
        }
        ServerEvent::EnabledChanged { enabled } => {
            let set = "enabled = $4, connection_version = connection_version + $5";
            update(row, "servers", set, |q| q.bind(*enabled).bind(bump)).await?;
        }
        ServerEvent::Provisioned { workspace_id } => {
            let id = row.id.clone();
            let conn = update(row, "servers", "name = name", |q| q).await?;
            set_server_workspace(conn, &id, &workspace_id.to_string(), false).await?;
        }
        ServerEvent::Deprovisioned { workspace_id } => {
            let id = row.id.clone();
            let conn = update(row, "servers", "name = name", |q| q).await?;
            sqlx::query("DELETE FROM server_workspaces WHERE server_id = $1 AND workspace_id = $2")
                .bind(id)
                .bind(workspace_id.to_string())
                .execute(conn)
                .await?;
        }
        ServerEvent::Deleted => {
            sqlx::query("DELETE FROM servers WHERE id = $1")
                .bind(&row.id)
                .execute(&mut *row.conn)
                .await?;
            sqlx::query("DELETE FROM server_workspaces WHERE server_id = $1")
                .bind(&row.id)
                .execute(&mut *row.conn)
                .await?;
            // Tokens of a server that is gone are of no use to anyone.
            sqlx::query("DELETE FROM upstream_connections WHERE server_id = $1")
                .bind(&row.id)
                .execute(row.conn)
                .await?;
        }
    }
    Ok(())
}

async fn apply_connection(row: Row<'_>, event: &ConnectionEvent) -> Result<(), StoreError> {
    match event {
        ConnectionEvent::TokensStored {
            server_id,
            user_id,
            sealed,
            signed_out,
        } => {
            sqlx::query(
                "INSERT INTO upstream_connections (id, server_id, user_id, sealed, signed_out, version, created_at, updated_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, signed_out = excluded.signed_out, \
                 version = excluded.version, updated_at = excluded.updated_at, last_seq = excluded.last_seq \
                 WHERE upstream_connections.last_seq < excluded.last_seq",
            )
            .bind(&row.id)
            .bind(server_id.to_string())
            .bind(user_id)
            .bind(sealed)
            .bind(*signed_out)
            .bind(row.version)
            .bind(&row.at)
            .bind(row.seq)
            .execute(row.conn)
            .await?;
        }
        ConnectionEvent::Revoked { .. } => {
            sqlx::query("DELETE FROM upstream_connections WHERE id = $1 AND last_seq < $2")
                .bind(&row.id)
                .bind(row.seq)
                .execute(row.conn)
                .await?;
        }
    }
    Ok(())
}

async fn apply_api_key(row: Row<'_>, event: &ApiKeyEvent) -> Result<(), StoreError> {
    match event {
        ApiKeyEvent::Issued {
            workspace_id,
            name,
            key_type,
            user_id,
            permissions,
            expires_at,
            secret_hash,
        } => {
            sqlx::query(
                "INSERT INTO api_keys (id, workspace_id, name, key_type, user_id, permissions, secret_hash, \
                 expires_at, revoked_at, version, created_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(workspace_id.map(|w| w.to_string()))
            .bind(name)
            .bind(key_type.as_str())
            .bind(user_id.as_deref())
            .bind(serde_json::to_string(permissions)?)
            .bind(hex::encode(secret_hash))
            .bind(expires_at.map(format_time))
            .bind(row.version)
            .bind(&row.at)
            .bind(row.seq)
            .execute(row.conn)
            .await?;
        }
        ApiKeyEvent::Revoked => {
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $2, version = $3, last_seq = $4 WHERE id = $1 AND last_seq < $4",
            )
            .bind(&row.id)
            .bind(&row.at)
            .bind(row.version)
            .bind(row.seq)
            .execute(row.conn)
            .await?;
        }
    }
    Ok(())
}

async fn apply_data_plane(row: Row<'_>, event: &DataPlaneEvent) -> Result<(), StoreError> {
    match event {
        DataPlaneEvent::Registered {
            name,
            workspaces,
            token_id,
            token_hash,
            nats_user,
        } => {
            sqlx::query(
                "INSERT INTO data_planes (id, name, workspaces, nats_user, version, created_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(name)
            .bind(workspaces.as_ref().map(serde_json::to_string).transpose()?)
            .bind(nats_user.as_deref())
            .bind(row.version)
            .bind(&row.at)
            .bind(row.seq)
            .execute(&mut *row.conn)
            .await?;
            insert_token(row, *token_id, token_hash).await?;
        }
        DataPlaneEvent::TokenRotated {
            token_id,
            token_hash,
            retire_previous_at,
        } => {
            let retire = format_time(*retire_previous_at);
            sqlx::query(
                "UPDATE data_plane_tokens SET expires_at = $2, last_seq = $3 \
                 WHERE data_plane_id = $1 AND last_seq < $3 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(&row.id)
            .bind(&retire)
            .bind(row.seq)
            .execute(&mut *row.conn)
            .await?;
            touch_data_plane(&mut *row.conn, &row.id, row.version, row.seq).await?;
            insert_token(row, *token_id, token_hash).await?;
        }
        DataPlaneEvent::TokenRevoked { token_id } => {
            sqlx::query(
                "UPDATE data_plane_tokens SET revoked = TRUE, last_seq = $2 \
                 WHERE token_id = $1 AND last_seq < $2",
            )
            .bind(token_id.as_str())
            .bind(row.seq)
            .execute(&mut *row.conn)
            .await?;
            touch_data_plane(row.conn, &row.id, row.version, row.seq).await?;
        }
        DataPlaneEvent::Deleted => {
            for table in ["data_plane_tokens", "data_plane_instances"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE data_plane_id = $1"
                )))
                .bind(&row.id)
                .execute(&mut *row.conn)
                .await?;
            }
            sqlx::query("DELETE FROM data_planes WHERE id = $1")
                .bind(&row.id)
                .execute(row.conn)
                .await?;
        }
    }
    Ok(())
}

async fn insert_token(
    row: Row<'_>,
    token_id: ApiKeyId,
    token_hash: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO data_plane_tokens (token_id, data_plane_id, token_hash, created_at, last_seq) \
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS \
         (SELECT 1 FROM data_plane_tokens WHERE token_id = $1 AND data_plane_id = $2)",
    )
    .bind(token_id.as_str())
    .bind(&row.id)
    .bind(hex::encode(token_hash))
    .bind(&row.at)
    .bind(row.seq)
    .execute(row.conn)
    .await
    .map_err(|e| DATA_PLANE_TOKEN.taken(e, || Taken::DataPlaneToken(token_id)))?;
    Ok(())
}

async fn touch_data_plane(
    conn: &mut AnyConnection,
    id: &str,
    version: i64,
    seq: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE data_planes SET version = $2, last_seq = $3 WHERE id = $1 AND last_seq < $3",
    )
    .bind(id)
    .bind(version)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// `UPDATE <table> SET <assignments>, version, updated_at, last_seq WHERE id AND last_seq < seq`;
/// `$1`–`$3` are id, version and time, `bind_rest` binds `$4` onwards, the sequence comes last.
/// Returns the connection for further statements.
async fn update<'c>(
    row: Row<'c>,
    table: &'static str,
    assignments: &'static str,
    bind_rest: impl for<'q> FnOnce(AnyQuery<'q>) -> AnyQuery<'q>,
) -> Result<&'c mut AnyConnection, sqlx::Error> {
    let extra = assignments.matches('$').count();
    let seq_param = 4 + extra;
    let sql = format!(
        "UPDATE {table} SET {assignments}, version = $2, updated_at = $3, last_seq = ${seq_param} \
         WHERE id = $1 AND last_seq < ${seq_param}"
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(row.id)
        .bind(row.version)
        .bind(row.at);
    bind_rest(query)
        .bind(row.seq)
        .execute(&mut *row.conn)
        .await?;
    Ok(row.conn)
}

async fn set_server_workspace(
    conn: &mut AnyConnection,
    server_id: &str,
    workspace_id: &str,
    home: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO server_workspaces (server_id, workspace_id, home) VALUES ($1, $2, $3) \
         ON CONFLICT (server_id, workspace_id) DO NOTHING",
    )
    .bind(server_id)
    .bind(workspace_id)
    .bind(home)
    .execute(conn)
    .await?;
    Ok(())
}

impl Database {
    /// Empties the read models and replays the whole log into them, in one transaction.
    /// Returns the number of events replayed.
    pub async fn rebuild_projections(&self) -> Result<u64, StoreError> {
        const BATCH: i64 = 1000;
        let mut tx = self.begin_write().await?;
        for table in TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await?;
        }
        let mut after = 0;
        let mut replayed = 0;
        loop {
            let events = read_log_on(&mut tx, after, BATCH, None).await?;
            let Some(last) = events.last() else { break };
            after = last.seq;
            for event in &events {
                apply(&mut tx, event).await?;
            }
            replayed += events.len() as u64;
        }
        tx.commit().await?;
        Ok(replayed)
    }
}
