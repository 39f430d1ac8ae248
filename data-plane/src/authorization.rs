//! The gateway as the OAuth 2.1 authorization server of its MCP servers, so clients such as
//! Claude Desktop, Cursor and VS Code connect with no API key: each `/{slug}/mcp` is a
//! protected resource (RFC 9728) whose 401 names its metadata; the authorization server's
//! metadata (RFC 8414), authorization endpoint (PKCE S256, exact redirect URIs, `iss` in the
//! answer, RFC 9207), token, registration (RFC 7591), revocation (RFC 7009) and introspection
//! (RFC 7662) endpoints and its JWKS are served by every data plane.
//!
//! A user signs in on the gateway's own page with a user API key of their workspace and
//! consents on a second page; when the server's upstream needs the user's own sign-in, the same
//! browser goes on into it before returning to the client. What must outlive a pod — registered
//! clients, grants, refresh tokens (rotated, a reused one revoking its family) and the signing
//! keys — is kept by the control plane as events; it also signs the short-lived access tokens
//! (JWTs bound to the server's URL), which every pod verifies locally against the keys it
//! fetched.

mod authorize;
mod challenge;
mod clients;
mod endpoints;
mod form;
mod identity_provider;
pub mod keys;
mod metadata;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use url::Url;

use crate::egress::EgressPolicy;
use crate::oauth::SignIn;
use crate::sealed::TextSealer;
use crate::snapshot::ConfigStore;
use crate::sync::SyncClient;
pub use challenge::annotate_challenges;
use clients::ClientDocuments;
pub use keys::GatewayTokens;

/// Where the authorization endpoint is.
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
/// Where the sign-in form posts.
pub const SIGN_IN_PATH: &str = "/oauth/sign-in";
/// Where the consent form posts.
pub const CONSENT_PATH: &str = "/oauth/consent";
/// Where workspaces' identity providers send the browser back to.
pub const IDP_CALLBACK_PATH: &str = "/oauth/idp-callback";
/// Where the browser comes back to after an upstream sign-in that a client's sign-in went on
/// into.
pub const CONTINUE_PATH: &str = "/oauth/consent/continue";
/// The token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The registration endpoint.
pub const REGISTER_PATH: &str = "/oauth/register";
/// The revocation endpoint.
pub const REVOKE_PATH: &str = "/oauth/revoke";
/// The introspection endpoint.
pub const INTROSPECT_PATH: &str = "/oauth/introspect";
/// The public signing keys.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The prefix of each server's protected-resource metadata (then `/{slug}/mcp`).
pub const RESOURCE_METADATA_PREFIX: &str = "/.well-known/oauth-protected-resource";

/// The authorization server of one data plane; cheap to clone.
#[derive(Clone)]
pub struct AuthorizationServer {
    inner: Arc<Inner>,
}

struct Inner {
    /// The control plane, which keeps clients, grants and keys and signs tokens.
    sync: SyncClient,
    /// The issuer identifier: the public base URL as given (RFC 8414 compares it as text).
    issuer: String,
    /// The issuer without a trailing slash, which every endpoint URL is under.
    root: String,
    store: ConfigStore,
    /// Seals the pages' state and the sign-in cookie (the fleet's session keyring).
    sealer: TextSealer,
    tokens: GatewayTokens,
    documents: ClientDocuments,
    /// Fetches identity providers' documents and keys, through `egress`.
    http: reqwest::Client,
    egress: Arc<EgressPolicy>,
    /// Whether workspaces' identity providers may sign users in (`MCPGW_EXTERNAL_AUTH`).
    external_auth: bool,
    /// The per-user upstream sign-in, which a client's sign-in goes on into for a server whose
    /// upstream needs the user's own token (set once, when users' tokens are kept).
    upstream_sign_in: std::sync::OnceLock<SignIn>,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// The authorization server at `public_base`, keeping its state through `sync`, sealing
    /// its pages' state with `sealer`, and fetching clients' metadata documents and identity
    /// providers' documents with `client` through `egress`; workspaces' identity providers sign
    /// users in only when `external_auth` (`MCPGW_EXTERNAL_AUTH`).
    pub fn new(
        sync: SyncClient,
        public_base: &Url,
        store: ConfigStore,
        sealer: TextSealer,
        client: reqwest::Client,
        egress: Arc<EgressPolicy>,
        external_auth: bool,
    ) -> Self {
        let issuer = public_base.as_str().to_owned();
        let root = issuer.trim_end_matches('/').to_owned();
        Self {
            inner: Arc::new(Inner {
                tokens: GatewayTokens::new(sync.clone(), issuer.clone()),
                sync,
                issuer,
                root,
                store,
                sealer,
                documents: ClientDocuments::new(client.clone(), egress.clone()),
                http: client,
                egress,
                external_auth,
                upstream_sign_in: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Lets a client's sign-in go on into `sign_in` when the server's upstream needs the
    /// user's own token, so one browser flow connects everything.
    pub fn chain_upstream_sign_in(&self, sign_in: SignIn) {
        let _ = self.inner.upstream_sign_in.set(sign_in);
    }

    /// The issuer identifier (`iss` of its tokens and of its authorization answers).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The verifier of its access tokens (admission uses it).
    pub fn tokens(&self) -> &GatewayTokens {
        &self.inner.tokens
    }

    /// The absolute URL of `path` on this gateway.
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.inner.root)
    }

    /// The canonical URL of the server at `slug`: its tokens' audience.
    fn resource_of(&self, slug: &str) -> String {
        self.at(&format!("/{slug}/mcp"))
    }

    /// The URL of the protected-resource metadata of the server at `slug`.
    pub fn resource_metadata_of(&self, slug: &str) -> String {
        self.at(&format!("{RESOURCE_METADATA_PREFIX}/{slug}/mcp"))
    }

    /// Its routes: metadata documents, the pages, and the OAuth endpoints.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(metadata::authorization_server),
            )
            .route(
                "/.well-known/openid-configuration",
                get(metadata::authorization_server),
            )
            .route(
                &format!("{RESOURCE_METADATA_PREFIX}/{{slug}}/mcp"),
                get(metadata::protected_resource),
            )
            .route(JWKS_PATH, get(metadata::jwks))
            .route(AUTHORIZE_PATH, get(authorize::start))
            .route(SIGN_IN_PATH, post(authorize::sign_in))
            .route(CONSENT_PATH, post(authorize::consent))
            .route(CONTINUE_PATH, get(authorize::resume))
            .route(IDP_CALLBACK_PATH, get(identity_provider::callback))
            .route(TOKEN_PATH, post(endpoints::token))
            .route(REGISTER_PATH, post(endpoints::register))
            .route(REVOKE_PATH, post(endpoints::revoke))
            .route(INTROSPECT_PATH, post(endpoints::introspect))
            .with_state(self.clone())
    }
}
