//! Workspaces: the unit of tenancy that servers, keys and data planes are scoped to.

use std::collections::BTreeMap;

use mcpgw_shared::model::{
    GrantSubject, Grants, IdentityProvider, JWT_ALGORITHMS, JwtValidation, RateLimit, ToolFilter,
};
use mcpgw_shared::{ApiKeyId, SealedSecret, Slug, StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};

use super::{Aggregate, Decision, DomainError, DomainEvent};

/// A workspace's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WorkspaceEvent {
    /// It was created.
    #[serde(rename = "WorkspaceCreated")]
    Created {
        /// Its name.
        name: String,
    },
    /// It was renamed.
    #[serde(rename = "WorkspaceRenamed")]
    Renamed {
        /// The new name.
        name: String,
    },
    /// Its tool policy changed: it limits every server its keys reach.
    #[serde(rename = "WorkspaceToolsChanged")]
    ToolsChanged {
        /// The policy (`allow`, `deny`, `read_only`).
        tools: ToolFilter,
    },
    /// How it checks its identity provider's bearer JWTs changed (`None`: API keys only).
    #[serde(rename = "WorkspaceJwtValidationChanged")]
    JwtValidationChanged {
        /// The new rules.
        jwt_validation: Option<JwtValidation<SealedSecret>>,
    },
    /// The OpenID Connect provider its users sign in with changed (`None`: none).
    #[serde(rename = "WorkspaceIdentityProviderChanged")]
    IdentityProviderChanged {
        /// The new provider, its client secret sealed.
        identity_provider: Option<IdentityProvider<SealedSecret>>,
    },
    /// Its rate limits and quotas changed.
    #[serde(rename = "WorkspaceRateLimitsChanged")]
    RateLimitsChanged {
        /// The complete new list.
        rate_limits: Vec<RateLimit>,
    },
    /// What single keys and users may use changed.
    #[serde(rename = "WorkspaceGrantsChanged")]
    GrantsChanged {
        /// Every grant, by `key:<id>` or `user:<id>`.
        grants: BTreeMap<String, Grants>,
    },
}

impl WorkspaceEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "WorkspaceCreated",
            Self::Renamed { .. } => "WorkspaceRenamed",
            Self::ToolsChanged { .. } => "WorkspaceToolsChanged",
            Self::GrantsChanged { .. } => "WorkspaceGrantsChanged",
            Self::RateLimitsChanged { .. } => "WorkspaceRateLimitsChanged",
            Self::JwtValidationChanged { .. } => "WorkspaceJwtValidationChanged",
            Self::IdentityProviderChanged { .. } => "WorkspaceIdentityProviderChanged",
        }
    }
}

/// What can be asked of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceCommand {
    /// Create it with a name.
    Create {
        /// The name.
        name: String,
    },
    /// Rename it.
    Rename {
        /// The new name.
        name: String,
    },
    /// Set its tool policy.
    SetTools {
        /// The policy.
        tools: ToolFilter,
    },
    /// Set (or remove) how it checks bearer JWTs. Rules whose introspection has no client
    /// secret keep the stored one when its endpoint and client id are unchanged.
    SetJwtValidation {
        /// The rules; `None` accepts API keys only.
        jwt_validation: Option<JwtValidation<SealedSecret>>,
    },
    /// Set (or remove) the OpenID Connect provider its users sign in with. A provider without
    /// a client secret keeps the stored one when its issuer and client id are unchanged.
    SetIdentityProvider {
        /// The provider, its client secret (if given) sealed; `None` removes it.
        identity_provider: Option<IdentityProvider<SealedSecret>>,
    },
    /// Set its rate limits and quotas (the complete list).
    SetRateLimits {
        /// The limits.
        rate_limits: Vec<RateLimit>,
    },
    /// Set or remove (`None`) the grants of some keys and users; the others stay.
    SetGrants {
        /// By `key:<id>` or `user:<id>`.
        changes: BTreeMap<String, Option<Grants>>,
    },
}

