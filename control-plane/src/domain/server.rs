//! Registered MCP servers: decisions on registering, changing and deleting them.

mod validate;

use std::collections::BTreeSet;

use mcpgw_shared::model::{
    IdentityForwarding, JwtValidation, RateLimit, RequestLogging, ToolFilter, UpstreamAuth,
    VirtualServer,
};
use mcpgw_shared::slug::Slug;
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{SealedSecret, ServerId, StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};

pub use validate::{validate_auth_secrets, validate_rate_limits, validate_tools, validate_url};

use super::workspace::{keep_introspection_secret, validate_name};
use super::{Aggregate, Decision, DomainError, DomainEvent};
use validate::{
    validate_auth_endpoints, validate_description, validate_identity_forwarding,
    validate_provisioned, validate_request_logging, validate_virtual,
};

/// A server's events. The registration is large, but events live one batch at a time (an
/// append, a page of the log), so it is not boxed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[allow(clippy::large_enum_variant)]
pub enum ServerEvent {
    /// It was registered.
    #[serde(rename = "ServerRegistered")]
    Registered {
        /// Home workspace.
        workspace_id: WorkspaceId,
        /// Globally unique slug.
        slug: Slug,
        /// Display name.
        name: String,
        /// Description.
        description: String,
        /// Upstream MCP endpoint.
        url: String,
        /// Upstream auth, secrets sealed.
        auth: UpstreamAuth<SealedSecret>,
        /// Tool visibility.
        tools: ToolFilter,
        /// Whether clients may use it.
        enabled: bool,
        /// What the request log keeps of its requests (since schema v2; v1 events are upcast
        /// to metadata only).
        request_logging: RequestLogging,
        /// Rate limits and quotas (absent in events written before they existed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rate_limits: Vec<RateLimit>,
        /// For a virtual server, its members (it has no URL or auth of its own).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        virtual_server: Option<VirtualServer>,
        /// What its upstream is told of the caller (absent: nothing, as in events written
        /// before it existed).
        #[serde(default, skip_serializing_if = "IdentityForwarding::is_none")]
        identity_forwarding: IdentityForwarding,
    },
    /// Name or description changed.
    #[serde(rename = "ServerDetailsChanged")]
    DetailsChanged {
        /// Display name.
        name: String,
        /// Description.
        description: String,
    },
    /// The upstream URL changed.
    #[serde(rename = "ServerUpstreamChanged")]
    UpstreamChanged {
        /// New upstream URL.
        url: String,
    },
    /// The upstream auth changed.
    #[serde(rename = "ServerAuthChanged")]
    AuthChanged {
        /// New auth, secrets sealed.
        auth: UpstreamAuth<SealedSecret>,
    },
    /// The tool filter changed.
    #[serde(rename = "ServerToolsChanged")]
    ToolsChanged {
        /// New tool filter.
        tools: ToolFilter,
    },
    /// What the request log keeps of its requests changed.
    #[serde(rename = "ServerRequestLoggingChanged")]
    RequestLoggingChanged {
        /// The new policy.
        request_logging: RequestLogging,
    },
    /// Its rate limits and quotas changed.
    #[serde(rename = "ServerRateLimitsChanged")]
    RateLimitsChanged {
        /// The complete new list.
        rate_limits: Vec<RateLimit>,
    },
    /// What its upstream is told of the caller changed.
    #[serde(rename = "ServerIdentityForwardingChanged")]
    IdentityForwardingChanged {
        /// The new setting.
        identity_forwarding: IdentityForwarding,
    },
    /// How it checks bearer tokens of an identity provider changed (`None`: only its
    /// workspaces' rules apply).
    #[serde(rename = "ServerJwtValidationChanged")]
    JwtValidationChanged {
        /// The new rules, an introspection client secret sealed.
        jwt_validation: Option<JwtValidation<SealedSecret>>,
    },
    /// A virtual server's members (or prefix mode) changed.
    #[serde(rename = "ServerMembersChanged")]
    MembersChanged {
        /// The new members.
        virtual_server: VirtualServer,
    },
    /// It was enabled or disabled.
    #[serde(rename = "ServerEnabledChanged")]
    EnabledChanged {
        /// Whether clients may use it.
        enabled: bool,
    },
    /// It was provisioned to another workspace.
    #[serde(rename = "ServerProvisioned")]
    Provisioned {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
    /// It was withdrawn from a workspace it was provisioned to.
    #[serde(rename = "ServerDeprovisioned")]
    Deprovisioned {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
    /// It was deleted.
    #[serde(rename = "ServerDeleted")]
    Deleted,
}

impl ServerEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Registered { .. } => "ServerRegistered",
            Self::DetailsChanged { .. } => "ServerDetailsChanged",
            Self::UpstreamChanged { .. } => "ServerUpstreamChanged",
            Self::AuthChanged { .. } => "ServerAuthChanged",
            Self::ToolsChanged { .. } => "ServerToolsChanged",
            Self::RequestLoggingChanged { .. } => "ServerRequestLoggingChanged",
            Self::RateLimitsChanged { .. } => "ServerRateLimitsChanged",
            Self::IdentityForwardingChanged { .. } => "ServerIdentityForwardingChanged",
            Self::JwtValidationChanged { .. } => "ServerJwtValidationChanged",
            Self::MembersChanged { .. } => "ServerMembersChanged",
            Self::EnabledChanged { .. } => "ServerEnabledChanged",
            Self::Provisioned { .. } => "ServerProvisioned",
            Self::Deprovisioned { .. } => "ServerDeprovisioned",
            Self::Deleted => "ServerDeleted",
        }
    }

    /// Whether this event changes how the gateway connects to the upstream, so that pooled
    /// connections and sealed sessions of the old config must go: the one rule behind a
    /// server's `connection_version` (1 at registration, one more for each such change).
    pub fn changes_connection(&self) -> bool {
        match self {
            Self::Registered { .. }
            | Self::UpstreamChanged { .. }
            | Self::AuthChanged { .. }
            | Self::EnabledChanged { .. }
            | Self::Deleted => true,
            Self::DetailsChanged { .. }
            | Self::ToolsChanged { .. }
            | Self::RequestLoggingChanged { .. }
            | Self::RateLimitsChanged { .. }
            | Self::IdentityForwardingChanged { .. }
            | Self::JwtValidationChanged { .. }
            | Self::MembersChanged { .. }
            | Self::Provisioned { .. }
            | Self::Deprovisioned { .. } => false,
        }
    }
}

