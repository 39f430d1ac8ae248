//! The gateway as an OAuth client of upstream authorization servers: the client credentials
//! grant (its own token per server, cached until shortly before it expires), authorization
//! server metadata discovery, and the bounded HTTP calls behind both. Every URL it fetches
//! passes the egress policy.

mod assertion;
mod client_credentials;
mod discovery;
mod http;

pub use assertion::{AssertionKey, InvalidKey};
pub use client_credentials::{ClientCredentialsTokens, TokenError};
pub use discovery::{AuthorizationServer, DiscoveryError, discover, locations};
