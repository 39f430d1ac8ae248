//! Conversions between the model and the config-sync proto messages, in one place for both
//! planes.

use chrono::DateTime;

use super::{
    ApiKeyRecord, ClientAuthMethod, ConnectionRecord, FailureMode, Grants, IdentityForwarding,
    JwtValidation, KeyType, Member, OAuthMetadata, PrefixMode, RateLimit, RequestLogging,
    RevokedGrant, ServerConfig, ToolFilter, ToolOverride, UpstreamAuth, VirtualServer,
};
use crate::proto;
use crate::secret::Redacted;
use crate::slug::Slug;

/// A proto message from the control plane does not describe a valid entity.
#[derive(Debug, thiserror::Error)]
#[error("invalid {field} in a config-sync message: {reason}")]
pub struct InvalidMessage {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl ToString) -> InvalidMessage {
    InvalidMessage {
        field,
        reason: reason.to_string(),
    }
}

impl From<&ServerConfig> for proto::Server {
    fn from(server: &ServerConfig) -> Self {
        Self {
            id: server.id.to_string(),
            workspace_id: server.workspace_id.to_string(),
            provisioned_workspaces: server.provisioned.iter().map(ToString::to_string).collect(),
            slug: server.slug.to_string(),
            name: server.name.clone(),
            description: server.description.clone(),
            url: server.url.clone(),
            enabled: server.enabled,
            tools: Some((&server.tools).into()),
            auth: Some(auth_to_proto(&server.auth)),
            version: server.version,
            connection_version: server.connection_version,
            request_logging: Some(proto::RequestLogging {
                arguments: server.request_logging.arguments,
                results: server.request_logging.results,
                max_bytes: server.request_logging.max_bytes,
            }),
            rate_limits: server.rate_limits.iter().map(Into::into).collect(),
            virtual_server: server
                .virtual_server
                .as_ref()
                .map(|v| proto::VirtualServer {
                    members: v
                        .members
                        .iter()
                        .map(|m| proto::VirtualMember {
                            server: m.server.clone(),
                            on_failure: m.on_failure.as_str().to_owned(),
                        })
                        .collect(),
                    prefix: v.prefix.as_str().to_owned(),
                }),
            identity_forwarding: (!server.identity_forwarding.is_none())
                .then(|| identity_to_proto(&server.identity_forwarding)),
            jwt_validation: server
                .jwt_validation
                .as_ref()
                .map(JwtValidation::to_json_with_secret),
        }
    }
}

fn identity_to_proto(forwarding: &IdentityForwarding) -> proto::IdentityForwarding {
    proto::IdentityForwarding {
        mode: forwarding.mode().to_owned(),
        header: forwarding.header().unwrap_or_default().to_owned(),
        ttl_seconds: match forwarding {
            IdentityForwarding::Jwt { ttl_seconds, .. } => *ttl_seconds,
            _ => 0,
        },
    }
}

/// An unknown mode is refused rather than read as `none`: a server whose upstream expects to
/// be told who calls is not served without it.
fn identity_from_proto(
    forwarding: proto::IdentityForwarding,
) -> Result<IdentityForwarding, InvalidMessage> {
    let header = || {
        if forwarding.header.is_empty() {
            Err(invalid("server.identity_forwarding.header", "is empty"))
        } else {
            Ok(forwarding.header.clone())
        }
    };
    Ok(match forwarding.mode.as_str() {
        "" | "none" => IdentityForwarding::None,
        "claims_header" => IdentityForwarding::ClaimsHeader { header: header()? },
        "jwt" => IdentityForwarding::Jwt {
            header: header()?,
            ttl_seconds: forwarding.ttl_seconds.clamp(
                IdentityForwarding::MIN_TTL_SECONDS,
                IdentityForwarding::MAX_TTL_SECONDS,
            ),
        },
        other => return Err(invalid("server.identity_forwarding.mode", other)),
    })
}

fn virtual_from_proto(v: proto::VirtualServer) -> Result<VirtualServer, InvalidMessage> {
    Ok(VirtualServer {
        members: v
            .members
            .into_iter()
            .map(|m| {
                let on_failure = FailureMode::parse(&m.on_failure).ok_or_else(|| {
                    invalid("server.virtual_server.members.on_failure", &m.on_failure)
                })?;
                Ok(Member {
                    server: m.server,
                    on_failure,
                })
            })
            .collect::<Result<_, InvalidMessage>>()?,
        prefix: PrefixMode::parse(&v.prefix)
            .ok_or_else(|| invalid("server.virtual_server.prefix", &v.prefix))?,
    })
}

