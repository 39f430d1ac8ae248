//! The configuration model both planes agree on: servers, their upstream auth, tool filters and
//! API keys.
//!
//! Types that carry secrets are generic over the secret's representation `S`: the control
//! plane stores [`SealedSecret`](crate::SealedSecret)s, a request carries plaintext `String`s,
//! responses carry [`SecretSet`] markers and a data plane holds
//! [`Redacted<String>`](crate::Redacted) in memory.

mod api_key;
mod conversions;
mod server;

pub use api_key::{ApiKeyRecord, KeyState, KeyType, Permission, UnknownKeyType, UnknownPermission};
pub use conversions::InvalidMessage;
pub use server::{
    ClientAuthMethod, OAuthMetadata, RequestLogging, SecretSet, ServerConfig, ToolFilter,
    UpstreamAuth,
};
