//! The SSE body sent to the client: upstream events passed through whole and in order, an
//! optional rewrite of single events, keep-alive comments while idle, and an end at shutdown.
//! A POST answer stream also owes its client one answer: when the upstream breaks, stalls or
//! ends the stream before sending it, the client gets a JSON-RPC error in its place.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use mcpgw_shared::request_id::RequestId;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::sse::{self, EventSplitter};
use crate::drain::{Drain, StreamKind};
use crate::enforce::StreamGuard;
use crate::errors::GatewayError;
use crate::protocol::message::RpcId;

/// Rewrites one complete event (or returns it unchanged).
pub type Rewrite = Box<dyn FnMut(Bytes) -> Bytes + Send>;

/// The answer a POST stream owes its client, and what to say if it never comes.
pub struct Owed {
    /// The JSON-RPC id of the request.
    pub rpc_id: RpcId,
    /// The gateway's id of the HTTP request, for the error's `data`.
    pub request_id: RequestId,
    /// The server, named in the error.
    pub slug: String,
    /// Longest silence from the upstream before the request fails.
    pub idle: Duration,
}

/// An upstream SSE body being relayed.
pub struct SseRelay {
    upstream: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    splitter: EventSplitter,
    queue: VecDeque<Bytes>,
    done: bool,
    owed: Option<Owed>,
    /// When the upstream's silence fails the owed answer.
    deadline: Instant,
    /// Whether an event carried an id, so the client can resume the stream.
    resumable: bool,
}

/// Why an upstream stream ended.
enum Cut {
    /// Silent for longer than the idle timeout.
    Idle,
    /// The connection failed.
    Broke(String),
    /// The upstream ended it.
    Ended,
    /// The gateway refused what it sent.
    Refused(String),
}

/// What one event means to a stream that owes an answer.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// The answer to the request.
    Answer,
    /// Anything else: a notification, a request of the server's, a comment, a priming event.
    Other,
    /// Data that is not a JSON-RPC message.
    Malformed,
}

/// The fields that tell an answer from other messages.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    method: Option<IgnoredAny>,
    result: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
}

fn seen(event: &[u8], rpc_id: &RpcId) -> Seen {
    let Some(data) = sse::data(event) else {
        return Seen::Other;
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Seen::Other;
    }
    match serde_json::from_slice::<Envelope>(&data) {
        Err(_) => Seen::Malformed,
        Ok(m) if m.method.is_none() && (m.result.is_some() || m.error.is_some()) => match m.id {
            Some(id) if rpc_id.matches(id) => Seen::Answer,
            _ => Seen::Other,
        },
        Ok(_) => Seen::Other,
    }
}

impl SseRelay {
    /// Starts relaying `response`'s body.
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            upstream: response.bytes_stream().boxed(),
            splitter: EventSplitter::default(),
            queue: VecDeque::new(),
            done: false,
            owed: None,
            deadline: Instant::now(),
            resumable: false,
        }
    }

    /// Makes the stream owe `owed`'s answer: until it passes, every event's data must be
    /// JSON, and a broken, stalled or ended upstream stream becomes a JSON-RPC error event
    /// (see `cut`).
    pub fn owing(mut self, owed: Option<Owed>) -> Self {
        if let Some(owed) = &owed {
            self.deadline = Instant::now() + owed.idle;
        }
        self.owed = owed;
        self
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
        let next = match &self.owed {
            Some(_) => match tokio::time::timeout_at(self.deadline, self.upstream.next()).await {
                Ok(next) => next,
                Err(_) => return self.cut(Cut::Idle),
            },
            None => self.upstream.next().await,
        };
        match next {
            Some(Ok(chunk)) => {
                if let Some(owed) = &self.owed {
                    self.deadline = Instant::now() + owed.idle;
                }
                match self.splitter.push(&chunk) {
                    Ok(events) => self.take(events),
                    Err(e) => self.cut(Cut::Refused(e.to_string())),
                }
            }
            Some(Err(e)) => self.cut(Cut::Broke(crate::errors::error_chain(&e.without_url()))),
            None => {
                self.done = true;
                let rest = std::mem::take(&mut self.splitter).finish();
                self.take(rest);
                self.cut(Cut::Ended);
            }
        }
    }

    /// Queues `events`, watching for the owed answer.
    fn take(&mut self, events: impl IntoIterator<Item = Bytes>) {
        for event in events {
            if let Some(owed) = &self.owed {
                self.resumable |= sse::has_id(&event);
                match seen(&event, &owed.rpc_id) {
                    Seen::Answer => self.owed = None,
                    Seen::Other => {}
                    Seen::Malformed => {
                        let what = "it sent an event whose data is not a JSON-RPC message";
                        return self.cut(Cut::Refused(what.to_owned()));
                    }
                }
            }
            self.queue.push_back(event);
        }
    }

    /// Ends the stream. An answer still owed becomes a JSON-RPC error event, unless the
    /// upstream only went away from a stream the client can resume (its events carry ids:
    /// the client reconnects with `Last-Event-ID`, as the transport specification allows).
    fn cut(&mut self, cut: Cut) {
        self.done = true;
        let Some(owed) = self.owed.take() else {
            if let Cut::Refused(detail) | Cut::Broke(detail) = &cut {
                tracing::debug!(%detail, "ending an upstream SSE stream");
            }
            return;
        };
        let slug = owed.slug.clone();
        let error = match cut {
            Cut::Refused(detail) => GatewayError::UpstreamFailed { slug, detail },
            _ if self.resumable => {
                tracing::debug!(request_id = %owed.request_id, server = %owed.slug, "the upstream left a resumable stream before its answer; the client may resume it");
                return;
            }
            Cut::Idle => GatewayError::UpstreamTimeout {
                slug,
                secs: owed.idle.as_secs(),
            },
            Cut::Broke(detail) => GatewayError::UpstreamFailed {
                slug,
                detail: format!("its event stream broke: {detail}"),
            },
            Cut::Ended => GatewayError::UpstreamFailed {
                slug,
                detail: "it ended its event stream without answering".to_owned(),
            },
        };
        let failure = error.into_failure(&owed.request_id, Some(owed.rpc_id.raw()));
        tracing::warn!(request_id = %owed.request_id, server = %owed.slug, reason = failure.error.reason(), error = %failure.error, "upstream stream failed before its answer");
        let event = format!("event: message\ndata: {}\n\n", failure.message());
        self.queue.push_back(Bytes::from(event));
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

#[cfg(test)]
mod tests;
