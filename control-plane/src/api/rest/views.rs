//! Response bodies. Secrets never appear: auth configs show `{"set": true}` where a secret is
//! stored, keys and tokens appear only in the creation response.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mcpgw_shared::model::{
    Grants, IdentityForwarding, IdentityProvider, JwtValidation, KeyState, RateLimit,
    RequestLogging, SecretSet, ToolFilter, UpstreamAuth, VirtualServer,
};
use mcpgw_shared::version::{self, VERSION};
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ApiKeyId, DataPlaneId, SealedSecret, ServerId, Slug, StreamId, WorkspaceId};
use serde::Serialize;

use crate::application::{
    AuditEntry, DataPlaneStatus, IssuedDataPlaneToken, ServerChange, ServerVersion,
};
use crate::store::{ApiKeyRow, DataPlaneInstanceRow, DataPlaneTokenRow, ServerRow, WorkspaceRow};

/// A workspace.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkspaceView {
    #[schema(value_type = String)]
    id: WorkspaceId,
    name: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The tool policy limiting every server the workspace's keys reach.
    #[schema(value_type = Object)]
    tools: ToolFilter,
    /// What single keys and users may use, by `key:<api key id>` or `user:<user id>`.
    #[schema(value_type = Object)]
    grants: BTreeMap<String, Grants>,
    /// Rate limits and quotas on everything the workspace's keys call.
    #[schema(value_type = Vec<Object>)]
    rate_limits: Vec<RateLimit>,
    /// How bearer tokens of the workspace's identity provider are checked (never the
    /// introspection client secret: `client_secret_set` says whether one is stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    jwt_validation: Option<serde_json::Value>,
    /// The OpenID Connect provider the workspace's users sign in with (never its secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    identity_provider: Option<IdentityProviderView>,
}

/// A workspace's identity provider as the API shows it: whether a client secret is stored,
/// never the secret.
#[derive(Debug, Serialize)]
pub struct IdentityProviderView {
    issuer: String,
    client_id: String,
    client_secret_set: bool,
    scopes: String,
    user_claim: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_email_domains: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    required_claims: BTreeMap<String, serde_json::Value>,
}

impl From<IdentityProvider<SealedSecret>> for IdentityProviderView {
    fn from(provider: IdentityProvider<SealedSecret>) -> Self {
        Self {
            client_secret_set: provider.client_secret.is_some(),
            issuer: provider.issuer,
            client_id: provider.client_id,
            scopes: provider.scopes,
            user_claim: provider.user_claim,
            allowed_email_domains: provider.allowed_email_domains,
            required_claims: provider.required_claims,
        }
    }
}

impl From<WorkspaceRow> for WorkspaceView {
    fn from(row: WorkspaceRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            tools: row.tools,
            grants: row.grants,
            rate_limits: row.rate_limits,
            jwt_validation: row.jwt_validation.as_ref().map(JwtValidation::shown),
            identity_provider: row.identity_provider.map(Into::into),
        }
    }
}

