//! The checks every request passes before anything reaches an upstream, in order: Host and
//! Origin, a configuration to trust, the caller's key, the server, the caller's right to it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use http::request::Parts;
use mcpgw_shared::model::ServerConfig;

use super::RelayState;
use super::errors::GatewayError;
use crate::auth::{Principal, authenticate, authorize};

/// A request that may proceed.
pub struct Admitted {
    /// The caller.
    pub principal: Principal,
    /// The server it addresses.
    pub server: Arc<ServerConfig>,
}

/// Runs the checks for a request to `/{slug}/mcp`.
pub fn admit(state: &RelayState, parts: &Parts, slug: &str) -> Result<Admitted, GatewayError> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    state.hosts.check(
        &parts.headers,
        parts.uri.authority().map(|a| a.as_str()),
        peer,
    )?;
    let config = state.store.load();
    if !config.is_ready() {
        return Err(GatewayError::NotReady);
    }
    let principal = authenticate(&config, &parts.headers)?;
    let server = config
        .server_by_slug(slug)
        .ok_or_else(|| GatewayError::UnknownServer(slug.chars().take(64).collect()))?
        .clone();
    authorize(&principal, &server)?;
    Ok(Admitted { principal, server })
}
