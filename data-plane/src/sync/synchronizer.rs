//! The sync loop of one data-plane process.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use mcpgw_shared::bus::{Bus, BusMessage};
use mcpgw_shared::proto::StatusReport;
use mcpgw_shared::wire::{
    Audience, CONFIG_SUBJECT_PREFIX, ConfigEvent, HEARTBEAT_SUBJECT, Heartbeat,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{LastKnownGood, SyncClient, SyncError};
use crate::snapshot::ConfigUpdater;

/// How the sync loop paces itself.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Identifies this process in status reports.
    pub instance_id: String,
    /// This build's version, in status reports.
    pub version: String,
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
            version: env!("CARGO_PKG_VERSION").to_owned(),
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
            settings,
            confirmed_at: None,
            heartbeat_at: None,
            synced: false,
            unsaved: false,
            saving: None,
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.boot().await;
        let mut messages = self.subscribe().await;
        let mut poll = tokio::time::interval(self.settings.poll_interval);
        let mut report = tokio::time::interval(self.settings.report_interval);
        loop {
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
    }

    /// Takes a snapshot, or falls back to the last-known-good file.
    async fn boot(&mut self) {
        if self.take_snapshot().await {
            return;
        }
        let Some(file) = &self.last_known_good else {
            return;
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
    }

    async fn take_snapshot(&mut self) -> bool {
        match self.client.snapshot().await {
            Ok(snapshot) => match self.updater.replace(snapshot) {
                Ok(changes) => {
                    tracing::info!(seq = changes.seq, "applied a configuration snapshot");
                    self.synced = true;
                    self.confirm();
                    self.unsaved = true;
                    true
                }
                Err(error) => {
                    tracing::error!(%error, "the control plane sent an invalid snapshot");
                    false
                }
            },
            Err(error) => {
                tracing::warn!(%error, "cannot take a configuration snapshot");
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
        match self.client.changes(applied).await {
            Ok(changes) => match self.updater.apply(changes.entities, changes.head_seq) {
                Ok(applied) => {
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
            Err(error) => tracing::debug!(%error, "catch-up failed; retrying at the next poll"),
        }
    }

    async fn on_message(&mut self, message: BusMessage) {
        let applied = self.updater.store().applied_seq();
        if message.subject == HEARTBEAT_SUBJECT {
            let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&message.payload) else {
                tracing::warn!("ignoring an unreadable heartbeat");
                return;
            };
            self.heartbeat_at = Some(Instant::now());
            if self.relevant_head(&heartbeat) > applied {
                self.catch_up().await;
            } else if self.synced {
                self.confirm();
            }
            return;
        }
        match serde_json::from_slice::<ConfigEvent>(&message.payload) {
            Ok(event) if event.seq > applied => {
                tracing::debug!(seq = event.seq, applied, "config event: catching up");
                self.catch_up().await;
                tracing::debug!(applied = self.updater.store().applied_seq(), "caught up");
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

    async fn report(&self) {
        let config = self.updater.store().load();
        let report = StatusReport {
            instance_id: self.settings.instance_id.clone(),
            version: self.settings.version.clone(),
            applied_seq: config.seq(),
            healthy: config.is_ready(),
        };
        if let Err(error) = self.client.report(report).await {
            tracing::debug!(%error, "status report failed");
        }
    }

    /// Subscribes to the heartbeat and to the config events of this data plane's workspaces.
    async fn subscribe(&self) -> BoxStream<'static, BusMessage> {
        let config = self.updater.store().load();
        let mut filters = vec![HEARTBEAT_SUBJECT.to_owned()];
        if config.serves_all_workspaces() {
            filters.push(format!("{CONFIG_SUBJECT_PREFIX}.>"));
        } else {
            filters.extend(
                config
                    .workspaces()
                    .map(|w| format!("{CONFIG_SUBJECT_PREFIX}.{}.>", w.id)),
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
