//! The counters of one pod: its own counts, the last counts each other pod reported, and the
//! share rule that keeps the fleet near the limit between reports (see the module above).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A pod's random identity on the bus.
pub type PodId = u128;

/// How long a pod that has not reported still counts as part of the fleet (and its calls in
/// flight as running).
pub const PEER_SILENCE: Duration = Duration::from_secs(3);

/// Most counters a pod keeps; beyond this, other pods' reports of counters this pod does not
/// know are dropped (its own requests are always counted).
pub const MAX_COUNTERS: usize = 200_000;

/// What a bound counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// A calendar minute (UTC).
    Minute,
    /// A calendar hour (UTC).
    Hour,
    /// A calendar day (UTC).
    Day,
    /// Calls in flight now.
    Concurrent,
}

impl Window {
    /// Its length in seconds (`None`: not a time window).
    pub fn seconds(self) -> Option<u64> {
        match self {
            Self::Minute => Some(60),
            Self::Hour => Some(3600),
            Self::Day => Some(86_400),
            Self::Concurrent => None,
        }
    }

    /// The start (Unix seconds) of the window holding `now`; 0 for concurrency.
    pub fn start(self, now: u64) -> u64 {
        self.seconds().map_or(0, |len| now - now % len)
    }

    /// One letter on the bus.
    pub fn code(self) -> char {
        match self {
            Self::Minute => 'm',
            Self::Hour => 'h',
            Self::Day => 'd',
            Self::Concurrent => 'c',
        }
    }

    /// The window of a letter from the bus.
    pub fn from_code(code: char) -> Option<Self> {
        Some(match code {
            'm' => Self::Minute,
            'h' => Self::Hour,
            'd' => Self::Day,
            'c' => Self::Concurrent,
            _ => return None,
        })
    }

    /// As errors name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Minute => "per minute",
            Self::Hour => "per hour",
            Self::Day => "per day",
            Self::Concurrent => "concurrent",
        }
    }
}

/// One counter's identity: which budget (a hash of the limit and whose budget it is), which
/// kind of window and which one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterKey {
    /// The limit's fingerprint and the partition, hashed.
    pub id: [u8; 16],
    /// The kind of window.
    pub window: Window,
    /// The window's start (Unix seconds; 0 for concurrency).
    pub start: u64,
}

impl CounterKey {
    /// When the counter can be forgotten (Unix seconds); never for concurrency.
    fn ends(&self) -> Option<u64> {
        self.window.seconds().map(|len| self.start + len)
    }
}

/// One budget's counts.
#[derive(Debug, Default)]
struct Counter {
    /// This pod's count (requests in the window, or calls in flight).
    own: u64,
    /// The last count each other pod reported, and when.
    peers: Vec<(PodId, u64, Instant)>,
    /// `own` at the last tick.
    own_at_tick: u64,
    /// The fleet's count as this pod knew it at the last tick.
    total_at_tick: u64,
    /// Changed since the last report.
    dirty: bool,
}

impl Counter {
    fn peers_total(&self) -> u64 {
        self.peers.iter().map(|(_, count, _)| count).sum()
    }

    /// Whether one more fits: the fleet's known count is below `limit`, and this pod has
    /// spent less than its share of what remained at the last tick.
    fn admits(&self, limit: u64, pods: u64) -> Result<(), Refusal> {
        if self.own + self.peers_total() >= limit {
            return Err(Refusal::Exhausted);
        }
        let remaining = limit.saturating_sub(self.total_at_tick);
        let share = remaining.div_ceil(pods.max(1));
        if self.own.saturating_sub(self.own_at_tick) >= share {
            return Err(Refusal::Share);
        }
        Ok(())
    }
}

/// Why a counter refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The fleet has spent the budget.
    Exhausted,
    /// This pod has spent its share of this interval; the budget is not spent.
    Share,
}

/// Every counter of the pod.
#[derive(Debug, Default)]
pub struct Table {
    counters: HashMap<CounterKey, Counter>,
    /// Other pods, by when they last reported.
    pods: HashMap<PodId, Instant>,
}

