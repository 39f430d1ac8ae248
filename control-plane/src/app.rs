//! Wiring and lifecycle: builds the control plane from its settings, serves REST and gRPC,
//! runs the outbox relay, and shuts down on a signal.

use std::net::SocketAddr;
use std::sync::Arc;

use mcpgw_shared::SecretCipher;
use mcpgw_shared::bus::Bus;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::ServerTlsConfig;

use crate::api::{
    admin::AdminService, authorization::AuthorizationService, rest, sync::SyncService,
};
use crate::application::{AuthorizationSettings, BusIdentity, Service};
use crate::config::Bootstrap;
use crate::metrics::{self, ControlPlaneMetrics, Scrape};
use crate::outbox::{OutboxRelay, RelaySettings};
use crate::request_log::{self, RequestLogSettings};
use crate::store::Database;
use mcpgw_data_plane::egress::EgressPolicy;

/// What a control plane needs to start.
pub struct ControlPlaneConfig {
    /// Its database (migrated).
    pub db: Database,
    /// The secret cipher.
    pub cipher: SecretCipher,
    /// The bus the relay publishes to.
    pub bus: Arc<dyn Bus>,
    /// REST listen address (port 0: any).
    pub admin_addr: SocketAddr,
    /// gRPC listen address (port 0: any).
    pub grpc_addr: SocketAddr,
    /// TLS of the gRPC listener; `None`: clear text.
    pub grpc_tls: Option<ServerTlsConfig>,
    /// Relay pacing and the cluster's subjects.
    pub relay: RelaySettings,
    /// The public key of the control plane's NATS user, when it connects with an nkey (for
    /// the NATS authorization it renders).
    pub nats_user: Option<String>,
    /// `MCPGW_BOOTSTRAP_ADMIN_KEY` and `MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN`: registered before the
    /// APIs open, unless they exist; without an admin key one is generated when no admin key
    /// exists at all.
    pub bootstrap: Bootstrap,
    /// How long and how many request-log records are kept.
    pub request_log: RequestLogSettings,
    /// Where the control plane itself may connect (the doctor's calls to upstreams).
    pub egress: EgressPolicy,
}

/// A running control plane.
pub struct RunningControlPlane {
    /// The service layer (for seeding and tests).
    pub service: Service,
    /// Where REST listens.
    pub admin_addr: SocketAddr,
    /// Where gRPC listens.
    pub grpc_addr: SocketAddr,
    /// An admin key generated at this start, to be shown once.
    pub generated_admin_key: Option<String>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

/// Startup failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An address cannot be bound.
    #[error("cannot listen on {addr} ({what}): {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Its variable.
        what: &'static str,
        /// Why.
        error: std::io::Error,
    },
    /// The gRPC TLS certificate or key is not usable.
    #[error(
        "the gRPC TLS certificate or key (MCPGW_GRPC_TLS_CERT, MCPGW_GRPC_TLS_KEY) is not usable: {0}"
    )]
    GrpcTls(String),
    /// The bootstrap admin key cannot be issued.
    #[error("cannot issue the bootstrap admin key: {0}")]
    Bootstrap(#[from] crate::application::ServiceError),
}

impl RunningControlPlane {
    /// Starts the APIs and the relay, the authorization server with its default lifetimes.
    pub async fn start(config: ControlPlaneConfig) -> Result<Self, StartError> {
        Self::start_with_authorization(config, AuthorizationSettings::default()).await
    }

