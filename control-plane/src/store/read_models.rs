//! Queries of the read models, for the admin API and the sync API. A [`Reader`] runs on a
//! pooled connection, or on a snapshot transaction where every query sees one state.

use std::collections::BTreeMap;
use std::ops::DerefMut;

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{
    Grants, IdentityForwarding, IdentityProvider, JwtValidation, KeyState, KeyType, Permission,
    RateLimit, RequestLogging, ToolFilter, UpstreamAuth, VirtualServer,
};
use mcpgw_shared::{ApiKeyId, DataPlaneId, SealedSecret, ServerId, Slug, StreamId, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row};

mod connections;
mod oauth;

pub use connections::ConnectionRow;
pub use oauth::{GrantFilter, OAuthClientRow, OAuthGrantRow, SigningKeyRow};

use super::event_log::{head_on, parse_text, placeholders};
use super::{Database, StoreError, format_time, parse_time};

/// A workspace row.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceRow {
    /// Id.
    pub id: WorkspaceId,
    /// Name.
    pub name: String,
    /// Stream version.
    pub version: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Its tool policy, limiting every server its keys reach.
    pub tools: ToolFilter,
    /// What single keys and users may use, by `key:<id>` or `user:<id>`.
    pub grants: BTreeMap<String, Grants>,
    /// Its rate limits and quotas on everything its keys call.
    pub rate_limits: Vec<RateLimit>,
    /// How it checks its identity provider's bearer JWTs.
    pub jwt_validation: Option<JwtValidation<SealedSecret>>,
    /// The OpenID Connect provider its users sign in with, its client secret sealed.
    pub identity_provider: Option<IdentityProvider<SealedSecret>>,
}

/// A server row, secrets sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerRow {
    /// Id.
    pub id: ServerId,
    /// Home workspace.
    pub workspace_id: WorkspaceId,
    /// Workspaces it is provisioned to besides its home, sorted.
    pub provisioned: Vec<WorkspaceId>,
    /// Slug.
    pub slug: Slug,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Upstream URL.
    pub url: String,
    /// Upstream auth, secrets sealed.
    pub auth: UpstreamAuth<SealedSecret>,
    /// Tool filter.
    pub tools: ToolFilter,
    /// Enabled flag.
    pub enabled: bool,
    /// What the request log keeps of its requests.
    pub request_logging: RequestLogging,
    /// Rate limits and quotas.
    pub rate_limits: Vec<RateLimit>,
    /// For a virtual server, its members.
    pub virtual_server: Option<VirtualServer>,
    /// What its upstream is told of the caller.
    pub identity_forwarding: IdentityForwarding,
    /// How it checks bearer tokens of an identity provider, an introspection secret sealed.
    pub jwt_validation: Option<JwtValidation<SealedSecret>>,
    /// Stream version.
    pub version: i64,
    /// Connection version.
    pub connection_version: i64,
    /// Sequence of its last event.
    pub last_seq: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl ServerRow {
    /// Every workspace the server serves: home first, then the provisioned ones.
    pub fn workspaces(&self) -> impl Iterator<Item = &WorkspaceId> {
        std::iter::once(&self.workspace_id).chain(&self.provisioned)
    }
}

/// An API key row (the hash, never the key).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRow {
    /// Id.
    pub id: ApiKeyId,
    /// Workspace, if bound to one.
    pub workspace_id: Option<WorkspaceId>,
    /// Name.
    pub name: String,
    /// Service or user.
    pub key_type: KeyType,
    /// User of a user key.
    pub user_id: Option<String>,
    /// Permissions.
    pub permissions: Vec<Permission>,
    /// SHA-256 of the secret.
    pub secret_hash: [u8; 32],
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Stream version.
    pub version: i64,
    /// Sequence of its last event.
    pub last_seq: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl ApiKeyRow {
    /// Whether the key can be used at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        KeyState::at(self.revoked_at.is_some(), self.expires_at, now)
    }
}

