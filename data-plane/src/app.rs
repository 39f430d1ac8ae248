//! Running a data plane: the configuration store, its sync loop and the gateway, until
//! shutdown. Used by `mcpgw-data-plane serve` and by the control plane's standalone mode.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcpgw_shared::Redacted;
use mcpgw_shared::bus::Bus;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::{Settings, SettingsError};
use crate::gateway::Gateway;
use crate::limits::Gossip;
use crate::observe::Exporter;
use crate::snapshot::ConfigStore;
use crate::sync::{LastKnownGood, SyncClient, SyncError, SyncLink, SyncSettings, Synchronizer};
use mcpgw_shared::version::VersionSkew;

/// Where a data plane gets its configuration.
#[derive(Debug, Clone)]
pub struct SyncSource {
    /// The link to the control plane's sync API (`MCPGW_CONTROL_PLANE_URL` and its TLS).
    pub link: SyncLink,
    /// The data plane's token (`MCPGW_DATA_PLANE_TOKEN`).
    pub token: Redacted<String>,
    /// Where the last-known-good file lives (`MCPGW_DATA_DIR`); `None`: no file.
    pub data_dir: Option<PathBuf>,
    /// Sync pacing and `MCPGW_MAX_STALENESS`.
    pub settings: SyncSettings,
}

/// A data plane failed to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The gateway settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The sync client cannot be built.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The control plane is older than this data plane.
    #[error(transparent)]
    VersionSkew(#[from] VersionSkew),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr} (MCPGW_LISTEN_ADDR): {error}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// A running data plane.
pub struct RunningDataPlane {
    /// The configuration it serves from.
    pub store: ConfigStore,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
    /// Says why the sync loop stopped the data plane, if it did.
    fatal: Option<oneshot::Receiver<VersionSkew>>,
}

impl RunningDataPlane {
    /// Boots the configuration (a snapshot, or the last-known-good file), then starts the sync
    /// loop and the gateway. A control plane older than this data plane stops it here.
    pub async fn start(
        settings: Settings,
        source: SyncSource,
        bus: Arc<dyn Bus>,
    ) -> Result<Self, StartError> {
        let (store, updater) = ConfigStore::new();
        let mut gateway = Gateway::new(store.clone(), &settings)?;
        let client = SyncClient::new(&source.link, source.token.expose())?;
        let last_known_good = source
            .data_dir
            .as_deref()
            .map(|dir| LastKnownGood::new(dir, source.token.expose()));
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .map_err(|error| StartError::Bind {
                addr: settings.listen_addr,
                error,
            })?;
        let addr = listener.local_addr().map_err(|error| StartError::Bind {
            addr: settings.listen_addr,
            error,
        })?;
        let public_base = settings.public_base(addr)?;
        gateway = gateway
            .with_public_base(public_base.clone())
            .with_authorization_server(client.clone(), &public_base)
            .with_identity_forwarding(client.clone(), &public_base)
            .with_users(client.clone(), public_base);
        let subjects = source.settings.subjects.clone();
        let (bus_for_limits, subjects_for_limits) = (bus.clone(), subjects.clone());
        let mut synchronizer = Synchronizer::new(
            client,
            bus.clone(),
            updater,
            last_known_good,
            source.settings,
        )
        .with_metrics(gateway.metrics().clone());
        synchronizer.boot().await?;
        let shutdown = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        // The exporter outlives the gateway: it sends what the last requests left.
        let export_shutdown = CancellationToken::new();
        if settings.request_log_export {
            let metrics = gateway.metrics();
            let (log, exporter) = Exporter {
                bus,
                subjects,
                identity: synchronizer.identity(),
                exported: metrics.request_log_exported.clone(),
                dropped: metrics.request_log_dropped.clone(),
            }
            .start(export_shutdown.clone());
            gateway = gateway.with_request_log(log);
            let stop_export = export_shutdown.clone();
            let gateway_done = shutdown.clone();
            tasks.spawn(async move {
                gateway_done.cancelled().await;
                // Give the last requests' records a moment to be queued, then flush.
                tokio::time::sleep(Duration::from_millis(100)).await;
                stop_export.cancel();
                let _ = exporter.await;
            });
        } else {
            tracing::info!("MCPGW_REQUEST_LOG_EXPORT=false: request records stay in this pod");
        }
        tasks.spawn(
            Gossip {
                limiter: gateway.rate_limiter(),
                bus: bus_for_limits,
                subjects: subjects_for_limits,
                identity: synchronizer.identity(),
            }
            .run(shutdown.clone()),
        );
        let (fatal_tx, fatal) = oneshot::channel();
        let sync_shutdown = shutdown.clone();
        tasks.spawn(async move {
            if let Err(skew) = synchronizer.run(sync_shutdown.clone()).await {
                let _ = fatal_tx.send(skew);
                sync_shutdown.cancel();
            }
        });
        let serve_shutdown = shutdown.clone().cancelled_owned();
        tasks.spawn(async move {
            if let Err(error) = gateway.serve(listener, serve_shutdown).await {
                tracing::error!(%error, "the gateway stopped");
            }
        });
        tracing::info!(%addr, "data plane is serving");
        Ok(Self {
            store,
            addr,
            shutdown,
            tasks,
            fatal: Some(fatal),
        })
    }

    /// Resolves when the sync loop stopped the data plane (its control plane turned out to be
    /// older than it); never otherwise.
    pub async fn failed(&mut self) -> VersionSkew {
        match self.fatal.take() {
            Some(receiver) => match receiver.await {
                Ok(skew) => skew,
                Err(_) => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }

    /// Waits until the configuration is ready, for up to `within`.
    pub async fn ready(&self, within: Duration) -> bool {
        let mut seq = self.store.watch_seq();
        tokio::time::timeout(within, async {
            while !self.store.load().is_ready() {
                if seq.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
            && self.store.load().is_ready()
    }

    /// Stops serving (draining streams) and the sync loop, and waits for both.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}
