//! Harness for the end-to-end tests in `tests/tests/`: fresh databases, a NATS connection, and
//! builders that start the gateway's processes against them.

pub mod admin_api;
pub mod browser;
pub mod churn;
pub mod conformance_upstream;
pub mod control_plane;
pub mod cpu_hog;
pub mod credential_proxy;
pub mod db;
pub mod fault_upstream;
pub mod fleet;
pub mod gateway_oauth;
pub mod mcp_client;
pub mod nats;
pub mod oauth_peers;
pub mod peers;
pub mod pki;
pub mod process;
pub mod standalone;
pub mod tcp_proxy;
pub mod telemetry;
pub mod tls_proxy;
