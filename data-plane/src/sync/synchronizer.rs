//! The sync loop of one data-plane process.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use mcpgw_shared::DataPlaneId;
use mcpgw_shared::bus::{Bus, BusMessage};
use mcpgw_shared::proto::StatusReport;
use mcpgw_shared::subjects::Subjects;
use mcpgw_shared::wire::{Audience, ConfigEvent, EntityKind, Heartbeat};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{LastKnownGood, SyncClient, SyncError};
use crate::observe::GatewayMetrics;
use crate::snapshot::ConfigUpdater;
use mcpgw_shared::version::{self, VERSION, VersionSkew};

/// How the sync loop paces itself.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Identifies this process in status reports.
    pub instance_id: String,
    /// This build's version, in status reports and checked against the control plane's.
    pub version: String,
    /// The subjects of the cluster it belongs to (`MCPGW_CLUSTER`).
    pub subjects: Subjects,
    /// `MCPGW_MAX_STALENESS`: stop serving once nothing confirmed the configuration for this
    /// long (`None`: serve the last known configuration indefinitely).
    pub max_staleness: Option<Duration>,
    /// How often to poll the sync API while the bus is silent, and to retry a failed boot.
    pub poll_interval: Duration,
    /// A bus without a heartbeat for this long counts as unreachable.
    pub bus_silence: Duration,
    /// How often to report status to the control plane.
    pub report_interval: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            instance_id: uuid::Uuid::new_v4().to_string(),
            version: VERSION.to_owned(),
            subjects: Subjects::default(),
            max_staleness: None,
            poll_interval: Duration::from_secs(1),
            bus_silence: Duration::from_millis(3500),
            report_interval: Duration::from_secs(2),
        }
    }
}

/// Keeps one [`ConfigUpdater`] current from the control plane and the bus.
pub struct Synchronizer {
    client: SyncClient,
    bus: Arc<dyn Bus>,
    updater: ConfigUpdater,
    last_known_good: Option<LastKnownGood>,
    settings: SyncSettings,
    /// When the control plane or a heartbeat last confirmed the configuration is current.
    confirmed_at: Option<Instant>,
    /// When the last heartbeat arrived.
    heartbeat_at: Option<Instant>,
    /// Whether a snapshot from the control plane (not only the file) was applied.
    synced: bool,
    /// Whether the configuration changed since the file was written.
    unsaved: bool,
    /// The last-known-good write in progress, if any.
    saving: Option<tokio::task::JoinHandle<()>>,
    /// Whether the control plane refuses this data plane's token (revoked, rotated out,
    /// deleted): heartbeats then confirm nothing, so the staleness bound runs out.
    refused: bool,
    /// A reason to stop at once (a control plane older than this data plane).
    fatal: Option<VersionSkew>,
    heartbeat_subject: String,
    /// When the process started its sync loop (its uptime in reports).
    started: Instant,
    /// Who this data plane is, as the control plane says.
    identity: watch::Sender<Option<DataPlaneId>>,
    /// Propagation lag and resyncs go here.
    metrics: GatewayMetrics,
}

impl Synchronizer {
    /// A sync loop writing into `updater`.
    pub fn new(
        client: SyncClient,
        bus: Arc<dyn Bus>,
        updater: ConfigUpdater,
        last_known_good: Option<LastKnownGood>,
        settings: SyncSettings,
    ) -> Self {
        Self {
            client,
            bus,
            updater,
            last_known_good,
            confirmed_at: None,
            heartbeat_at: None,
            synced: false,
            unsaved: false,
            saving: None,
            refused: false,
            fatal: None,
            heartbeat_subject: settings.subjects.heartbeat(),
            started: Instant::now(),
            identity: watch::channel(None).0,
            metrics: GatewayMetrics::default(),
            settings,
        }
    }

    /// The same loop, recording propagation lag and resyncs in `metrics`.
    pub fn with_metrics(mut self, metrics: GatewayMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// This data plane's id once the control plane has said it (in a snapshot or a status
    /// acknowledgement).
    pub fn identity(&self) -> watch::Receiver<Option<DataPlaneId>> {
        self.identity.subscribe()
    }

    fn learn_identity(&self, id: &str) {
        if let Ok(id) = id.parse::<DataPlaneId>() {
            self.identity.send_if_modified(|known| {
                let changed = *known != Some(id);
                *known = Some(id);
                changed
            });
        }
    }

    /// Runs until `shutdown`, or until the control plane turns out to be older than this data
    /// plane. Call [`Synchronizer::boot`] first.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), VersionSkew> {
        let mut messages = self.subscribe().await;
        let mut poll = tokio::time::interval(self.settings.poll_interval);
        let mut report = tokio::time::interval(self.settings.report_interval);
        while self.fatal.is_none() {
            tokio::select! {
                () = shutdown.cancelled() => break,
                message = messages.next() => match message {
                    Some(message) => self.on_message(message).await,
                    None => {
                        tracing::warn!("the event bus subscription ended; resubscribing");
                        tokio::time::sleep(self.settings.poll_interval).await;
                        messages = self.subscribe().await;
                    }
                },
                _ = poll.tick() => {
                    let resubscribe = !self.synced;
                    self.on_poll().await;
                    if resubscribe && self.synced {
                        // The first snapshot named the workspaces to subscribe to.
                        messages = self.subscribe().await;
                    }
                }
                _ = report.tick() => self.report().await,
            }
        }
        self.finish_saving().await;
        self.fatal.map_or(Ok(()), Err)
    }

