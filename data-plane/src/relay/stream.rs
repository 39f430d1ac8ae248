//! The SSE body sent to the client: upstream events passed through whole and in order, an
//! optional rewrite of single events, keep-alive comments while idle, and an end at shutdown.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use super::sse::{self, EventSplitter};
use crate::drain::{Drain, StreamKind};
use crate::enforce::StreamGuard;

/// Rewrites one complete event (or returns it unchanged).
pub type Rewrite = Box<dyn FnMut(Bytes) -> Bytes + Send>;

/// An upstream SSE body being relayed.
pub struct SseRelay {
    upstream: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    splitter: EventSplitter,
    queue: VecDeque<Bytes>,
    done: bool,
}

impl SseRelay {
    /// Starts relaying `response`'s body.
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            upstream: response.bytes_stream().boxed(),
            splitter: EventSplitter::default(),
            queue: VecDeque::new(),
            done: false,
        }
    }

    /// Reads the next complete event, `None` at the end of the upstream stream.
    pub async fn next_event(&mut self) -> Option<Bytes> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            self.read().await;
        }
    }

    async fn read(&mut self) {
        match self.upstream.next().await {
            Some(Ok(chunk)) => match self.splitter.push(&chunk) {
                Ok(events) => self.queue.extend(events),
                Err(e) => {
                    tracing::warn!(error = %e, "ending an SSE stream");
                    self.done = true;
                }
            },
            Some(Err(e)) => {
                tracing::debug!(error = %e, "upstream SSE stream failed");
                self.done = true;
            }
            None => {
                self.done = true;
                self.queue
                    .extend(std::mem::take(&mut self.splitter).finish());
            }
        }
    }

    /// Puts events read ahead back in front of the stream.
    pub fn unread(&mut self, events: Vec<Bytes>) {
        for event in events.into_iter().rev() {
            self.queue.push_front(event);
        }
    }

    /// The client body: events as they come, `rewrite` applied to each, events injected by
    /// enforcement, a keep-alive comment after `keep_alive` of silence, and an end when `drain`
    /// says streams of `kind` must end or enforcement closes the stream. Dropping the body (the
    /// client went away) drops the upstream stream and the registration with it.
    pub fn into_body(
        self,
        rewrite: Option<Rewrite>,
        keep_alive: Duration,
        drain: Drain,
        kind: StreamKind,
        guard: StreamGuard,
    ) -> Body {
        let stream = futures::stream::unfold(
            (self, rewrite, drain, guard),
            move |(mut relay, mut rewrite, drain, mut guard)| async move {
                loop {
                    if let Some(event) = relay.queue.pop_front() {
                        let event = match rewrite.as_mut() {
                            Some(f) => f(event),
                            None => event,
                        };
                        return Some((event, (relay, rewrite, drain, guard)));
                    }
                    if relay.done {
                        return None;
                    }
                    let closed = guard.closed();
                    tokio::select! {
                        () = relay.read() => {}
                        () = tokio::time::sleep(keep_alive) => {
                            return Some((Bytes::from_static(sse::KEEP_ALIVE), (relay, rewrite, drain, guard)));
                        }
                        event = guard.injected() => return Some((event, (relay, rewrite, drain, guard))),
                        () = drain.ended(kind) => return None,
                        () = closed => return None,
                    }
                }
            },
        );
        Body::from_stream(stream.map(Ok::<_, std::convert::Infallible>))
    }
}
