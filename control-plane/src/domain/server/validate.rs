//! Validation of server fields: URLs, auth configs, tool lists and provisioning.

use std::collections::BTreeSet;

use mcpgw_data_plane::oauth::AssertionKey;
use mcpgw_shared::model::{
    ClientAuthMethod, IdentityForwarding, RateLimit, RequestLogging, ToolFilter, ToolPattern,
    UpstreamAuth, VirtualServer,
};
use mcpgw_shared::{Slug, WorkspaceId};

use super::super::DomainError;

/// Longest accepted description, in characters.
const MAX_DESCRIPTION_LEN: usize = 2000;
/// Longest accepted URL.
const MAX_URL_LEN: usize = 2048;
/// Longest description a tool override may give.
const MAX_TOOL_DESCRIPTION: usize = 4096;

/// Most tools in one allow or deny list.
const MAX_TOOLS: usize = 1000;

pub(super) fn validate_description(description: &str) -> Result<(), DomainError> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(DomainError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    Ok(())
}

/// Validates an absolute `http` or `https` URL with a host.
pub fn validate_url(field: &str, value: &str) -> Result<(), DomainError> {
    if value.len() > MAX_URL_LEN {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_URL_LEN} bytes"),
        ));
    }
    let url = url::Url::parse(value)
        .map_err(|e| DomainError::invalid(field, format!("is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DomainError::invalid(
            field,
            format!("must be an http or https URL, not `{}:`", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(DomainError::invalid(field, "must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DomainError::invalid(
            field,
            "must not carry credentials; use `auth` for upstream credentials",
        ));
    }
    Ok(())
}

fn validate_optional_url(field: &str, value: Option<&String>) -> Result<(), DomainError> {
    value.map_or(Ok(()), |v| validate_url(field, v))
}

/// Validates the non-secret parts of an auth config (URLs, required ids).
pub(super) fn validate_auth_endpoints<S>(auth: &UpstreamAuth<S>) -> Result<(), DomainError> {
    match auth {
        UpstreamAuth::None | UpstreamAuth::Headers { .. } => Ok(()),
        UpstreamAuth::ClientCredentials {
            token_endpoint,
            issuer,
            client_id,
            client_secret,
            private_key,
            client_auth,
            resource,
            omit_resource,
            ..
        } => {
            match (client_auth, client_secret.is_some(), private_key.is_some()) {
                (ClientAuthMethod::PrivateKeyJwt, false, true) => {}
                (ClientAuthMethod::PrivateKeyJwt, _, false) => {
                    return Err(DomainError::invalid(
                        "auth.private_key",
                        "`private_key_jwt` needs the PEM private key that signs client assertions",
                    ));
                }
                (ClientAuthMethod::PrivateKeyJwt, true, true) => {
                    return Err(DomainError::invalid(
                        "auth.client_secret",
                        "is not used with `private_key_jwt`: leave it out",
                    ));
                }
                (_, true, false) => {}
                (_, false, _) => {
                    return Err(DomainError::invalid(
                        "auth.client_secret",
                        format!("`{}` needs the client secret", client_auth.as_str()),
                    ));
                }
                (_, true, true) => {
                    return Err(DomainError::invalid(
                        "auth.private_key",
                        "is used only with `\"client_auth\": \"private_key_jwt\"`",
                    ));
                }
            }
            validate_optional_url("auth.token_endpoint", token_endpoint.as_ref())?;
            validate_optional_url("auth.issuer", issuer.as_ref())?;
            validate_optional_url("auth.resource", resource.as_ref())?;
            if token_endpoint.is_none() && issuer.is_none() {
                return Err(DomainError::invalid(
                    "auth.token_endpoint",
                    "set `token_endpoint`, or `issuer` to discover it from the authorization server's metadata",
                ));
            }
            if *omit_resource && resource.is_some() {
                return Err(DomainError::invalid(
                    "auth.omit_resource",
                    "contradicts `resource`: set one or the other",
                ));
            }
            if client_id.trim().is_empty() {
                return Err(DomainError::invalid("auth.client_id", "must not be empty"));
            }
            Ok(())
        }
        UpstreamAuth::Oauth2 { oauth_metadata } => {
            let Some(m) = oauth_metadata else {
                return Ok(());
            };
            validate_optional_url("auth.oauth_metadata.issuer", m.issuer.as_ref())?;
            validate_optional_url(
                "auth.oauth_metadata.authorization_endpoint",
                m.authorization_endpoint.as_ref(),
            )?;
            validate_optional_url(
                "auth.oauth_metadata.token_endpoint",
                m.token_endpoint.as_ref(),
            )?;
            validate_optional_url("auth.oauth_metadata.redirect_uri", m.redirect_uri.as_ref())?;
            if m.client_secret.is_some() && m.client_id.is_none() {
                return Err(DomainError::invalid(
                    "auth.oauth_metadata.client_secret",
                    "needs `client_id` too",
                ));
            }
            Ok(())
        }
    }
}

/// Validates the secret values of an auth config before they are sealed.
pub fn validate_auth_secrets(auth: &UpstreamAuth<String>) -> Result<(), DomainError> {
    if let UpstreamAuth::ClientCredentials {
        private_key: Some(pem),
        ..
    } = auth
    {
        AssertionKey::parse(pem)
            .map_err(|e| DomainError::invalid("auth.private_key", e.to_string()))?;
    }
    if let UpstreamAuth::Headers { headers } = auth {
        if headers.is_empty() {
            return Err(DomainError::invalid(
                "auth.headers",
                "must name at least one header",
            ));
        }
        for (name, value) in headers {
            let field = format!("auth.headers.{name}");
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(DomainError::invalid(
                    field,
                    "is not a valid HTTP header name",
                ));
            }
            if is_reserved_header(name) {
                return Err(DomainError::invalid(
                    field,
                    "is set by the gateway itself and cannot be configured",
                ));
            }
            if value.is_empty() || http::HeaderValue::from_str(value).is_err() {
                return Err(DomainError::invalid(
                    field,
                    "must be a non-empty header value of visible ASCII",
                ));
            }
        }
    }
    Ok(())
}

fn is_reserved_header(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "accept",
        "mcp-session-id",
        "mcp-protocol-version",
        "last-event-id",
    ];
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Validates a tool policy: its patterns, and the names its overrides show.
pub fn validate_tools(tools: &ToolFilter) -> Result<(), DomainError> {
    let lists = [
        ("tools.allow", tools.allow.as_deref().unwrap_or_default()),
        ("tools.deny", &tools.deny),
    ];
    for (field, list) in lists {
        if list.len() > MAX_TOOLS {
            return Err(DomainError::invalid(
                field,
                format!("must hold at most {MAX_TOOLS} tools"),
            ));
        }
        if let Some((bad, error)) = list
            .iter()
            .enumerate()
            .find_map(|(i, t)| ToolPattern::parse(t).err().map(|e| (i, e)))
        {
            return Err(DomainError::invalid(
                format!("{field}[{bad}]"),
                error.to_string(),
            ));
        }
    }
    if tools.overrides.len() > MAX_TOOLS {
        return Err(DomainError::invalid(
            "tools.overrides",
            format!("must hold at most {MAX_TOOLS} tools"),
        ));
    }
    let mut shown = std::collections::HashSet::new();
    for (tool, over) in &tools.overrides {
        let field = |part: &str| format!("tools.overrides.{tool}{part}");
        if !is_tool_name(tool) {
            return Err(DomainError::invalid(
                field(""),
                "must be the upstream's tool name: 1 to 128 characters, no spaces, `*` or `?`",
            ));
        }
        if let Some(name) = &over.name {
            if !is_tool_name(name) {
                return Err(DomainError::invalid(
                    field(".name"),
                    "must be 1 to 128 characters, no spaces, `*` or `?`",
                ));
            }
            if !shown.insert(name.as_str())
                || (name != tool && tools.overrides.get(name).is_some_and(|o| o.name.is_none()))
            {
                return Err(DomainError::invalid(
                    field(".name"),
                    format!("`{name}` is shown for another tool already"),
                ));
            }
        }
        if over
            .description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_TOOL_DESCRIPTION)
        {
            return Err(DomainError::invalid(
                field(".description"),
                format!("must be at most {MAX_TOOL_DESCRIPTION} bytes"),
            ));
        }
    }
    Ok(())
}

