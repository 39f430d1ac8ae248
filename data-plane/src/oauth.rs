//! The gateway as an OAuth client of upstream authorization servers: the client credentials
//! grant (its own token per server, cached until shortly before it expires), per-user sign-in
//! (authorization code with PKCE, discovery from the upstream's 401, registration) with its
//! token vault and refreshes, and the bounded HTTP calls behind them. Every URL it fetches
//! passes the egress policy.

mod assertion;
mod client_credentials;
mod discovery;
pub(crate) mod http;
mod registration;
mod resource;
mod sign_in;
mod user_tokens;
mod vault;

pub use assertion::{AssertionKey, InvalidKey};
pub use client_credentials::{ClientCredentialsTokens, TokenError};
pub use discovery::{AuthorizationServer, DiscoveryError, discover, locations, same_issuer};
pub use registration::{ClientSource, OAuthClient, RegistrationError};
pub use resource::{
    Challenge, ProtectedResource, ResourceError, challenge, check_resource,
    discover as discover_resource, parse_bearer_challenge,
};
pub use sign_in::{
    CALLBACK_PATH, Plan, PlanError, SignIn, SignInLink, UnsupportedScopes, unsupported_scopes,
};
pub use user_tokens::{UserTokenError, UserTokens};
pub use vault::{UserTokenSet, Vault};
