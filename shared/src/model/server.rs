//! Registered MCP servers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{IdentityForwarding, JwtValidation, RateLimit, VirtualServer};
use crate::ids::{ServerId, WorkspaceId};
use crate::secret::Redacted;
use crate::slug::Slug;

/// How the gateway authenticates itself to an upstream MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields,
    bound(deserialize = "S: Deserialize<'de>")
)]
pub enum UpstreamAuth<S> {
    /// No credentials.
    None,
    /// Fixed headers sent with every upstream request; the values are secrets.
    Headers {
        /// Header name to secret value.
        headers: BTreeMap<String, S>,
    },
    /// OAuth 2.0 client credentials grant: the gateway gets its own access token from the
    /// upstream's authorization server and sends it as `Authorization: Bearer`.
    ClientCredentials {
        /// The authorization server's token endpoint (discovered from `issuer` when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_endpoint: Option<String>,
        /// The authorization server's issuer, whose metadata (RFC 8414, then OpenID Connect
        /// discovery) names the token endpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issuer: Option<String>,
        /// The gateway's client id at that server.
        client_id: String,
        /// The gateway's client secret (`client_secret_basic`, `client_secret_post`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<S>,
        /// The PEM private key (EC P-256 or RSA) that signs client assertions
        /// (`private_key_jwt`, RFC 7523).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        private_key: Option<S>,
        /// The `kid` of that key, as registered with the authorization server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_id: Option<String>,
        /// How the client authenticates at the token endpoint.
        #[serde(default, skip_serializing_if = "ClientAuthMethod::is_default")]
        client_auth: ClientAuthMethod,
        /// Requested scope.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// The RFC 8707 `resource` requested; the server's URL when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource: Option<String>,
        /// Send no `resource` at all (for authorization servers that reject it).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        omit_resource: bool,
        /// Requested audience (the `audience` parameter some authorization servers use).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
    },
    /// Per-user OAuth 2.1; the client is registered dynamically unless `oauth_metadata` names one.
    Oauth2 {
        /// Pre-registered client and authorization-server details.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oauth_metadata: Option<OAuthMetadata<S>>,
    },
}

/// How a client authenticates at a token endpoint (RFC 6749 section 2.3, RFC 7591's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic authentication with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 section 2.2).
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// Whether this is the default, `client_secret_basic`.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The RFC 7591 name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// OAuth client metadata for a per-user upstream server. Every field is optional; what is not
/// given is discovered (RFC 9728 / RFC 8414) or registered (RFC 7591).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct OAuthMetadata<S> {
    /// The authorization server's issuer identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// A pre-registered client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The pre-registered client's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<S>,
    /// The client name used for dynamic registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Requested scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Authorization endpoint, when not discovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Token endpoint, when not discovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Redirect URI registered for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Extra parameters added to the authorization request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorization_params: BTreeMap<String, String>,
    /// Token endpoint client authentication method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Send no RFC 8707 `resource` (for identity providers that reject it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub omit_resource: bool,
}

impl<S> UpstreamAuth<S> {
    /// The `type` name of this auth config.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Headers { .. } => "headers",
            Self::ClientCredentials { .. } => "client_credentials",
            Self::Oauth2 { .. } => "oauth2",
        }
    }

    /// Converts every secret with `f`, which also receives the secret's field path (such as
    /// `auth.headers.X-Api-Key`), usable as the encryption context.
    pub fn try_map_secrets<T, E>(
        self,
        mut f: impl FnMut(S, &str) -> Result<T, E>,
    ) -> Result<UpstreamAuth<T>, E> {
        Ok(match self {
            Self::None => UpstreamAuth::None,
            Self::Headers { headers } => UpstreamAuth::Headers {
                headers: headers
                    .into_iter()
                    .map(|(name, value)| {
                        let path = format!("auth.headers.{name}");
                        f(value, &path).map(|value| (name, value))
                    })
                    .collect::<Result<_, E>>()?,
            },
            Self::ClientCredentials {
                token_endpoint,
                issuer,
                client_id,
                client_secret,
                private_key,
                key_id,
                client_auth,
                scope,
                resource,
                omit_resource,
                audience,
            } => UpstreamAuth::ClientCredentials {
                token_endpoint,
                issuer,
                client_id,
                client_secret: client_secret
                    .map(|s| f(s, "auth.client_secret"))
                    .transpose()?,
                private_key: private_key.map(|s| f(s, "auth.private_key")).transpose()?,
                key_id,
                client_auth,
                scope,
                resource,
                omit_resource,
                audience,
            },
            Self::Oauth2 { oauth_metadata } => UpstreamAuth::Oauth2 {
                oauth_metadata: oauth_metadata
                    .map(|m| {
                        Ok(OAuthMetadata {
                            client_secret: m
                                .client_secret
                                .map(|s| f(s, "auth.oauth_metadata.client_secret"))
                                .transpose()?,
                            issuer: m.issuer,
                            client_id: m.client_id,
                            client_name: m.client_name,
                            scope: m.scope,
                            authorization_endpoint: m.authorization_endpoint,
                            token_endpoint: m.token_endpoint,
                            redirect_uri: m.redirect_uri,
                            authorization_params: m.authorization_params,
                            token_endpoint_auth_method: m.token_endpoint_auth_method,
                            omit_resource: m.omit_resource,
                        })
                    })
                    .transpose()?,
            },
        })
    }

    /// Replaces every secret with a marker that says only that it is set.
    pub fn redacted(&self) -> UpstreamAuth<SecretSet>
    where
        S: Clone,
    {
        self.clone()
            .try_map_secrets(|_, _| Ok::<_, std::convert::Infallible>(SecretSet::default()))
            .unwrap_or_else(|never| match never {})
    }
}

