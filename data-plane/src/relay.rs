//! The Streamable HTTP relay at `POST|GET|DELETE /{slug}/mcp`.
//!
//! rmcp's server side is typed and drops unknown fields when it re-encodes, so the hot path is
//! a JSON-RPC relay over one pooled HTTP client: the body is read (bounded) only to learn what
//! the gateway decides by, then forwarded byte for byte; answers stream back. Admission (host,
//! credential, server, access, session) happens in extractors before a handler runs.

pub mod ask;
mod catalog;
pub mod identity;
mod initialize;
mod limit;
mod listen;
mod post;
mod response;
mod sign_in;
pub mod sse;
mod stream;
pub mod tools;
pub mod upstream;
mod virtual_server;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use http::Uri;
use mcpgw_shared::request_id::RequestId;

use crate::admission::HostPolicy;
use crate::admission::external::ExternalTokens;
use crate::drain::Drain;
use crate::enforce::StreamRegistry;
use crate::errors::{Failure, GatewayError};
use crate::limits::RateLimiter;
use crate::session::SessionSealer;
use crate::snapshot::ConfigStore;
use upstream::Upstream;

/// Bounds on what a client may send and hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body.
    pub max_body: usize,
    /// Time allowed for a request body to arrive.
    pub body_read_timeout: Duration,
    /// Most open streams one key may hold on this pod.
    pub max_streams_per_key: usize,
}

/// What every relay handler shares; extractors take the parts they need.
#[derive(Clone, FromRef)]
pub struct RelayState {
    pub(crate) store: ConfigStore,
    pub(crate) sealer: SessionSealer,
    pub(crate) upstream: Upstream,
    pub(crate) hosts: Arc<HostPolicy>,
    pub(crate) limits: Limits,
    #[from_ref(skip)]
    pub(crate) keep_alive: Duration,
    /// Longest upstream silence while a POST's answer is owed.
    #[from_ref(skip)]
    pub(crate) upstream_idle: Duration,
    pub(crate) drain: Drain,
    pub(crate) streams: StreamRegistry,
    /// Upstreams' tool listings, for read-only tool policies.
    #[from_ref(skip)]
    pub(crate) catalog: catalog::ToolCatalog,
    /// Virtual servers' member sessions and listings on this pod.
    #[from_ref(skip)]
    pub(crate) virtual_state: virtual_server::VirtualState,
    /// Checks bearer JWTs of workspaces' identity providers.
    pub(crate) external: ExternalTokens,
    /// The pod's rate-limit counters.
    #[from_ref(skip)]
    pub(crate) limiter: RateLimiter,
    /// `MCPGW_PUBLIC_BASE_URL` (or the listen address), for the URLs the gateway hands out.
    #[from_ref(skip)]
    pub(crate) public_base: Option<Arc<url::Url>>,
}

/// The relay's routes; request ids are added by the caller's middleware.
pub fn router(state: RelayState) -> Router {
    Router::new()
        .route(
            "/{slug}/mcp",
            post(post::handle).get(listen::get).delete(listen::delete),
        )
        .with_state(state)
}

/// Longest part of an unknown path repeated in the error.
const MAX_ECHOED_PATH: usize = 128;

/// The answer for any path that is not a route: a JSON-RPC error saying where MCP servers are.
pub async fn unknown_path(rid: RequestId, uri: Uri) -> Failure {
    let path: String = uri.path().chars().take(MAX_ECHOED_PATH).collect();
    GatewayError::UnknownPath(path).into_failure(&rid, None)
}
