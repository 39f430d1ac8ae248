//! Signing a user in to a per-user OAuth upstream: the authorization code grant with PKCE
//! (S256) and `state`, through the `oauth2` crate. A user who must sign in gets a link to
//! `{public base}/oauth/upstream-sign-in?ticket=…`; the ticket is sealed with
//! `MCPGW_TOKEN_KEY`, bound to the user and the server, expires after ten minutes, and is
//! good once: it pins the connection version it was issued at, and signing in moves that
//! version on. Opening it runs discovery and registration, then sends the browser to the
//! authorization server with a sealed `state` that carries the PKCE verifier; the
//! authorization server sends it back to `{public base}/oauth/upstream-callback`, which any
//! pod can answer: the code is exchanged and the tokens go to the vault.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use http::{StatusCode, header};
use mcpgw_shared::ServerId;
use mcpgw_shared::model::UpstreamAuth;
use mcpgw_shared::secret::Keyring;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use super::discovery::{self, AuthorizationServer, DiscoveryError};
use super::http::{CallError, for_oauth2};
use super::registration::{
    self, METADATA_DOCUMENT_PATH, MetadataDocument, OAuthClient, RegistrationError,
};
use super::resource::{self, ResourceError};
use super::user_tokens::{UserTokens, refusal, token_client, token_set};
use super::vault::UserTokenSet;
use crate::egress::EgressPolicy;
use crate::pages::{no_store, page};
use crate::sealed::TextSealer;
use crate::snapshot::{ConfigStore, Route};
use crate::sync::SyncError;

/// How long a sign-in link, and then the trip through the authorization server, may take.
const LINK_LIFETIME: Duration = Duration::from_secs(600);
/// Where the authorization server sends the browser back, under the public base URL.
pub const CALLBACK_PATH: &str = "/oauth/upstream-callback";
/// Where sign-in links point, under the public base URL.
pub const SIGN_IN_PATH: &str = "/oauth/upstream-sign-in";
/// Parameters the gateway sets itself: `authorization_params` cannot override them.
const RESERVED: [&str; 9] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "nonce",
];

/// A sign-in link for one user and server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLink {
    /// The URL to open in a browser.
    pub url: String,
    /// Its id (the elicitation id of a URL elicitation).
    pub id: String,
}

/// What a sign-in ticket binds.
#[derive(Serialize, Deserialize)]
struct Ticket {
    /// The server.
    s: ServerId,
    /// The user.
    u: String,
    /// The connection version it was issued at: signing in moves it on, so it works once.
    v: i64,
    /// Expiry, Unix seconds.
    exp: i64,
    /// Its id.
    n: String,
    /// The scope to ask for instead of the server's (a step-up: the union of what was granted
    /// and what the upstream asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sc: Option<String>,
    /// Where the browser goes once signed in (a page of the gateway's own authorization server
    /// that goes on with a client's sign-in), instead of the "signed in" page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    th: Option<String>,
}

/// The gateway's own `requestState` of an `InputRequiredResult` (2026-07-28): sealed, bound
/// to the caller and the server, short-lived.
#[derive(Serialize, Deserialize)]
struct RequestState {
    s: ServerId,
    u: String,
    exp: i64,
}

/// Marks the gateway's own `requestState` (an upstream's is passed through untouched).
const REQUEST_STATE_PREFIX: &str = "mcpgw-sign-in.";

/// What comes back through the authorization server in `state`, sealed.
#[derive(Serialize, Deserialize)]
struct FlowState {
    ticket: Ticket,
    verifier: String,
    issuer: String,
    iss_required: bool,
    token_endpoint: String,
    client_id: String,
    client_secret: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
}

/// How the gateway signs users in to one server: found by discovery, registration and the
/// server's configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The authorization server.
    pub server: AuthorizationServer,
    /// Its authorization endpoint.
    pub authorization_endpoint: String,
    /// Its token endpoint.
    pub token_endpoint: String,
    /// The gateway's client there.
    pub client: OAuthClient,
    /// The RFC 8707 resource requested (`None`: left out, `omit_resource`).
    pub resource: Option<String>,
    /// The scope requested.
    pub scope: Option<String>,
    /// Extra authorization parameters (`authorization_params`).
    pub extra: BTreeMap<String, String>,
}