/// Stands for a write-only secret in API responses: `{"set": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSet {
    /// Always true: the value is stored but never shown.
    pub set: bool,
}

impl Default for SecretSet {
    fn default() -> Self {
        Self { set: true }
    }
}

/// Which tools of an upstream are visible, and as what. No `allow` list: every tool not
/// denied. Entries of `allow` and `deny` are tool names or globs (`*`, `?`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolFilter {
    /// When present, only tools matching one of these are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Tools matching one of these are never visible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// Only tools whose annotations say `readOnlyHint: true` (and not `destructiveHint: true`)
    /// are visible.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// How clients see a tool, by its upstream name: another name, another description. A
    /// call of the shown name reaches the tool by its own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, ToolOverride>,
}

/// How clients see one tool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolOverride {
    /// The name clients see and call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The description clients see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What of a server's requests goes into the request log besides their metadata: the
/// arguments a client sent, the results the upstream answered, each capped at `max_bytes`.
/// Off by default: arguments and results may hold personal or confidential data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLogging {
    /// Keep the `arguments` of `tools/call` and `prompts/get`.
    pub arguments: bool,
    /// Keep the start of the upstream's answer.
    pub results: bool,
    /// The most bytes kept of each (16 to 65536).
    pub max_bytes: u32,
}

impl RequestLogging {
    /// The smallest cap.
    pub const MIN_BYTES: u32 = 16;
    /// The largest cap.
    pub const MAX_BYTES: u32 = 64 * 1024;

    /// Whether anything beyond metadata is kept.
    pub fn keeps_payloads(&self) -> bool {
        self.arguments || self.results
    }
}

impl Default for RequestLogging {
    fn default() -> Self {
        Self {
            arguments: false,
            results: false,
            max_bytes: 4096,
        }
    }
}

/// A server as a data plane holds it: complete, with secrets in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The server's id.
    pub id: ServerId,
    /// The workspace that owns it.
    pub workspace_id: WorkspaceId,
    /// Other workspaces it is provisioned to.
    pub provisioned: Vec<WorkspaceId>,
    /// Its globally unique slug.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Upstream MCP endpoint.
    pub url: String,
    /// Whether clients may use it.
    pub enabled: bool,
    /// Tool visibility.
    pub tools: ToolFilter,
    /// How to authenticate to the upstream.
    pub auth: UpstreamAuth<Redacted<String>>,
    /// What of its requests the request log keeps.
    pub request_logging: RequestLogging,
    /// Its rate limits and quotas.
    pub rate_limits: Vec<RateLimit>,
    /// Whether and how its upstream is told who calls.
    pub identity_forwarding: IdentityForwarding,
    /// How it checks bearer tokens of an identity provider before its workspaces' rules
    /// (introspection client secret in memory).
    pub jwt_validation: Option<JwtValidation>,
    /// For a virtual server, its members (it then has no upstream URL or auth of its own).
    pub virtual_server: Option<VirtualServer>,
    /// Bumped on every change.
    pub version: i64,
    /// Bumped on URL, auth or enabled changes only.
    pub connection_version: i64,
}

impl ServerConfig {
    /// Whether a key of `workspace` may reach this server.
    pub fn serves(&self, workspace: &WorkspaceId) -> bool {
        &self.workspace_id == workspace || self.provisioned.contains(workspace)
    }
}

#[cfg(test)]
mod tests;
