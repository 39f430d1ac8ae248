//! The request bodies of server operations. They carry plaintext secrets, so their `Debug`
//! output shows only the shape of the auth config.

use std::fmt;

use mcpgw_shared::model::{
    IdentityForwarding, JwtValidation, RateLimit, RequestLogging, ToolFilter, UpstreamAuth,
    VirtualServer,
};
use serde::{Deserialize, Deserializer};

/// `POST /v1/servers`.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterServerInput {
    /// Home workspace.
    pub workspace_id: String,
    /// Globally unique slug, `^[a-z0-9][a-z0-9-]{1,62}$`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Upstream MCP endpoint (http or https); none for a virtual server.
    #[serde(default)]
    pub url: String,
    /// Upstream auth: `{"type": "none"}` (the default), `{"type": "headers", "headers":
    /// {...}}`, `{"type": "client_credentials", ...}` or `{"type": "oauth2", "oauth_metadata":
    /// {...}}`.
    #[serde(default = "no_auth")]
    #[schema(value_type = Object)]
    pub auth: UpstreamAuth<String>,
    /// Tool visibility; omitted: every tool.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub tools: ToolFilter,
    /// Whether clients may use it (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// What the request log keeps of its requests besides metadata: `{"arguments": bool,
    /// "results": bool, "max_bytes": 16..65536}`; omitted: metadata only.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub request_logging: RequestLogging,
    /// Rate limits and quotas: `[{"by": "key"|"user"|"workspace"|"server"|"tool", "tools"?:
    /// [names or globs], "per_minute"?, "per_hour"?, "per_day"?, "concurrent"?}]`; omitted:
    /// none.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub rate_limits: Vec<RateLimit>,
    /// Makes it a virtual server over these members: `{"members": [{"server": "<slug>",
    /// "on_failure"?: "closed"|"open"}], "prefix"?: "always"|"on_conflict"|"never"}` (then
    /// without `url` and `auth`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub virtual_server: Option<VirtualServer>,
    /// What the upstream is told of the caller: `{"mode": "none"}` (the default), `{"mode":
    /// "claims_header", "header"?: "X-MCPGW-User"}` (a JSON header) or `{"mode": "jwt",
    /// "header"?: "X-User-JWT", "ttl_seconds"?: 300}` (a JWT the gateway signs).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub identity_forwarding: IdentityForwarding,
    /// How it checks bearer tokens of an identity provider, before its workspaces' rules (a
    /// caller it accepts is a user of its home workspace): a workspace's `jwt_validation`;
    /// omitted: none.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwt_validation: Option<JwtValidation<String>>,
    /// Other workspaces to provision it to.
    #[serde(default)]
    pub provisioned_workspaces: Vec<String>,
}

fn no_auth() -> UpstreamAuth<String> {
    UpstreamAuth::None
}

fn enabled_by_default() -> bool {
    true
}

/// `PATCH /v1/servers/{id}`: only the given fields change.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServerInput {
    /// The version the change was made against (or the `If-Match` header).
    pub version: Option<i64>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New upstream URL.
    pub url: Option<String>,
    /// New upstream auth (replaces the old one, secrets included).
    #[schema(value_type = Option<Object>)]
    pub auth: Option<UpstreamAuth<String>>,
    /// New tool filter (`{}` allows every tool).
    #[schema(value_type = Option<Object>)]
    pub tools: Option<ToolFilter>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New request-logging policy (replaces the old one).
    #[schema(value_type = Option<Object>)]
    pub request_logging: Option<RequestLogging>,
    /// The complete new list of rate limits (`[]` removes them all).
    #[schema(value_type = Option<Vec<Object>>)]
    pub rate_limits: Option<Vec<RateLimit>>,
    /// A virtual server's new members and prefix mode.
    #[schema(value_type = Option<Object>)]
    pub virtual_server: Option<VirtualServer>,
    /// New identity forwarding (`{"mode": "none"}` turns it off).
    #[schema(value_type = Option<Object>)]
    pub identity_forwarding: Option<IdentityForwarding>,
    /// New bearer-token rules (`null` removes them); an introspection client secret left out
    /// is kept while its `endpoint` and `client_id` stay the same.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub jwt_validation: Option<Option<JwtValidation<String>>>,
    /// The complete new list of provisioned workspaces.
    pub provisioned_workspaces: Option<Vec<String>>,
}

/// A field given, even as `null` (`Some(None)`), told apart from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl fmt::Debug for RegisterServerInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterServerInput")
            .field("workspace_id", &self.workspace_id)
            .field("slug", &self.slug)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("auth", &self.auth.redacted())
            .field("tools", &self.tools)
            .field("enabled", &self.enabled)
            .field("request_logging", &self.request_logging)
            .field("rate_limits", &self.rate_limits)
            .field("virtual_server", &self.virtual_server)
            .field("identity_forwarding", &self.identity_forwarding)
            .field("jwt_validation", &self.jwt_validation)
            .field("provisioned_workspaces", &self.provisioned_workspaces)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UpdateServerInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateServerInput")
            .field("version", &self.version)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("auth", &self.auth.as_ref().map(UpstreamAuth::redacted))
            .field("tools", &self.tools)
            .field("enabled", &self.enabled)
            .field("provisioned_workspaces", &self.provisioned_workspaces)
            .finish_non_exhaustive()
    }
}
