//! Registered MCP servers: decisions on registering, changing and deleting them.

use std::collections::BTreeSet;

use mcpgw_shared::SealedSecret;
use mcpgw_shared::ids::WorkspaceId;
use mcpgw_shared::model::{ToolFilter, UpstreamAuth};
use mcpgw_shared::slug::Slug;

use super::workspace::validate_name;
use super::{Aggregate, DomainError, DomainEvent};

/// Longest accepted description, in characters.
const MAX_DESCRIPTION_LEN: usize = 2000;
/// Longest accepted URL.
const MAX_URL_LEN: usize = 2048;
/// Most tools in one allow or deny list.
const MAX_TOOLS: usize = 1000;

/// A server's state, folded from its stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Server {
    /// Present once registered, gone again once deleted.
    pub current: Option<ServerState>,
    /// Whether it was deleted (a deleted server's id is never reused).
    pub deleted: bool,
}

/// The fields of a live server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// Home workspace.
    pub workspace_id: WorkspaceId,
    /// Slug.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Upstream URL.
    pub url: String,
    /// Upstream auth.
    pub auth: UpstreamAuth<SealedSecret>,
    /// Tool filter.
    pub tools: ToolFilter,
    /// Enabled flag.
    pub enabled: bool,
    /// Workspaces it is provisioned to besides its home.
    pub provisioned: BTreeSet<WorkspaceId>,
}

impl Aggregate for Server {
    fn apply(&mut self, event: &DomainEvent) {
        if let DomainEvent::ServerRegistered {
            workspace_id,
            slug,
            name,
            description,
            url,
            auth,
            tools,
            enabled,
        } = event
        {
            self.current = Some(ServerState {
                workspace_id: *workspace_id,
                slug: slug.clone(),
                name: name.clone(),
                description: description.clone(),
                url: url.clone(),
                auth: auth.clone(),
                tools: tools.clone(),
                enabled: *enabled,
                provisioned: BTreeSet::new(),
            });
            return;
        }
        if matches!(event, DomainEvent::ServerDeleted) {
            self.current = None;
            self.deleted = true;
            return;
        }
        let Some(state) = self.current.as_mut() else {
            return;
        };
        match event {
            DomainEvent::ServerDetailsChanged { name, description } => {
                state.name = name.clone();
                state.description = description.clone();
            }
            DomainEvent::ServerUpstreamChanged { url } => state.url = url.clone(),
            DomainEvent::ServerAuthChanged { auth } => state.auth = auth.clone(),
            DomainEvent::ServerToolsChanged { tools } => state.tools = tools.clone(),
            DomainEvent::ServerEnabledChanged { enabled } => state.enabled = *enabled,
            DomainEvent::ServerProvisioned { workspace_id } => {
                state.provisioned.insert(*workspace_id);
            }
            DomainEvent::ServerDeprovisioned { workspace_id } => {
                state.provisioned.remove(workspace_id);
            }
            _ => {}
        }
    }
}

/// `RegisterServer`: everything a new server needs, secrets already sealed; the same fields
/// as a live server's state, with the workspaces to provision it to besides its home.
pub type RegisterServer = ServerState;

/// `UpdateServer`: the fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateServer {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New upstream URL.
    pub url: Option<String>,
    /// New upstream auth (always recorded: sealed secrets cannot be compared).
    pub auth: Option<UpstreamAuth<SealedSecret>>,
    /// New tool filter.
    pub tools: Option<ToolFilter>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// The complete new list of provisioned workspaces.
    pub provisioned: Option<Vec<WorkspaceId>>,
}

impl Server {
    fn live(&self, id: &str) -> Result<&ServerState, DomainError> {
        self.current.as_ref().ok_or_else(|| DomainError::NotFound {
            kind: "server",
            id: id.to_owned(),
        })
    }