/// A server.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerView {
    #[schema(value_type = String)]
    id: ServerId,
    #[schema(value_type = String)]
    workspace_id: WorkspaceId,
    #[schema(value_type = Vec<String>)]
    provisioned_workspaces: Vec<WorkspaceId>,
    #[schema(value_type = String)]
    slug: Slug,
    name: String,
    description: String,
    url: String,
    #[schema(value_type = Object)]
    auth: UpstreamAuth<SecretSet>,
    #[schema(value_type = Object)]
    tools: ToolFilter,
    enabled: bool,
    #[schema(value_type = Object)]
    request_logging: RequestLogging,
    #[schema(value_type = Vec<Object>)]
    rate_limits: Vec<RateLimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    virtual_server: Option<VirtualServer>,
    /// What the upstream is told of the caller.
    #[schema(value_type = Object)]
    identity_forwarding: IdentityForwarding,
    /// How bearer tokens of an identity provider are checked for this server before its
    /// workspaces' rules (never the introspection client secret: `client_secret_set`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    jwt_validation: Option<serde_json::Value>,
    version: i64,
    connection_version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ServerRow> for ServerView {
    fn from(row: ServerRow) -> Self {
        Self {
            auth: row.auth.redacted(),
            id: row.id,
            workspace_id: row.workspace_id,
            provisioned_workspaces: row.provisioned,
            slug: row.slug,
            name: row.name,
            description: row.description,
            url: row.url,
            tools: row.tools,
            enabled: row.enabled,
            request_logging: row.request_logging,
            rate_limits: row.rate_limits,
            virtual_server: row.virtual_server,
            identity_forwarding: row.identity_forwarding,
            jwt_validation: row.jwt_validation.as_ref().map(JwtValidation::shown),
            version: row.version,
            connection_version: row.connection_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// An API key (never the key itself, except `key` in the creation response).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String)]
    id: ApiKeyId,
    #[schema(value_type = Option<String>)]
    workspace_id: Option<WorkspaceId>,
    name: String,
    #[serde(rename = "type")]
    key_type: &'static str,
    user_id: Option<String>,
    permissions: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
    revoked_at: Option<DateTime<Utc>>,
    version: i64,
    created_at: DateTime<Utc>,
    /// Only in the response that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl ApiKeyView {
    /// The creation response, the one place the key is shown.
    pub fn with_key(row: ApiKeyRow, key: String) -> Self {
        Self {
            key: Some(key),
            ..Self::from(row)
        }
    }
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            key_type: row.key_type.as_str(),
            user_id: row.user_id,
            permissions: row.permissions.iter().map(ToString::to_string).collect(),
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
            revoked_at: row.revoked_at,
            version: row.version,
            created_at: row.created_at,
            key: None,
        }
    }
}

/// One instance of a data plane.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    instance_id: String,
    version: String,
    applied_seq: i64,
    lag: i64,
    healthy: bool,
    last_seen: DateTime<Utc>,
    /// Seconds since the instance started (its start time from its reported uptime).
    uptime_seconds: Option<i64>,
    /// It has not reported for [`STALE_AFTER_SECONDS`]: gone, or cut off.
    stale: bool,
    /// It is newer than this control plane by minor or major version (upgrade the control
    /// plane first); such a data plane refuses to sync.
    version_skew: bool,
}

/// An instance that has not reported for this long is stale (it reports every 2 s).
pub const STALE_AFTER_SECONDS: i64 = 10;

impl InstanceView {
    /// The view of `row` at `now`, with its lag behind `head`.
    fn new(row: DataPlaneInstanceRow, head: i64, now: DateTime<Utc>) -> Self {
        let seen_ago = (now - row.last_seen).num_seconds();
        Self {
            lag: (head - row.applied_seq).max(0),
            uptime_seconds: row
                .started_at
                .map(|started| (now - started).num_seconds().max(0)),
            stale: seen_ago > STALE_AFTER_SECONDS,
            version_skew: version::check(&row.version, VERSION).is_err(),
            instance_id: row.instance_id,
            version: row.version,
            applied_seq: row.applied_seq,
            healthy: row.healthy,
            last_seen: row.last_seen,
        }
    }

    /// Whether the instance breaches the version-skew policy.
    pub fn version_skew(&self) -> bool {
        self.version_skew
    }
}

/// A data-plane token, without its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    #[schema(value_type = String)]
    id: ApiKeyId,
    created_at: DateTime<Utc>,
    /// When a rotation retires it.
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
    /// `active`, `revoked` or `expired`.
    state: &'static str,
}

impl From<DataPlaneTokenRow> for TokenView {
    fn from(row: DataPlaneTokenRow) -> Self {
        let state = match row.state(Utc::now()) {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
            KeyState::Expired => "expired",
        };
        Self {
            id: row.token_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked: row.revoked,
            state,
        }
    }
}

