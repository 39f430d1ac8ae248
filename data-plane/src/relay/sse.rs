//! Server-sent events as raw bytes: splits an upstream byte stream at event boundaries so events
//! pass through byte for byte, while the gateway can insert keep-alive comments between them and
//! read or rewrite the one event it cares about.
//!
//! Hand-rolled rather than `sse-stream`: that crate parses into fields and re-encodes (a
//! multi-line `data` comes back as one line, comments are dropped), which is not a lossless
//! relay. Finding the blank line that ends an event is all the relay needs.

use bytes::{Bytes, BytesMut};

/// Longest single event the gateway will hold while looking for its end.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The comment line sent on idle streams.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// An event is longer than [`MAX_EVENT_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("an SSE event from the upstream exceeds {MAX_EVENT_BYTES} bytes")]
pub struct EventTooLarge;

/// Splits bytes into complete events (each ending with its blank line).
#[derive(Debug, Default)]
pub struct EventSplitter {
    buf: BytesMut,
    scanned: usize,
    line_len: usize,
    prev_cr: bool,
    pending_boundary: bool,
}

impl EventSplitter {
    /// Adds a chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, EventTooLarge> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        while self.scanned < self.buf.len() {
            let i = self.scanned;
            let b = self.buf[i];
            self.scanned += 1;
            if self.prev_cr && b == b'\n' {
                self.prev_cr = false;
                if self.pending_boundary {
                    self.pending_boundary = false;
                    events.push(self.cut(i + 1));
                }
                continue;
            }
            self.prev_cr = false;
            if self.pending_boundary {
                self.pending_boundary = false;
                events.push(self.cut(i));
                // Re-scan this byte as the first of the next event.
                self.scanned = 0;
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    let blank = self.line_len == 0;
                    self.line_len = 0;
                    if b == b'\r' {
                        self.prev_cr = true;
                        self.pending_boundary = blank;
                    } else if blank {
                        events.push(self.cut(i + 1));
                    }
                }
                _ => self.line_len += 1,
            }
        }
        if self.buf.len() > MAX_EVENT_BYTES {
            return Err(EventTooLarge);
        }
        Ok(events)
    }

    fn cut(&mut self, end: usize) -> Bytes {
        self.scanned -= end;
        self.buf.split_to(end).freeze()
    }

    /// What is left when the stream ends (an unterminated last event), if anything.
    pub fn finish(self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.buf.freeze())
    }
}

fn lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    event
        .split(|b| *b == b'\n')
        .flat_map(|l| l.split(|b| *b == b'\r'))
        .filter(|l| !l.is_empty())
}

fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(name)?;
    if rest.is_empty() {
        return Some(rest);
    }
    let rest = rest.strip_prefix(b":")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// The `data` of an event (its data lines joined by `\n`), or `None` if it has none.
pub fn data(event: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for value in lines(event).filter_map(|l| field(l, b"data")) {
        let buf = out.get_or_insert_with(Vec::new);
        if !buf.is_empty() {
            buf.push(b'\n');
        }
        buf.extend_from_slice(value);
    }
    out
}

/// Whether the event sets a last event id (a non-empty `id` field), which makes its stream
/// resumable.
pub fn has_id(event: &[u8]) -> bool {
    lines(event).any(|l| field(l, b"id").is_some_and(|v| !v.is_empty()))
}

/// The event with its data replaced by `new_data` (one line; JSON has no raw newlines), its
/// other fields (`id`, `event`, `retry`, comments) kept in order.
pub fn with_data(event: &[u8], new_data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(new_data.len() + 64);
    let mut written = false;
    for line in lines(event) {
        if field(line, b"data").is_some() {
            if !written {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(new_data);
                out.push(b'\n');
                written = true;
            }
        } else {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out.push(b'\n');
    out.into()
}

#[cfg(test)]
mod tests;
