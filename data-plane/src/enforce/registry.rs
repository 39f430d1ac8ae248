//! The pod's registry of open streams by key and server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mcpgw_shared::{ApiKeyId, OAuthGrantId, ServerId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::errors::GatewayError;
use crate::snapshot::KeyRecord;

/// Notifications queued per GET stream before further ones are dropped (a stream that slow is
/// about to be closed by its client anyway; `list_changed` is idempotent).
const INJECT_CAPACITY: usize = 16;

/// What the registry knows of one open stream.
#[derive(Debug)]
pub struct OpenStream {
    /// The key that opened it.
    pub key: ApiKeyId,
    /// The server it relays.
    pub server: ServerId,
    /// The server's connection version when it opened.
    pub connection_version: i64,
    /// The caller's record when an external JWT named them (the configuration holds no key).
    pub external: Option<KeyRecord>,
    /// The grant of the gateway's access token that opened it: revoking it closes the stream.
    pub grant: Option<OAuthGrantId>,
    close: CancellationToken,
    inject: Option<mpsc::Sender<Bytes>>,
}

#[derive(Debug, Default)]
struct Streams {
    next_id: u64,
    open: HashMap<u64, OpenStream>,
    /// How many streams each key holds (keys with none are absent).
    per_key: HashMap<ApiKeyId, usize>,
}

/// Open streams of this pod, cheap to clone. The lock is never held across an await.
#[derive(Debug, Clone, Default)]
pub struct StreamRegistry {
    streams: Arc<Mutex<Streams>>,
}

/// A registered stream's handle: resolves `closed` when enforcement closes it, yields injected
/// events (GET streams), and deregisters on drop.
#[derive(Debug)]
pub struct StreamGuard {
    registry: StreamRegistry,
    id: u64,
    close: CancellationToken,
    injected: Option<mpsc::Receiver<Bytes>>,
}

impl StreamRegistry {
    /// A new, empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Streams> {
        // A panic while holding the lock cannot leave the map inconsistent: keep going.
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a stream of `key` to `server`; `listen` streams (standalone GET) can receive
    /// injected notifications.
    pub fn register(
        &self,
        key: &ApiKeyId,
        server: &ServerId,
        connection_version: i64,
        listen: bool,
    ) -> StreamGuard {
        self.register_for(key, None, None, server, connection_version, listen)
    }

    /// [`StreamRegistry::register`] for a caller an external JWT named: `record` stands in for
    /// the key the configuration does not hold, and `grant` is the grant of the gateway's own
    /// access token.
    pub fn register_for(
        &self,
        key: &ApiKeyId,
        record: Option<KeyRecord>,
        grant: Option<OAuthGrantId>,
        server: &ServerId,
        connection_version: i64,
        listen: bool,
    ) -> StreamGuard {
        let close = CancellationToken::new();
        let (inject, injected) = if listen {
            let (tx, rx) = mpsc::channel(INJECT_CAPACITY);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let mut streams = self.lock();
        streams.next_id += 1;
        let id = streams.next_id;
        *streams.per_key.entry(*key).or_default() += 1;
        streams.open.insert(
            id,
            OpenStream {
                key: *key,
                server: *server,
                connection_version,
                external: record,
                grant,
                close: close.clone(),
                inject,
            },
        );
        StreamGuard {
            registry: self.clone(),
            id,
            close,
            injected,
        }
    }

    /// Closes every stream for which `condition` holds; returns how many.
    pub fn close_where(&self, condition: impl Fn(&OpenStream) -> bool) -> usize {
        let streams = self.lock();
        let mut closed = 0;
        for stream in streams.open.values().filter(|s| condition(s)) {
            if !stream.close.is_cancelled() {
                stream.close.cancel();
                closed += 1;
            }
        }
        closed
    }

    /// Queues `event` on every open GET stream of `server`; returns on how many.
    pub fn announce(&self, server: &ServerId, event: &'static [u8]) -> usize {
        self.inject_where(|s| &s.server == server, Bytes::from_static(event))
    }

    /// Queues `event` on every open GET stream for which `condition` holds; returns on how
    /// many.
    pub fn inject_where(&self, condition: impl Fn(&OpenStream) -> bool, event: Bytes) -> usize {
        let streams = self.lock();
        streams
            .open
            .values()
            .filter(|s| condition(s))
            .filter_map(|s| s.inject.as_ref())
            .filter(|tx| tx.try_send(event.clone()).is_ok())
            .count()
    }

    /// Refuses a new stream of `key` when it already holds `limit` open ones.
    pub fn admit(&self, key: &ApiKeyId, limit: usize) -> Result<(), GatewayError> {
        let open = self.lock().per_key.get(key).copied().unwrap_or(0);
        if open >= limit {
            Err(GatewayError::TooManyStreams(open))
        } else {
            Ok(())
        }
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.lock().open.len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl StreamGuard {
    /// Resolves when enforcement closes this stream (borrows nothing, so it can be awaited
    /// beside [`StreamGuard::injected`]).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.close.clone().cancelled_owned()
    }

    /// The next injected event; never resolves for streams that take none.
    pub async fn injected(&mut self) -> Bytes {
        match self.injected.as_mut() {
            Some(rx) => match rx.recv().await {
                Some(event) => event,
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut streams = self.registry.lock();
        if let Some(stream) = streams.open.remove(&self.id)
            && let std::collections::hash_map::Entry::Occupied(mut held) =
                streams.per_key.entry(stream.key)
        {
            *held.get_mut() -= 1;
            if *held.get() == 0 {
                held.remove();
            }
        }
    }
}