impl From<&RateLimit> for proto::RateLimit {
    fn from(limit: &RateLimit) -> Self {
        Self {
            by: limit.by.as_str().to_owned(),
            tools: limit.tools.clone(),
            per_minute: limit.per_minute,
            per_hour: limit.per_hour,
            per_day: limit.per_day,
            concurrent: limit.concurrent,
        }
    }
}

impl TryFrom<proto::RateLimit> for RateLimit {
    type Error = InvalidMessage;

    fn try_from(limit: proto::RateLimit) -> Result<Self, Self::Error> {
        Ok(Self {
            by: limit
                .by
                .parse()
                .map_err(|e| invalid("server.rate_limits.by", e))?,
            tools: limit.tools,
            per_minute: limit.per_minute,
            per_hour: limit.per_hour,
            per_day: limit.per_day,
            concurrent: limit.concurrent,
        })
    }
}

fn auth_to_proto(auth: &UpstreamAuth<Redacted<String>>) -> proto::UpstreamAuth {
    use proto::upstream_auth::Kind;
    let kind = match auth {
        UpstreamAuth::None => Kind::None(proto::NoAuth {}),
        UpstreamAuth::Headers { headers } => Kind::Headers(proto::HeaderAuth {
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().clone()))
                .collect(),
        }),
        UpstreamAuth::ClientCredentials {
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
        } => Kind::ClientCredentials(proto::ClientCredentials {
            token_endpoint: token_endpoint.clone(),
            issuer: issuer.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.as_ref().map(|s| s.expose().clone()),
            private_key: private_key.as_ref().map(|s| s.expose().clone()),
            key_id: key_id.clone(),
            client_auth: client_auth.as_str().to_owned(),
            scope: scope.clone(),
            resource: resource.clone(),
            omit_resource: *omit_resource,
            audience: audience.clone(),
        }),
        UpstreamAuth::Oauth2 { oauth_metadata } => Kind::Oauth2(proto::OAuth2 {
            metadata: oauth_metadata.as_ref().map(|m| proto::OAuthMetadata {
                issuer: m.issuer.clone(),
                client_id: m.client_id.clone(),
                client_secret: m.client_secret.as_ref().map(|s| s.expose().clone()),
                client_name: m.client_name.clone(),
                scope: m.scope.clone(),
                authorization_endpoint: m.authorization_endpoint.clone(),
                token_endpoint: m.token_endpoint.clone(),
                redirect_uri: m.redirect_uri.clone(),
                authorization_params: m.authorization_params.clone().into_iter().collect(),
                token_endpoint_auth_method: m.token_endpoint_auth_method.clone(),
                omit_resource: m.omit_resource,
            }),
        }),
    };
    proto::UpstreamAuth { kind: Some(kind) }
}

fn auth_from_proto(
    auth: Option<proto::UpstreamAuth>,
) -> Result<UpstreamAuth<Redacted<String>>, InvalidMessage> {
    use proto::upstream_auth::Kind;
    let kind = auth
        .and_then(|a| a.kind)
        .ok_or_else(|| invalid("auth", "missing"))?;
    Ok(match kind {
        Kind::None(_) => UpstreamAuth::None,
        Kind::Headers(h) => UpstreamAuth::Headers {
            headers: h
                .headers
                .into_iter()
                .map(|(k, v)| (k, Redacted::new(v)))
                .collect(),
        },
        Kind::ClientCredentials(c) => UpstreamAuth::ClientCredentials {
            token_endpoint: c.token_endpoint,
            issuer: c.issuer,
            client_id: c.client_id,
            client_secret: c.client_secret.map(Redacted::new),
            private_key: c.private_key.map(Redacted::new),
            key_id: c.key_id,
            client_auth: match c.client_auth.as_str() {
                "" | "client_secret_basic" => ClientAuthMethod::ClientSecretBasic,
                "client_secret_post" => ClientAuthMethod::ClientSecretPost,
                "private_key_jwt" => ClientAuthMethod::PrivateKeyJwt,
                other => {
                    return Err(invalid(
                        "auth.client_auth",
                        format!("`{other}` is not a client authentication method"),
                    ));
                }
            },
            scope: c.scope,
            resource: c.resource,
            omit_resource: c.omit_resource,
            audience: c.audience,
        },
        Kind::Oauth2(o) => UpstreamAuth::Oauth2 {
            oauth_metadata: o.metadata.map(|m| OAuthMetadata {
                issuer: m.issuer,
                client_id: m.client_id,
                client_secret: m.client_secret.map(Redacted::new),
                client_name: m.client_name,
                scope: m.scope,
                authorization_endpoint: m.authorization_endpoint,
                token_endpoint: m.token_endpoint,
                redirect_uri: m.redirect_uri,
                authorization_params: m.authorization_params.into_iter().collect(),
                token_endpoint_auth_method: m.token_endpoint_auth_method,
                omit_resource: m.omit_resource,
            }),
        },
    })
}