    /// Starts the APIs and the relay, the authorization server with `authorization`'s token
    /// and key lifetimes.
    pub async fn start_with_authorization(
        config: ControlPlaneConfig,
        authorization: AuthorizationSettings,
    ) -> Result<Self, StartError> {
        let wakeup = Arc::new(Notify::new());
        let service = Service::new(config.db.clone(), config.cipher, wakeup.clone())
            .with_bus_identity(BusIdentity {
                subjects: config.relay.subjects.clone(),
                control_plane_user: config.nats_user,
            })
            .with_egress(config.egress)
            .with_authorization_settings(authorization);
        let generated_admin_key = service
            .ensure_bootstrap_admin(config.bootstrap.admin_key.as_deref())
            .await?;
        if let Some(token) = &config.bootstrap.data_plane_token {
            service.ensure_bootstrap_data_plane(token).await?;
        }
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();

        let rest_listener = bind(config.admin_addr, "MCPGW_ADMIN_ADDR").await?;
        let admin_addr = rest_listener
            .local_addr()
            .map_err(|error| StartError::Bind {
                addr: config.admin_addr,
                what: "MCPGW_ADMIN_ADDR",
                error,
            })?;
        let metrics = ControlPlaneMetrics::new();
        let router = rest::router(service.clone(), metrics.clone()).merge(
            axum::Router::new()
                .route("/metrics", axum::routing::get(metrics::scrape))
                .with_state(Scrape {
                    metrics: metrics.clone(),
                    db: config.db.clone(),
                }),
        );
        let rest_shutdown = shutdown.clone();
        tasks.spawn(async move {
            let rest_listener = axum::serve::ListenerExt::tap_io(rest_listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let serve = axum::serve(rest_listener, router)
                .with_graceful_shutdown(rest_shutdown.cancelled_owned());
            if let Err(error) = serve.await {
                tracing::error!(%error, "REST server failed");
            }
        });

        let grpc_listener = bind(config.grpc_addr, "MCPGW_GRPC_ADDR").await?;
        let grpc_addr = grpc_listener
            .local_addr()
            .map_err(|error| StartError::Bind {
                addr: config.grpc_addr,
                what: "MCPGW_GRPC_ADDR",
                error,
            })?;
        let grpc_shutdown = shutdown.clone();
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = config.grpc_tls {
            server = server
                .tls_config(tls)
                .map_err(|e| StartError::GrpcTls(e.to_string()))?;
        }
        let sync = SyncService::new(service.clone(), metrics.clone());
        let admin = AdminService::new(service.clone(), metrics.clone());
        let authorization = AuthorizationService::new(service.clone(), metrics.clone());
        tasks.spawn(async move {
            let (health_reporter, health) = tonic_health::server::health_reporter();
            health_reporter
                .set_serving::<mcpgw_shared::proto::config_sync_server::ConfigSyncServer<SyncService>>()
                .await;
            health_reporter
                .set_serving::<mcpgw_shared::proto::admin_server::AdminServer<AdminService>>()
                .await;
            health_reporter
                .set_serving::<mcpgw_shared::proto::authorization_server::AuthorizationServer<
                    AuthorizationService,
                >>()
                .await;
            let reflection = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(mcpgw_shared::proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .build_v1();
            let router = server
                .add_service(health)
                .add_service(sync.into_server())
                .add_service(admin.into_server())
                .add_service(authorization.into_server());
            let router = match reflection {
                Ok(reflection) => router.add_service(reflection),
                Err(error) => {
                    tracing::warn!(%error, "gRPC reflection unavailable");
                    router
                }
            };
            // Without TCP_NODELAY a sync answer can wait out a delayed ACK (tens of ms).
            let incoming = tokio_stream::StreamExt::map(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                |stream| {
                    if let Ok(tcp) = &stream {
                        let _ = tcp.set_nodelay(true);
                    }
                    stream
                },
            );
            if let Err(error) = router
                .serve_with_incoming_shutdown(incoming, grpc_shutdown.cancelled_owned())
                .await
            {
                tracing::error!(%error, "gRPC server failed");
            }
        });

        tasks.spawn(request_log::ingest(
            service.clone(),
            config.bus.clone(),
            config.relay.subjects.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(request_log::prune(
            service.clone(),
            config.request_log,
            shutdown.clone(),
        ));
        let relay = OutboxRelay::new(config.db, config.bus, wakeup, config.relay)
            .counting(metrics.outbox_published.clone());
        tasks.spawn(relay.run(shutdown.clone()));

        tracing::info!(%admin_addr, %grpc_addr, "control plane is serving");
        Ok(Self {
            service,
            admin_addr,
            grpc_addr,
            generated_admin_key,
            shutdown,
            tasks,
        })
    }

    /// A token that stops everything when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the APIs and the relay and waits for them.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until the tasks end (after the shutdown token is cancelled).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn bind(addr: SocketAddr, what: &'static str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| StartError::Bind { addr, what, error })
}