/// A tool's name as upstreams and clients use it: no glob characters.
fn is_tool_name(name: &str) -> bool {
    ToolPattern::parse(name).is_ok() && !name.contains(['*', '?'])
}

pub(super) fn validate_request_logging(logging: &RequestLogging) -> Result<(), DomainError> {
    let (min, max) = (RequestLogging::MIN_BYTES, RequestLogging::MAX_BYTES);
    if !(min..=max).contains(&logging.max_bytes) {
        return Err(DomainError::invalid(
            "request_logging.max_bytes",
            format!("must be from {min} to {max}"),
        ));
    }
    Ok(())
}

/// Headers that carry credentials, route the request, or end at the next hop: never the one
/// that tells an upstream who calls.
const NOT_AN_IDENTITY_HEADER: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "host",
    "x-mcpgw-api-key",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-type",
    "accept",
    "last-event-id",
    "x-request-id",
    "traceparent",
    "tracestate",
    "baggage",
];

/// A header name the gateway may write itself: a valid HTTP header name, no credential,
/// hop-by-hop or MCP transport header, and none of the server's own `auth.headers`; a `jwt`
/// lifetime of 30 to 3600 seconds. A virtual server forwards nothing itself: each member
/// keeps its own setting.
pub(super) fn validate_identity_forwarding<S>(
    forwarding: &IdentityForwarding,
    auth: &UpstreamAuth<S>,
    is_virtual: bool,
) -> Result<(), DomainError> {
    let Some(header) = forwarding.header() else {
        return Ok(());
    };
    if is_virtual {
        return Err(DomainError::invalid(
            "identity_forwarding",
            "a virtual server forwards nothing itself: set it on its members",
        ));
    }
    let field = "identity_forwarding.header";
    if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
        return Err(DomainError::invalid(
            field,
            "is not a valid HTTP header name",
        ));
    }
    let lower = header.to_ascii_lowercase();
    if lower.starts_with("mcp-") || NOT_AN_IDENTITY_HEADER.contains(&lower.as_str()) {
        return Err(DomainError::invalid(
            field,
            format!(
                "`{header}` carries credentials, MCP transport or hop-by-hop information: choose another name, such as `{}`",
                IdentityForwarding::CLAIMS_HEADER
            ),
        ));
    }
    if let UpstreamAuth::Headers { headers } = auth
        && headers.keys().any(|h| h.eq_ignore_ascii_case(header))
    {
        return Err(DomainError::invalid(
            field,
            format!("`{header}` is one of the server's `auth.headers`"),
        ));
    }
    if let IdentityForwarding::Jwt { ttl_seconds, .. } = forwarding {
        let (min, max) = (
            IdentityForwarding::MIN_TTL_SECONDS,
            IdentityForwarding::MAX_TTL_SECONDS,
        );
        if !(min..=max).contains(ttl_seconds) {
            return Err(DomainError::invalid(
                "identity_forwarding.ttl_seconds",
                format!("must be from {min} to {max}"),
            ));
        }
    }
    Ok(())
}