impl TryFrom<proto::Server> for ServerConfig {
    type Error = InvalidMessage;

    fn try_from(server: proto::Server) -> Result<Self, Self::Error> {
        let tools = server.tools.unwrap_or_default();
        Ok(Self {
            id: server.id.parse().map_err(|e| invalid("server.id", e))?,
            workspace_id: server
                .workspace_id
                .parse()
                .map_err(|e| invalid("server.workspace_id", e))?,
            provisioned: server
                .provisioned_workspaces
                .iter()
                .map(|w| w.parse())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid("server.provisioned_workspaces", e))?,
            slug: Slug::parse(&server.slug).map_err(|e| invalid("server.slug", e))?,
            name: server.name,
            description: server.description,
            url: server.url,
            enabled: server.enabled,
            tools: tools.into(),
            auth: auth_from_proto(server.auth)?,
            request_logging: server
                .request_logging
                .map(|l| RequestLogging {
                    arguments: l.arguments,
                    results: l.results,
                    max_bytes: l
                        .max_bytes
                        .clamp(RequestLogging::MIN_BYTES, RequestLogging::MAX_BYTES),
                })
                .unwrap_or_default(),
            rate_limits: server
                .rate_limits
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            virtual_server: server.virtual_server.map(virtual_from_proto).transpose()?,
            identity_forwarding: server
                .identity_forwarding
                .map(identity_from_proto)
                .transpose()?
                .unwrap_or_default(),
            jwt_validation: server
                .jwt_validation
                .map(|json| JwtValidation::from_json_with_secret(&json))
                .transpose()
                .map_err(|e| invalid("server.jwt_validation", e.to_string()))?,
            version: server.version,
            connection_version: server.connection_version,
        })
    }
}

impl From<&ToolFilter> for proto::ToolFilter {
    fn from(tools: &ToolFilter) -> Self {
        Self {
            has_allow: tools.allow.is_some(),
            allow: tools.allow.clone().unwrap_or_default(),
            deny: tools.deny.clone(),
            read_only: tools.read_only,
            overrides: tools
                .overrides
                .iter()
                .map(|(tool, o)| {
                    let shown = proto::ToolOverride {
                        name: o.name.clone(),
                        description: o.description.clone(),
                    };
                    (tool.clone(), shown)
                })
                .collect(),
        }
    }
}

impl From<proto::ToolFilter> for ToolFilter {
    fn from(tools: proto::ToolFilter) -> Self {
        Self {
            allow: tools.has_allow.then_some(tools.allow),
            deny: tools.deny,
            read_only: tools.read_only,
            overrides: tools
                .overrides
                .into_iter()
                .map(|(tool, o)| {
                    let shown = ToolOverride {
                        name: o.name,
                        description: o.description,
                    };
                    (tool, shown)
                })
                .collect(),
        }
    }
}

impl From<&Grants> for proto::Grants {
    fn from(grants: &Grants) -> Self {
        Self {
            has_servers: grants.servers.is_some(),
            servers: grants.servers.clone().unwrap_or_default(),
            tools: Some((&grants.tools).into()),
        }
    }
}

impl From<proto::Grants> for Grants {
    fn from(grants: proto::Grants) -> Self {
        Self {
            servers: grants.has_servers.then_some(grants.servers),
            tools: grants.tools.unwrap_or_default().into(),
        }
    }
}