/// Signing in to a server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The server does not sign users in.
    #[error("server `{0}` does not use per-user OAuth")]
    NotOAuth(String),
    /// The protected resource metadata is missing or names another resource.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// Nothing names the authorization server.
    #[error(
        "the upstream names no authorization server (no protected resource metadata): set `auth.oauth_metadata.issuer`"
    )]
    NoIssuer,
    /// The authorization server's metadata could not be had.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The authorization server does not support PKCE with S256.
    #[error(
        "Incompatible auth server: {0} does not list S256 in code_challenge_methods_supported, and the MCP specification requires PKCE with S256"
    )]
    NoS256(String),
    /// An endpoint is neither discovered nor configured.
    #[error("the authorization server {issuer} names no {what}: set `auth.oauth_metadata.{what}`")]
    MissingEndpoint {
        /// The authorization server.
        issuer: String,
        /// `authorization_endpoint` or `token_endpoint`.
        what: &'static str,
    },
    /// No client could be had.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
}

/// Scopes configured for a per-user OAuth server that its authorization server does not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedScopes {
    /// The authorization server.
    pub issuer: String,
    /// The configured scopes it does not list.
    pub unsupported: Vec<String>,
    /// The scopes it lists.
    pub supported: Vec<String>,
}

/// Checks the scopes configured in `oauth_metadata` against the `scopes_supported` of the
/// authorization server (the configured issuer, or the one the upstream's protected resource
/// metadata names), so that `invalid_scope` is found when the server is registered rather than
/// at a user's first sign-in. `None` when every scope is listed, or when nothing can be
/// learned (the upstream or its authorization server is unreachable, or lists no scopes).
pub async fn unsupported_scopes<S>(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    upstream: &Url,
    oauth_metadata: &mcpgw_shared::model::OAuthMetadata<S>,
) -> Option<UnsupportedScopes> {
    let configured = oauth_metadata.scope.as_deref()?;
    let issuer = match &oauth_metadata.issuer {
        Some(issuer) => issuer.clone(),
        None => {
            let challenge = resource::challenge(client, egress, upstream).await;
            resource::discover(
                client,
                egress,
                upstream,
                challenge.resource_metadata.as_deref(),
            )
            .await
            .ok()?
            .authorization_servers
            .into_iter()
            .next()?
        }
    };
    let supported = discovery::discover(client, egress, &issuer)
        .await
        .ok()?
        .scopes_supported?;
    let unsupported: Vec<String> = configured
        .split_whitespace()
        .filter(|scope| !supported.iter().any(|s| s == scope))
        .map(str::to_owned)
        .collect();
    (!unsupported.is_empty()).then_some(UnsupportedScopes {
        issuer,
        unsupported,
        supported,
    })
}

/// Signs users in to per-user OAuth upstreams.
#[derive(Clone)]
pub struct SignIn {
    inner: Arc<Inner>,
}

