//! The Streamable HTTP relay at `POST|GET|DELETE /{slug}/mcp`.
//!
//! rmcp's server side is typed and drops unknown fields when it re-encodes, so the hot path is
//! a JSON-RPC relay over one pooled HTTP client: the body is read (bounded) only to learn the
//! method, id and target, then forwarded byte for byte; answers stream back.

mod admit;
pub mod era;
pub mod errors;
mod initialize;
mod listen;
pub mod message;
mod post;
mod response;
pub mod session;
pub mod sse;
mod stream;
pub mod tools;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;

use crate::auth::HostPolicy;
use crate::drain::Drain;
use crate::enforce::StreamRegistry;
use crate::snapshot::ConfigStore;
use session::SessionSealer;
use upstream::Upstream;

/// What every relay handler shares.
#[derive(Clone)]
pub struct RelayState {
    pub(crate) store: ConfigStore,
    pub(crate) sealer: SessionSealer,
    pub(crate) upstream: Upstream,
    pub(crate) hosts: Arc<HostPolicy>,
    pub(crate) max_body: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) drain: Drain,
    pub(crate) streams: StreamRegistry,
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