impl From<&ApiKeyRecord> for proto::ApiKey {
    fn from(key: &ApiKeyRecord) -> Self {
        Self {
            id: key.id.to_string(),
            workspace_id: key.workspace_id.map(|w| w.to_string()).unwrap_or_default(),
            name: key.name.clone(),
            key_type: key.key_type.as_str().to_owned(),
            user_id: key.user_id.clone().unwrap_or_default(),
            permissions: key.permissions.iter().map(|p| p.to_string()).collect(),
            expires_at_ms: key.expires_at.map_or(0, |at| at.timestamp_millis()),
            revoked: key.revoked,
            secret_sha256: key.secret_hash.to_vec(),
        }
    }
}

impl TryFrom<proto::ApiKey> for ApiKeyRecord {
    type Error = InvalidMessage;

    fn try_from(key: proto::ApiKey) -> Result<Self, Self::Error> {
        Ok(Self {
            id: key.id.parse().map_err(|e| invalid("api_key.id", e))?,
            workspace_id: match key.workspace_id.as_str() {
                "" => None,
                ws => Some(ws.parse().map_err(|e| invalid("api_key.workspace_id", e))?),
            },
            name: key.name,
            key_type: key
                .key_type
                .parse::<KeyType>()
                .map_err(|e| invalid("api_key.key_type", e))?,
            user_id: Some(key.user_id).filter(|u| !u.is_empty()),
            permissions: key
                .permissions
                .iter()
                .map(|p| p.parse())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid("api_key.permissions", e))?,
            expires_at: match key.expires_at_ms {
                0 => None,
                ms => Some(
                    DateTime::from_timestamp_millis(ms)
                        .ok_or_else(|| invalid("api_key.expires_at_ms", "out of range"))?,
                ),
            },
            revoked: key.revoked,
            secret_hash: key
                .secret_sha256
                .try_into()
                .map_err(|_| invalid("api_key.secret_sha256", "not 32 bytes"))?,
        })
    }
}

impl From<&ConnectionRecord> for proto::UpstreamConnection {
    fn from(connection: &ConnectionRecord) -> Self {
        Self {
            id: connection.id.to_string(),
            server_id: connection.server_id.to_string(),
            user_id: connection.user_id.clone(),
            version: connection.version,
            sealed: connection.sealed.clone(),
        }
    }
}

impl From<&RevokedGrant> for proto::RevokedGrant {
    fn from(grant: &RevokedGrant) -> Self {
        Self {
            id: grant.id.to_string(),
            workspace_id: grant.workspace_id.to_string(),
            live_until_ms: grant.live_until.timestamp_millis(),
        }
    }
}

impl TryFrom<proto::RevokedGrant> for RevokedGrant {
    type Error = InvalidMessage;

    fn try_from(grant: proto::RevokedGrant) -> Result<Self, Self::Error> {
        Ok(Self {
            id: grant
                .id
                .parse()
                .map_err(|e| invalid("revoked_grant.id", e))?,
            workspace_id: grant
                .workspace_id
                .parse()
                .map_err(|e| invalid("revoked_grant.workspace_id", e))?,
            live_until: DateTime::from_timestamp_millis(grant.live_until_ms)
                .ok_or_else(|| invalid("revoked_grant.live_until_ms", "out of range"))?,
        })
    }
}

impl TryFrom<proto::UpstreamConnection> for ConnectionRecord {
    type Error = InvalidMessage;

    fn try_from(connection: proto::UpstreamConnection) -> Result<Self, Self::Error> {
        let server_id = connection
            .server_id
            .parse()
            .map_err(|e| invalid("connection.server_id", e))?;
        if connection.user_id.is_empty() {
            return Err(invalid("connection.user_id", "empty"));
        }
        let id = crate::ConnectionId::of(&server_id, &connection.user_id);
        if connection.id != id.to_string() {
            return Err(invalid(
                "connection.id",
                "does not belong to its server and user",
            ));
        }
        Ok(Self {
            id,
            server_id,
            user_id: connection.user_id,
            version: connection.version,
            sealed: connection.sealed,
        })
    }
}

#[cfg(test)]
mod tests;
