//! The shared handle to the current [`Config`] and its single writer.
//!
//! Readers (`ConfigStore`) load an `Arc<Config>` without locking; the one `ConfigUpdater` builds
//! the next version off to the side and swaps it in, then announces the [`ChangeSet`] and the
//! new applied sequence. Issue 4's sync loop owns the updater: `replace` for a snapshot,
//! `apply` for entity states from the changes API or fetched after a bus event.

use std::sync::Arc;

use arc_swap::ArcSwap;
use mcpgw_shared::proto;
use tokio::sync::{broadcast, watch};

use super::apply::{self, ApplyError};
use super::change::ChangeSet;
use super::view::Config;

/// How many change sets a slow subscriber may fall behind before it sees `Lagged` (and must
/// then re-read the whole configuration).
const CHANGE_CAPACITY: usize = 1024;

struct Shared {
    current: ArcSwap<Config>,
    changes: broadcast::Sender<Arc<ChangeSet>>,
    seq: watch::Sender<i64>,
}

/// A cheap, cloneable read handle to the current configuration.
#[derive(Clone)]
pub struct ConfigStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigStore")
            .field("seq", &self.applied_seq())
            .finish_non_exhaustive()
    }
}

/// The single writer of a [`ConfigStore`]. Not `Clone`: one sync loop owns it.
#[derive(Debug)]
pub struct ConfigUpdater {
    store: ConfigStore,
}

impl ConfigStore {
    /// An empty, not-yet-ready store and its updater.
    pub fn new() -> (Self, ConfigUpdater) {
        let (changes, _) = broadcast::channel(CHANGE_CAPACITY);
        let (seq, _) = watch::channel(0);
        let store = Self {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(Config::default()),
                changes,
                seq,
            }),
        };
        (store.clone(), ConfigUpdater { store })
    }

    /// The current configuration.
    pub fn load(&self) -> Arc<Config> {
        self.shared.current.load_full()
    }

    /// The sequence the current configuration reflects.
    pub fn applied_seq(&self) -> i64 {
        *self.shared.seq.borrow()
    }

    /// Follows the applied sequence (for readiness probes, status reports and tests).
    pub fn watch_seq(&self) -> watch::Receiver<i64> {
        self.shared.seq.subscribe()
    }

    /// Receives every change set applied from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeSet>> {
        self.shared.changes.subscribe()
    }
}

impl ConfigUpdater {
    /// A read handle to the store this updater writes.
    pub fn store(&self) -> &ConfigStore {
        &self.store
    }

    /// Replaces the whole configuration with a snapshot. The change set lists every entity that
    /// differs from before, so enforcement treats a re-snapshot like the events it stands for.
    pub fn replace(&mut self, snapshot: proto::Snapshot) -> Result<Arc<ChangeSet>, ApplyError> {
        let next = apply::from_snapshot(snapshot)?;
        let previous = self.store.load();
        let changes = ChangeSet {
            seq: next.seq,
            replaced: true,
            changes: apply::diff(&previous, &next),
        };
        Ok(self.publish(next, changes))
    }

    /// Applies entity states on top of the current configuration, all or nothing, and records
    /// that every change up to `head_seq` is now reflected. States older than what is held for
    /// their entity are skipped, so redelivery and overlapping catch-ups are harmless.
    pub fn apply(
        &mut self,
        entities: impl IntoIterator<Item = proto::EntityState>,
        head_seq: i64,
    ) -> Result<Arc<ChangeSet>, ApplyError> {
        let mut next = Config::clone(&self.store.load());
        let mut changes = Vec::new();
        let mut applied = Vec::new();
        for state in entities {
            let seq = state.seq;
            if let Some(change) = apply::apply_entity(&mut next, state)? {
                applied.push(seq);
                changes.push(change);
            }
        }
        if !applied.is_empty() {
            tracing::debug!(seqs = ?applied, "applied changes");
        }
        next.seq = next.seq.max(head_seq);
        let changes = ChangeSet {
            seq: next.seq,
            replaced: false,
            changes,
        };
        Ok(self.publish(next, changes))
    }

    /// Marks the configuration as too old to serve (`MCPGW_MAX_STALENESS` exceeded) or as
    /// current again. Returns whether that changed anything.
    pub fn set_stale(&mut self, stale: bool) -> bool {
        let current = self.store.load();
        if current.stale == stale {
            return false;
        }
        let mut next = Config::clone(&current);
        next.stale = stale;
        self.store.shared.current.store(Arc::new(next));
        true
    }

    fn publish(&mut self, next: Config, changes: ChangeSet) -> Arc<ChangeSet> {
        let seq = next.seq;
        self.store.shared.current.store(Arc::new(next));
        let changes = Arc::new(changes);
        // No subscriber is fine: nothing enforces yet.
        let _ = self.store.shared.changes.send(changes.clone());
        self.store.shared.seq.send_replace(seq);
        changes
    }
}

#[cfg(test)]
mod tests;