/// At most [`RateLimit::MAX_PER_SERVER`] limits, each bounding something by at least 1, with
/// valid tool patterns; `tools` only narrows what a limit counts, so `by: tool` or any scope
/// may have it.
pub fn validate_rate_limits(limits: &[RateLimit]) -> Result<(), DomainError> {
    if limits.len() > RateLimit::MAX_PER_SERVER {
        return Err(DomainError::invalid(
            "rate_limits",
            format!("must hold at most {} limits", RateLimit::MAX_PER_SERVER),
        ));
    }
    for (i, limit) in limits.iter().enumerate() {
        let field = |part: &str| format!("rate_limits[{i}]{part}");
        if !limit.bounds_anything() {
            return Err(DomainError::invalid(
                field(""),
                "must set at least one of per_minute, per_hour, per_day or concurrent",
            ));
        }
        let bounds = [
            ("per_minute", limit.per_minute),
            ("per_hour", limit.per_hour),
            ("per_day", limit.per_day),
            ("concurrent", limit.concurrent),
        ];
        if let Some((name, _)) = bounds.iter().find(|(_, bound)| *bound == Some(0)) {
            return Err(DomainError::invalid(
                field(&format!(".{name}")),
                "must be at least 1 (disable the server to refuse every request)",
            ));
        }
        if limit.tools.len() > MAX_TOOLS {
            return Err(DomainError::invalid(
                field(".tools"),
                format!("must hold at most {MAX_TOOLS} tools"),
            ));
        }
        if let Some((bad, error)) = limit
            .tools
            .iter()
            .enumerate()
            .find_map(|(j, t)| ToolPattern::parse(t).err().map(|e| (j, e)))
        {
            return Err(DomainError::invalid(
                field(&format!(".tools[{bad}]")),
                error.to_string(),
            ));
        }
    }
    Ok(())
}

/// A virtual server has no URL or auth, and 1 to [`VirtualServer::MAX_MEMBERS`] distinct
/// members, none of them itself.
pub(super) fn validate_virtual<S>(
    slug: &Slug,
    virtual_server: &VirtualServer,
    url: &str,
    auth: &UpstreamAuth<S>,
) -> Result<(), DomainError> {
    if !url.is_empty() || !matches!(auth, UpstreamAuth::None) {
        return Err(DomainError::invalid(
            "url",
            "a virtual server has no URL or auth of its own: each member keeps its own",
        ));
    }
    let members = &virtual_server.members;
    if members.is_empty() || members.len() > VirtualServer::MAX_MEMBERS {
        return Err(DomainError::invalid(
            "virtual_server.members",
            format!("must list 1 to {} servers", VirtualServer::MAX_MEMBERS),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, member) in members.iter().enumerate() {
        let field = format!("virtual_server.members[{i}].server");
        let member_slug = Slug::parse(&member.server)
            .map_err(|e| DomainError::invalid(field.clone(), e.to_string()))?;
        if &member_slug == slug {
            return Err(DomainError::invalid(
                field,
                "a virtual server cannot be its own member",
            ));
        }
        if !seen.insert(member_slug) {
            return Err(DomainError::invalid(field, "is listed twice"));
        }
    }
    Ok(())
}

pub(super) fn validate_provisioned<'a>(
    home: &WorkspaceId,
    provisioned: impl Iterator<Item = &'a WorkspaceId>,
) -> Result<BTreeSet<WorkspaceId>, DomainError> {
    let provisioned: BTreeSet<WorkspaceId> = provisioned.copied().collect();
    if provisioned.contains(home) {
        return Err(DomainError::invalid(
            "provisioned_workspaces",
            "must not contain the server's own workspace",
        ));
    }
    Ok(provisioned)
}
