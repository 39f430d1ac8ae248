//! The request log's wire format: one [`RequestRecord`] per MCP request a data plane answered,
//! sent to the control plane in [`RequestBatch`]es on `mcpgw.<cluster>.logs.<data plane>.requests`
//! (the subject names the sender; NATS permissions make sure it is the sender).
//!
//! A record holds what an operator needs to find and explain a request, never a credential: the
//! key is named by its id, a resource by its URI without the query string, and every text
//! field is capped (see [`RequestRecord::bounded`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ServerId, WorkspaceId};

/// Longest text kept in any field of a record, in bytes; longer text is cut at a character
/// boundary and marked with `…`.
pub const MAX_FIELD_BYTES: usize = 256;

/// Longest `arguments` or `result` kept (a server's `request_logging.max_bytes` is at most
/// this).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 200;

/// Largest encoded batch: under NATS's default 1 MiB message limit. A sender splits a larger
/// batch; a single record is at most a few [`MAX_PAYLOAD_BYTES`].
pub const MAX_BATCH_BYTES: usize = 768 * 1024;

/// One MCP request, as the data plane that answered it saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// When the request arrived.
    pub time: DateTime<Utc>,
    /// The gateway's id of the request (the `x-request-id` the client got).
    pub request_id: String,
    /// The W3C trace id, when the request was traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The id of the request's span, when it was exported (the control plane's span for the
    /// record joins its trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// The workspace of the caller's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<WorkspaceId>,
    /// The server addressed, when the slug named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<ServerId>,
    /// The slug in the URL (capped), whether or not a server has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The id of the caller's API key (never its secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The user of a user key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The HTTP method (`POST`, `GET`, `DELETE`).
    pub http_method: String,
    /// The JSON-RPC method, when the body was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The tool, prompt or resource the method names (a resource URI without its query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The HTTP status the client got.
    pub status: u16,
    /// The gateway's reason, when it refused or failed the request (`data.reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Time to the response headers, in microseconds.
    pub latency_us: u64,
    /// The upstream's HTTP status, when the request reached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    /// Time the upstream took to send its response headers, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_latency_us: Option<u64>,
    /// The configuration sequence the data plane had applied.
    pub config_seq: i64,
    /// The version of the server's configuration that applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<i64>,
    /// The call's `arguments` as the client sent them (JSON text, cut at the server's
    /// `request_logging.max_bytes`), when the server's policy keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// The start of the upstream's answer (cut likewise), when the server's policy keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl RequestRecord {
    /// The record with every text field capped at [`MAX_FIELD_BYTES`] (arguments and result at
    /// [`MAX_PAYLOAD_BYTES`]), so a hostile client cannot make records (or the control plane's
    /// storage) large.
    pub fn bounded(mut self) -> Self {
        for field in [&mut self.request_id, &mut self.http_method] {
            cap(field, MAX_FIELD_BYTES);
        }
        for field in [
            &mut self.trace_id,
            &mut self.span_id,
            &mut self.server,
            &mut self.key_id,
            &mut self.user,
            &mut self.method,
            &mut self.target,
            &mut self.reason,
        ]
        .into_iter()
        .flatten()
        {
            cap(field, MAX_FIELD_BYTES);
        }
        for payload in [&mut self.arguments, &mut self.result]
            .into_iter()
            .flatten()
        {
            cap(payload, MAX_PAYLOAD_BYTES);
        }
        self
    }
}

/// Cuts `text` to at most `max` bytes (at least 4) at a character boundary, ending it with `…`
/// when it was cut.
pub fn cap(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
}

/// A resource URI as the log keeps it: without its query string and fragment, which may carry
/// credentials.
pub fn without_query(uri: &str) -> &str {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    &uri[..end]
}

/// Records sent together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestBatch {
    /// The records, oldest first.
    pub records: Vec<RequestRecord>,
}

#[cfg(test)]
mod tests;
