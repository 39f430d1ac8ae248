//! Sending request-log records to the control plane: the request path only puts a record in a
//! bounded queue (dropping it, counted, when the queue is full); a task sends them on the bus in
//! batches of up to [`MAX_BATCH_RECORDS`], at least once a second, on this data plane's own
//! subject. Until the control plane has told the data plane who it is, records wait in the
//! queue.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mcpgw_shared::DataPlaneId;
use mcpgw_shared::bus::{Bus, BusMessage};
use mcpgw_shared::request_log::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, RequestBatch, RequestRecord};
use mcpgw_shared::subjects::Subjects;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Records that may wait for the exporter; more are dropped.
const QUEUE_CAPACITY: usize = 16 * 1024;

/// Longest a record waits for its batch to fill.
const BATCH_WINDOW: Duration = Duration::from_secs(1);

/// Attempts at sending one batch before its records are dropped.
const SEND_ATTEMPTS: u32 = 3;

/// Where the request path leaves records; cheap to clone.
#[derive(Clone, Debug)]
pub struct RequestLog {
    queue: Option<mpsc::Sender<RequestRecord>>,
    dropped: Counter,
}

impl RequestLog {
    /// A log that keeps nothing (`MCPGW_REQUEST_LOG_EXPORT=false`).
    pub fn disabled() -> Self {
        Self {
            queue: None,
            dropped: Counter::default(),
        }
    }

    /// Whether records are kept.
    pub fn is_enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `record` for export, or drops it (counted) when the exporter is behind.
    pub fn record(&self, record: RequestRecord) {
        if let Some(queue) = &self.queue
            && queue.try_send(record).is_err()
        {
            self.dropped.inc();
        }
    }
}

/// What the exporter task needs.
pub struct Exporter {
    /// The bus to send on.
    pub bus: Arc<dyn Bus>,
    /// The cluster's subjects.
    pub subjects: Subjects,
    /// This data plane's id, once the control plane said it.
    pub identity: watch::Receiver<Option<DataPlaneId>>,
    /// Counts records sent.
    pub exported: Counter,
    /// Counts records dropped.
    pub dropped: Counter,
}

impl Exporter {
    /// Starts the export task; it sends what is queued and stops when `shutdown` fires.
    pub fn start(self, shutdown: CancellationToken) -> (RequestLog, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let log = RequestLog {
            queue: Some(sender),
            dropped: self.dropped.clone(),
        };
        (log, tokio::spawn(self.run(receiver, shutdown)))
    }

    async fn run(mut self, mut queue: mpsc::Receiver<RequestRecord>, shutdown: CancellationToken) {
        let mut batch = Vec::with_capacity(MAX_BATCH_RECORDS);
        loop {
            let first = tokio::select! {
                record = queue.recv() => record,
                () = shutdown.cancelled() => None,
            };
            let Some(first) = first else { break };
            batch.push(first);
            let window = tokio::time::sleep(BATCH_WINDOW);
            tokio::pin!(window);
            while batch.len() < MAX_BATCH_RECORDS {
                tokio::select! {
                    record = queue.recv() => match record {
                        Some(record) => batch.push(record),
                        None => break,
                    },
                    () = &mut window => break,
                    () = shutdown.cancelled() => break,
                }
            }
            if !self.send(&mut batch, &shutdown).await {
                break;
            }
        }
        // Whatever arrived before shutdown still goes, if the bus takes it.
        while let Ok(record) = queue.try_recv() {
            batch.push(record);
            if batch.len() == MAX_BATCH_RECORDS {
                self.send(&mut batch, &CancellationToken::new()).await;
            }
        }
        if !batch.is_empty() {
            self.send(&mut batch, &CancellationToken::new()).await;
        }
    }

    /// Sends `batch` (emptying it); `false` when shutdown came while waiting for an identity.
    async fn send(&mut self, batch: &mut Vec<RequestRecord>, shutdown: &CancellationToken) -> bool {
        let identity = tokio::select! {
            identity = self.identity.wait_for(Option::is_some) => identity.ok().and_then(|id| *id),
            () = shutdown.cancelled() => None,
        };
        let records = std::mem::take(batch);
        let Some(data_plane) = identity else {
            self.dropped.inc_by(records.len() as u64);
            return false;
        };
        let subject = self.subjects.requests_of(data_plane);
        for (payload, count) in encode(records) {
            let message = BusMessage {
                subject: subject.clone(),
                message_id: None,
                payload,
            };
            self.publish(message, count).await;
        }
        true
    }

    /// Publishes one message of `count` records, retrying a few times before dropping them.
    async fn publish(&self, message: BusMessage, count: u64) {
        for attempt in 1..=SEND_ATTEMPTS {
            match self.bus.publish(vec![message.clone()]).await {
                Ok(()) => {
                    self.exported.inc_by(count);
                    return;
                }
                Err(error) if attempt == SEND_ATTEMPTS => {
                    tracing::warn!(%error, records = count, "request-log records dropped: the bus did not take them");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await,
            }
        }
        self.dropped.inc_by(count);
    }
}

/// `records` as batches of at most [`MAX_BATCH_BYTES`] (halving a batch until it fits; a single
/// record always goes), each with its number of records.
fn encode(records: Vec<RequestRecord>) -> Vec<(Bytes, u64)> {
    let mut pending = vec![records];
    let mut encoded = Vec::new();
    while let Some(mut records) = pending.pop() {
        let count = records.len() as u64;
        let batch = RequestBatch { records };
        match serde_json::to_vec(&batch) {
            Ok(payload) if payload.len() <= MAX_BATCH_BYTES || count == 1 => {
                encoded.push((Bytes::from(payload), count));
            }
            Ok(_) => {
                records = batch.records;
                let second = records.split_off(records.len() / 2);
                pending.push(second);
                pending.push(records);
            }
            Err(error) => {
                tracing::warn!(%error, records = count, "cannot encode request-log records");
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: usize) -> RequestRecord {
        RequestRecord {
            time: chrono::Utc::now(),
            request_id: "r".into(),
            trace_id: None,
            span_id: None,
            workspace_id: None,
            server_id: None,
            server: None,
            key_id: None,
            user: None,
            http_method: "POST".into(),
            method: None,
            target: None,
            status: 200,
            reason: None,
            latency_us: 1,
            upstream_status: None,
            upstream_latency_us: None,
            config_seq: 1,
            server_version: None,
            arguments: Some("a".repeat(payload)),
            result: None,
        }
    }

    #[test]
    fn large_batches_are_split_under_the_message_limit() {
        let records: Vec<_> = (0..60).map(|_| record(40 * 1024)).collect();
        let batches = encode(records);
        assert!(batches.len() > 1);
        assert_eq!(batches.iter().map(|(_, n)| n).sum::<u64>(), 60);
        assert!(
            batches
                .iter()
                .all(|(bytes, _)| bytes.len() <= MAX_BATCH_BYTES)
        );
        let small = encode(vec![record(10), record(10)]);
        assert_eq!(small.len(), 1);
    }
}