/// A data-plane registration row.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlaneRow {
    /// Id.
    pub id: DataPlaneId,
    /// Name.
    pub name: String,
    /// Workspaces it serves; `None` for all.
    pub workspaces: Option<Vec<WorkspaceId>>,
    /// Public key of its NATS user, if it has one.
    pub nats_user: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl DataPlaneRow {
    /// The workspaces it serves, `None` for all.
    pub fn scope(&self) -> Scope<'_> {
        self.workspaces.as_deref()
    }
}

/// One token of a data plane.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlaneTokenRow {
    /// Public id.
    pub token_id: ApiKeyId,
    /// The registration it belongs to.
    pub data_plane_id: DataPlaneId,
    /// SHA-256 of the token's secret.
    pub token_hash: [u8; 32],
    /// Issued.
    pub created_at: DateTime<Utc>,
    /// When a rotation retires it.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl DataPlaneTokenRow {
    /// Whether the token can be used at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        KeyState::at(self.revoked, self.expires_at, now)
    }
}

/// One data-plane instance's last report.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlaneInstanceRow {
    /// The registration it runs under.
    pub data_plane_id: DataPlaneId,
    /// The instance.
    pub instance_id: String,
    /// Its build version.
    pub version: String,
    /// The sequence it has applied.
    pub applied_seq: i64,
    /// Whether it reported itself healthy.
    pub healthy: bool,
    /// When it last reported.
    pub last_seen: DateTime<Utc>,
    /// When it started (from its reported uptime), if it said.
    pub started_at: Option<DateTime<Utc>>,
}

/// Which workspaces a query covers: `None` for all.
pub type Scope<'a> = Option<&'a [WorkspaceId]>;

/// Runs read-model queries on one connection or transaction.
pub struct Reader<C> {
    conn: C,
}

impl Database {
    /// A reader on a pooled connection.
    pub async fn reader(&self) -> Result<Reader<sqlx::pool::PoolConnection<Any>>, StoreError> {
        Ok(Reader {
            conn: self.pool().acquire().await?,
        })
    }

