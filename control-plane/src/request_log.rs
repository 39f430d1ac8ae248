//! The control plane's side of the request log: it receives the data planes' batches from the
//! bus, stores them (every replica stores what it receives; a record stored twice is skipped),
//! hands them to live tails, and keeps the table within `MCPGW_REQUEST_LOG_RETENTION` and
//! `MCPGW_REQUEST_LOG_MAX_RECORDS`.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mcpgw_shared::bus::{Bus, BusMessage};
use mcpgw_shared::request_log::{MAX_BATCH_RECORDS, RequestBatch};
use mcpgw_shared::subjects::Subjects;
use mcpgw_shared::telemetry;
use tokio_util::sync::CancellationToken;

use crate::application::Service;
use crate::metrics::ControlPlaneMetrics;

/// How long and how many records are kept.
#[derive(Debug, Clone, Copy)]
pub struct RequestLogSettings {
    /// Records older than this are deleted.
    pub retention: Duration,
    /// At most this many records are kept (the oldest go first).
    pub max_records: u64,
    /// How often old records are deleted.
    pub prune_interval: Duration,
}

impl Default for RequestLogSettings {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 24 * 3600),
            max_records: 1_000_000,
            prune_interval: Duration::from_secs(60),
        }
    }
}

/// Receives batches until `shutdown`, resubscribing when the bus drops the subscription.
pub async fn ingest(
    service: Service,
    bus: Arc<dyn Bus>,
    subjects: Subjects,
    metrics: ControlPlaneMetrics,
    shutdown: CancellationToken,
) {
    let filter = subjects.all_logs();
    while !shutdown.is_cancelled() {
        let mut messages = match bus.subscribe(filter.clone()).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to request logs; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = shutdown.cancelled() => return,
                }
            }
        };
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                () = shutdown.cancelled() => return,
            };
            let Some(message) = message else { break };
            store(&service, &subjects, &metrics, message).await;
        }
    }
}

async fn store(
    service: &Service,
    subjects: &Subjects,
    metrics: &ControlPlaneMetrics,
    message: BusMessage,
) {
    let Some(data_plane) = subjects.requests_sender(&message.subject) else {
        return;
    };
    let batch = match serde_json::from_slice::<RequestBatch>(&message.payload) {
        Ok(batch) if batch.records.len() <= MAX_BATCH_RECORDS => batch,
        Ok(batch) => {
            tracing::warn!(%data_plane, records = batch.records.len(), "ignoring an oversized request-log batch");
            metrics.request_log_rejected.inc();
            return;
        }
        Err(error) => {
            tracing::warn!(%data_plane, %error, "ignoring an unreadable request-log batch");
            metrics.request_log_rejected.inc();
            return;
        }
    };
    let count = batch.records.len() as u64;
    let traced: Vec<(String, String, String)> = batch
        .records
        .iter()
        .filter_map(|r| {
            Some((
                r.request_id.clone(),
                r.trace_id.clone()?,
                r.span_id.clone()?,
            ))
        })
        .collect();
    match service.ingest_requests(data_plane, batch.records).await {
        Ok(()) => {
            metrics.request_log_stored.inc_by(count);
            for (request_id, trace_id, span_id) in traced {
                mark_stored(&request_id, &trace_id, &span_id);
            }
        }
        Err(error) => {
            tracing::warn!(%data_plane, %error, records = count, "cannot store request-log records");
            metrics.request_log_rejected.inc();
        }
    }
}

/// Records, in the trace of a request that was exported, that its record reached the control
/// plane: a span under the request's own span, so the trace spans both planes.
fn mark_stored(request_id: &str, trace_id: &str, span_id: &str) {
    let span = tracing::info_span!(
        "request log stored",
        otel.kind = "consumer",
        request_id,
        messaging.system = "nats",
    );
    telemetry::set_remote_parent(&span, trace_id, span_id);
}

/// Deletes what is past the retention bounds, every `prune_interval`, until `shutdown`.
pub async fn prune(service: Service, settings: RequestLogSettings, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(settings.prune_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let before = chrono::Utc::now()
            - chrono::Duration::from_std(settings.retention).unwrap_or(chrono::Duration::MAX);
        match service.prune_requests(before, settings.max_records).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "pruned the request log"),
            Err(error) => tracing::warn!(%error, "cannot prune the request log"),
        }
    }
}
