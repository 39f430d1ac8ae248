//! Read models: one `apply` per event, run in the append transaction, and a rebuild that
//! replays the whole log into empty tables. Each row records the sequence of the last event
//! applied to it, so replaying an event it has seen changes nothing.

use sqlx::AnyConnection;

use super::event_log::read_log_on;
use super::{Database, StoreError, StoredEvent, format_time};
use crate::domain::DomainEvent;

/// The projection tables, in the order a rebuild empties them.
const TABLES: &[&str] = &[
    "workspaces",
    "servers",
    "server_workspaces",
    "api_keys",
    "data_planes",
];

/// Applies one stored event to the read models.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    stored: &StoredEvent,
) -> Result<(), StoreError> {
    let id = stored.entity_id();
    let at = format_time(stored.recorded_at);
    let seq = stored.seq;
    let version = stored.stream_version;
    match &stored.event {
        DomainEvent::WorkspaceCreated { name } => {
            sqlx::query(
                "INSERT INTO workspaces (id, name, version, created_at, updated_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .bind(version)
            .bind(&at)
            .bind(seq)
            .execute(conn)
            .await?;
        }
        DomainEvent::WorkspaceRenamed { name } => {
            update(
                conn,
                "workspaces",
                "name = $4",
                id,
                version,
                &at,
                seq,
                |q| q.bind(name.as_str()),
            )
            .await?;
        }
        DomainEvent::ServerRegistered {
            workspace_id,
            slug,
            name,
            description,
            url,
            auth,
            tools,
            enabled,
        } => {
            sqlx::query(
                "INSERT INTO servers (id, workspace_id, slug, name, description, url, auth, tools, enabled, \
                 version, connection_version, created_at, updated_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11, $12) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(workspace_id.to_string())
            .bind(slug.as_str())
            .bind(name)
            .bind(description)
            .bind(url)
            .bind(serde_json::to_string(auth)?)
            .bind(serde_json::to_string(tools)?)
            .bind(*enabled)
            .bind(version)
            .bind(&at)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
            set_server_workspace(conn, id, &workspace_id.to_string(), true).await?;
        }
        DomainEvent::ServerDetailsChanged { name, description } => {
            update(
                conn,
                "servers",
                "name = $4, description = $5",
                id,
                version,
                &at,
                seq,
                |q| q.bind(name.as_str()).bind(description.as_str()),
            )
            .await?;
        }
        DomainEvent::ServerUpstreamChanged { url } => {
            update(
                conn,
                "servers",
                CONNECTION_CHANGE_URL,
                id,
                version,
                &at,
                seq,
                |q| q.bind(url.as_str()),
            )
            .await?;
        }
        DomainEvent::ServerAuthChanged { auth } => {
            let auth = serde_json::to_string(auth)?;
            update(
                conn,
                "servers",
                CONNECTION_CHANGE_AUTH,
                id,
                version,
                &at,
                seq,
                |q| q.bind(auth),
            )
            .await?;
        }
        DomainEvent::ServerToolsChanged { tools } => {
            let tools = serde_json::to_string(tools)?;
            update(conn, "servers", "tools = $4", id, version, &at, seq, |q| {
                q.bind(tools)
            })
            .await?;
        }
        DomainEvent::ServerEnabledChanged { enabled } => {
            update(
                conn,
                "servers",
                CONNECTION_CHANGE_ENABLED,
                id,
                version,
                &at,
                seq,
                |q| q.bind(*enabled),
            )
            .await?;
        }
        DomainEvent::ServerProvisioned { workspace_id } => {
            update(conn, "servers", "name = name", id, version, &at, seq, |q| q).await?;
            set_server_workspace(conn, id, &workspace_id.to_string(), false).await?;
        }
        DomainEvent::ServerDeprovisioned { workspace_id } => {
            update(conn, "servers", "name = name", id, version, &at, seq, |q| q).await?;
            sqlx::query("DELETE FROM server_workspaces WHERE server_id = $1 AND workspace_id = $2")
                .bind(id)
                .bind(workspace_id.to_string())
                .execute(conn)
                .await?;
        }
        DomainEvent::ServerDeleted => {
            sqlx::query("DELETE FROM servers WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM server_workspaces WHERE server_id = $1")
                .bind(id)
                .execute(conn)
                .await?;
        }
        DomainEvent::ApiKeyIssued {
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
            .bind(id)
            .bind(workspace_id.map(|w| w.to_string()))
            .bind(name)
            .bind(key_type.as_str())
            .bind(user_id.as_deref())
            .bind(serde_json::to_string(permissions)?)
            .bind(secret_hash)
            .bind(expires_at.map(format_time))
            .bind(version)
            .bind(&at)
            .bind(seq)
            .execute(conn)
            .await?;
        }
        DomainEvent::ApiKeyRevoked => {
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $2, version = $3, last_seq = $4 WHERE id = $1 AND last_seq < $4",
            )
            .bind(id)
            .bind(&at)
            .bind(version)
            .bind(seq)
            .execute(conn)
            .await?;
        }
        DomainEvent::DataPlaneRegistered {
            name,
            workspaces,
            token_id,
            token_hash,
        } => {
            sqlx::query(
                "INSERT INTO data_planes (id, name, workspaces, token_id, token_hash, version, created_at, last_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .bind(workspaces.as_ref().map(serde_json::to_string).transpose()?)
            .bind(token_id)
            .bind(token_hash)
            .bind(version)
            .bind(&at)
            .bind(seq)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

// Changes that invalidate upstream connections and sealed sessions bump connection_version.
const CONNECTION_CHANGE_URL: &str = "url = $4, connection_version = connection_version + 1";
const CONNECTION_CHANGE_AUTH: &str = "auth = $4, connection_version = connection_version + 1";
const CONNECTION_CHANGE_ENABLED: &str = "enabled = $4, connection_version = connection_version + 1";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// `UPDATE <table> SET <assignments>, version, updated_at, last_seq WHERE id AND last_seq < seq`;
/// `$1`–`$3` are id, version and time, `bind_rest` binds `$4` onwards, the sequence comes last.
#[allow(clippy::too_many_arguments)]
async fn update(
    conn: &mut AnyConnection,
    table: &'static str,
    assignments: &'static str,
    id: &str,
    version: i64,
    at: &str,
    seq: i64,
    bind_rest: impl for<'q> FnOnce(AnyQuery<'q>) -> AnyQuery<'q>,
) -> Result<(), StoreError> {
    let extra = assignments.matches('$').count();
    let seq_param = 4 + extra;
    let sql = format!(
        "UPDATE {table} SET {assignments}, version = $2, updated_at = $3, last_seq = ${seq_param} \
         WHERE id = $1 AND last_seq < ${seq_param}"
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(version)
        .bind(at);
    bind_rest(query).bind(seq).execute(conn).await?;
    Ok(())
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
