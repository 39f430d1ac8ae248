//! The configuration model both planes agree on: servers, their upstream auth, tool filters,
//! rate limits and API keys, and users' connections to per-user OAuth servers.
//!
//! Types that carry secrets are generic over the secret's representation `S`: the control
//! plane stores [`SealedSecret`](crate::SealedSecret)s, a request carries plaintext `String`s,
//! responses carry [`SecretSet`] markers and a data plane holds
//! [`Redacted<String>`](crate::Redacted) in memory.

mod api_key;
mod connection;
mod conversions;
mod grants;
mod identity_forwarding;
mod identity_provider;
mod jwt_validation;
mod rate_limit;
mod revoked_grant;
mod server;
mod tool_pattern;
mod virtual_server;

pub use api_key::{ApiKeyRecord, KeyState, KeyType, Permission, UnknownKeyType, UnknownPermission};
pub use connection::ConnectionRecord;
pub use conversions::InvalidMessage;
pub use grants::{GrantSubject, Grants, key_subject, user_subject};
pub use identity_forwarding::IdentityForwarding;
pub use identity_provider::{IdentityProvider, InvalidIdentityProvider};
pub use jwt_validation::{
    INTROSPECTION_SECRET_PATH, Introspection, JWT_ALGORITHMS, JwtValidation, claim_matches,
};
pub use rate_limit::{LimitScope, RateLimit};
pub use revoked_grant::RevokedGrant;
pub use server::{
    ClientAuthMethod, OAuthMetadata, RequestLogging, SecretSet, ServerConfig, ToolFilter,
    ToolOverride, UpstreamAuth,
};
pub use tool_pattern::{InvalidPattern, MAX_PATTERN_LEN, ToolPattern};
pub use virtual_server::{FailureMode, Member, PREFIX_SEPARATOR, PrefixMode, VirtualServer};
