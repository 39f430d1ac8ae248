//! Keeping the start of an answer for the request log: a response body that passes every frame
//! through unchanged, copies the first bytes of its data, and hands the record to the log when
//! the body ends or is dropped (a client that goes away still leaves its record).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use mcpgw_shared::request_log::{RequestRecord, cap};

use super::RequestLog;

/// A body that keeps the first `max` bytes of what it carries for its request's record.
pub struct ResultCapture {
    inner: Body,
    kept: Vec<u8>,
    max: usize,
    pending: Option<(RequestRecord, RequestLog)>,
}

impl ResultCapture {
    /// Wraps `inner`; `record` goes to `log` with the kept bytes as its `result`.
    pub fn new(inner: Body, max: usize, record: RequestRecord, log: RequestLog) -> Self {
        Self {
            inner,
            kept: Vec::new(),
            max,
            pending: Some((record, log)),
        }
    }

    fn finish(&mut self) {
        if let Some((mut record, log)) = self.pending.take() {
            let mut result = String::from_utf8_lossy(&self.kept).into_owned();
            cap(&mut result, self.max);
            record.result = Some(result);
            log.record(record.bounded());
        }
    }
}

impl http_body::Body for ResultCapture {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    // One byte more than kept, so a cut answer is marked as cut.
                    let room = (self.max + 1).saturating_sub(self.kept.len());
                    let take = room.min(data.len());
                    self.kept.extend_from_slice(&data[..take]);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResultCapture {
    fn drop(&mut self) {
        self.finish();
    }
}