    /// A reader whose queries all see one consistent state (repeatable read).
    pub async fn snapshot_reader(
        &self,
    ) -> Result<Reader<sqlx::Transaction<'static, Any>>, StoreError> {
        Ok(Reader {
            conn: self.begin_snapshot().await?,
        })
    }

    /// Records a data-plane instance's status report, keeping the `keep` most recently seen
    /// instances of its data plane (pods come and go; their rows must not pile up).
    pub async fn record_instance_status(
        &self,
        row: &DataPlaneInstanceRow,
        keep: usize,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO data_plane_instances (data_plane_id, instance_id, version, applied_seq, healthy, last_seen, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (data_plane_id, instance_id) DO UPDATE SET \
             version = excluded.version, applied_seq = excluded.applied_seq, healthy = excluded.healthy, \
             last_seen = excluded.last_seen, started_at = excluded.started_at",
        )
        .bind(row.data_plane_id.to_string())
        .bind(&row.instance_id)
        .bind(&row.version)
        .bind(row.applied_seq)
        .bind(row.healthy)
        .bind(format_time(row.last_seen))
        .bind(row.started_at.map(format_time))
        .execute(self.pool())
        .await?;
        sqlx::query(
            "DELETE FROM data_plane_instances WHERE data_plane_id = $1 AND instance_id NOT IN \
             (SELECT instance_id FROM data_plane_instances WHERE data_plane_id = $1 \
              ORDER BY last_seen DESC, instance_id LIMIT $2)",
        )
        .bind(row.data_plane_id.to_string())
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

// Booleans are read as integers: the Any driver cannot decode SQLite's BOOLEAN.
const SERVER_COLUMNS: &str = "id, workspace_id, slug, name, description, url, auth, tools, \
     CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, \
     version, connection_version, last_seq, created_at, updated_at, request_logging, rate_limits, virtual_server, \
     identity_forwarding, jwt_validation";
const API_KEY_COLUMNS: &str = "id, workspace_id, name, key_type, user_id, permissions, secret_hash, \
     expires_at, revoked_at, version, last_seq, created_at";
const DATA_PLANE_COLUMNS: &str = "id, name, workspaces, nats_user, created_at";
const DATA_PLANE_TOKEN_COLUMNS: &str = "token_id, data_plane_id, token_hash, created_at, expires_at, CASE WHEN revoked THEN 1 ELSE 0 END";

impl<C: DerefMut<Target = AnyConnection>> Reader<C> {
    /// The head sequence as this reader sees it.
    pub async fn head(&mut self) -> Result<i64, StoreError> {
        head_on(&mut self.conn).await
    }

    /// Workspaces in scope, by name.
    pub async fn workspaces(&mut self, scope: Scope<'_>) -> Result<Vec<WorkspaceRow>, StoreError> {
        let rows = self
            .fetch_scoped(
                "SELECT id, name, version, created_at, updated_at, tools, grants, rate_limits, jwt_validation, identity_provider FROM workspaces",
                "id",
                scope,
                "ORDER BY name",
            )
            .await?;
        rows.iter().map(decode_workspace).collect()
    }

    /// One workspace.
    pub async fn workspace(
        &mut self,
        id: &WorkspaceId,
    ) -> Result<Option<WorkspaceRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, version, created_at, updated_at, tools, grants, rate_limits, jwt_validation, identity_provider FROM workspaces WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn)
        .await?;
        row.as_ref().map(decode_workspace).transpose()
    }

    /// Servers that serve a workspace in scope, by slug.
    pub async fn servers(&mut self, scope: Scope<'_>) -> Result<Vec<ServerRow>, StoreError> {
        let rows = match scope {
            None => {
                let sql = format!("SELECT {SERVER_COLUMNS} FROM servers ORDER BY slug");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *self.conn)
                    .await?
            }
            Some(scope) => {
                self.fetch_scoped(
                    &format!("SELECT {SERVER_COLUMNS} FROM servers"),
                    "id IN (SELECT server_id FROM server_workspaces WHERE workspace_id",
                    Some(scope),
                    ") ORDER BY slug",
                )
                .await?
            }
        };
        let mut servers = rows
            .iter()
            .map(decode_server)
            .collect::<Result<Vec<_>, _>>()?;
        self.attach_provisioning(&mut servers).await?;
        Ok(servers)
    }

    /// One server.
    pub async fn server(&mut self, id: &ServerId) -> Result<Option<ServerRow>, StoreError> {
        let sql = format!("SELECT {SERVER_COLUMNS} FROM servers WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut servers = vec![decode_server(&row)?];
        self.attach_provisioning(&mut servers).await?;
        Ok(servers.pop())
    }

    async fn attach_provisioning(&mut self, servers: &mut [ServerRow]) -> Result<(), StoreError> {
        if servers.is_empty() {
            return Ok(());
        }
        let sql = if servers.len() == 1 {
            "SELECT server_id, workspace_id FROM server_workspaces WHERE home = $1 AND server_id = $2 \
             ORDER BY workspace_id"
        } else {
            "SELECT server_id, workspace_id FROM server_workspaces WHERE home = $1 ORDER BY workspace_id"
        };
        let mut query = sqlx::query(sql).bind(false);
        if let [only] = &servers[..] {
            query = query.bind(only.id.to_string());
        }
        let rows = query.fetch_all(&mut *self.conn).await?;
        let index: std::collections::HashMap<ServerId, usize> = servers
            .iter()
            .enumerate()
            .map(|(position, server)| (server.id, position))
            .collect();
        for row in rows {
            let server_id: ServerId = parse_text(row.try_get(0)?)?;
            if let Some(&position) = index.get(&server_id) {
                servers[position]
                    .provisioned
                    .push(parse_text(row.try_get(1)?)?);
            }
        }
        Ok(())
    }

    /// API keys of workspaces in scope (global keys only with an unlimited scope), newest first.
    pub async fn api_keys(&mut self, scope: Scope<'_>) -> Result<Vec<ApiKeyRow>, StoreError> {
        let rows = self
            .fetch_scoped(
                &format!("SELECT {API_KEY_COLUMNS} FROM api_keys"),
                "workspace_id",
                scope,
                "ORDER BY created_at DESC, id",
            )
            .await?;
        rows.iter().map(decode_api_key).collect()
    }

    /// One API key.
    pub async fn api_key(&mut self, id: &ApiKeyId) -> Result<Option<ApiKeyRow>, StoreError> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.as_ref().map(decode_api_key).transpose()
    }

    /// Whether any active key holds the admin permission.
    pub async fn any_admin_key(&mut self) -> Result<bool, StoreError> {
        let keys = self.api_keys(None).await?;
        let now = Utc::now();
        Ok(keys.iter().any(|k| {
            k.state(now) == KeyState::Active && k.permissions.contains(&Permission::Admin)
        }))
    }

    /// Every data-plane registration.
    pub async fn data_planes(&mut self) -> Result<Vec<DataPlaneRow>, StoreError> {
        let sql = format!("SELECT {DATA_PLANE_COLUMNS} FROM data_planes ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.iter().map(decode_data_plane).collect()
    }

    /// One data-plane registration.
    pub async fn data_plane(
        &mut self,
        id: DataPlaneId,
    ) -> Result<Option<DataPlaneRow>, StoreError> {
        let sql = format!("SELECT {DATA_PLANE_COLUMNS} FROM data_planes WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.as_ref().map(decode_data_plane).transpose()
    }

    /// The data-plane token with this public id.
    pub async fn data_plane_token(
        &mut self,
        token_id: &ApiKeyId,
    ) -> Result<Option<DataPlaneTokenRow>, StoreError> {
        let sql =
            format!("SELECT {DATA_PLANE_TOKEN_COLUMNS} FROM data_plane_tokens WHERE token_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_id.as_str())
            .fetch_optional(&mut *self.conn)
            .await?;
        row.as_ref().map(decode_data_plane_token).transpose()
    }

    /// Every data-plane token, by data plane, oldest first.
    pub async fn data_plane_tokens(&mut self) -> Result<Vec<DataPlaneTokenRow>, StoreError> {
        let sql = format!(
            "SELECT {DATA_PLANE_TOKEN_COLUMNS} FROM data_plane_tokens ORDER BY data_plane_id, created_at, token_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await?;
        rows.iter().map(decode_data_plane_token).collect()
    }

    /// Every instance report, by data plane and instance.
    pub async fn data_plane_instances(&mut self) -> Result<Vec<DataPlaneInstanceRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT data_plane_id, instance_id, version, applied_seq, CASE WHEN healthy THEN 1 ELSE 0 END, last_seen, started_at \
             FROM data_plane_instances ORDER BY data_plane_id, instance_id",
        )
        .fetch_all(&mut *self.conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DataPlaneInstanceRow {
                    data_plane_id: parse_text(row.try_get(0)?)?,
                    instance_id: row.try_get(1)?,
                    version: row.try_get(2)?,
                    applied_seq: row.try_get(3)?,
                    healthy: row.try_get::<i64, _>(4)? != 0,
                    last_seen: parse_time(&row.try_get::<String, _>(5)?)?,
                    started_at: row
                        .try_get::<Option<String>, _>(6)?
                        .as_deref()
                        .map(parse_time)
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Every projection row of every table as JSON text, for comparing read models.
    pub async fn dump_projections(&mut self) -> Result<Vec<String>, StoreError> {
        let mut dump = Vec::new();
        for workspace in self.workspaces(None).await? {
            dump.push(format!("{workspace:?}"));
        }
        for server in self.servers(None).await? {
            dump.push(format!("{server:?}"));
        }
        for key in self.api_keys(None).await? {
            dump.push(format!("{key:?}"));
        }
        for data_plane in self.data_planes().await? {
            dump.push(format!("{data_plane:?}"));
        }
        for connection in self.connections(None).await? {
            dump.push(format!("{connection:?} {}", connection.sealed));
        }
        for token in self.data_plane_tokens().await? {
            dump.push(format!("{token:?}"));
        }
        Ok(dump)
    }

    /// Runs `select` (optionally) restricted to `column IN (scope)`, then `suffix`.
    async fn fetch_scoped(
        &mut self,
        select: &str,
        column: &str,
        scope: Scope<'_>,
        suffix: &str,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let Some(scope) = scope else {
            let sql = format!("{select} {suffix}");
            return Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut *self.conn)
                .await?);
        };
        if scope.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "{select} WHERE {column} IN ({}) {suffix}",
            placeholders(1, scope.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for workspace in scope {
            query = query.bind(workspace.to_string());
        }
        Ok(query.fetch_all(&mut *self.conn).await?)
    }
}

fn decode_workspace(row: &AnyRow) -> Result<WorkspaceRow, StoreError> {
    Ok(WorkspaceRow {
        id: parse_text(row.try_get(0)?)?,
        name: row.try_get(1)?,
        version: row.try_get(2)?,
        created_at: parse_time(&row.try_get::<String, _>(3)?)?,
        updated_at: parse_time(&row.try_get::<String, _>(4)?)?,
        tools: row
            .try_get::<Option<String>, _>(5)?
            .map(|t| serde_json::from_str(&t))
            .transpose()?
            .unwrap_or_default(),
        grants: row
            .try_get::<Option<String>, _>(6)?
            .map(|g| serde_json::from_str(&g))
            .transpose()?
            .unwrap_or_default(),
        rate_limits: row
            .try_get::<Option<String>, _>(7)?
            .map(|l| serde_json::from_str(&l))
            .transpose()?
            .unwrap_or_default(),
        jwt_validation: row
            .try_get::<Option<String>, _>(8)?
            .map(|j| serde_json::from_str(&j))
            .transpose()?,
        identity_provider: row
            .try_get::<Option<String>, _>(9)?
            .map(|p| serde_json::from_str(&p))
            .transpose()?,
    })
}

fn decode_server(row: &AnyRow) -> Result<ServerRow, StoreError> {
    Ok(ServerRow {
        id: parse_text(row.try_get(0)?)?,
        workspace_id: parse_text(row.try_get(1)?)?,
        provisioned: vec![],
        slug: parse_text(row.try_get(2)?)?,
        name: row.try_get(3)?,
        description: row.try_get(4)?,
        url: row.try_get(5)?,
        auth: serde_json::from_str(&row.try_get::<String, _>(6)?)?,
        tools: serde_json::from_str(&row.try_get::<String, _>(7)?)?,
        enabled: row.try_get::<i64, _>(8)? != 0,
        version: row.try_get(9)?,
        connection_version: row.try_get(10)?,
        last_seq: row.try_get(11)?,
        created_at: parse_time(&row.try_get::<String, _>(12)?)?,
        updated_at: parse_time(&row.try_get::<String, _>(13)?)?,
        request_logging: row
            .try_get::<Option<String>, _>(14)?
            .map(|text| serde_json::from_str(&text))
            .transpose()?
            .unwrap_or_default(),
        rate_limits: row
            .try_get::<Option<String>, _>(15)?
            .map(|text| serde_json::from_str(&text))
            .transpose()?
            .unwrap_or_default(),
        virtual_server: row
            .try_get::<Option<String>, _>(16)?
            .map(|text| serde_json::from_str(&text))
            .transpose()?,
        identity_forwarding: row
            .try_get::<Option<String>, _>(17)?
            .map(|text| serde_json::from_str(&text))
            .transpose()?
            .unwrap_or_default(),
        jwt_validation: row
            .try_get::<Option<String>, _>(18)?
            .map(|text| serde_json::from_str(&text))
            .transpose()?,
    })
}

fn decode_api_key(row: &AnyRow) -> Result<ApiKeyRow, StoreError> {
    let optional_time = |index: usize| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.try_get::<Option<String>, _>(index)?
            .as_deref()
            .map(parse_time)
            .transpose()
    };
    Ok(ApiKeyRow {
        id: parse_text(row.try_get(0)?)?,
        workspace_id: row
            .try_get::<Option<String>, _>(1)?
            .map(parse_text)
            .transpose()?,
        name: row.try_get(2)?,
        key_type: parse_text(row.try_get(3)?)?,
        user_id: row.try_get(4)?,
        permissions: serde_json::from_str(&row.try_get::<String, _>(5)?)?,
        secret_hash: parse_hash(&row.try_get::<String, _>(6)?)?,
        expires_at: optional_time(7)?,
        revoked_at: optional_time(8)?,
        version: row.try_get(9)?,
        last_seq: row.try_get(10)?,
        created_at: parse_time(&row.try_get::<String, _>(11)?)?,
    })
}

fn decode_data_plane(row: &AnyRow) -> Result<DataPlaneRow, StoreError> {
    Ok(DataPlaneRow {
        id: parse_text(row.try_get(0)?)?,
        name: row.try_get(1)?,
        workspaces: row
            .try_get::<Option<String>, _>(2)?
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?,
        nats_user: row.try_get(3)?,
        created_at: parse_time(&row.try_get::<String, _>(4)?)?,
    })
}

fn decode_data_plane_token(row: &AnyRow) -> Result<DataPlaneTokenRow, StoreError> {
    Ok(DataPlaneTokenRow {
        token_id: parse_text(row.try_get(0)?)?,
        data_plane_id: parse_text(row.try_get(1)?)?,
        token_hash: parse_hash(&row.try_get::<String, _>(2)?)?,
        created_at: parse_time(&row.try_get::<String, _>(3)?)?,
        expires_at: row
            .try_get::<Option<String>, _>(4)?
            .as_deref()
            .map(parse_time)
            .transpose()?,
        revoked: row.try_get::<i64, _>(5)? != 0,
    })
}

impl<C: DerefMut<Target = AnyConnection>> Reader<C> {
    /// The streams with events in `(after, up_to]` that concern a workspace in scope, each
    /// with the sequence of its last such event, in order of that sequence.
    pub async fn changed_entities(
        &mut self,
        after: i64,
        up_to: i64,
        scope: Scope<'_>,
    ) -> Result<Vec<(StreamId, i64)>, StoreError> {
        let rows =
            match scope {
                None => sqlx::query(
                    "SELECT stream_id, MAX(seq) AS last FROM events WHERE seq > $1 AND seq <= $2 \
                     GROUP BY stream_id ORDER BY last",
                )
                .bind(after)
                .bind(up_to)
                .fetch_all(&mut *self.conn)
                .await?,
                Some([]) => vec![],
                Some(scope) => {
                    let sql = format!(
                        "SELECT e.stream_id, MAX(e.seq) AS last FROM events e \
                     JOIN event_workspaces w ON w.seq = e.seq \
                     WHERE e.seq > $1 AND e.seq <= $2 AND w.workspace_id IN ({}) \
                     GROUP BY e.stream_id ORDER BY last",
                        placeholders(3, scope.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(after)
                        .bind(up_to);
                    for workspace in scope {
                        query = query.bind(workspace.to_string());
                    }
                    query.fetch_all(&mut *self.conn).await?
                }
            };
        rows.iter()
            .map(|row| Ok((parse_text(row.try_get(0)?)?, row.try_get(1)?)))
            .collect()
    }
}

/// A SHA-256 hash stored as hex.
fn parse_hash(text: &str) -> Result<[u8; 32], StoreError> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash)
        .map_err(|_| StoreError::Corrupt(format!("stored hash `{text}` is not 64 hex digits")))?;
    Ok(hash)
}
