//! The runtime form of a server, built once when the configuration is applied: the parsed
//! upstream URL, the upstream auth headers ready to send (values marked sensitive), the compiled
//! tool policy, the identity header and the connection version. The relay reads only this,
//! never the model types.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use mcpgw_shared::model::{IdentityForwarding, InvalidMessage, ServerConfig, UpstreamAuth};
use mcpgw_shared::{ServerId, Slug, WorkspaceId};
use url::Url;

use super::tool_policy::ToolPolicy;
use crate::limits::ServerLimits;

/// The upstream of a virtual server's route: never called (the relay answers a virtual server
/// itself, asking its members), and a name no resolver knows should anything try.
const VIRTUAL_UPSTREAM: &str = "http://virtual-server.mcpgw.invalid/";

/// A server as the relay uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The server as configured.
    pub server: ServerConfig,
    /// Its upstream MCP endpoint.
    pub upstream: Url,
    /// Headers added to every upstream request (values sensitive).
    pub auth_headers: HeaderMap,
    /// Which tools clients may see and call.
    pub tools: Arc<ToolPolicy>,
    /// Its rate limits and quotas.
    pub limits: Arc<ServerLimits>,
    /// What its upstream is told of the caller, if anything.
    pub identity: Option<IdentityHeader>,
}

/// How a server's upstream is told who calls, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityHeader {
    /// The caller's claims as JSON.
    Claims(HeaderName),
    /// A JWT the gateway signs, valid `ttl_seconds`.
    Jwt {
        /// The header.
        header: HeaderName,
        /// The token's lifetime.
        ttl_seconds: u32,
    },
}

impl IdentityHeader {
    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        match self {
            Self::Claims(name) | Self::Jwt { header: name, .. } => name,
        }
    }

    fn build(forwarding: &IdentityForwarding) -> Result<Option<Self>, InvalidMessage> {
        let name = |header: &str| {
            HeaderName::try_from(header).map_err(|_| InvalidMessage {
                field: "server.identity_forwarding.header",
                reason: format!("`{header}` is not a header name"),
            })
        };
        Ok(match forwarding {
            IdentityForwarding::None => None,
            IdentityForwarding::ClaimsHeader { header } => Some(Self::Claims(name(header)?)),
            IdentityForwarding::Jwt {
                header,
                ttl_seconds,
            } => Some(Self::Jwt {
                header: name(header)?,
                ttl_seconds: *ttl_seconds,
            }),
        })
    }
}

impl Route {
    /// Builds the runtime form of `server`.
    pub fn build(server: ServerConfig) -> Result<Self, InvalidMessage> {
        let invalid = |field, reason: String| InvalidMessage { field, reason };
        let url = match server.virtual_server {
            Some(_) => VIRTUAL_UPSTREAM,
            None => server.url.as_str(),
        };
        let upstream = Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| invalid("server.url", "not an absolute http(s) URL".into()))?;
        let mut auth_headers = HeaderMap::new();
        if let UpstreamAuth::Headers { headers } = &server.auth {
            for (name, value) in headers {
                let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                    invalid(
                        "server.auth.headers",
                        format!("`{name}` is not a header name"),
                    )
                })?;
                let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                    invalid(
                        "server.auth.headers",
                        format!("the value of `{name}` is not a header value"),
                    )
                })?;
                value.set_sensitive(true);
                auth_headers.insert(name, value);
            }
        }
        let tools = ToolPolicy::compile(&server.tools)
            .map_err(|e| invalid("server.tools", e.to_string()))?;
        let limits = ServerLimits::compile(server.id, &server.rate_limits)
            .map_err(|e| invalid("server.rate_limits", e.to_string()))?;
        let identity = match server.virtual_server {
            // A virtual server calls no upstream itself: its members forward as they are set.
            Some(_) => None,
            None => IdentityHeader::build(&server.identity_forwarding)?,
        };
        Ok(Self {
            identity,
            tools: Arc::new(tools),
            limits: Arc::new(limits),
            upstream,
            auth_headers,
            server,
        })
    }

    /// The server's id.
    pub fn id(&self) -> ServerId {
        self.server.id
    }

    /// The server's slug.
    pub fn slug(&self) -> &Slug {
        &self.server.slug
    }

    /// Bumped by URL, auth and enabled changes: sessions and streams of another version are
    /// stale.
    pub fn connection_version(&self) -> i64 {
        self.server.connection_version
    }

    /// A virtual server's members, if it is one.
    pub fn members(&self) -> Option<&mcpgw_shared::model::VirtualServer> {
        self.server.virtual_server.as_ref()
    }

    /// Whether clients may use it.
    pub fn enabled(&self) -> bool {
        self.server.enabled
    }

    /// Whether keys of `workspace` may reach it (its home, or a workspace it is provisioned to).
    pub fn serves(&self, workspace: &WorkspaceId) -> bool {
        self.server.serves(workspace)
    }
}
