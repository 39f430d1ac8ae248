//! Who is calling and what they may reach: API keys ([`api_key`]) and the Host/Origin policy
//! against DNS rebinding ([`host`]).

pub mod api_key;
pub mod host;

pub use api_key::{Principal, authenticate, authorize};
pub use host::{HostPolicy, HostPolicyError};
