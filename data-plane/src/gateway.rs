//! Building and serving the gateway from a configuration store and settings — what the
//! `mcpgw-data-plane` binary does, and what the control plane's standalone mode mounts.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http::HeaderName;
use tokio::net::TcpListener;

use crate::auth::HostPolicy;
use crate::config::{Settings, SettingsError};
use crate::drain::Drain;
use crate::enforce::{self, StreamRegistry};
use crate::relay::session::SessionSealer;
use crate::relay::upstream::Upstream;
use crate::relay::{self, RelayState};
use crate::snapshot::ConfigStore;

/// A gateway ready to serve: its router, and the drain that ends its streams at shutdown.
#[derive(Clone)]
pub struct Gateway {
    state: RelayState,
    drain_timeout: Duration,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("store", &self.state.store)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Validates `settings` and builds a gateway reading its configuration from `store`.
    pub fn new(store: ConfigStore, settings: &Settings) -> Result<Self, SettingsError> {
        let hosts = HostPolicy::new(
            &settings.allowed_hosts,
            &settings.allowed_origins,
            &settings.trusted_proxies,
            settings.public_base_url.as_ref(),
            settings.listen_addr.ip().is_loopback(),
        )?;
        let extra = settings
            .forward_headers
            .iter()
            .map(|h| {
                HeaderName::try_from(h.to_ascii_lowercase())
                    .map_err(|_| SettingsError::ForwardHeader(h.clone()))
            })
            .collect::<Result<_, _>>()?;
        let state = RelayState {
            store,
            sealer: SessionSealer::new(
                settings
                    .session_keys
                    .clone()
                    .ok_or(SettingsError::Missing("MCPGW_SESSION_KEYS"))?,
                settings.session_max_age,
            ),
            upstream: Upstream::new(
                settings.upstream_connect_timeout,
                settings.upstream_timeout,
                extra,
            ),
            hosts: Arc::new(hosts),
            max_body: settings.max_body_bytes,
            keep_alive: settings.sse_keep_alive,
            drain: Drain::new(),
            streams: StreamRegistry::new(),
        };
        Ok(Self {
            state,
            drain_timeout: settings.drain_timeout,
        })
    }

    /// The routes (`/{slug}/mcp`, `/healthz`, `/readyz`), with request ids on every response. Mount it with
    /// `Router::merge`; serve it with connect info (`into_make_service_with_connect_info`) so
    /// `MCPGW_TRUSTED_PROXIES` can be applied.
    pub fn router(&self) -> Router {
        relay::router(self.state.clone())
            .merge(crate::health::router(self.state.store.clone()))
            .layer(axum::middleware::from_fn(mcpgw_shared::request_id::assign))
    }

    /// The drain handle: call [`Drain::begin`] when shutting down, so streams end.
    pub fn drain(&self) -> Drain {
        self.state.drain.clone()
    }

    /// How long response streams may run on after shutdown begins.
    pub fn drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// Serves on `listener` until `shutdown` resolves, then drains: GET streams end at once,
    /// POST answers get the drain timeout, and the call returns when every connection closed.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let drain = self.drain();
        let grace = self.drain_timeout;
        let enforcement = tokio_util::sync::CancellationToken::new();
        tokio::spawn(enforce::run(
            self.state.store.clone(),
            self.state.streams.clone(),
            enforcement.clone(),
        ));
        let _stop_enforcement = enforcement.drop_guard();
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        // Small JSON-RPC answers must not wait for Nagle's algorithm.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!(
                    grace_secs = grace.as_secs(),
                    "shutting down: draining streams"
                );
                drain.begin(grace);
            })
            .await
    }
}

#[cfg(test)]
mod tests;