/// A workspace's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Its name, once created.
    pub name: Option<String>,
    /// Its tool policy.
    pub tools: ToolFilter,
    /// What single keys and users may use.
    pub grants: BTreeMap<String, Grants>,
    /// Its rate limits and quotas on everything its keys call.
    pub rate_limits: Vec<RateLimit>,
    /// How it checks its identity provider's bearer JWTs.
    pub jwt_validation: Option<JwtValidation<SealedSecret>>,
    /// The OpenID Connect provider its users sign in with, its client secret sealed.
    pub identity_provider: Option<IdentityProvider<SealedSecret>>,
}

impl Aggregate for Workspace {
    type Id = WorkspaceId;
    type Event = WorkspaceEvent;
    type Command = WorkspaceCommand;

    fn stream(id: &WorkspaceId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<WorkspaceEvent> {
        match event {
            DomainEvent::Workspace(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &WorkspaceEvent) {
        match event {
            WorkspaceEvent::Created { name } | WorkspaceEvent::Renamed { name } => {
                self.name = Some(name.clone());
            }
            WorkspaceEvent::ToolsChanged { tools } => self.tools = tools.clone(),
            WorkspaceEvent::GrantsChanged { grants } => self.grants = grants.clone(),
            WorkspaceEvent::RateLimitsChanged { rate_limits } => {
                self.rate_limits = rate_limits.clone();
            }
            WorkspaceEvent::JwtValidationChanged { jwt_validation } => {
                self.jwt_validation = jwt_validation.clone();
            }
            WorkspaceEvent::IdentityProviderChanged { identity_provider } => {
                self.identity_provider = identity_provider.clone();
            }
        }
    }

    fn decide(
        &self,
        id: &WorkspaceId,
        command: WorkspaceCommand,
    ) -> Result<Decision<WorkspaceEvent>, DomainError> {
        let events = match command {
            WorkspaceCommand::Create { name } => self.create(id, name)?,
            WorkspaceCommand::Rename { name } => self.rename(id, name)?,
            WorkspaceCommand::SetTools { tools } => self.set_tools(id, tools)?,
            WorkspaceCommand::SetGrants { changes } => self.set_grants(id, changes)?,
            WorkspaceCommand::SetRateLimits { rate_limits } => {
                self.set_rate_limits(id, rate_limits)?
            }
            WorkspaceCommand::SetJwtValidation { jwt_validation } => {
                self.set_jwt_validation(id, jwt_validation)?
            }
            WorkspaceCommand::SetIdentityProvider { identity_provider } => {
                self.set_identity_provider(id, identity_provider)?
            }
        };
        Ok(Decision {
            events,
            audience: vec![(*id).into()],
        })
    }
}

/// Longest accepted name, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// Validates a display name (shared by every entity that has one).
pub fn validate_name(field: &str, name: &str) -> Result<(), DomainError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl Workspace {
    fn create(&self, id: &WorkspaceId, name: String) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_some() {
            return Err(DomainError::AlreadyExists {
                kind: "workspace",
                id: id.to_string(),
            });
        }
        validate_name("name", &name)?;
        Ok(vec![WorkspaceEvent::Created { name }])
    }

    /// Renaming to the same name changes nothing.
    fn rename(&self, id: &WorkspaceId, name: String) -> Result<Vec<WorkspaceEvent>, DomainError> {
        let current = self
            .name
            .as_deref()
            .ok_or_else(|| DomainError::not_found("workspace", id))?;
        validate_name("name", &name)?;
        if current == name {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::Renamed { name }])
    }

    /// Setting the same policy changes nothing. Overrides belong to a server's policy.
    fn set_tools(
        &self,
        id: &WorkspaceId,
        tools: ToolFilter,
    ) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_none() {
            return Err(DomainError::not_found("workspace", id));
        }
        if !tools.overrides.is_empty() {
            return Err(DomainError::invalid(
                "tools.overrides",
                "names and descriptions belong to a server's tool policy; a workspace's limits what its keys reach (allow, deny, read_only)",
            ));
        }
        super::server::validate_tools(&tools)?;
        if tools == self.tools {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::ToolsChanged { tools }])
    }

    /// Setting the same rules changes nothing.
    fn set_jwt_validation(
        &self,
        id: &WorkspaceId,
        jwt_validation: Option<JwtValidation<SealedSecret>>,
    ) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_none() {
            return Err(DomainError::not_found("workspace", id));
        }
        let jwt_validation = jwt_validation
            .map(|rules| keep_introspection_secret(rules, self.jwt_validation.as_ref()))
            .transpose()?;
        if jwt_validation == self.jwt_validation {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::JwtValidationChanged {
            jwt_validation,
        }])
    }

    /// Setting the same provider changes nothing. Without a client secret, the stored one is
    /// kept if the issuer and client id are the same, and dropped otherwise (a secret belongs
    /// to one client at one provider).
    fn set_identity_provider(
        &self,
        id: &WorkspaceId,
        identity_provider: Option<IdentityProvider<SealedSecret>>,
    ) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_none() {
            return Err(DomainError::not_found("workspace", id));
        }
        let mut identity_provider = identity_provider;
        if let Some(provider) = &mut identity_provider {
            provider
                .validate()
                .map_err(|e| DomainError::invalid(e.field, e.message))?;
            if provider.client_secret.is_none() {
                provider.client_secret = self
                    .identity_provider
                    .as_ref()
                    .filter(|current| current.same_client(provider))
                    .and_then(|current| current.client_secret.clone());
            }
        }
        if identity_provider == self.identity_provider {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::IdentityProviderChanged {
            identity_provider,
        }])
    }

    /// Setting the same limits changes nothing.
    fn set_rate_limits(
        &self,
        id: &WorkspaceId,
        rate_limits: Vec<RateLimit>,
    ) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_none() {
            return Err(DomainError::not_found("workspace", id));
        }
        super::server::validate_rate_limits(&rate_limits)?;
        if rate_limits == self.rate_limits {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::RateLimitsChanged { rate_limits }])
    }

    /// Merges `changes` into the grants; a merge that changes nothing records nothing.
    fn set_grants(
        &self,
        id: &WorkspaceId,
        changes: BTreeMap<String, Option<Grants>>,
    ) -> Result<Vec<WorkspaceEvent>, DomainError> {
        if self.name.is_none() {
            return Err(DomainError::not_found("workspace", id));
        }
        let mut grants = self.grants.clone();
        for (subject, change) in changes {
            match change {
                Some(granted) => {
                    validate_grants(&subject, &granted)?;
                    grants.insert(subject, granted);
                }
                None => {
                    grants.remove(&subject);
                }
            }
        }
        if grants.len() > MAX_GRANTS {
            return Err(DomainError::invalid(
                "grants",
                format!("a workspace may hold at most {MAX_GRANTS} grants"),
            ));
        }
        if grants == self.grants {
            return Ok(vec![]);
        }
        Ok(vec![WorkspaceEvent::GrantsChanged { grants }])
    }
}

