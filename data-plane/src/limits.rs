//! Rate limits and quotas, shared by every pod of the fleet without a network round trip on
//! the request path.
//!
//! **Design.** Each pod counts the requests it admits in a table of counters (one per limit,
//! partition and calendar window), and every [`SYNC_INTERVAL`] it publishes the counts that
//! changed on the bus (`mcpgw.<cluster>.limits.<data plane>`, NATS core publish/subscribe), as
//! absolute values, so a lost message is mended by the next. Every pod adds the last count each
//! other pod reported to its own. A request is admitted when that fleet count is below the
//! limit and this pod has spent less than its share — `⌈remaining / pods⌉`, fixed at each
//! interval — of what remained at the last interval. We chose this over a JetStream KV counter
//! with compare-and-swap because a KV write per request is a network round trip on the request
//! path, and over per-pod leases of budget because a lease refuses requests a pod could have
//! served while it waits for the next one.
//!
//! **Error bound.** A pod's view misses only what the other pods admitted since their last
//! report, and within one interval each pod admits at most its share, at most `⌈L / N⌉` of a
//! limit `L` with `N` pods. So a fleet of `N` pods admits at most `L + (N − 1) · ⌈L / N⌉` in a
//! window (under `2 · L`), when reports arrive within one interval (a NATS hop is well under a
//! millisecond against 100 ms); it reaches that only when every pod bursts at once near the end
//! of a budget, and once reports have met, nothing more is admitted. Each report that arrives
//! one more interval late adds up to `(N − 1) · ⌈L / N⌉` more. With the bus down, each pod
//! enforces the limit with its own count and the last counts it heard: the fleet can then admit
//! up to `N · L`. The other side of the share: a burst on one pod of a fleet of `N` spends at
//! most `1/N` of the remaining budget per interval, and what goes beyond is refused with
//! `Retry-After: 1`.
//!
//! Windows are calendar windows (UTC minute, hour, day) that every pod agrees on by its clock;
//! a burst across a window boundary can spend two windows' budgets in a moment.

mod compiled;
mod gossip;
mod table;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcpgw_shared::model::LimitScope;
use sha2::{Digest, Sha256};

pub use compiled::{Owner, ServerLimits};
pub use gossip::Gossip;
use table::{CounterKey, PodId, Refusal, Table, Window};

/// How often a pod reports its counts and fixes its shares.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// Who makes a request, as the limits partition it.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The API key's id.
    pub key: &'a str,
    /// The user (a service key counts as its own user).
    pub user: Option<&'a str>,
    /// The key's workspace (`None`: a global key).
    pub workspace: Option<&'a str>,
    /// The server called.
    pub server: &'a str,
}

/// A request was refused by a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}rate limit `rate_limits[{index}]` ({bound} {window} by {by}) is exhausted", if *.owner == Owner::Workspace { "your workspace's " } else { "" })]
pub struct Limited {
    /// Whose limit it is.
    pub owner: Owner,
    /// The limit's place in the server's `rate_limits`.
    pub index: usize,
    /// Whose budget it is.
    pub by: &'static str,
    /// The bound.
    pub bound: u32,
    /// What it counts over.
    pub window: &'static str,
    /// When to try again.
    pub retry_after: Duration,
}

/// The pod's counters, shared by every request and the gossip task.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    pod: PodId,
    table: Mutex<Table>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("pod", &format_args!("{:032x}", self.inner.pod))
            .finish_non_exhaustive()
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

/// A request admitted by the limits; dropping it ends the call (for concurrency limits).
#[derive(Debug)]
#[must_use = "dropping it ends the call for concurrency limits"]
pub struct Admitted {
    limiter: RateLimiter,
    in_flight: Vec<CounterKey>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if !self.in_flight.is_empty() {
            self.limiter.table().release(&self.in_flight);
        }
    }
}

impl RateLimiter {
    /// A pod's limiter with a random identity.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                pod: uuid::Uuid::new_v4().as_u128(),
                table: Mutex::new(Table::default()),
            }),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while the lock was held leaves counts that are still counts.
        self.inner
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request of `caller` against every set of `limits` (the server's, its
    /// workspace's): a call of `tool` (its upstream name), or another request when `tool` is
    /// `None`. Counts nothing and says which limit refuses when one does.
    pub fn admit(
        &self,
        limits: &[&ServerLimits],
        caller: Caller<'_>,
        tool: Option<&str>,
    ) -> Result<Admitted, Limited> {
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut wanted = Vec::new();
        let mut described = Vec::new();
        for (owner, limit) in limits
            .iter()
            .flat_map(|set| set.counting(tool).map(|limit| (set.owner(), limit)))
        {
            let partition = match limit.by {
                LimitScope::Key => caller.key,
                LimitScope::User => caller.user.unwrap_or(caller.key),
                LimitScope::Workspace => caller.workspace.unwrap_or(""),
                LimitScope::Server => caller.server,
                LimitScope::Tool => tool.unwrap_or(""),
            };
            let id = counter_id(&limit.fingerprint, partition);
            for &(window, bound) in &limit.bounds {
                let key = CounterKey {
                    id,
                    window,
                    start: window.start(unix_now),
                };
                wanted.push((key, bound));
                described.push((owner, limit.index, limit.by, bound, window));
            }
        }
        if wanted.is_empty() {
            return Ok(Admitted {
                limiter: self.clone(),
                in_flight: Vec::new(),
            });
        }
        let charged = self.table().charge(&wanted, Instant::now());
        match charged {
            Ok(()) => Ok(Admitted {
                limiter: self.clone(),
                in_flight: wanted
                    .iter()
                    .filter(|(key, _)| key.window == Window::Concurrent)
                    .map(|(key, _)| *key)
                    .collect(),
            }),
            Err((refused, why)) => {
                let (owner, index, by, bound, window) = described[refused];
                let retry_after = match why {
                    Refusal::Exhausted => retry_after(&wanted[refused].0, window, unix_now),
                    Refusal::Share => Duration::from_secs(1),
                };
                Err(Limited {
                    owner,
                    index,
                    by: by.as_str(),
                    bound,
                    window: window.describe(),
                    retry_after,
                })
            }
        }
    }
}

/// Until the window ends, or a second for a concurrency limit.
fn retry_after(key: &CounterKey, window: Window, unix_now: u64) -> Duration {
    match window.seconds() {
        Some(len) => Duration::from_secs((key.start + len).saturating_sub(unix_now).max(1)),
        None => Duration::from_secs(1),
    }
}

/// A counter's id: the limit's fingerprint and the partition, hashed, so neither key ids nor
/// user names travel on the bus.
fn counter_id(fingerprint: &[u8; 16], partition: &str) -> [u8; 16] {
    let mut hash = Sha256::new();
    hash.update(fingerprint);
    hash.update(partition.as_bytes());
    let digest = hash.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

#[cfg(test)]
mod tests;