    /// Takes a snapshot, or falls back to the last-known-good file. Refuses a control plane
    /// older than this data plane.
    pub async fn boot(&mut self) -> Result<(), VersionSkew> {
        let taken = self.take_snapshot().await;
        if let Some(skew) = self.fatal.take() {
            return Err(skew);
        }
        if taken {
            return Ok(());
        }
        let Some(file) = &self.last_known_good else {
            return Ok(());
        };
        match file.load() {
            Ok(Some(snapshot)) => match self.updater.replace(snapshot) {
                Ok(changes) => tracing::warn!(
                    seq = changes.seq,
                    path = %file.path().display(),
                    "the control plane is unreachable: serving the last-known-good configuration"
                ),
                Err(error) => {
                    tracing::error!(%error, "the last-known-good file holds an invalid configuration")
                }
            },
            Ok(None) => tracing::warn!(
                "the control plane is unreachable and there is no last-known-good file yet"
            ),
            Err(error) => tracing::error!(%error, "cannot read the last-known-good file"),
        }
        Ok(())
    }

    /// Checks the control plane's version; a newer data plane stops.
    fn accept_version(&mut self, control_plane: &str) -> bool {
        match version::check(&self.settings.version, control_plane) {
            Ok(()) => true,
            Err(skew) => {
                tracing::error!(%skew, "stopping");
                self.fatal = Some(skew);
                false
            }
        }
    }

    /// The control plane answered: the token works (again).
    fn accepted(&mut self) {
        if std::mem::take(&mut self.refused) {
            tracing::info!("the control plane accepts this data plane's token again");
        }
    }

    /// Notes a failed sync call; a refused token stops heartbeats from confirming anything.
    fn failed(&mut self, error: &SyncError) {
        if let SyncError::Unauthenticated(reason) = error
            && !std::mem::replace(&mut self.refused, true)
        {
            tracing::error!(
                %reason,
                "the control plane refuses this data plane's token (revoked, rotated out or deleted): no more configuration changes; the pod answers 503 once MCPGW_MAX_STALENESS passes. Set MCPGW_DATA_PLANE_TOKEN to a current token and restart"
            );
        }
    }

