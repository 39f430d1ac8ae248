//! The event bus between the planes: NATS in a fleet, an in-process channel in standalone
//! mode. Both implement [`Bus`], so the outbox relay and the data plane's subscriber do not
//! care which one they talk to.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// One message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    /// Subject, such as `mcpgw.<cluster>.config.<workspace>.server`.
    pub subject: String,
    /// Idempotency key, sent as the `Nats-Msg-Id` header; `None` for heartbeats.
    pub message_id: Option<String>,
    /// JSON payload.
    pub payload: Bytes,
}

/// The error of a bus client library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bus could not take or deliver a message.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Publishing on `subject` failed; the caller retries from its cursor.
    #[error("publishing on {subject} failed: {source}")]
    Publish {
        /// The subject of the message that was not taken.
        subject: String,
        /// What the bus client reported.
        #[source]
        source: BoxError,
    },
    /// The bus did not confirm that it has the published messages.
    #[error("the event bus did not confirm the published messages: {source}")]
    Flush {
        /// What the bus client reported.
        #[source]
        source: BoxError,
    },
    /// Subscribing to `filter` failed.
    #[error("subscribing to {filter} failed: {source}")]
    Subscribe {
        /// The subject filter.
        filter: String,
        /// What the bus client reported.
        #[source]
        source: BoxError,
    },
}

/// Publishes and subscribes to subjects with NATS semantics (`*` one token, `>` the rest).
pub trait Bus: Send + Sync + 'static {
    /// Publishes `messages` in order and returns once the bus has accepted all of them.
    fn publish(&self, messages: Vec<BusMessage>) -> BoxFuture<'_, Result<(), BusError>>;

    /// Messages on subjects matching `filter`, from now on.
    fn subscribe(
        &self,
        filter: String,
    ) -> BoxFuture<'_, Result<BoxStream<'static, BusMessage>, BusError>>;
}

/// NATS core publish/subscribe. Publishing flushes, so an `Ok` means the server has the
/// messages.
#[derive(Clone, Debug)]
pub struct NatsBus {
    client: async_nats::Client,
}

impl NatsBus {
    /// A bus over a connected client.
    pub fn new(client: async_nats::Client) -> Self {
        Self { client }
    }
}

impl Bus for NatsBus {
    fn publish(&self, messages: Vec<BusMessage>) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            for message in messages {
                let mut headers = async_nats::HeaderMap::new();
                if let Some(id) = &message.message_id {
                    headers.insert(crate::wire::MSG_ID_HEADER, id.as_str());
                }
                self.client
                    .publish_with_headers(message.subject.clone(), headers, message.payload)
                    .await
                    .map_err(|e| BusError::Publish {
                        subject: message.subject,
                        source: e.into(),
                    })?;
            }
            self.client
                .flush()
                .await
                .map_err(|e| BusError::Flush { source: e.into() })
        })
    }

    fn subscribe(
        &self,
        filter: String,
    ) -> BoxFuture<'_, Result<BoxStream<'static, BusMessage>, BusError>> {
        Box::pin(async move {
            let subscriber =
                self.client
                    .subscribe(filter.clone())
                    .await
                    .map_err(|e| BusError::Subscribe {
                        filter,
                        source: e.into(),
                    })?;
            let stream = subscriber.map(|m| BusMessage {
                subject: m.subject.to_string(),
                message_id: m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(crate::wire::MSG_ID_HEADER))
                    .map(|v| v.to_string()),
                payload: m.payload,
            });
            Ok(stream.boxed())
        })
    }
}

/// An in-process bus for standalone mode: a broadcast channel with NATS subject matching.
#[derive(Clone, Debug)]
pub struct InProcessBus {
    sender: Arc<broadcast::Sender<BusMessage>>,
}

impl InProcessBus {
    /// A bus that buffers up to `capacity` messages per slow subscriber (a subscriber that
    /// falls further behind sees a gap, as with NATS, and catches up from the sync API).
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: Arc::new(broadcast::channel(capacity).0),
        }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl Bus for InProcessBus {
    fn publish(&self, messages: Vec<BusMessage>) -> BoxFuture<'_, Result<(), BusError>> {
        for message in messages {
            // No subscriber is not an error: nobody is listening yet.
            let _ = self.sender.send(message);
        }
        Box::pin(async { Ok(()) })
    }

    fn subscribe(
        &self,
        filter: String,
    ) -> BoxFuture<'_, Result<BoxStream<'static, BusMessage>, BusError>> {
        let receiver = self.sender.subscribe();
        Box::pin(async move {
            let stream = BroadcastStream::new(receiver).filter_map(move |m| {
                let keep = m.ok().filter(|m| subject_matches(&filter, &m.subject));
                async move { keep }
            });
            Ok(stream.boxed())
        })
    }
}

/// Whether `subject` matches a NATS subject `filter` (`*` matches one token, a final `>` the
/// rest).
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for token in filter.split('.') {
        match (token, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (expected, Some(actual)) if expected == actual => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests;
