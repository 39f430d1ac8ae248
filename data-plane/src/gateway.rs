//! Building and serving the gateway from a configuration store and settings — what the
//! `mcpgw-data-plane` binary does, and what the control plane's standalone mode mounts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use http::HeaderName;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::admission::HostPolicy;
use crate::admission::external::ExternalTokens;
use crate::authorization::{AuthorizationServer, annotate_challenges};
use crate::config::{Settings, SettingsError};
use crate::drain::Drain;
use crate::egress::EgressPolicy;
use crate::enforce::{self, StreamRegistry};
use crate::limits::RateLimiter;
use crate::oauth::{SignIn, UserTokens, Vault};
use crate::observe::{self, GatewayMetrics, Observer, RequestLog};
use crate::relay::upstream::Upstream;
use crate::relay::{self, Limits, RelayState};
use crate::sealed::TextSealer;
use crate::session::SessionSealer;
use crate::snapshot::ConfigStore;
use crate::sync::SyncClient;

/// A gateway ready to serve: its router, and the drain that ends its streams at shutdown.
#[derive(Clone)]
pub struct Gateway {
    state: RelayState,
    observer: Observer,
    drain_timeout: Duration,
    header_read_timeout: Duration,
    /// `MCPGW_TOKEN_KEY`, until [`Gateway::with_users`] puts it to use.
    token_key: Option<mcpgw_shared::secret::Keyring>,
    /// The per-user sign-in routes, once users' tokens are kept.
    sign_in: Option<SignIn>,
    /// `MCPGW_SESSION_KEYS`, which also seal the authorization server's pages' state.
    session_keys: mcpgw_shared::secret::Keyring,
    /// The gateway's own authorization server, once it can reach the control plane.
    authorization: Option<AuthorizationServer>,
    /// `MCPGW_EXTERNAL_AUTH`: whether workspaces' identity providers may sign users in.
    external_auth: bool,
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
        let egress = EgressPolicy::parse(settings.egress_allow.iter().map(String::as_str))?;
        tracing::info!(
            allowed = ?settings.egress_allow.0,
            loopback = egress.allows_loopback(),
            "egress policy: public destinations, plus what MCPGW_EGRESS_ALLOW lists"
        );
        let session_keys = settings
            .session_keys
            .clone()
            .ok_or(SettingsError::Missing("MCPGW_SESSION_KEYS"))?;
        let sealer = SessionSealer::new(session_keys.clone(), settings.session_max_age);
        let upstream = Upstream::new(
            settings.upstream_connect_timeout,
            settings.upstream_timeout,
            Arc::new(egress),
            extra,
        );
        let state = RelayState {
            store,
            sealer,
            external: ExternalTokens::new(upstream.client().clone(), upstream.egress().clone())
                .with_external_auth(settings.external_auth),
            upstream,
            hosts: Arc::new(hosts),
            limits: Limits {
                max_body: settings.max_body_bytes,
                body_read_timeout: settings.body_read_timeout,
                max_streams_per_key: settings.max_streams_per_key,
            },
            keep_alive: settings.sse_keep_alive,
            upstream_idle: settings.upstream_idle_timeout,
            drain: Drain::new(),
            streams: StreamRegistry::new(),
            catalog: Default::default(),
            limiter: RateLimiter::new(),
            virtual_state: Default::default(),
            public_base: None,
        };
        let observer = Observer {
            metrics: GatewayMetrics::new(),
            log: RequestLog::disabled(),
            store: state.store.clone(),
            streams: state.streams.clone(),
        };
        Ok(Self {
            state,
            observer,
            drain_timeout: settings.drain_timeout,
            header_read_timeout: settings.header_read_timeout,
            token_key: settings.token_key.clone(),
            sign_in: None,
            session_keys,
            authorization: None,
            external_auth: settings.external_auth,
        })
    }

    /// The same gateway, handing out URLs under `public_base` (the registry listing's).
    pub fn with_public_base(mut self, public_base: url::Url) -> Self {
        let public_base = Arc::new(public_base);
        self.state.external = self
            .state
            .external
            .clone()
            .with_public_base(public_base.clone());
        self.state.public_base = Some(public_base);
        self
    }

    /// The same gateway, signing users in to per-user OAuth servers under `public_base` and
    /// keeping their tokens through `sync` (sealed with `MCPGW_TOKEN_KEY`). Without the key,
    /// those servers answer that this pod cannot sign users in.
    pub fn with_users(mut self, sync: SyncClient, public_base: url::Url) -> Self {
        let Some(key) = self.token_key.take() else {
            tracing::info!(
                "MCPGW_TOKEN_KEY is not set: servers with per-user OAuth will answer that this data plane cannot sign users in"
            );
            return self;
        };
        let upstream = &self.state.upstream;
        let tokens = UserTokens::new(
            Some(Vault::new(key.clone(), sync)),
            upstream.client().clone(),
            upstream.egress().clone(),
            self.state.store.clone(),
        );
        let sign_in = SignIn::new(
            key,
            public_base,
            upstream.client().clone(),
            upstream.egress().clone(),
            self.state.store.clone(),
            tokens.clone(),
        );
        tracing::info!(
            callback = %sign_in.callback(),
            "per-user OAuth: register this redirect URI with the upstreams' authorization servers (or let the gateway register itself)"
        );
        self.state.upstream = self
            .state
            .upstream
            .clone()
            .with_users(tokens, sign_in.clone());
        if let Some(authorization) = &self.authorization {
            authorization.chain_upstream_sign_in(sign_in.clone());
        }
        self.sign_in = Some(sign_in);
        self
    }

    /// The same gateway, acting as the OAuth authorization server of its MCP servers at
    /// `public_base` (its issuer), keeping clients, grants and keys through `sync`.
    pub fn with_authorization_server(mut self, sync: SyncClient, public_base: &url::Url) -> Self {
        let upstream = &self.state.upstream;
        let server = AuthorizationServer::new(
            sync,
            public_base,
            self.state.store.clone(),
            TextSealer::new(self.session_keys.clone()),
            upstream.client().clone(),
            upstream.egress().clone(),
            self.external_auth,
        );
        tracing::info!(
            issuer = server.issuer(),
            "OAuth authorization server for MCP clients"
        );
        self.state.external = self
            .state
            .external
            .clone()
            .with_gateway_tokens(server.tokens().clone());
        self.authorization = Some(server);
        self
    }

    /// The same gateway, telling the upstreams of servers in `jwt` identity-forwarding mode who
    /// calls, with assertions of issuer `public_base` signed by the control plane via `sync`.
    pub fn with_identity_forwarding(mut self, sync: SyncClient, public_base: &url::Url) -> Self {
        let assertions = crate::relay::identity::UserAssertions::new(sync, public_base.as_str());
        self.state.upstream = self.state.upstream.clone().with_assertions(assertions);
        self
    }

    /// The same gateway, leaving a record of every MCP request in `log`.
    pub fn with_request_log(mut self, log: RequestLog) -> Self {
        self.observer.log = log;
        self
    }

    /// The pod's rate-limit counters (the gossip task shares them with the other pods).
    pub fn rate_limiter(&self) -> RateLimiter {
        self.state.limiter.clone()
    }

    /// The gateway's metrics (the sync loop and the request-log exporter add to them).
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.observer.metrics
    }

    /// The routes (`/{slug}/mcp`, `/healthz`, `/readyz`, `/metrics`, the registry listing
    /// `/v0.1/servers`, the per-user OAuth sign-in pages under `/oauth/`, and a JSON-RPC 404
    /// for any other path), with request ids on every
    /// response and every MCP request observed (span fields, metrics, request log). Mount it
    /// with `Router::merge`; serve it with connect info (`into_make_service_with_connect_info`)
    /// so `MCPGW_TRUSTED_PROXIES` can be applied.
    pub fn router(&self) -> Router {
        let mut relay = relay::router(self.state.clone());
        if let Some(authorization) = &self.authorization {
            relay = relay.layer(axum::middleware::from_fn_with_state(
                authorization.clone(),
                annotate_challenges,
            ));
        }
        relay
            .layer(axum::middleware::from_fn_with_state(
                self.observer.clone(),
                observe::track,
            ))
            .merge(crate::health::router(self.state.store.clone()))
            .merge(
                Router::new()
                    .route("/v0.1/servers", axum::routing::get(crate::registry::list))
                    .with_state(self.state.clone()),
            )
            .merge(
                self.sign_in
                    .as_ref()
                    .map(SignIn::router)
                    .unwrap_or_default(),
            )
            .merge(
                self.authorization
                    .as_ref()
                    .map(AuthorizationServer::router)
                    .unwrap_or_default(),
            )
            .merge(
                Router::new()
                    .route("/metrics", axum::routing::get(observe::scrape))
                    .with_state(self.observer.clone()),
            )
            .fallback(relay::unknown_path)
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
    /// A client must send its request headers within `MCPGW_HEADER_READ_TIMEOUT` (slow clients
    /// cannot hold connections open).
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
            self.state
                .upstream
                .user_tokens()
                .and_then(|t| t.vault().cloned()),
            enforcement.clone(),
        ));
        let _stop_enforcement = enforcement.drop_guard();
        let router = self.router();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Small JSON-RPC answers must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let service = tower::service_fn(move |mut request: http::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request.map(axum::body::Body::new))
            });
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            tokio::spawn(graceful.watch(connection));
        }
        drop(listener);
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: draining streams"
        );
        drain.begin(grace);
        graceful.shutdown().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