struct Inner {
    sealer: TextSealer,
    base: Url,
    client: reqwest::Client,
    egress: Arc<EgressPolicy>,
    store: ConfigStore,
    tokens: UserTokens,
    /// Clients registered dynamically, per authorization server (the same for every user).
    registered: moka::future::Cache<String, OAuthClient>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// Sign-ins whose links and callback live under `base`, sealed with `key`.
    pub fn new(
        key: Keyring,
        base: Url,
        client: reqwest::Client,
        egress: Arc<EgressPolicy>,
        store: ConfigStore,
        tokens: UserTokens,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                sealer: TextSealer::new(key),
                base,
                client,
                egress,
                store,
                tokens,
                registered: moka::future::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(24 * 3600))
                    .build(),
            }),
        }
    }

    /// The gateway's Client ID Metadata Document, when its public base URL is https.
    pub fn metadata_document(&self) -> Option<MetadataDocument> {
        MetadataDocument::for_base(&self.inner.base)
    }

    /// The redirect URI to register with authorization servers.
    pub fn callback(&self) -> String {
        self.at(CALLBACK_PATH)
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base.as_str().trim_end_matches('/'))
    }

    /// A link that signs `user` in to `route`'s upstream.
    pub async fn link(&self, route: &Route, user: &str) -> SignInLink {
        self.link_for_scope(route, user, None).await
    }

    /// A link that signs `user` in asking for `scope` instead of the server's (a step-up).
    pub async fn link_for_scope(
        &self,
        route: &Route,
        user: &str,
        scope: Option<String>,
    ) -> SignInLink {
        self.ticket_link(route, user, scope, None).await
    }

    /// A link that signs `user` in, then sends the browser on to `then` (a URL of this gateway).
    pub async fn link_then(&self, route: &Route, user: &str, then: String) -> SignInLink {
        self.ticket_link(route, user, None, Some(then)).await
    }

    /// Whether `user` holds tokens for `route`'s upstream (as far as this pod knows).
    pub async fn connected(&self, route: &Route, user: &str) -> bool {
        self.inner.tokens.version(route, user).await > 0
    }

    async fn ticket_link(
        &self,
        route: &Route,
        user: &str,
        scope: Option<String>,
        then: Option<String>,
    ) -> SignInLink {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let ticket = Ticket {
            s: route.id(),
            u: user.to_owned(),
            v: self.inner.tokens.version(route, user).await,
            exp: Utc::now().timestamp() + LINK_LIFETIME.as_secs() as i64,
            n: id.clone(),
            sc: scope,
            th: then,
        };
        let sealed = self.seal(&ticket, "sign-in ticket");
        SignInLink {
            url: format!("{}?ticket={sealed}", self.at(SIGN_IN_PATH)),
            id,
        }
    }

    /// The gateway's `requestState` for an `InputRequiredResult` asking `user` to sign in to
    /// `route`'s upstream.
    pub fn request_state(&self, route: &Route, user: &str) -> String {
        let state = RequestState {
            s: route.id(),
            u: user.to_owned(),
            exp: Utc::now().timestamp() + LINK_LIFETIME.as_secs() as i64,
        };
        format!(
            "{REQUEST_STATE_PREFIX}{}",
            self.seal(&state, "request state")
        )
    }

    /// Whether `text` is a `requestState` of the gateway's own (then it is not the upstream's
    /// to see), and if so whether it is this caller's, for this server, and current.
    pub fn own_request_state(&self, text: &str, route: &Route, user: &str) -> Option<bool> {
        let sealed = text.strip_prefix(REQUEST_STATE_PREFIX)?;
        Some(
            self.open::<RequestState>(sealed, "request state")
                .is_some_and(|state| {
                    state.s == route.id() && state.u == user && state.exp >= Utc::now().timestamp()
                }),
        )
    }

    fn seal<T: Serialize>(&self, value: &T, context: &str) -> String {
        self.inner.sealer.seal(value, context)
    }

    fn open<T: DeserializeOwned>(&self, text: &str, context: &str) -> Option<T> {
        self.inner.sealer.open(text, context)
    }

    /// Discovery and registration for `route`, step by step as the specification orders them.
    pub async fn plan(&self, route: &Route) -> Result<Plan, PlanError> {
        let UpstreamAuth::Oauth2 { oauth_metadata } = &route.server.auth else {
            return Err(PlanError::NotOAuth(route.slug().to_string()));
        };
        let configured = oauth_metadata.as_ref();
        let (client, egress) = (&self.inner.client, &*self.inner.egress);
        let challenge = resource::challenge(client, egress, &route.upstream).await;
        let protected = match resource::discover(
            client,
            egress,
            &route.upstream,
            challenge.resource_metadata.as_deref(),
        )
        .await
        {
            Ok(document) => {
                resource::check_resource(&document, &route.upstream)?;
                Some(document)
            }
            Err(ResourceError::NotFound { .. })
                if configured.is_some_and(|m| m.issuer.is_some()) =>
            {
                None
            }
            Err(e) => return Err(e.into()),
        };
        let issuer = configured
            .and_then(|m| m.issuer.clone())
            .or_else(|| {
                protected
                    .as_ref()
                    .and_then(|p| p.authorization_servers.first().cloned())
            })
            .ok_or(PlanError::NoIssuer)?;
        let server = discovery::discover(client, egress, &issuer).await?;
        if !server.supports_s256() {
            return Err(PlanError::NoS256(issuer));
        }
        let endpoint = |configured: Option<&String>, discovered: &Option<String>, what| {
            configured
                .or(discovered.as_ref())
                .cloned()
                .ok_or_else(|| PlanError::MissingEndpoint {
                    issuer: issuer.clone(),
                    what,
                })
        };
        let authorization_endpoint = endpoint(
            configured.and_then(|m| m.authorization_endpoint.as_ref()),
            &server.authorization_endpoint,
            "authorization_endpoint",
        )?;
        let token_endpoint = endpoint(
            configured.and_then(|m| m.token_endpoint.as_ref()),
            &server.token_endpoint,
            "token_endpoint",
        )?;
        let scope = configured
            .and_then(|m| m.scope.clone())
            .or(challenge.scope)
            .or_else(|| {
                protected
                    .as_ref()
                    .and_then(|p| p.scopes_supported.as_ref())
                    .map(|s| s.join(" "))
            });
        let resource = (!configured.is_some_and(|m| m.omit_resource)).then(|| {
            protected
                .as_ref()
                .map_or_else(|| route.server.url.clone(), |p| p.resource.clone())
        });
        let oauth_client = match registration::pre_registered(
            configured.and_then(|m| m.client_id.as_deref()),
            configured
                .and_then(|m| m.client_secret.as_ref())
                .map(|s| s.expose().as_str()),
        ) {
            Some(pre_registered) => pre_registered,
            None => match self.metadata_document() {
                Some(document) if server.client_id_metadata_document_supported => document.client(),
                _ => self.registered_client(route, &server).await?,
            },
        };
        Ok(Plan {
            authorization_endpoint,
            token_endpoint,
            client: oauth_client,
            resource,
            scope,
            extra: configured
                .map(|m| m.authorization_params.clone())
                .unwrap_or_default(),
            server,
        })
    }

    /// The client registered dynamically at `server`, once per authorization server.
    async fn registered_client(
        &self,
        route: &Route,
        server: &AuthorizationServer,
    ) -> Result<OAuthClient, RegistrationError> {
        let callback = self.callback();
        let name = match &route.server.auth {
            UpstreamAuth::Oauth2 {
                oauth_metadata: Some(m),
            } => m.client_name.clone(),
            _ => None,
        }
        .unwrap_or_else(|| "MCP Gateway".to_owned());
        self.inner
            .registered
            .try_get_with(server.issuer.clone(), async {
                registration::register(
                    &self.inner.client,
                    &self.inner.egress,
                    server,
                    &callback,
                    &name,
                )
                .await
            })
            .await
            .map_err(|e| match Arc::try_unwrap(e) {
                Ok(e) => e,
                Err(shared) => RegistrationError::Failed(shared.to_string()),
            })
    }

    /// `GET /oauth/upstream-sign-in?ticket=…`: to the authorization server, or a page saying
    /// why not.
    async fn start(&self, ticket: &str) -> Response {
        let Some(ticket) = self.open::<Ticket>(ticket, "sign-in ticket") else {
            return page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is not valid",
                "It was altered or cut short. Call the tool again in your MCP client for a new link.",
            );
        };
        if ticket.exp < Utc::now().timestamp() {
            return page(
                StatusCode::GONE,
                "This sign-in link has expired",
                "Links last ten minutes. Call the tool again in your MCP client for a new link.",
            );
        }
        let config = self.inner.store.load();
        let Some(route) = config.route(&ticket.s).cloned() else {
            return page(
                StatusCode::NOT_FOUND,
                "This server no longer exists",
                "An administrator removed it from the gateway.",
            );
        };
        if self.inner.tokens.version(&route, &ticket.u).await != ticket.v {
            return page(
                StatusCode::GONE,
                "This sign-in link was already used",
                "You are signed in. If a call still fails, call the tool again for a new link.",
            );
        }
        let plan = match self.plan(&route).await {
            Ok(plan) => Plan {
                scope: ticket.sc.clone().or(plan.scope),
                ..plan
            },
            Err(error) => {
                tracing::warn!(server = %route.slug(), %error, "cannot start a sign-in");
                return page(
                    StatusCode::BAD_GATEWAY,
                    &format!("Cannot sign in to {}", route.server.name),
                    &format!(
                        "{error}. An administrator can run POST /v1/servers/{}/test-auth to see each step.",
                        route.id()
                    ),
                );
            }
        };
        match self.authorize_url(&route, ticket, plan) {
            Ok(url) => {
                let mut response = Redirect::to(url.as_str()).into_response();
                no_store(&mut response);
                response
            }
            Err(reason) => page(
                StatusCode::BAD_GATEWAY,
                &format!("Cannot sign in to {}", route.server.name),
                &reason,
            ),
        }
    }

    fn authorize_url(&self, route: &Route, ticket: Ticket, plan: Plan) -> Result<Url, String> {
        let auth_url = AuthUrl::new(plan.authorization_endpoint.clone())
            .map_err(|e| format!("the authorization endpoint is not a URL: {e}"))?;
        let redirect = RedirectUrl::new(self.callback())
            .map_err(|e| format!("the callback is not a URL: {e}"))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = FlowState {
            ticket,
            verifier: verifier.secret().clone(),
            issuer: plan.server.issuer.clone(),
            iss_required: plan.server.authorization_response_iss_parameter_supported,
            token_endpoint: plan.token_endpoint.clone(),
            client_id: plan.client.client_id.clone(),
            client_secret: plan.client.client_secret.clone(),
            resource: plan.resource.clone(),
            scope: plan.scope.clone(),
        };
        let state = self.seal(&state, "sign-in state");
        let client = BasicClient::new(ClientId::new(plan.client.client_id.clone()))
            .set_auth_uri(auth_url)
            .set_redirect_uri(redirect);
        let mut request = client
            .authorize_url(|| CsrfToken::new(state))
            .set_pkce_challenge(challenge);
        for scope in plan.scope.iter().flat_map(|s| s.split_whitespace()) {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        if let Some(resource) = &plan.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        for (name, value) in &plan.extra {
            if RESERVED.contains(&name.as_str()) {
                tracing::warn!(server = %route.slug(), param = %name, "authorization_params may not set a parameter the gateway sets; ignored");
                continue;
            }
            request = request.add_extra_param(name.clone(), value.clone());
        }
        Ok(request.url().0)
    }

    /// `GET /oauth/upstream-callback`: exchanges the code and stores the tokens.
    async fn finish(&self, answer: CallbackQuery) -> Response {
        let Some(state) = answer
            .state
            .as_deref()
            .and_then(|s| self.open::<FlowState>(s, "sign-in state"))
        else {
            return page(
                StatusCode::BAD_REQUEST,
                "This sign-in cannot be finished",
                "The answer of the authorization server carries no valid state. Start again from your MCP client.",
            );
        };
        if state.ticket.exp < Utc::now().timestamp() {
            return page(
                StatusCode::GONE,
                "This sign-in took too long",
                "Start again from your MCP client.",
            );
        }
        match answer.iss.as_deref() {
            Some(iss) if !discovery::same_issuer(iss, &state.issuer) => {
                tracing::warn!(expected = %state.issuer, got = %iss, "a sign-in answer came from another issuer (RFC 9207); refused");
                return page(
                    StatusCode::BAD_REQUEST,
                    "This sign-in was answered by another authorization server",
                    "The answer is refused (RFC 9207 mix-up protection). Start again from your MCP client.",
                );
            }
            None if state.iss_required => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "This sign-in answer lacks its issuer",
                    "The authorization server promises `iss` in its answers, and this one has none. Start again from your MCP client.",
                );
            }
            _ => {}
        }
        if let Some(error) = &answer.error {
            return page(
                StatusCode::BAD_REQUEST,
                "The authorization server refused the sign-in",
                &refused_sign_in(error, answer.error_description.as_deref()),
            );
        }
        let Some(code) = answer.code else {
            return page(
                StatusCode::BAD_REQUEST,
                "This sign-in answer carries no code",
                "Start again from your MCP client.",
            );
        };
        let config = self.inner.store.load();
        let Some(route) = config.route(&state.ticket.s).cloned() else {
            return page(
                StatusCode::NOT_FOUND,
                "This server no longer exists",
                "An administrator removed it from the gateway.",
            );
        };
        let tokens = match self.exchange(&state, code).await {
            Ok(tokens) => tokens,
            Err(reason) => {
                tracing::warn!(server = %route.slug(), %reason, "a sign-in's code exchange failed");
                return page(
                    StatusCode::BAD_GATEWAY,
                    &format!("Cannot finish signing in to {}", route.server.name),
                    &reason,
                );
            }
        };
        let Some(vault) = self.inner.tokens.vault() else {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "This gateway cannot keep tokens",
                "The operator must set MCPGW_TOKEN_KEY on every data plane.",
            );
        };
        match vault
            .write(
                &state.ticket.s,
                &state.ticket.u,
                state.ticket.v,
                Some(&tokens),
            )
            .await
        {
            Ok(written) => {
                if let Some(record) = written.record {
                    self.inner.tokens.wrote(written.seq, record).await;
                }
                tracing::info!(server = %route.slug(), "a user signed in to an upstream");
                if let Some(then) = &state.ticket.th {
                    return Redirect::to(then).into_response();
                }
                page(
                    StatusCode::OK,
                    &format!("Signed in to {}", route.server.name),
                    "You can close this window and return to your MCP client: its next call works.",
                )
            }
            Err(SyncError::Conflict(_)) => page(
                StatusCode::CONFLICT,
                "This sign-in link was already used",
                "You are signed in. If a call still fails, call the tool again for a new link.",
            ),
            Err(error) => {
                tracing::warn!(server = %route.slug(), %error, "cannot store a user's tokens");
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Signed in, but the gateway could not keep the tokens",
                    "The control plane is unreachable. Try again in a minute.",
                )
            }
        }
    }

    async fn exchange(&self, state: &FlowState, code: String) -> Result<UserTokenSet, String> {
        let oauth = token_client(
            &state.client_id,
            state.client_secret.as_deref(),
            &state.token_endpoint,
        )?
        .set_redirect_uri(
            RedirectUrl::new(self.callback())
                .map_err(|e| format!("the callback is not a URL: {e}"))?,
        );
        let mut request = oauth
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(state.verifier.clone()));
        if let Some(resource) = &state.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        let http = for_oauth2(self.inner.client.clone(), self.inner.egress.clone());
        let answer = request.request_async(&http).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(answer) => {
                format!("the token endpoint refused the code: {}", refusal(&answer))
            }
            RequestTokenError::Request(CallError::Egress(denied)) => denied.to_string(),
            e => format!("the token endpoint failed: {e}"),
        })?;
        let before = UserTokenSet {
            access_token: String::new(),
            refresh_token: None,
            refresh_at: None,
            scope: None,
            requested_scope: state.scope.clone(),
            issuer: state.issuer.clone(),
            token_endpoint: state.token_endpoint.clone(),
            client_id: state.client_id.clone(),
            client_secret: state.client_secret.clone(),
            resource: state.resource.clone(),
            refresh_lease_until: None,
            elicitation_id: None,
            signed_out: None,
        };
        Ok(UserTokenSet {
            elicitation_id: Some(state.ticket.n.clone()),
            ..token_set(&answer, before)
        })
    }

    /// The sign-in routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route(SIGN_IN_PATH, axum::routing::get(start))
            .route(CALLBACK_PATH, axum::routing::get(callback))
            .route(
                METADATA_DOCUMENT_PATH,
                axum::routing::get(metadata_document),
            )
            .with_state(self.clone())
    }
}

