//! The server a request addresses, and whether the caller may use it now: the extractor every
//! relay handler takes. It runs the whole admission in order (host, configuration, credential,
//! server, access rule) on one version of the configuration.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Path};
use chrono::Utc;
use http::request::Parts;
use mcpgw_shared::request_id::RequestId;
use tracing::Instrument;

use super::credential::{Principal, identify, presented};
use super::external::{self, ExternalTokens};
use super::host::{HostChecked, HostPolicy};
use crate::access::{self, Denial};
use crate::errors::{Failure, GatewayError};
use crate::limits::ServerLimits;
use crate::observe::Observation;
use crate::snapshot::{ConfigStore, Owner, Route, ToolPolicy, Workspace};

/// A request that may proceed: who calls, the route of the server it addresses, and the tool
/// policy that applies (the server's, limited by the caller's workspace's).
#[derive(Debug, Clone)]
pub struct Routed {
    /// The caller.
    pub principal: Principal,
    /// The server.
    pub route: Arc<Route>,
    /// The tools the caller may see and call on it.
    pub tools: Arc<ToolPolicy>,
    /// The rate limits of the caller's workspace, when it has any.
    pub workspace_limits: Option<Arc<ServerLimits>>,
}

/// The caller may not use the server it addresses, or there is none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No server has this slug.
    #[error("no MCP server at `/{0}/mcp`")]
    Unknown(String),
    /// The access rule refuses.
    #[error("server `{slug}`: {denial}")]
    Denied {
        /// The server.
        slug: String,
        /// Why.
        denial: Denial,
    },
}

impl From<RouteError> for GatewayError {
    fn from(error: RouteError) -> Self {
        match error {
            RouteError::Unknown(slug) => Self::UnknownServer(slug),
            RouteError::Denied { slug, denial } => match denial {
                Denial::Revoked => Self::Revoked,
                Denial::Expired => Self::Expired,
                Denial::MissingPermission(permission) => Self::MissingPermission(permission),
                Denial::NotProvisioned => Self::NotProvisioned(slug),
                Denial::Disabled => Self::ServerDisabled(slug),
                Denial::UserRequired => Self::UserRequired(slug),
                Denial::NotGranted(owner) => Self::NotGranted { slug, owner },
            },
        }
    }
}

/// The server's tool policy, limited by the caller's workspace's and by the grants of their
/// key and user; the server's own when nothing limits it.
pub(crate) fn limited_tools(
    route: &Route,
    workspace: &Workspace,
    principal: &Principal,
) -> Arc<ToolPolicy> {
    let [by_key, by_user] =
        workspace.grants_of(&principal.key_id.to_string(), principal.key.user.as_deref());
    let limits = [
        (Owner::Workspace, Some(&workspace.tools)),
        (Owner::Key, by_key.map(|g| g.tools())),
        (Owner::User, by_user.map(|g| g.tools())),
    ];
    let mut tools: Option<ToolPolicy> = None;
    for (owner, limit) in limits {
        if let Some(limit) = limit.filter(|l| l.filters_anything()) {
            let base = tools.as_ref().unwrap_or(&route.tools);
            tools = Some(base.limited_by(owner, limit.clone()));
        }
    }
    tools.map_or_else(|| route.tools.clone(), Arc::new)
}

impl<S> FromRequestParts<S> for Routed
where
    Arc<HostPolicy>: FromRef<S>,
    ConfigStore: FromRef<S>,
    ExternalTokens: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        let span = tracing::info_span!(
            "auth",
            otel.name = "auth",
            error.type = tracing::field::Empty
        );
        let admitted = admit(parts, state).instrument(span.clone()).await;
        if let Err(failure) = &admitted {
            span.record("error.type", failure.error.reason());
        }
        admitted
    }
}

/// The whole admission, in the `auth` span: a child of the request's span in traces.
async fn admit<S>(parts: &mut Parts, state: &S) -> Result<Routed, Failure>
where
    Arc<HostPolicy>: FromRef<S>,
    ConfigStore: FromRef<S>,
    ExternalTokens: FromRef<S>,
    S: Send + Sync,
{
    {
        HostChecked::from_request_parts(parts, state).await?;
        let rid = RequestId::from_extensions(&parts.extensions);
        let fail = |error: GatewayError| error.into_failure(&rid, None);
        let config = ConfigStore::from_ref(state).load();
        if !config.is_ready() {
            return Err(fail(GatewayError::NotReady));
        }
        let now = Utc::now();
        let observation = Observation::of(&parts.extensions);
        let principal = match identify(&config, &parts.headers) {
            Ok(principal) => principal,
            Err(error) => {
                // Not a key the configuration holds: maybe a token of a workspace's identity
                // provider (a JWT, or an opaque token to introspect).
                let Path(slug) = Path::<String>::from_request_parts(parts, state)
                    .await
                    .map_err(|_| fail(GatewayError::UnknownServer(String::new())))?;
                let token = presented(&parts.headers)
                    .ok()
                    .filter(|token| external::may_be_external(&config, token, &slug))
                    .map(str::to_owned);
                let Some(token) = token else {
                    return Err(fail(error.into()));
                };
                let host = parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok());
                ExternalTokens::from_ref(state)
                    .authenticate(&config, &token, &slug, host)
                    .await
                    .map_err(fail)?
            }
        };
        observation.principal(&principal);
        principal
            .usable_at(now)
            .map_err(|e| fail(principal.refusal(e)))?;
        // Every request needs some MCP scope (a GET stream, a DELETE, any POST).
        if let Some(scope) = principal.scopes.and_then(|s| s.lacks("")) {
            return Err(fail(GatewayError::InsufficientScope(scope)));
        }
        let Path(slug) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| fail(GatewayError::UnknownServer(String::new())))?;
        let route = config
            .route_by_slug(&slug)
            .ok_or_else(|| RouteError::Unknown(slug.chars().take(64).collect()))
            .map_err(|e| fail(e.into()))?;
        observation.route(route);
        access::allows(&config, &principal.key_id, &principal.key, route, now)
            .map_err(|denial| RouteError::Denied {
                slug: route.slug().to_string(),
                denial,
            })
            .map_err(|e| fail(e.into()))?;
        let workspace = principal.key.workspace.and_then(|w| config.workspace(&w));
        let tools = match workspace {
            Some(workspace) => limited_tools(route, workspace, &principal),
            None => route.tools.clone(),
        };
        let workspace_limits = workspace
            .filter(|w| !w.limits.is_empty())
            .map(|w| w.limits.clone());
        Ok(Routed {
            principal,
            route: route.clone(),
            tools,
            workspace_limits,
        })
    }
}
