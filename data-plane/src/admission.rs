//! The checks every request to `/{slug}/mcp` passes before anything reaches an upstream, as
//! axum extractors, in order: the Host and Origin ([`host`]); a configuration to trust and the
//! caller's credential ([`credential`]); the server and the one access rule ([`route`]); and
//! the session header ([`session`]). Each step has an error of its own; all render as a
//! [`Failure`](crate::errors::Failure) carrying the request id.

mod credential;
pub mod external;
mod host;
mod route;
pub mod scope;
mod session;

pub use credential::{API_KEY_HEADER, CredentialError, Principal, authenticate, identify};
pub use host::{HostChecked, HostError, HostPolicy, HostPolicyError};
pub(crate) use route::limited_tools;
pub use route::{RouteError, Routed};
pub use session::{MCP_SESSION_ID, SessionHeader};