#[derive(Deserialize)]
struct StartQuery {
    ticket: String,
}

/// What the authorization server sends back (RFC 6749 section 4.1.2, RFC 9207).
#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn start(
    State(sign_in): State<SignIn>,
    query: Result<Query<StartQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(query)) => sign_in.start(&query.ticket).await,
        Err(_) => page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            "It carries no ticket. Call the tool again in your MCP client for a new link.",
        ),
    }
}

/// `GET /oauth/client-metadata.json`: the gateway's Client ID Metadata Document (404 when the
/// public base URL is not https, where authorization servers may not use it).
async fn metadata_document(State(sign_in): State<SignIn>) -> Response {
    match sign_in.metadata_document() {
        Some(document) => (
            [(header::CACHE_CONTROL, "max-age=3600")],
            axum::Json(document),
        )
            .into_response(),
        None => page(
            StatusCode::NOT_FOUND,
            "No client metadata document",
            "This gateway's public base URL (MCPGW_PUBLIC_BASE_URL) is not https, so it registers with authorization servers instead.",
        ),
    }
}

async fn callback(
    State(sign_in): State<SignIn>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(query)) => sign_in.finish(query).await,
        Err(_) => page(
            StatusCode::BAD_REQUEST,
            "This sign-in cannot be finished",
            "The answer of the authorization server is malformed. Start again from your MCP client.",
        ),
    }
}

/// What a refused sign-in means, and what to do.
fn refused_sign_in(error: &str, description: Option<&str>) -> String {
    let said = match description {
        Some(description) => format!("{error} ({description})"),
        None => error.to_owned(),
    };
    let fix = match error {
        "invalid_scope" => {
            "The scope the gateway asked for is unknown to the authorization server: an administrator should set `auth.oauth_metadata.scope` to scopes it lists in scopes_supported."
        }
        "access_denied" => {
            "You (or your organisation's policy) declined. Start again from your MCP client to retry; if you chose the wrong account or organisation, choose the right one this time."
        }
        "unauthorized_client" | "invalid_client" => {
            "The authorization server does not accept the gateway's client: an administrator should check `auth.oauth_metadata.client_id` and that the client may use the authorization code grant."
        }
        "invalid_request" => {
            "If it names the redirect URI, the client registered at the authorization server must list the gateway's callback exactly (see the data plane's start-up log)."
        }
        _ => {
            "Start again from your MCP client; if it persists, an administrator can run the server's test-auth."
        }
    };
    format!("It said: {said}. {fix}")
}