    async fn take_snapshot(&mut self) -> bool {
        let snapshot = match self.client.snapshot().await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                self.failed(&error);
                tracing::warn!(%error, "cannot take a configuration snapshot");
                return false;
            }
        };
        self.accepted();
        if !self.accept_version(&snapshot.control_plane_version) {
            return false;
        }
        self.learn_identity(&snapshot.data_plane_id);
        match self.updater.replace(snapshot) {
            Ok(changes) => {
                tracing::info!(seq = changes.seq, "applied a configuration snapshot");
                if self.synced {
                    self.metrics.resyncs.inc();
                }
                self.synced = true;
                self.confirm();
                self.unsaved = true;
                true
            }
            Err(error) => {
                tracing::error!(%error, "the control plane sent an invalid snapshot");
                false
            }
        }
    }

    /// Fetches and applies every change after the applied sequence.
    async fn catch_up(&mut self) {
        if !self.synced {
            self.take_snapshot().await;
            return;
        }
        let applied = self.updater.store().applied_seq();
        let result = self.client.changes(applied).await;
        match result {
            Ok(changes) => match self.updater.apply(changes.entities, changes.head_seq) {
                Ok(applied) => {
                    self.accepted();
                    self.confirm();
                    if !applied.changes.is_empty() {
                        self.unsaved = true;
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "invalid changes from the control plane; taking a snapshot");
                    self.take_snapshot().await;
                }
            },
            Err(SyncError::SnapshotNeeded(reason)) => {
                tracing::info!(%reason, "taking a new snapshot");
                self.take_snapshot().await;
            }
            Err(error) => {
                self.failed(&error);
                tracing::debug!(%error, "catch-up failed; retrying at the next poll");
            }
        }
    }

    async fn on_message(&mut self, message: BusMessage) {
        let applied = self.updater.store().applied_seq();
        if message.subject == self.heartbeat_subject {
            let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&message.payload) else {
                tracing::warn!("ignoring an unreadable heartbeat");
                return;
            };
            self.heartbeat_at = Some(Instant::now());
            if self.relevant_head(&heartbeat) > applied {
                self.catch_up().await;
            } else if self.synced && !self.refused {
                self.confirm();
            }
            return;
        }
        match serde_json::from_slice::<ConfigEvent>(&message.payload) {
            Ok(event) if event.seq > applied => {
                tracing::debug!(seq = event.seq, applied, "config event: catching up");
                self.catch_up().await;
                let applied = self.updater.store().applied_seq();
                tracing::debug!(applied, "caught up");
                if applied >= event.seq
                    && let Ok(lag) = (chrono::Utc::now() - event.at).to_std()
                {
                    self.metrics.observe_propagation(lag);
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, subject = %message.subject, "ignoring an unreadable config event")
            }
        }
    }

    /// The head of the log as far as this data plane's workspaces are concerned.
    fn relevant_head(&self, heartbeat: &Heartbeat) -> i64 {
        let config = self.updater.store().load();
        if config.serves_all_workspaces() {
            return heartbeat.head;
        }
        config
            .workspaces()
            .filter_map(|w| heartbeat.workspaces.get(&Audience::Workspace(w.id)))
            .copied()
            .max()
            .unwrap_or(0)
    }

    async fn on_poll(&mut self) {
        let bus_silent = self
            .heartbeat_at
            .is_none_or(|at| at.elapsed() > self.settings.bus_silence);
        if !self.synced || bus_silent {
            self.catch_up().await;
        }
        let stale = match (self.settings.max_staleness, self.confirmed_at) {
            (Some(max), Some(at)) => at.elapsed() > max,
            (Some(_), None) => self.updater.store().load().is_ready(),
            (None, _) => false,
        };
        if self.updater.set_stale(stale) {
            if stale {
                tracing::error!(
                    "the configuration is older than MCPGW_MAX_STALENESS: answering 503 until the control plane or the bus is reachable"
                );
            } else {
                tracing::info!("the configuration is current again: serving");
            }
        }
        if self.unsaved {
            self.start_save();
        }
    }

    fn confirm(&mut self) {
        self.confirmed_at = Some(Instant::now());
    }

    /// Starts writing the last-known-good file on a blocking thread, unless a write is still
    /// running: encoding, sealing and fsync of a large configuration take long enough that the
    /// sync loop must not wait for them.
    fn start_save(&mut self) {
        if self.saving.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let (Some(file), true) = (self.last_known_good.clone(), self.synced) else {
            return;
        };
        let config = self.updater.store().load();
        self.unsaved = false;
        self.saving = Some(tokio::task::spawn_blocking(move || {
            if let Err(error) = file.save(&config) {
                tracing::warn!(%error, "cannot write the last-known-good file");
            }
        }));
    }

    /// Waits for a running write, then writes the current configuration (at shutdown).
    async fn finish_saving(&mut self) {
        if let Some(task) = self.saving.take() {
            let _ = task.await;
        }
        self.start_save();
        if let Some(task) = self.saving.take() {
            let _ = task.await;
        }
    }

    async fn report(&mut self) {
        let config = self.updater.store().load();
        let report = StatusReport {
            instance_id: self.settings.instance_id.clone(),
            version: self.settings.version.clone(),
            applied_seq: config.seq(),
            healthy: config.is_ready(),
            uptime_seconds: i64::try_from(self.started.elapsed().as_secs()).unwrap_or(i64::MAX),
        };
        match self.client.report(report).await {
            Ok(ack) => {
                self.accepted();
                self.learn_identity(&ack.data_plane_id);
                self.accept_version(&ack.control_plane_version);
            }
            Err(error) => {
                self.failed(&error);
                tracing::debug!(%error, "status report failed");
            }
        }
    }

    /// Subscribes to the heartbeat, to the config events of this data plane's workspaces, and
    /// to changes of data-plane registrations (a revoked token is noticed at once).
    async fn subscribe(&self) -> BoxStream<'static, BusMessage> {
        let config = self.updater.store().load();
        let subjects = &self.settings.subjects;
        let mut filters = vec![self.heartbeat_subject.clone()];
        if config.serves_all_workspaces() {
            filters.push(subjects.all_config());
        } else {
            filters.push(subjects.config(Audience::Global, EntityKind::DataPlane));
            filters.extend(
                config
                    .workspaces()
                    .map(|w| subjects.config_of(Audience::Workspace(w.id))),
            );
        }
        let mut streams = Vec::with_capacity(filters.len());
        for filter in filters {
            match self.bus.subscribe(filter.clone()).await {
                Ok(stream) => streams.push(stream),
                Err(error) => tracing::warn!(%error, %filter, "cannot subscribe; polling instead"),
            }
        }
        if streams.is_empty() {
            return stream::pending().boxed();
        }
        stream::select_all(streams).boxed()
    }
}