/// A report of one counter, for the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The counter.
    pub key: CounterKey,
    /// The reporting pod's count.
    pub count: u64,
}

impl Table {
    /// How many pods count, this one included: those heard from within [`PEER_SILENCE`].
    fn pods(&self, now: Instant) -> u64 {
        1 + self
            .pods
            .values()
            .filter(|heard| now.duration_since(**heard) < PEER_SILENCE)
            .count() as u64
    }

    /// Counts one request against every `(counter, limit)` if each admits it; otherwise counts
    /// nothing and returns the first that refuses, and why.
    pub fn charge(
        &mut self,
        wanted: &[(CounterKey, u32)],
        now: Instant,
    ) -> Result<(), (usize, Refusal)> {
        let pods = self.pods(now);
        for (i, (key, limit)) in wanted.iter().enumerate() {
            if let Some(counter) = self.counters.get(key) {
                counter
                    .admits(u64::from(*limit), pods)
                    .map_err(|refusal| (i, refusal))?;
            }
        }
        for (key, _) in wanted {
            let counter = self.counters.entry(*key).or_default();
            if counter.own == 0 && counter.own_at_tick == 0 {
                counter.total_at_tick = counter.peers_total();
            }
            counter.own += 1;
            counter.dirty = true;
        }
        Ok(())
    }

    /// Gives back calls in flight that ended.
    pub fn release(&mut self, keys: &[CounterKey]) {
        for key in keys {
            if let Some(counter) = self.counters.get_mut(key) {
                counter.own = counter.own.saturating_sub(1);
                counter.dirty = true;
            }
        }
    }

    /// Takes another pod's report.
    pub fn absorb(&mut self, pod: PodId, reports: &[Report], now: Instant, unix_now: u64) {
        self.pods.insert(pod, now);
        for report in reports {
            if report.key.ends().is_some_and(|end| end <= unix_now) {
                continue;
            }
            let known = self.counters.len();
            let counter = match self.counters.get_mut(&report.key) {
                Some(counter) => counter,
                None if known < MAX_COUNTERS => self.counters.entry(report.key).or_default(),
                None => continue,
            };
            match counter.peers.iter_mut().find(|(id, _, _)| *id == pod) {
                Some(entry) => {
                    entry.1 = report.count;
                    entry.2 = now;
                }
                None => counter.peers.push((pod, report.count, now)),
            }
        }
    }

    /// The end of an interval: fixes each counter's share for the next, forgets ended windows,
    /// idle concurrency counters and silent pods, and returns what to report (every counter
    /// this pod has counted in when `everything`, else those changed).
    pub fn tick(&mut self, now: Instant, unix_now: u64, everything: bool) -> Vec<Report> {
        self.pods
            .retain(|_, heard| now.duration_since(*heard) < PEER_SILENCE * 10);
        let mut reports = Vec::new();
        self.counters.retain(|key, counter| {
            if key.ends().is_some_and(|end| end <= unix_now) {
                return false;
            }
            if key.window == Window::Concurrent {
                // A silent pod's calls died with it.
                counter
                    .peers
                    .retain(|(_, _, heard)| now.duration_since(*heard) < PEER_SILENCE);
            }
            if counter.dirty || (everything && counter.own > 0) {
                reports.push(Report {
                    key: *key,
                    count: counter.own,
                });
            }
            counter.dirty = false;
            counter.own_at_tick = counter.own;
            counter.total_at_tick = counter.own + counter.peers_total();
            let idle = key.window == Window::Concurrent
                && counter.own == 0
                && counter.peers.iter().all(|(_, count, _)| *count == 0);
            !idle
        });
        reports
    }

    /// The fleet's count of a counter as this pod knows it.
    #[cfg(test)]
    pub fn total(&self, key: &CounterKey) -> u64 {
        self.counters
            .get(key)
            .map_or(0, |c| c.own + c.peers_total())
    }
}