/// `rules` validated, its introspection client secret taken from `current` when it gives
/// none and is the same client at the same endpoint (a secret belongs to one client at one
/// endpoint); introspection without any secret is refused.
pub(crate) fn keep_introspection_secret(
    mut rules: JwtValidation<SealedSecret>,
    current: Option<&JwtValidation<SealedSecret>>,
) -> Result<JwtValidation<SealedSecret>, DomainError> {
    validate_jwt_validation(&rules)?;
    if let Some(introspection) = &mut rules.introspection
        && introspection.client_secret.is_none()
    {
        introspection.client_secret = current
            .and_then(|c| c.introspection.as_ref())
            .filter(|c| c.same_client(introspection))
            .and_then(|c| c.client_secret.clone());
        if introspection.client_secret.is_none() {
            return Err(DomainError::invalid(
                "jwt_validation.introspection.client_secret",
                "is required: the gateway authenticates to the introspection endpoint with its client id and secret (client_secret_basic)",
            ));
        }
    }
    Ok(rules)
}

/// An issuer and a key source (at most one of `jwks_uri` and `jwks`, or an introspection
/// endpoint), known algorithms and never `none`, a user claim, a clock tolerance of at most
/// 10 minutes, and permissions that exist.
pub(crate) fn validate_jwt_validation<S>(rules: &JwtValidation<S>) -> Result<(), DomainError> {
    if rules.issuer.trim().is_empty() {
        return Err(DomainError::invalid(
            "jwt_validation.issuer",
            "must name the `iss` tokens carry",
        ));
    }
    match (&rules.jwks_uri, &rules.jwks) {
        (Some(uri), None) => super::server::validate_url("jwt_validation.jwks_uri", uri)?,
        (None, Some(jwks)) => {
            if !jwks.get("keys").is_some_and(serde_json::Value::is_array) {
                return Err(DomainError::invalid(
                    "jwt_validation.jwks",
                    "must be a JWKS: {\"keys\": [...]}",
                ));
            }
        }
        (None, None) if rules.introspection.is_some() => {}
        _ => {
            return Err(DomainError::invalid(
                "jwt_validation",
                "give the issuer's keys as `jwks_uri` or as inline `jwks` (one of the two), or an `introspection` endpoint",
            ));
        }
    }
    if let Some(introspection) = &rules.introspection {
        super::server::validate_url(
            "jwt_validation.introspection.endpoint",
            &introspection.endpoint,
        )?;
        let len = introspection.client_id.chars().count();
        if len == 0 || len > 256 || introspection.client_id.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "jwt_validation.introspection.client_id",
                "must be 1 to 256 characters, no control characters",
            ));
        }
    }
    if let Some((field, message)) = rules.unknown_permission() {
        return Err(DomainError::invalid(field, message));
    }
    if rules.algorithms.is_empty() {
        return Err(DomainError::invalid(
            "jwt_validation.algorithms",
            "must list at least one algorithm",
        ));
    }
    for (i, alg) in rules.algorithms.iter().enumerate() {
        if !JWT_ALGORITHMS.contains(&alg.as_str()) {
            return Err(DomainError::invalid(
                format!("jwt_validation.algorithms[{i}]"),
                format!(
                    "`{alg}` is not accepted: use {} (unsigned tokens, `none`, never are)",
                    JWT_ALGORITHMS.join(", ")
                ),
            ));
        }
    }
    if rules.user_claim.trim().is_empty() {
        return Err(DomainError::invalid(
            "jwt_validation.user_claim",
            "must name the claim that names the user",
        ));
    }
    if rules.clock_tolerance_seconds > 600 {
        return Err(DomainError::invalid(
            "jwt_validation.clock_tolerance_seconds",
            "must be at most 600",
        ));
    }
    Ok(())
}