    /// Decides `RegisterServer`.
    pub fn register(&self, id: &str, cmd: RegisterServer) -> Result<Vec<DomainEvent>, DomainError> {
        if self.current.is_some() || self.deleted {
            return Err(DomainError::AlreadyExists {
                kind: "server",
                id: id.to_owned(),
            });
        }
        validate_name("name", &cmd.name)?;
        validate_description(&cmd.description)?;
        validate_url("url", &cmd.url)?;
        validate_auth_endpoints(&cmd.auth)?;
        validate_tools(&cmd.tools)?;
        let provisioned = validate_provisioned(&cmd.workspace_id, cmd.provisioned.iter())?;
        let mut events = vec![DomainEvent::ServerRegistered {
            workspace_id: cmd.workspace_id,
            slug: cmd.slug,
            name: cmd.name,
            description: cmd.description,
            url: cmd.url,
            auth: cmd.auth,
            tools: cmd.tools,
            enabled: cmd.enabled,
        }];
        events.extend(
            provisioned
                .into_iter()
                .map(|workspace_id| DomainEvent::ServerProvisioned { workspace_id }),
        );
        Ok(events)
    }

    /// Decides `UpdateServer`: one event per changed aspect, none when nothing changes.
    pub fn update(&self, id: &str, cmd: UpdateServer) -> Result<Vec<DomainEvent>, DomainError> {
        let state = self.live(id)?;
        let mut events = Vec::new();

        let name = cmd.name.unwrap_or_else(|| state.name.clone());
        let description = cmd.description.unwrap_or_else(|| state.description.clone());
        validate_name("name", &name)?;
        validate_description(&description)?;
        if name != state.name || description != state.description {
            events.push(DomainEvent::ServerDetailsChanged { name, description });
        }
        if let Some(url) = cmd.url.filter(|url| url != &state.url) {
            validate_url("url", &url)?;
            events.push(DomainEvent::ServerUpstreamChanged { url });
        }
        if let Some(auth) = cmd.auth {
            validate_auth_endpoints(&auth)?;
            events.push(DomainEvent::ServerAuthChanged { auth });
        }
        if let Some(tools) = cmd.tools.filter(|tools| tools != &state.tools) {
            validate_tools(&tools)?;
            events.push(DomainEvent::ServerToolsChanged { tools });
        }
        if let Some(enabled) = cmd.enabled.filter(|enabled| enabled != &state.enabled) {
            events.push(DomainEvent::ServerEnabledChanged { enabled });
        }
        if let Some(wanted) = cmd.provisioned {
            let wanted = validate_provisioned(&state.workspace_id, wanted.iter())?;
            events.extend(
                state
                    .provisioned
                    .difference(&wanted)
                    .map(|&workspace_id| DomainEvent::ServerDeprovisioned { workspace_id }),
            );
            events.extend(
                wanted
                    .difference(&state.provisioned)
                    .map(|&workspace_id| DomainEvent::ServerProvisioned { workspace_id }),
            );
        }
        Ok(events)
    }

    /// Decides `DeleteServer`.
    pub fn delete(&self, id: &str) -> Result<Vec<DomainEvent>, DomainError> {
        self.live(id)?;
        Ok(vec![DomainEvent::ServerDeleted])
    }
}

fn validate_description(description: &str) -> Result<(), DomainError> {
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
fn validate_auth_endpoints<S>(auth: &UpstreamAuth<S>) -> Result<(), DomainError> {
    match auth {
        UpstreamAuth::None | UpstreamAuth::Headers { .. } => Ok(()),
        UpstreamAuth::ClientCredentials {
            token_endpoint,
            client_id,
            ..
        } => {
            validate_url("auth.token_endpoint", token_endpoint)?;
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

fn validate_tools(tools: &ToolFilter) -> Result<(), DomainError> {
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
        if let Some(bad) = list.iter().position(|t| t.is_empty() || t.len() > 128) {
            return Err(DomainError::invalid(
                format!("{field}[{bad}]"),
                "must be a tool name of 1 to 128 characters",
            ));
        }
    }
    Ok(())
}

fn validate_provisioned<'a>(
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

#[cfg(test)]
mod tests;
