//! The outbox relay: publishes every committed event to the event bus in sequence order, at
//! least once, then advances the published cursor. One relay publishes at a time (a leader
//! lock), even with several control-plane replicas. A crash between commit and publish loses
//! nothing: the next leader resumes from the cursor, so an event can at worst be published
//! twice across a failover (the sequence is the idempotency key).

mod leader;
mod messages;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mcpgw_shared::bus::{Bus, BusError, BusMessage};
use mcpgw_shared::subjects::Subjects;
use mcpgw_shared::telemetry::sampling;
use mcpgw_shared::wire::{Audience, Heartbeat, WIRE_VERSION};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use leader::Leadership;
pub use messages::wire_messages;

use crate::store::{Database, StoreError};

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Most events read and published per round.
    pub batch: i64,
    /// Fallback poll, in case a wakeup is missed (commits in another replica without NOTIFY).
    pub poll_interval: Duration,
    /// Heartbeat period.
    pub heartbeat_interval: Duration,
    /// How often a follower tries to become the leader.
    pub election_interval: Duration,
    /// The subjects of the cluster it publishes for (`MCPGW_CLUSTER`).
    pub subjects: Subjects,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch: 500,
            poll_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(1),
            election_interval: Duration::from_secs(1),
            subjects: Subjects::default(),
        }
    }
}

/// Why a relay round failed; the relay logs it and retries.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading the log or moving the cursor failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus did not take the messages.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// The relay task.
pub struct OutboxRelay {
    db: Database,
    bus: Arc<dyn Bus>,
    wakeup: Arc<Notify>,
    settings: RelaySettings,
    published: Counter,
}

impl OutboxRelay {
    /// A relay from `db` to `bus`, woken by `wakeup` (notified at every commit).
    pub fn new(
        db: Database,
        bus: Arc<dyn Bus>,
        wakeup: Arc<Notify>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            db,
            bus,
            wakeup,
            settings,
            published: Counter::default(),
        }
    }

    /// The same relay, counting the events it publishes in `published`.
    pub fn counting(mut self, published: Counter) -> Self {
        self.published = published;
        self
    }

    /// Runs until `shutdown`: waits to become the leader, then publishes and sends heartbeats
    /// for as long as it leads.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let leadership = tokio::select! {
                () = shutdown.cancelled() => return,
                leadership = Leadership::acquire(&self.db, self.settings.election_interval) => leadership,
            };
            tracing::info!("outbox relay is the leader");
            let lost = leadership.lost();
            if let Some(listener) = leader::listen_for_commits(&self.db, self.wakeup.clone()).await
            {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = lost.cancelled() => {}
                    () = self.lead() => {}
                }
                listener.abort();
            } else {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = lost.cancelled() => {}
                    () = self.lead() => {}
                }
            }
            leadership.release().await;
            if shutdown.is_cancelled() {
                return;
            }
            tracing::warn!("outbox relay lost leadership; standing by");
        }
    }

    /// The leader's loop; returns only by being cancelled.
    async fn lead(&self) {
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = Duration::from_millis(100);
        let mut published = loop {
            match Published::load(&self.db).await {
                Ok(published) => break published,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the outbox cursor; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        loop {
            match self.publish_pending(&mut published).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, "outbox relay round failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            tokio::select! {
                () = self.wakeup.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = heartbeat.tick() => {
                    if let Err(error) = self.send_heartbeat(&published).await {
                        tracing::warn!(%error, "heartbeat failed");
                    }
                }
            }
        }
    }

    /// Publishes every event above the cursor, in order, advancing the cursor after each batch
    /// the bus accepted.
    async fn publish_pending(&self, published: &mut Published) -> Result<(), RelayError> {
        loop {
            let events = self
                .db
                .read_log(published.seq, self.settings.batch, None)
                .await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                return Ok(());
            };
            let from = published.seq + 1;
            let publish = async {
                let span = tracing::info_span!(
                    "outbox publish",
                    otel.kind = "producer",
                    from,
                    to = last,
                    events = events.len(),
                );
                async {
                    self.bus
                        .publish(wire_messages(&events, &self.settings.subjects))
                        .await?;
                    tracing::debug!("published events");
                    self.db.advance_published_seq(last).await?;
                    Ok::<(), RelayError>(())
                }
                .instrument(span)
                .await
            };
            sampling::scope(sampling::decide(None), publish).await?;
            self.published.inc_by(events.len() as u64);
            published.advance(&events);
        }
    }

    async fn send_heartbeat(&self, published: &Published) -> Result<(), RelayError> {
        let heartbeat = Heartbeat {
            v: WIRE_VERSION,
            head: published.seq,
            workspaces: published.heads.clone(),
            at: Utc::now(),
        };
        let payload = serde_json::to_vec(&heartbeat).expect("heartbeats serialize");
        self.bus
            .publish(vec![BusMessage {
                subject: self.settings.subjects.heartbeat(),
                message_id: None,
                payload: payload.into(),
            }])
            .await?;
        Ok(())
    }
}

/// What the leader has published: the cursor and the last sequence per workspace, read from
/// the database once per leadership and then kept current as batches are published (so a
/// heartbeat costs no query).
struct Published {
    seq: i64,
    heads: BTreeMap<Audience, i64>,
}

impl Published {
    async fn load(db: &Database) -> Result<Self, StoreError> {
        let seq = db.published_seq().await?;
        let heads = db.workspace_heads(seq).await?.into_iter().collect();
        Ok(Self { seq, heads })
    }

    fn advance(&mut self, events: &[crate::store::StoredEvent]) {
        for event in events {
            for audience in &event.audience {
                self.heads.insert(*audience, event.seq);
            }
            self.seq = event.seq;
        }
    }
}