/// Most grants one workspace holds.
pub const MAX_GRANTS: usize = 10_000;

/// A grant names a key (by id) or a user, lists valid slugs, and limits tools without
/// overrides.
fn validate_grants(subject: &str, grants: &Grants) -> Result<(), DomainError> {
    let field = |part: &str| format!("grants.{subject}{part}");
    let valid_subject = match GrantSubject::parse(subject) {
        Some(GrantSubject::Key(id)) => id.parse::<ApiKeyId>().is_ok(),
        Some(GrantSubject::User(id)) => {
            id.chars().count() <= MAX_NAME_LEN * 2 && !id.chars().any(char::is_control)
        }
        None => false,
    };
    if !valid_subject {
        return Err(DomainError::invalid(
            "grants",
            format!("`{subject}` is not `key:<api key id>` or `user:<user id>`"),
        ));
    }
    for (i, slug) in grants.servers.iter().flatten().enumerate() {
        Slug::parse(slug)
            .map_err(|e| DomainError::invalid(field(&format!(".servers[{i}]")), e.to_string()))?;
    }
    if !grants.tools.overrides.is_empty() {
        return Err(DomainError::invalid(
            field(".tools.overrides"),
            "names and descriptions belong to a server's tool policy; grants limit what a key or user reaches (allow, deny, read_only)",
        ));
    }
    super::server::validate_tools(&grants.tools).map_err(|e| match e {
        DomainError::Invalid {
            field: inner,
            message,
        } => DomainError::Invalid {
            field: field(&format!(".{inner}")),
            message,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests;