/// A newly issued data-plane token: the only time it is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedTokenView {
    #[schema(value_type = String)]
    token_id: ApiKeyId,
    /// The data plane's `MCPGW_DATA_PLANE_TOKEN`.
    token: String,
    /// When the tokens it replaces stop working.
    retire_previous_at: Option<DateTime<Utc>>,
}

impl From<IssuedDataPlaneToken> for IssuedTokenView {
    fn from(issued: IssuedDataPlaneToken) -> Self {
        Self {
            token_id: issued.token_id,
            token: issued.token,
            retire_previous_at: issued.retire_previous_at,
        }
    }
}

/// A data-plane registration with its tokens and instances.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DataPlaneView {
    #[schema(value_type = String)]
    id: DataPlaneId,
    name: String,
    /// The workspaces it serves; `null` for all.
    #[schema(value_type = Option<Vec<String>>)]
    workspaces: Option<Vec<WorkspaceId>>,
    created_at: DateTime<Utc>,
    /// Public key of its NATS user (see `GET /v1/nats/authorization`).
    nats_user: Option<String>,
    tokens: Vec<TokenView>,
    instances: Vec<InstanceView>,
    /// Only in the response that creates the registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Its NATS user's nkey seed (`MCPGW_NATS_NKEY_SEED`); only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    nats_seed: Option<String>,
}

impl DataPlaneView {
    /// A registration's view; `head` gives each instance's lag.
    pub fn new(status: DataPlaneStatus, head: i64) -> Self {
        Self {
            workspaces: status.row.workspaces,
            id: status.row.id,
            name: status.row.name,
            created_at: status.row.created_at,
            nats_user: status.row.nats_user,
            tokens: status.tokens.into_iter().map(Into::into).collect(),
            instances: status
                .instances
                .into_iter()
                .map(|row| InstanceView::new(row, head, Utc::now()))
                .collect(),
            token: None,
            nats_seed: None,
        }
    }

    /// Whether any instance breaches the version-skew policy.
    pub fn version_skew(&self) -> bool {
        self.instances.iter().any(InstanceView::version_skew)
    }

    /// The view of a new registration, with its token and NATS seed shown once.
    pub fn with_secrets(mut self, token: String, nats_seed: String) -> Self {
        self.token = Some(token);
        self.nats_seed = Some(nats_seed);
        self
    }
}

/// An audit-log entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    seq: i64,
    #[serde(rename = "type")]
    event_type: &'static str,
    #[schema(value_type = String)]
    stream: StreamId,
    version: i64,
    actor: String,
    at: DateTime<Utc>,
    #[schema(value_type = Vec<String>)]
    workspaces: Vec<Audience>,
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

impl From<AuditEntry> for EventView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            seq: entry.seq,
            event_type: entry.event_type,
            stream: entry.stream,
            version: entry.version,
            actor: entry.actor,
            at: entry.at,
            workspaces: entry.workspaces,
            data: entry.data,
        }
    }
}

/// One field a server version changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerChangeView {
    field: String,
    #[schema(value_type = Object)]
    before: serde_json::Value,
    #[schema(value_type = Object)]
    after: serde_json::Value,
}

/// One version of a server.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerVersionView {
    version: i64,
    seq: i64,
    /// The event that made this version, such as `ServerUpstreamChanged`.
    change: &'static str,
    actor: String,
    at: DateTime<Utc>,
    changes: Vec<ServerChangeView>,
}

impl From<ServerVersion> for ServerVersionView {
    fn from(version: ServerVersion) -> Self {
        Self {
            version: version.version,
            seq: version.seq,
            change: version.change,
            actor: version.actor,
            at: version.at,
            changes: version
                .changes
                .into_iter()
                .map(|c: ServerChange| ServerChangeView {
                    field: c.field,
                    before: c.before,
                    after: c.after,
                })
                .collect(),
        }
    }
}