/// What can be asked of a server.
#[derive(Debug, Clone)]
pub enum ServerCommand {
    /// Register it.
    Register(RegisterServer),
    /// Change some of its fields.
    Update(UpdateServer),
    /// Delete it.
    Delete,
}

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
    /// What the request log keeps of its requests.
    pub request_logging: RequestLogging,
    /// Rate limits and quotas.
    pub rate_limits: Vec<RateLimit>,
    /// For a virtual server, its members.
    pub virtual_server: Option<VirtualServer>,
    /// What its upstream is told of the caller.
    pub identity_forwarding: IdentityForwarding,
    /// How it checks bearer tokens of an identity provider, before its workspaces' rules.
    pub jwt_validation: Option<JwtValidation<SealedSecret>>,
    /// Workspaces it is provisioned to besides its home.
    pub provisioned: BTreeSet<WorkspaceId>,
}

impl ServerState {
    /// Every workspace the server serves: its home and those it is provisioned to.
    pub fn workspaces(&self) -> impl Iterator<Item = WorkspaceId> + '_ {
        std::iter::once(self.workspace_id).chain(self.provisioned.iter().copied())
    }
}

impl Aggregate for Server {
    type Id = ServerId;
    type Event = ServerEvent;
    type Command = ServerCommand;

    fn stream(id: &ServerId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<ServerEvent> {
        match event {
            DomainEvent::Server(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &ServerEvent) {
        let state = match (event, self.current.as_mut()) {
            (
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
                },
                _,
            ) => {
                self.current = Some(ServerState {
                    workspace_id: *workspace_id,
                    slug: slug.clone(),
                    name: name.clone(),
                    description: description.clone(),
                    url: url.clone(),
                    auth: auth.clone(),
                    tools: tools.clone(),
                    enabled: *enabled,
                    request_logging: *request_logging,
                    rate_limits: rate_limits.clone(),
                    virtual_server: virtual_server.clone(),
                    identity_forwarding: identity_forwarding.clone(),
                    jwt_validation: None,
                    provisioned: BTreeSet::new(),
                });
                return;
            }
            (ServerEvent::Deleted, _) => {
                self.current = None;
                self.deleted = true;
                return;
            }
            // A change to a server that is not live cannot be in a valid stream.
            (_, None) => return,
            (_, Some(state)) => state,
        };
        match event {
            ServerEvent::DetailsChanged { name, description } => {
                state.name = name.clone();
                state.description = description.clone();
            }
            ServerEvent::UpstreamChanged { url } => state.url = url.clone(),
            ServerEvent::AuthChanged { auth } => state.auth = auth.clone(),
            ServerEvent::ToolsChanged { tools } => state.tools = tools.clone(),
            ServerEvent::RequestLoggingChanged { request_logging } => {
                state.request_logging = *request_logging;
            }
            ServerEvent::RateLimitsChanged { rate_limits } => {
                state.rate_limits = rate_limits.clone();
            }
            ServerEvent::IdentityForwardingChanged {
                identity_forwarding,
            } => state.identity_forwarding = identity_forwarding.clone(),
            ServerEvent::JwtValidationChanged { jwt_validation } => {
                state.jwt_validation = jwt_validation.clone();
            }
            ServerEvent::MembersChanged { virtual_server } => {
                state.virtual_server = Some(virtual_server.clone());
            }
            ServerEvent::EnabledChanged { enabled } => state.enabled = *enabled,
            ServerEvent::Provisioned { workspace_id } => {
                state.provisioned.insert(*workspace_id);
            }
            ServerEvent::Deprovisioned { workspace_id } => {
                state.provisioned.remove(workspace_id);
            }
            ServerEvent::Registered { .. } | ServerEvent::Deleted => {}
        }
    }

    fn decide(
        &self,
        id: &ServerId,
        command: ServerCommand,
    ) -> Result<Decision<ServerEvent>, DomainError> {
        let events = match command {
            ServerCommand::Register(register) => self.register(id, register)?,
            ServerCommand::Update(update) => self.update(id, update)?,
            ServerCommand::Delete => {
                self.live(id)?;
                vec![ServerEvent::Deleted]
            }
        };
        Ok(Decision {
            audience: self.audience(&events),
            events,
        })
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
    /// New request-logging policy.
    pub request_logging: Option<RequestLogging>,
    /// The complete new list of rate limits.
    pub rate_limits: Option<Vec<RateLimit>>,
    /// A virtual server's new members.
    pub virtual_server: Option<VirtualServer>,
    /// New identity forwarding.
    pub identity_forwarding: Option<IdentityForwarding>,
    /// New bearer-token rules (`Some(None)` removes them); an introspection client secret
    /// sealed, or left out to keep the stored one.
    pub jwt_validation: Option<Option<JwtValidation<SealedSecret>>>,
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// The complete new list of provisioned workspaces.
    pub provisioned: Option<Vec<WorkspaceId>>,
}

impl Server {
    /// The live state, or not found.
    pub fn live(&self, id: &ServerId) -> Result<&ServerState, DomainError> {
        self.current
            .as_ref()
            .ok_or_else(|| DomainError::not_found("server", id))
    }

    /// A change concerns every workspace the server served before and serves after.
    fn audience(&self, events: &[ServerEvent]) -> Vec<Audience> {
        let mut after = self.clone();
        for event in events {
            after.apply(event);
        }
        let workspaces: BTreeSet<WorkspaceId> = [&self.current, &after.current]
            .into_iter()
            .flatten()
            .flat_map(ServerState::workspaces)
            .collect();
        workspaces.into_iter().map(Audience::Workspace).collect()
    }

    fn register(
        &self,
        id: &ServerId,
        cmd: RegisterServer,
    ) -> Result<Vec<ServerEvent>, DomainError> {
        if self.current.is_some() || self.deleted {
            return Err(DomainError::AlreadyExists {
                kind: "server",
                id: id.to_string(),
            });
        }
        validate_name("name", &cmd.name)?;
        validate_description(&cmd.description)?;
        match &cmd.virtual_server {
            Some(members) => validate_virtual(&cmd.slug, members, &cmd.url, &cmd.auth)?,
            None => validate_url("url", &cmd.url)?,
        }
        validate_auth_endpoints(&cmd.auth)?;
        validate_tools(&cmd.tools)?;
        validate_request_logging(&cmd.request_logging)?;
        validate_rate_limits(&cmd.rate_limits)?;
        validate_identity_forwarding(
            &cmd.identity_forwarding,
            &cmd.auth,
            cmd.virtual_server.is_some(),
        )?;
        let provisioned = validate_provisioned(&cmd.workspace_id, cmd.provisioned.iter())?;
        let jwt_validation = cmd
            .jwt_validation
            .map(|rules| keep_introspection_secret(rules, None))
            .transpose()?;
        let mut events = vec![ServerEvent::Registered {
            workspace_id: cmd.workspace_id,
            slug: cmd.slug,
            name: cmd.name,
            description: cmd.description,
            url: cmd.url,
            auth: cmd.auth,
            tools: cmd.tools,
            enabled: cmd.enabled,
            request_logging: cmd.request_logging,
            rate_limits: cmd.rate_limits,
            virtual_server: cmd.virtual_server,
            identity_forwarding: cmd.identity_forwarding,
        }];
        events.extend(
            jwt_validation.map(|rules| ServerEvent::JwtValidationChanged {
                jwt_validation: Some(rules),
            }),
        );
        events.extend(
            provisioned
                .into_iter()
                .map(|workspace_id| ServerEvent::Provisioned { workspace_id }),
        );
        Ok(events)
    }

    /// One event per changed aspect, none when nothing changes.
    fn update(&self, id: &ServerId, cmd: UpdateServer) -> Result<Vec<ServerEvent>, DomainError> {
        let state = self.live(id)?;
        let mut events = Vec::new();

        let name = cmd.name.unwrap_or_else(|| state.name.clone());
        let description = cmd.description.unwrap_or_else(|| state.description.clone());
        validate_name("name", &name)?;
        validate_description(&description)?;
        if name != state.name || description != state.description {
            events.push(ServerEvent::DetailsChanged { name, description });
        }
        if state.virtual_server.is_some() && (cmd.url.is_some() || cmd.auth.is_some()) {
            return Err(DomainError::invalid(
                "url",
                "a virtual server has no URL or auth of its own: change its `virtual_server.members`",
            ));
        }
        if let Some(url) = cmd.url.filter(|url| url != &state.url) {
            validate_url("url", &url)?;
            events.push(ServerEvent::UpstreamChanged { url });
        }
        // Checked against the auth it will be used with: the new one, or the kept one.
        let forwarding = cmd
            .identity_forwarding
            .unwrap_or_else(|| state.identity_forwarding.clone());
        validate_identity_forwarding(
            &forwarding,
            cmd.auth.as_ref().unwrap_or(&state.auth),
            state.virtual_server.is_some(),
        )?;
        if let Some(auth) = cmd.auth {
            validate_auth_endpoints(&auth)?;
            events.push(ServerEvent::AuthChanged { auth });
        }
        if forwarding != state.identity_forwarding {
            events.push(ServerEvent::IdentityForwardingChanged {
                identity_forwarding: forwarding,
            });
        }
        if let Some(rules) = cmd.jwt_validation {
            let rules = rules
                .map(|rules| keep_introspection_secret(rules, state.jwt_validation.as_ref()))
                .transpose()?;
            if rules != state.jwt_validation {
                events.push(ServerEvent::JwtValidationChanged {
                    jwt_validation: rules,
                });
            }
        }
        if let Some(virtual_server) = cmd.virtual_server {
            if state.virtual_server.is_none() {
                return Err(DomainError::invalid(
                    "virtual_server",
                    "only a server registered as virtual has members; register a new one",
                ));
            }
            if state.virtual_server.as_ref() != Some(&virtual_server) {
                validate_virtual(&state.slug, &virtual_server, &state.url, &state.auth)?;
                events.push(ServerEvent::MembersChanged { virtual_server });
            }
        }
        if let Some(tools) = cmd.tools.filter(|tools| tools != &state.tools) {
            validate_tools(&tools)?;
            events.push(ServerEvent::ToolsChanged { tools });
        }
        if let Some(request_logging) = cmd
            .request_logging
            .filter(|logging| logging != &state.request_logging)
        {
            validate_request_logging(&request_logging)?;
            events.push(ServerEvent::RequestLoggingChanged { request_logging });
        }
        if let Some(rate_limits) = cmd
            .rate_limits
            .filter(|limits| limits != &state.rate_limits)
        {
            validate_rate_limits(&rate_limits)?;
            events.push(ServerEvent::RateLimitsChanged { rate_limits });
        }
        if let Some(enabled) = cmd.enabled.filter(|enabled| enabled != &state.enabled) {
            events.push(ServerEvent::EnabledChanged { enabled });
        }
        if let Some(wanted) = cmd.provisioned {
            let wanted = validate_provisioned(&state.workspace_id, wanted.iter())?;
            events.extend(
                state
                    .provisioned
                    .difference(&wanted)
                    .map(|&workspace_id| ServerEvent::Deprovisioned { workspace_id }),
            );
            events.extend(
                wanted
                    .difference(&state.provisioned)
                    .map(|&workspace_id| ServerEvent::Provisioned { workspace_id }),
            );
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
