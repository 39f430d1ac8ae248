//! Graceful shutdown of streams: once shutdown begins, standalone GET streams end at an event
//! boundary (the client reconnects, to another pod), and POST response streams get a grace
//! period to deliver their answer before they are cut.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Which kind of stream asks when to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A standalone GET stream: ends as soon as shutdown begins.
    Listen,
    /// The response stream of a POST: ends when the grace period is over.
    Response,
}

/// A handle to the gateway's shutdown, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Drain {
    begun: CancellationToken,
    over: CancellationToken,
}

impl Drain {
    /// A drain that has not begun.
    pub fn new() -> Self {
        Self::default()
    }

    /// Begins shutdown: listening streams end now, response streams after `grace`.
    pub fn begin(&self, grace: Duration) {
        if self.begun.is_cancelled() {
            return;
        }
        self.begun.cancel();
        let over = self.over.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            over.cancel();
        });
    }

    /// Whether shutdown has begun.
    pub fn has_begun(&self) -> bool {
        self.begun.is_cancelled()
    }

    /// Resolves when a stream of `kind` must end.
    pub async fn ended(&self, kind: StreamKind) {
        match kind {
            StreamKind::Listen => self.begun.cancelled().await,
            StreamKind::Response => self.over.cancelled().await,
        }
    }
}
